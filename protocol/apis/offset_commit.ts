/**
 * OffsetCommit (key 8), versions 2-9, flexible from 8.
 * Spec: OffsetCommitRequest.json / OffsetCommitResponse.json (Kafka 4.1.1).
 *
 * v0-1 were removed in Kafka 4.0 (KIP-896). v10 (topic ids instead of names,
 * KIP-848) is marked `latestVersionUnstable` in 4.1.1, so a broker only
 * accepts it with `unstable.api.versions.enable=true`; we stop at v9 and the
 * v10-only `TopicId` field is not modelled.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rArray, rNullableString, rString, rTags, wArray, wNullableString, wString, wTags } from "./_flex.ts";

/** One partition's offset to commit. */
export interface OffsetCommitRequestPartition {
  /** The partition index. */
  partitionIndex: number;
  /** The offset to commit: the next offset to consume. */
  committedOffset: bigint;
  /** v6+: the leader epoch of the last consumed record, -1 if unknown. Default -1. */
  committedLeaderEpoch?: number;
  /** Metadata to keep with the offset. */
  committedMetadata: string | null;
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

/** The offsets to commit for one topic. */
export interface OffsetCommitRequestTopic {
  /** The topic name. */
  name: string;
  /** The partitions to commit. */
  partitions: OffsetCommitRequestPartition[];
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

/** OffsetCommit request. */
export interface OffsetCommitRequest {
  /** The group id. */
  groupId: string;
  /** The generation (classic protocol) or member epoch (consumer protocol); -1 for simple commits. Default -1. */
  generationIdOrMemberEpoch?: number;
  /** The member id assigned by the coordinator ("" for simple commits). Default "". */
  memberId?: string;
  /** v7+: the static member id (group.instance.id). Default null. */
  groupInstanceId?: string | null;
  /** v2-4: how long to retain the offsets, ms; -1 for the broker default. Default -1. */
  retentionTimeMs?: bigint;
  /** The topics to commit offsets for. */
  topics: OffsetCommitRequestTopic[];
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

/** The outcome for one partition. */
export interface OffsetCommitResponsePartition {
  /** The partition index. */
  partitionIndex: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

/** The outcome for one topic. */
export interface OffsetCommitResponseTopic {
  /** The topic name. */
  name: string;
  /** Each partition's outcome. */
  partitions: OffsetCommitResponsePartition[];
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

/** OffsetCommit response. */
export interface OffsetCommitResponse {
  /** v3+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** Each topic's outcome. */
  topics: OffsetCommitResponseTopic[];
  /** Unknown tagged fields (v8+). */
  taggedFields?: TaggedField[];
}

const FLEX = 8;

/** The OffsetCommit codec. */
export const offsetCommit: ApiCodec<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: 8,
  name: "OffsetCommit",
  minVersion: 2,
  maxVersion: 9,
  flexibleFrom: FLEX,

  // Request fields (versions below 2 and the unstable v10 are not spoken):
  //   GroupId                    string  0+
  //   GenerationIdOrMemberEpoch  int32   1+   default -1, ignorable
  //   MemberId                   string  1+   ignorable
  //   GroupInstanceId            string  7+   nullable 7+, default null
  //   RetentionTimeMs            int64   2-4  default -1, ignorable
  //   Topics                     []OffsetCommitRequestTopic  0+
  //     Name                     string  0-9  ignorable
  //     TopicId                  uuid    10+  (not spoken)
  //     Partitions               []OffsetCommitRequestPartition  0+
  //       PartitionIndex         int32   0+
  //       CommittedOffset        int64   0+
  //       CommittedLeaderEpoch   int32   6+   default -1, ignorable
  //       CommittedMetadata      string  0+   nullable 0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version < 7 && req.groupInstanceId != null) {
      throw new RangeError(`OffsetCommit v${version} cannot send groupInstanceId (needs v7+)`);
    }
    wString(w, flex, req.groupId);
    w.int32(req.generationIdOrMemberEpoch ?? -1);
    wString(w, flex, req.memberId ?? "");
    if (version >= 7) wNullableString(w, flex, req.groupInstanceId ?? null);
    if (version <= 4) w.int64(req.retentionTimeMs ?? -1n);
    wArray(w, flex, req.topics, (w, t) => {
      wString(w, flex, t.name);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int64(p.committedOffset);
        if (version >= 6) w.int32(p.committedLeaderEpoch ?? -1);
        wNullableString(w, flex, p.committedMetadata);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: OffsetCommitRequest = {
      groupId: rString(r, flex),
      generationIdOrMemberEpoch: r.int32(),
      memberId: rString(r, flex),
      groupInstanceId: version >= 7 ? rNullableString(r, flex) : null,
      retentionTimeMs: version <= 4 ? r.int64() : -1n,
      topics: rArray(r, flex, (r) => {
        const t: OffsetCommitRequestTopic = {
          name: rString(r, flex),
          partitions: rArray(r, flex, (r) => {
            const p: OffsetCommitRequestPartition = {
              partitionIndex: r.int32(),
              committedOffset: r.int64(),
              committedLeaderEpoch: version >= 6 ? r.int32() : -1,
              committedMetadata: rNullableString(r, flex),
            };
            const tags = rTags(r, flex);
            if (tags) p.taggedFields = tags;
            return p;
          }),
        };
        const tags = rTags(r, flex);
        if (tags) t.taggedFields = tags;
        return t;
      }),
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields (versions below 2 and v10 are not spoken):
  //   ThrottleTimeMs      int32   3+
  //   Topics              []OffsetCommitResponseTopic  0+
  //     Name              string  0-9  ignorable
  //     TopicId           uuid    10+  (not spoken)
  //     Partitions        []OffsetCommitResponsePartition  0+
  //       PartitionIndex  int32   0+
  //       ErrorCode       int16   0+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 3) w.int32(res.throttleTimeMs);
    wArray(w, flex, res.topics, (w, t) => {
      wString(w, flex, t.name);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int16(p.errorCode);
        wTags(w, flex, p.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: OffsetCommitResponse = {
      throttleTimeMs: version >= 3 ? r.int32() : 0,
      topics: rArray(r, flex, (r) => {
        const t: OffsetCommitResponseTopic = {
          name: rString(r, flex),
          partitions: rArray(r, flex, (r) => {
            const p: OffsetCommitResponsePartition = { partitionIndex: r.int32(), errorCode: r.int16() };
            const tags = rTags(r, flex);
            if (tags) p.taggedFields = tags;
            return p;
          }),
        };
        const tags = rTags(r, flex);
        if (tags) t.taggedFields = tags;
        return t;
      }),
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
