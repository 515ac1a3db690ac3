/**
 * OffsetForLeaderEpoch (key 23), versions 2-4, flexible from 4.
 * Spec: OffsetForLeaderEpochRequest.json / OffsetForLeaderEpochResponse.json
 * (Kafka 4.3.1; the versions are the same since 4.0, which removed v0-1).
 *
 * A consumer asks the leader where a leader epoch ends, to find out whether
 * the log was truncated below its position after a leader change (KIP-320).
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rArray, rString, rTags, wArray, wString, wTags } from "./_flex.ts";

/** A partition whose epoch end offset is asked for. */
export interface OffsetForLeaderPartition {
  /** The partition index. */
  partition: number;
  /** The leader epoch the client knows, for fencing. Default -1 (no fencing). */
  currentLeaderEpoch?: number;
  /** The epoch whose end offset to look up. */
  leaderEpoch: number;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** A topic whose partitions' epoch end offsets are asked for. */
export interface OffsetForLeaderTopic {
  /** The topic name. */
  topic: string;
  /** The partitions. */
  partitions: OffsetForLeaderPartition[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** OffsetForLeaderEpoch request. */
export interface OffsetForLeaderEpochRequest {
  /** v3+: the follower's broker id, -1 for a consumer. Default -2 (the schema's "debug" consumer). */
  replicaId?: number;
  /** The topics. */
  topics: OffsetForLeaderTopic[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** One partition's answer. */
export interface EpochEndOffset {
  /** The error code, or 0. */
  errorCode: number;
  /** The partition index. */
  partition: number;
  /** The largest epoch not above the one asked for; -1 when unknown. */
  leaderEpoch: number;
  /** The end offset of that epoch; -1 when unknown. */
  endOffset: bigint;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** One topic's answers. */
export interface OffsetForLeaderTopicResult {
  /** The topic name. */
  topic: string;
  /** The partitions. */
  partitions: EpochEndOffset[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** OffsetForLeaderEpoch response. */
export interface OffsetForLeaderEpochResponse {
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** The topics. */
  topics: OffsetForLeaderTopicResult[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

const FLEX = 4;

/** The OffsetForLeaderEpoch codec. */
export const offsetForLeaderEpoch: ApiCodec<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  apiKey: 23,
  name: "OffsetForLeaderEpoch",
  minVersion: 2,
  maxVersion: 4,
  flexibleFrom: FLEX,

  // OffsetForLeaderEpochRequest 2-4, flexible 4+:
  //   ReplicaId                            int32                        3+    default -2
  //   Topics                               []OffsetForLeaderTopic       0+
  //     Topic                              string                       0+
  //     Partitions                         []OffsetForLeaderPartition   0+
  //       Partition                        int32                        0+
  //       CurrentLeaderEpoch               int32                        2+    default -1
  //       LeaderEpoch                      int32                        0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version >= 3) w.int32(req.replicaId ?? -2);
    wArray(w, flex, req.topics, (w, t) => {
      wString(w, flex, t.topic);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partition).int32(p.currentLeaderEpoch ?? -1).int32(p.leaderEpoch);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const replicaId = version >= 3 ? r.int32() : -2;
    const topics = rArray(r, flex, (r): OffsetForLeaderTopic => {
      const topic = rString(r, flex);
      const partitions = rArray(r, flex, (r): OffsetForLeaderPartition => {
        const p: OffsetForLeaderPartition = {
          partition: r.int32(),
          currentLeaderEpoch: r.int32(),
          leaderEpoch: r.int32(),
        };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: OffsetForLeaderTopic = { topic, partitions };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const req: OffsetForLeaderEpochRequest = { replicaId, topics };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // OffsetForLeaderEpochResponse 2-4, flexible 4+:
  //   ThrottleTimeMs                       int32                        2+
  //   Topics                               []OffsetForLeaderTopicResult 0+
  //     Topic                              string                       0+
  //     Partitions                         []EpochEndOffset             0+
  //       ErrorCode                        int16                        0+
  //       Partition                        int32                        0+
  //       LeaderEpoch                      int32                        1+    default -1
  //       EndOffset                        int64                        0+    default -1
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int32(res.throttleTimeMs);
    wArray(w, flex, res.topics, (w, t) => {
      wString(w, flex, t.topic);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partition).int32(p.leaderEpoch).int64(p.endOffset);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = r.int32();
    const topics = rArray(r, flex, (r): OffsetForLeaderTopicResult => {
      const topic = rString(r, flex);
      const partitions = rArray(r, flex, (r): EpochEndOffset => {
        const p: EpochEndOffset = {
          errorCode: r.int16(),
          partition: r.int32(),
          leaderEpoch: r.int32(),
          endOffset: r.int64(),
        };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: OffsetForLeaderTopicResult = { topic, partitions };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: OffsetForLeaderEpochResponse = { throttleTimeMs, topics };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
