/**
 * ListOffsets (key 2), versions 1-10, flexible from 6.
 * Spec: ListOffsetsRequest.json / ListOffsetsResponse.json (Kafka 4.1.1). The
 * schema marks no version unstable, so v10 (KIP-1075's timeout) is included.
 *
 * The request's `timestamp` is either a time in ms or one of Kafka's special
 * values: -1 latest, -2 earliest, -3 max timestamp (v7+), -4 earliest local
 * (v8+), -5 latest tiered (v9+).
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rArray, rString, rTags, wArray, wString, wTags } from "./_flex.ts";

/** A partition whose offset is asked for. */
export interface ListOffsetsPartition {
  /** The partition index. */
  partitionIndex: number;
  /** v4+: the current leader epoch, for fencing. Default -1. */
  currentLeaderEpoch?: number;
  /** The time to look up, or a special value (-1 latest, -2 earliest, ...). */
  timestamp: bigint;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** A topic whose offsets are asked for. */
export interface ListOffsetsTopic {
  /** The topic name. */
  name: string;
  /** The partitions. */
  partitions: ListOffsetsPartition[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** ListOffsets request. */
export interface ListOffsetsRequest {
  /**
   * The requester's broker id, or -1 for a consumer. Defaults to -1 (the
   * schema gives no default, and its implied 0 would name broker 0).
   */
  replicaId?: number;
  /** v2+: 0 read uncommitted (the default), 1 read committed. */
  isolationLevel?: number;
  /** The topics. */
  topics: ListOffsetsTopic[];
  /** v10+: how long to wait for remote (tiered) storage, in ms. Default 0, as the schema implies. */
  timeoutMs?: number;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** One partition's answer in a ListOffsets response. */
export interface ListOffsetsPartitionResponse {
  /** The partition index. */
  partitionIndex: number;
  /** The error code, or 0. */
  errorCode: number;
  /** The timestamp of the returned offset, or -1. */
  timestamp: bigint;
  /** The returned offset, or -1. */
  offset: bigint;
  /** v4+: the leader epoch of the returned offset; -1 when absent. */
  leaderEpoch: number;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** One topic's answers in a ListOffsets response. */
export interface ListOffsetsTopicResponse {
  /** The topic name. */
  name: string;
  /** The partitions. */
  partitions: ListOffsetsPartitionResponse[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** ListOffsets response. */
export interface ListOffsetsResponse {
  /** v2+: throttle time in ms; 0 when absent. */
  throttleTimeMs: number;
  /** The topics. */
  topics: ListOffsetsTopicResponse[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

const FLEX = 6;

/** The ListOffsets codec. */
export const listOffsets: ApiCodec<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: 2,
  name: "ListOffsets",
  minVersion: 1,
  maxVersion: 10,
  flexibleFrom: FLEX,

  // ListOffsetsRequest 1-10, flexible 6+:
  //   ReplicaId                            int32                        0+
  //   IsolationLevel                       int8                         2+
  //   Topics                               []ListOffsetsTopic           0+
  //     Name                               string                       0+
  //     Partitions                         []ListOffsetsPartition       0+
  //       PartitionIndex                   int32                        0+
  //       CurrentLeaderEpoch               int32                        4+    default -1
  //       Timestamp                        int64                        0+
  //   TimeoutMs                            int32                        10+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    w.int32(req.replicaId ?? -1);
    if (version >= 2) w.int8(req.isolationLevel ?? 0);
    wArray(w, flex, req.topics, (w, t) => {
      wString(w, flex, t.name);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partitionIndex);
        if (version >= 4) w.int32(p.currentLeaderEpoch ?? -1);
        w.int64(p.timestamp);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    if (version >= 10) w.int32(req.timeoutMs ?? 0);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const replicaId = r.int32();
    const isolationLevel = version >= 2 ? r.int8() : 0;
    const topics = rArray(r, flex, (r): ListOffsetsTopic => {
      const name = rString(r, flex);
      const partitions = rArray(r, flex, (r): ListOffsetsPartition => {
        const p: ListOffsetsPartition = {
          partitionIndex: r.int32(),
          currentLeaderEpoch: version >= 4 ? r.int32() : -1,
          timestamp: r.int64(),
        };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: ListOffsetsTopic = { name, partitions };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const req: ListOffsetsRequest = {
      replicaId,
      isolationLevel,
      topics,
      timeoutMs: version >= 10 ? r.int32() : 0,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // ListOffsetsResponse 1-10, flexible 6+:
  //   ThrottleTimeMs                       int32                        2+
  //   Topics                               []ListOffsetsTopicResponse   0+
  //     Name                               string                       0+
  //     Partitions                         []ListOffsetsPartitionResponse 0+
  //       PartitionIndex                   int32                        0+
  //       ErrorCode                        int16                        0+
  //       Timestamp                        int64                        1+    default -1
  //       Offset                           int64                        1+    default -1
  //       LeaderEpoch                      int32                        4+    default -1
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 2) w.int32(res.throttleTimeMs);
    wArray(w, flex, res.topics, (w, t) => {
      wString(w, flex, t.name);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int16(p.errorCode).int64(p.timestamp).int64(p.offset);
        if (version >= 4) w.int32(p.leaderEpoch);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = version >= 2 ? r.int32() : 0;
    const topics = rArray(r, flex, (r): ListOffsetsTopicResponse => {
      const name = rString(r, flex);
      const partitions = rArray(r, flex, (r): ListOffsetsPartitionResponse => {
        const p: ListOffsetsPartitionResponse = {
          partitionIndex: r.int32(),
          errorCode: r.int16(),
          timestamp: r.int64(),
          offset: r.int64(),
          leaderEpoch: version >= 4 ? r.int32() : -1,
        };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: ListOffsetsTopicResponse = { name, partitions };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: ListOffsetsResponse = { throttleTimeMs, topics };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
