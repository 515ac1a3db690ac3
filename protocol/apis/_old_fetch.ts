/**
 * Fetch (key 1), versions 4-18, flexible from 12.
 * Spec: FetchRequest.json / FetchResponse.json (Kafka 4.1.1).
 *
 * v13+ names topics by id instead of by name (KIP-516): the codec carries both
 * `topic` and `topicId`, the one the version lacks holds its default, and the
 * client maps ids to names. Record data stays raw bytes, returned as a view
 * into the response frame (no copy). v15 moves the follower's replica id into
 * the `replicaState` tagged field (KIP-903); consumers leave both at -1.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { type TaggedField, Writer, ZERO_UUID } from "../primitives.ts";
import {
  rArray,
  rNullableArray,
  rNullableBytes,
  rString,
  rTags,
  wArray,
  wNullableArray,
  wNullableBytes,
  wString,
  wTags,
} from "./_flex.ts";

/** A follower's replica id and epoch (v15+, tagged). */
export interface FetchReplicaState {
  /** The follower's replica id, or -1 for a consumer. */
  replicaId: number;
  /** The follower's epoch, or -1. */
  replicaEpoch: bigint;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** A partition to fetch. */
export interface FetchPartition {
  /** The partition index. */
  partition: number;
  /** v9+: the current leader epoch, for fencing. Default -1. */
  currentLeaderEpoch?: number;
  /** The offset to fetch from. */
  fetchOffset: bigint;
  /** v12+: the epoch of the last fetched record, or -1 (the default). */
  lastFetchedEpoch?: number;
  /** v5+: the follower's log start offset; -1 (the default) for consumers. */
  logStartOffset?: bigint;
  /** The most bytes to return for this partition. */
  partitionMaxBytes: number;
  /** v17+ (tag 0): the follower's directory id. Default {@linkcode ZERO_UUID}. */
  replicaDirectoryId?: string;
  /** v18+ (tag 1): the high watermark the replica knows. Default 2^63-1 (not supported). */
  highWatermark?: bigint;
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** A topic to fetch. */
export interface FetchTopic {
  /** v4-12: the topic name. Default "". */
  topic?: string;
  /** v13+: the topic id. Default {@linkcode ZERO_UUID}. */
  topicId?: string;
  /** The partitions to fetch. */
  partitions: FetchPartition[];
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** Partitions to remove from an incremental fetch session (v7+). */
export interface FetchForgottenTopic {
  /** v7-12: the topic name. Default "". */
  topic?: string;
  /** v13+: the topic id. Default {@linkcode ZERO_UUID}. */
  topicId?: string;
  /** The partition indexes to forget. */
  partitions: number[];
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** Fetch request. */
export interface FetchRequest {
  /** v12+ (tag 0): the cluster id if known, or null (the default). */
  clusterId?: string | null;
  /** v4-14: the follower's broker id, or -1 (the default) for a consumer. */
  replicaId?: number;
  /** v15+ (tag 1): the follower's state. Default replica id -1, epoch -1. */
  replicaState?: FetchReplicaState;
  /** The longest the broker may wait for `minBytes`, in ms. */
  maxWaitMs: number;
  /** The fewest bytes to wait for. */
  minBytes: number;
  /** The most bytes to return. Default 0x7fffffff. */
  maxBytes?: number;
  /** 0 read uncommitted (the default), 1 read committed. */
  isolationLevel?: number;
  /** v7+: the fetch session id. Default 0. */
  sessionId?: number;
  /** v7+: the fetch session epoch. Default -1 (no session). */
  sessionEpoch?: number;
  /** The topics to fetch. */
  topics: FetchTopic[];
  /** v7+: partitions to remove from an incremental session. Default []. */
  forgottenTopicsData?: FetchForgottenTopic[];
  /** v11+: the consumer's rack. Default "". */
  rackId?: string;
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** The end of the largest epoch before a divergence (v12+, tagged). */
export interface FetchEpochEndOffset {
  /** The largest epoch, or -1. */
  epoch: number;
  /** Its end offset, or -1. */
  endOffset: bigint;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** A partition leader and its epoch, as carried by Fetch responses (v12+, tagged). */
export interface FetchLeaderIdAndEpoch {
  /** The leader's broker id, or -1 if unknown. */
  leaderId: number;
  /** The leader epoch, or -1. */
  leaderEpoch: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** The snapshot to fetch instead, when the offset is below the log start (v12+, tagged). */
export interface FetchSnapshotId {
  /** The snapshot's end offset, or -1. */
  endOffset: bigint;
  /** The snapshot's epoch, or -1. */
  epoch: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** An aborted transaction within the returned records. */
export interface FetchAbortedTransaction {
  /** The producer id of the aborted transaction. */
  producerId: bigint;
  /** The first offset of the aborted transaction. */
  firstOffset: bigint;
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** A broker endpoint in a Fetch response (v16+). */
export interface FetchNodeEndpoint {
  /** The broker id. */
  nodeId: number;
  /** The broker's hostname. */
  host: string;
  /** The broker's port. */
  port: number;
  /** The broker's rack, or null. */
  rack: string | null;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** One partition's data in a Fetch response. */
export interface FetchPartitionData {
  /** The partition index. */
  partitionIndex: number;
  /** The error code, or 0. */
  errorCode: number;
  /** The high watermark. */
  highWatermark: bigint;
  /** The last stable offset, or -1. */
  lastStableOffset: bigint;
  /** v5+: the log start offset; -1 when absent. */
  logStartOffset: bigint;
  /** v12+ (tag 0): where the log diverges from the fetcher's; -1/-1 when absent. */
  divergingEpoch: FetchEpochEndOffset;
  /** v12+ (tag 1): the current leader; -1/-1 when absent. */
  currentLeader: FetchLeaderIdAndEpoch;
  /** v12+ (tag 2): the snapshot to fetch instead; -1/-1 when absent. */
  snapshotId: FetchSnapshotId;
  /** The aborted transactions among the records (read committed), or null. */
  abortedTransactions: FetchAbortedTransaction[] | null;
  /** v11+: the replica to fetch from next time, or -1. */
  preferredReadReplica: number;
  /** The raw record data (a view into the response), or null. */
  records: Uint8Array | null;
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** One topic's data in a Fetch response. */
export interface FetchTopicResponse {
  /** v4-12: the topic name; "" when absent. */
  topic: string;
  /** v13+: the topic id; {@linkcode ZERO_UUID} when absent. */
  topicId: string;
  /** The partitions. */
  partitions: FetchPartitionData[];
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

/** Fetch response. */
export interface FetchResponse {
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** v7+: the top-level error code; 0 when absent. */
  errorCode: number;
  /** v7+: the fetch session id, or 0. */
  sessionId: number;
  /** The topics. */
  responses: FetchTopicResponse[];
  /** v16+ (tag 0): endpoints of the leaders named in leadership errors; empty when absent. */
  nodeEndpoints: FetchNodeEndpoint[];
  /** Unknown tagged fields (v12+). */
  taggedFields?: TaggedField[];
}

const FLEX = 12;
const INT64_MAX = (1n << 63n) - 1n;

/** Encodes a known tagged field's value with its own writer. */
function tagged(tag: number, write: (w: Writer) => void): TaggedField {
  const w = new Writer(32);
  write(w);
  return { tag, data: w.finish() };
}

/** Unknown tagged fields plus known ones; a known field replaces an unknown one with its tag. */
function withKnown(unknown: TaggedField[] | undefined, known: TaggedField[]): TaggedField[] | undefined {
  if (known.length === 0) return unknown;
  if (!unknown) return known;
  return [...unknown.filter((f) => !known.some((k) => k.tag === f.tag)), ...known];
}

/** Attaches unknown tagged fields to a decoded struct, only when there are some. */
function keepTags<T extends object>(
  value: T,
  tags: TaggedField[] | undefined,
): T & { taggedFields?: TaggedField[] } {
  if (tags) (value as { taggedFields?: TaggedField[] }).taggedFields = tags;
  return value;
}

/** The Fetch codec. */
export const fetch: ApiCodec<FetchRequest, FetchResponse> = {
  apiKey: 1,
  name: "Fetch",
  minVersion: 4,
  maxVersion: 18,
  flexibleFrom: FLEX,

  // FetchRequest 4-18, flexible 12+:
  //   ClusterId                            string                       12+   nullable 12+ tag 0 default null
  //   ReplicaId                            int32                        0-14  default -1
  //   ReplicaState                         ReplicaState                 15+   tag 1
  //     ReplicaId                          int32                        15+   default -1
  //     ReplicaEpoch                       int64                        15+   default -1
  //   MaxWaitMs                            int32                        0+
  //   MinBytes                             int32                        0+
  //   MaxBytes                             int32                        3+    default 0x7fffffff
  //   IsolationLevel                       int8                         4+    default 0
  //   SessionId                            int32                        7+    default 0
  //   SessionEpoch                         int32                        7+    default -1
  //   Topics                               []FetchTopic                 0+
  //     Topic                              string                       0-12
  //     TopicId                            uuid                         13+
  //     Partitions                         []FetchPartition             0+
  //       Partition                        int32                        0+
  //       CurrentLeaderEpoch               int32                        9+    default -1
  //       FetchOffset                      int64                        0+
  //       LastFetchedEpoch                 int32                        12+   default -1
  //       LogStartOffset                   int64                        5+    default -1
  //       PartitionMaxBytes                int32                        0+
  //       ReplicaDirectoryId               uuid                         17+   tag 0
  //       HighWatermark                    int64                        18+   tag 1 default 2^63-1
  //   ForgottenTopicsData                  []ForgottenTopic             7+
  //     Topic                              string                       7-12
  //     TopicId                            uuid                         13+
  //     Partitions                         []int32                      7+
  //   RackId                               string                       11+   default
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version <= 14) w.int32(req.replicaId ?? -1);
    w.int32(req.maxWaitMs).int32(req.minBytes).int32(req.maxBytes ?? 0x7fffffff);
    w.int8(req.isolationLevel ?? 0);
    if (version >= 7) w.int32(req.sessionId ?? 0).int32(req.sessionEpoch ?? -1);
    wArray(w, flex, req.topics, (w, t) => {
      if (version <= 12) wString(w, flex, t.topic ?? "");
      else w.uuid(t.topicId ?? ZERO_UUID);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partition);
        if (version >= 9) w.int32(p.currentLeaderEpoch ?? -1);
        w.int64(p.fetchOffset);
        if (version >= 12) w.int32(p.lastFetchedEpoch ?? -1);
        if (version >= 5) w.int64(p.logStartOffset ?? -1n);
        w.int32(p.partitionMaxBytes);
        if (flex) {
          const known: TaggedField[] = [];
          const dir = p.replicaDirectoryId ?? ZERO_UUID;
          if (version >= 17 && dir !== ZERO_UUID) known.push(tagged(0, (w) => w.uuid(dir)));
          const hw = p.highWatermark ?? INT64_MAX;
          if (version >= 18 && hw !== INT64_MAX) known.push(tagged(1, (w) => w.int64(hw)));
          w.taggedFields(withKnown(p.taggedFields, known));
        }
      });
      wTags(w, flex, t.taggedFields);
    });
    if (version >= 7) {
      wArray(w, flex, req.forgottenTopicsData ?? [], (w, t) => {
        if (version <= 12) wString(w, flex, t.topic ?? "");
        else w.uuid(t.topicId ?? ZERO_UUID);
        wArray(w, flex, t.partitions, (w, p) => w.int32(p));
        wTags(w, flex, t.taggedFields);
      });
    }
    if (version >= 11) wString(w, flex, req.rackId ?? "");
    if (flex) {
      const known: TaggedField[] = [];
      const clusterId = req.clusterId ?? null;
      if (clusterId !== null) known.push(tagged(0, (w) => w.compactNullableString(clusterId)));
      const s = req.replicaState;
      if (version >= 15 && s && (s.replicaId !== -1 || s.replicaEpoch !== -1n || s.taggedFields?.length)) {
        known.push(tagged(1, (w) => w.int32(s.replicaId).int64(s.replicaEpoch).taggedFields(s.taggedFields)));
      }
      w.taggedFields(withKnown(req.taggedFields, known));
    }
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const replicaId = version <= 14 ? r.int32() : -1;
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = r.int32();
    const isolationLevel = r.int8();
    const sessionId = version >= 7 ? r.int32() : 0;
    const sessionEpoch = version >= 7 ? r.int32() : -1;
    const topics = rArray(r, flex, (r): FetchTopic => {
      const topic = version <= 12 ? rString(r, flex) : "";
      const topicId = version >= 13 ? r.uuid() : ZERO_UUID;
      const partitions = rArray(r, flex, (r): FetchPartition => {
        const p: FetchPartition = {
          partition: r.int32(),
          currentLeaderEpoch: version >= 9 ? r.int32() : -1,
          fetchOffset: r.int64(),
          lastFetchedEpoch: version >= 12 ? r.int32() : -1,
          logStartOffset: version >= 5 ? r.int64() : -1n,
          partitionMaxBytes: r.int32(),
          replicaDirectoryId: ZERO_UUID,
          highWatermark: INT64_MAX,
        };
        return keepTags(
          p,
          rTags(r, flex, (tag, r) => {
            if (tag === 0 && version >= 17) p.replicaDirectoryId = r.uuid();
            else if (tag === 1 && version >= 18) p.highWatermark = r.int64();
            else return false;
            return true;
          }),
        );
      });
      return keepTags({ topic, topicId, partitions }, rTags(r, flex));
    });
    const forgottenTopicsData = version >= 7
      ? rArray(r, flex, (r): FetchForgottenTopic => {
        const topic = version <= 12 ? rString(r, flex) : "";
        const topicId = version >= 13 ? r.uuid() : ZERO_UUID;
        const partitions = rArray(r, flex, (r) => r.int32());
        return keepTags({ topic, topicId, partitions }, rTags(r, flex));
      })
      : [];
    const rackId = version >= 11 ? rString(r, flex) : "";
    const req: FetchRequest = {
      clusterId: null,
      replicaId,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs,
      minBytes,
      maxBytes,
      isolationLevel,
      sessionId,
      sessionEpoch,
      topics,
      forgottenTopicsData,
      rackId,
    };
    return keepTags(
      req,
      rTags(r, flex, (tag, r) => {
        if (tag === 0) {
          req.clusterId = r.compactNullableString();
        } else if (tag === 1 && version >= 15) {
          req.replicaState = keepTags({ replicaId: r.int32(), replicaEpoch: r.int64() }, r.taggedFields());
        } else return false;
        return true;
      }),
    );
  },

