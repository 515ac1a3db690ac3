/**
 * Produce (key 0), versions 3-13, flexible from 9.
 * Spec: ProduceRequest.json / ProduceResponse.json (Kafka 4.1.1).
 *
 * Record data travels as raw bytes (a record batch encoded elsewhere). v13
 * names topics by id instead of by name (KIP-516); both fields are carried and
 * the one the version lacks holds its default. v10+ responses carry the new
 * leader of a partition and its endpoint as tagged fields (KIP-951).
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { type Reader, type TaggedField, Writer, ZERO_UUID } from "../primitives.ts";
import {
  rArray,
  rNullableBytes,
  rNullableString,
  rString,
  rTags,
  wArray,
  wNullableBytes,
  wNullableString,
  wString,
  wTags,
} from "./_flex.ts";

/** One partition's records in a Produce request. */
export interface ProducePartitionData {
  /** The partition index. */
  index: number;
  /** The encoded record batch(es), or null. Sent as is. */
  records: Uint8Array | null;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** One topic's records in a Produce request. */
export interface ProduceTopicData {
  /** v3-12: the topic name. Defaults to "". */
  name?: string;
  /** v13+: the topic id. Defaults to {@linkcode ZERO_UUID}. */
  topicId?: string;
  /** The partitions to produce to. */
  partitionData: ProducePartitionData[];
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** Produce request. */
export interface ProduceRequest {
  /** The transactional id, or null (the default) if the producer is not transactional. */
  transactionalId?: string | null;
  /** Acknowledgements required: 0 none, 1 the leader, -1 the full ISR. */
  acks: number;
  /** How long the broker may wait for the acknowledgements, in ms. */
  timeoutMs: number;
  /** The topics to produce to. */
  topicData: ProduceTopicData[];
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** A record that made the broker drop its batch (v8+). */
export interface ProduceRecordError {
  /** The index of the record within the batch. */
  batchIndex: number;
  /** The error message for that record, or null. */
  batchIndexErrorMessage: string | null;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** A partition leader and its epoch, as carried by Produce responses. */
export interface ProduceLeaderIdAndEpoch {
  /** The leader's broker id, or -1 if unknown. */
  leaderId: number;
  /** The leader epoch, or -1 if unknown. */
  leaderEpoch: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** A broker endpoint in a Produce response (v10+). */
export interface ProduceNodeEndpoint {
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

/** One partition's result in a Produce response. */
export interface ProducePartitionResponse {
  /** The partition index. */
  index: number;
  /** The error code, or 0. */
  errorCode: number;
  /** The offset of the first record written. */
  baseOffset: bigint;
  /** v2+: the broker's append time if the topic uses LogAppendTime, else -1. */
  logAppendTimeMs: bigint;
  /** v5+: the partition's log start offset; -1 when absent. */
  logStartOffset: bigint;
  /** v8+: the records that made the batch be dropped; empty when absent. */
  recordErrors: ProduceRecordError[];
  /** v8+: a summary of why the batch was dropped, or null. */
  errorMessage: string | null;
  /** v10+ (tag 0): the partition's current leader; -1/-1 when absent. */
  currentLeader: ProduceLeaderIdAndEpoch;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** One topic's results in a Produce response. */
export interface ProduceTopicResponse {
  /** v3-12: the topic name; "" when absent. */
  name: string;
  /** v13+: the topic id; {@linkcode ZERO_UUID} when absent. */
  topicId: string;
  /** The per-partition results. */
  partitionResponses: ProducePartitionResponse[];
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** Produce response. */
export interface ProduceResponse {
  /** The per-topic results. */
  responses: ProduceTopicResponse[];
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** v10+ (tag 0): endpoints of the new leaders named in NOT_LEADER_OR_FOLLOWER errors; empty when absent. */
  nodeEndpoints: ProduceNodeEndpoint[];
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

const FLEX = 9;

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

function readLeader(r: Reader): ProduceLeaderIdAndEpoch {
  const l: ProduceLeaderIdAndEpoch = { leaderId: r.int32(), leaderEpoch: r.int32() };
  const tags = r.taggedFields();
  if (tags) l.taggedFields = tags;
  return l;
}

function readEndpoint(r: Reader): ProduceNodeEndpoint {
  const e: ProduceNodeEndpoint = {
    nodeId: r.int32(),
    host: r.compactString(),
    port: r.int32(),
    rack: r.compactNullableString(),
  };
  const tags = r.taggedFields();
  if (tags) e.taggedFields = tags;
  return e;
}

/** The Produce codec. */
export const produce: ApiCodec<ProduceRequest, ProduceResponse> = {
  apiKey: 0,
  name: "Produce",
  minVersion: 3,
  maxVersion: 13,
  flexibleFrom: FLEX,

  // ProduceRequest 3-13, flexible 9+:
  //   TransactionalId                      string                       3+    nullable 3+ default null
  //   Acks                                 int16                        0+
  //   TimeoutMs                            int32                        0+
  //   TopicData                            []TopicProduceData           0+
  //     Name                               string                       0-12
  //     TopicId                            uuid                         13+
  //     PartitionData                      []PartitionProduceData       0+
  //       Index                            int32                        0+
  //       Records                          records                      0+    nullable 0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    wNullableString(w, flex, req.transactionalId ?? null);
    w.int16(req.acks).int32(req.timeoutMs);
    wArray(w, flex, req.topicData, (w, t) => {
      if (version <= 12) wString(w, flex, t.name ?? "");
      if (version >= 13) w.uuid(t.topicId ?? ZERO_UUID);
      wArray(w, flex, t.partitionData, (w, p) => {
        w.int32(p.index);
        wNullableBytes(w, flex, p.records);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const transactionalId = rNullableString(r, flex);
    const acks = r.int16();
    const timeoutMs = r.int32();
    const topicData = rArray(r, flex, (r): ProduceTopicData => {
      const name = version <= 12 ? rString(r, flex) : "";
      const topicId = version >= 13 ? r.uuid() : ZERO_UUID;
      const partitionData = rArray(r, flex, (r): ProducePartitionData => {
        const p: ProducePartitionData = { index: r.int32(), records: rNullableBytes(r, flex) };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: ProduceTopicData = { name, topicId, partitionData };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const req: ProduceRequest = { transactionalId, acks, timeoutMs, topicData };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // ProduceResponse 3-13, flexible 9+:
  //   Responses                            []TopicProduceResponse       0+
  //     Name                               string                       0-12
  //     TopicId                            uuid                         13+
  //     PartitionResponses                 []PartitionProduceResponse   0+
  //       Index                            int32                        0+
  //       ErrorCode                        int16                        0+
  //       BaseOffset                       int64                        0+
  //       LogAppendTimeMs                  int64                        2+    default -1
  //       LogStartOffset                   int64                        5+    default -1
  //       RecordErrors                     []BatchIndexAndErrorMessage  8+
  //         BatchIndex                     int32                        8+
  //         BatchIndexErrorMessage         string                       8+    nullable 8+ default null
  //       ErrorMessage                     string                       8+    nullable 8+ default null
  //       CurrentLeader                    LeaderIdAndEpoch             10+   tag 0
  //         LeaderId                       int32                        10+   default -1
  //         LeaderEpoch                    int32                        10+   default -1
  //   ThrottleTimeMs                       int32                        1+    default 0
  //   NodeEndpoints                        []NodeEndpoint               10+   tag 0
  //     NodeId                             int32                        10+
  //     Host                               string                       10+
  //     Port                               int32                        10+
  //     Rack                               string                       10+   nullable 10+ default null
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    wArray(w, flex, res.responses, (w, t) => {
      if (version <= 12) wString(w, flex, t.name);
      if (version >= 13) w.uuid(t.topicId);
      wArray(w, flex, t.partitionResponses, (w, p) => {
        w.int32(p.index).int16(p.errorCode).int64(p.baseOffset);
        w.int64(p.logAppendTimeMs);
        if (version >= 5) w.int64(p.logStartOffset);
        if (version >= 8) {
          wArray(w, flex, p.recordErrors, (w, e) => {
            w.int32(e.batchIndex);
            wNullableString(w, flex, e.batchIndexErrorMessage);
            wTags(w, flex, e.taggedFields);
          });
          wNullableString(w, flex, p.errorMessage);
        }
        const known: TaggedField[] = [];
        const l = p.currentLeader;
        if (version >= 10 && (l.leaderId !== -1 || l.leaderEpoch !== -1 || l.taggedFields?.length)) {
          known.push(tagged(0, (w) => w.int32(l.leaderId).int32(l.leaderEpoch).taggedFields(l.taggedFields)));
        }
        wTags(w, flex, withKnown(p.taggedFields, known));
      });
      wTags(w, flex, t.taggedFields);
    });
    w.int32(res.throttleTimeMs);
    const known: TaggedField[] = [];
    if (version >= 10 && res.nodeEndpoints.length > 0) {
      known.push(tagged(0, (w) =>
        w.compactArray(res.nodeEndpoints, (w, e) => {
          w.int32(e.nodeId).compactString(e.host).int32(e.port).compactNullableString(e.rack);
          w.taggedFields(e.taggedFields);
        })));
    }
    wTags(w, flex, withKnown(res.taggedFields, known));
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const responses = rArray(r, flex, (r): ProduceTopicResponse => {
      const name = version <= 12 ? rString(r, flex) : "";
      const topicId = version >= 13 ? r.uuid() : ZERO_UUID;
      const partitionResponses = rArray(r, flex, (r): ProducePartitionResponse => {
        const index = r.int32();
        const errorCode = r.int16();
        const baseOffset = r.int64();
        const logAppendTimeMs = r.int64();
        const logStartOffset = version >= 5 ? r.int64() : -1n;
        let recordErrors: ProduceRecordError[] = [];
        let errorMessage: string | null = null;
        if (version >= 8) {
          recordErrors = rArray(r, flex, (r): ProduceRecordError => {
            const e: ProduceRecordError = {
              batchIndex: r.int32(),
              batchIndexErrorMessage: rNullableString(r, flex),
            };
            const tags = rTags(r, flex);
            if (tags) e.taggedFields = tags;
            return e;
          });
          errorMessage = rNullableString(r, flex);
        }
        const p: ProducePartitionResponse = {
          index,
          errorCode,
          baseOffset,
          logAppendTimeMs,
          logStartOffset,
          recordErrors,
          errorMessage,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        };
        const tags = rTags(r, flex, (tag, r) => {
          if (version >= 10 && tag === 0) {
            p.currentLeader = readLeader(r);
            return true;
          }
          return false;
        });
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: ProduceTopicResponse = { name, topicId, partitionResponses };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: ProduceResponse = { responses, throttleTimeMs: r.int32(), nodeEndpoints: [] };
    const tags = rTags(r, flex, (tag, r) => {
      if (version >= 10 && tag === 0) {
        res.nodeEndpoints = r.compactArray(readEndpoint);
        return true;
      }
      return false;
    });
    if (tags) res.taggedFields = tags;
    return res;
  },
};