  // FetchResponse 4-18, flexible 12+:
  //   ThrottleTimeMs                       int32                        1+
  //   ErrorCode                            int16                        7+
  //   SessionId                            int32                        7+    default 0
  //   Responses                            []FetchableTopicResponse     0+
  //     Topic                              string                       0-12
  //     TopicId                            uuid                         13+
  //     Partitions                         []PartitionData              0+
  //       PartitionIndex                   int32                        0+
  //       ErrorCode                        int16                        0+
  //       HighWatermark                    int64                        0+
  //       LastStableOffset                 int64                        4+    default -1
  //       LogStartOffset                   int64                        5+    default -1
  //       DivergingEpoch                   EpochEndOffset               12+   tag 0
  //         Epoch                          int32                        12+   default -1
  //         EndOffset                      int64                        12+   default -1
  //       CurrentLeader                    LeaderIdAndEpoch             12+   tag 1
  //         LeaderId                       int32                        12+   default -1
  //         LeaderEpoch                    int32                        12+   default -1
  //       SnapshotId                       SnapshotId                   12+   tag 2
  //         EndOffset                      int64                        0+    default -1
  //         Epoch                          int32                        0+    default -1
  //       AbortedTransactions              []AbortedTransaction         4+    nullable 4+
  //         ProducerId                     int64                        4+
  //         FirstOffset                    int64                        4+
  //       PreferredReadReplica             int32                        11+   default -1
  //       Records                          records                      0+    nullable 0+
  //   NodeEndpoints                        []NodeEndpoint               16+   tag 0
  //     NodeId                             int32                        16+
  //     Host                               string                       16+
  //     Port                               int32                        16+
  //     Rack                               string                       16+   nullable 16+ default null
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int32(res.throttleTimeMs);
    if (version >= 7) w.int16(res.errorCode).int32(res.sessionId);
    wArray(w, flex, res.responses, (w, t) => {
      if (version <= 12) wString(w, flex, t.topic);
      else w.uuid(t.topicId);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
        if (version >= 5) w.int64(p.logStartOffset);
        wNullableArray(w, flex, p.abortedTransactions, (w, a) => {
          w.int64(a.producerId).int64(a.firstOffset);
          wTags(w, flex, a.taggedFields);
        });
        if (version >= 11) w.int32(p.preferredReadReplica);
        wNullableBytes(w, flex, p.records);
        if (flex) {
          const known: TaggedField[] = [];
          const d = p.divergingEpoch;
          if (d.epoch !== -1 || d.endOffset !== -1n || d.taggedFields?.length) {
            known.push(tagged(0, (w) => w.int32(d.epoch).int64(d.endOffset).taggedFields(d.taggedFields)));
          }
          const l = p.currentLeader;
          if (l.leaderId !== -1 || l.leaderEpoch !== -1 || l.taggedFields?.length) {
            known.push(
              tagged(1, (w) => w.int32(l.leaderId).int32(l.leaderEpoch).taggedFields(l.taggedFields)),
            );
          }
          const s = p.snapshotId;
          if (s.endOffset !== -1n || s.epoch !== -1 || s.taggedFields?.length) {
            known.push(tagged(2, (w) => w.int64(s.endOffset).int32(s.epoch).taggedFields(s.taggedFields)));
          }
          w.taggedFields(withKnown(p.taggedFields, known));
        }
      });
      wTags(w, flex, t.taggedFields);
    });
    if (flex) {
      const known: TaggedField[] = [];
      if (version >= 16 && res.nodeEndpoints.length > 0) {
        known.push(tagged(0, (w) =>
          w.compactArray(res.nodeEndpoints, (w, e) => {
            w.int32(e.nodeId).compactString(e.host).int32(e.port).compactNullableString(e.rack);
            w.taggedFields(e.taggedFields);
          })));
      }
      w.taggedFields(withKnown(res.taggedFields, known));
    }
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = r.int32();
    const errorCode = version >= 7 ? r.int16() : 0;
    const sessionId = version >= 7 ? r.int32() : 0;
    const responses = rArray(r, flex, (r): FetchTopicResponse => {
      const topic = version <= 12 ? rString(r, flex) : "";
      const topicId = version >= 13 ? r.uuid() : ZERO_UUID;
      const partitions = rArray(r, flex, (r): FetchPartitionData => {
        const partitionIndex = r.int32();
        const errorCode = r.int16();
        const highWatermark = r.int64();
        const lastStableOffset = r.int64();
        const logStartOffset = version >= 5 ? r.int64() : -1n;
        const abortedTransactions = rNullableArray(
          r,
          flex,
          (r): FetchAbortedTransaction =>
            keepTags({ producerId: r.int64(), firstOffset: r.int64() }, rTags(r, flex)),
        );
        const preferredReadReplica = version >= 11 ? r.int32() : -1;
        const records = rNullableBytes(r, flex);
        const p: FetchPartitionData = {
          partitionIndex,
          errorCode,
          highWatermark,
          lastStableOffset,
          logStartOffset,
          divergingEpoch: { epoch: -1, endOffset: -1n },
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
          snapshotId: { endOffset: -1n, epoch: -1 },
          abortedTransactions,
          preferredReadReplica,
          records,
        };
        return keepTags(
          p,
          rTags(r, flex, (tag, r) => {
            switch (tag) {
              case 0:
                p.divergingEpoch = keepTags({ epoch: r.int32(), endOffset: r.int64() }, r.taggedFields());
                return true;
              case 1:
                p.currentLeader = keepTags({ leaderId: r.int32(), leaderEpoch: r.int32() }, r.taggedFields());
                return true;
              case 2:
                p.snapshotId = keepTags({ endOffset: r.int64(), epoch: r.int32() }, r.taggedFields());
                return true;
            }
            return false;
          }),
        );
      });
      return keepTags({ topic, topicId, partitions }, rTags(r, flex));
    });
    const res: FetchResponse = { throttleTimeMs, errorCode, sessionId, responses, nodeEndpoints: [] };
    return keepTags(
      res,
      rTags(r, flex, (tag, r) => {
        if (tag !== 0 || version < 16) return false;
        res.nodeEndpoints = r.compactArray((r): FetchNodeEndpoint =>
          keepTags(
            { nodeId: r.int32(), host: r.compactString(), port: r.int32(), rack: r.compactNullableString() },
            r.taggedFields(),
          )
        );
        return true;
      }),
    );
  },
};
