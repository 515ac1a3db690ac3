/**
 * OffsetFetch (key 9), versions 1-9, flexible from 6.
 * Spec: OffsetFetchRequest.json / OffsetFetchResponse.json (Kafka 4.1.1).
 *
 * v0 was removed in Kafka 4.0 (KIP-896). v1-7 fetch one group's offsets with
 * top-level `groupId`/`topics`; v8+ (KIP-709) batch them in `groups`. The
 * codec does not translate between the two shapes: the caller picks the one
 * that matches the negotiated version. v10 (topic ids, KIP-848) is marked
 * `latestVersionUnstable` in 4.1.1, so we stop at v9 and the v10-only
 * `TopicId` fields are not modelled.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { Reader, TaggedField, Writer } from "../primitives.ts";
import {
  rArray,
  rNullableArray,
  rNullableString,
  rString,
  rTags,
  wArray,
  wNullableArray,
  wNullableString,
  wString,
  wTags,
} from "./_flex.ts";

/** One topic whose offsets to fetch. */
export interface OffsetFetchRequestTopic {
  /** The topic name. */
  name: string;
  /** The partitions whose offsets to fetch. */
  partitionIndexes: number[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** v8+: one group whose offsets to fetch. */
export interface OffsetFetchRequestGroup {
  /** The group id. */
  groupId: string;
  /** v9+: the member id (consumer protocol, KIP-848). Default null. */
  memberId?: string | null;
  /** v9+: the member epoch (consumer protocol, KIP-848). Default -1. */
  memberEpoch?: number;
  /** The topics to fetch, or null for all topics. */
  topics: OffsetFetchRequestTopic[] | null;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** OffsetFetch request. */
export interface OffsetFetchRequest {
  /** v1-7: the group id. Default "". */
  groupId?: string;
  /** v1-7: the topics to fetch; null (v2-7) for all topics. Default []. */
  topics?: OffsetFetchRequestTopic[] | null;
  /** v8+: the groups to fetch. Default []. */
  groups?: OffsetFetchRequestGroup[];
  /** v7+: whether the broker should wait out pending transactional offsets (KIP-447). Default false. */
  requireStable?: boolean;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** The committed offset of one partition. */
export interface OffsetFetchResponsePartition {
  /** The partition index. */
  partitionIndex: number;
  /** The committed offset, -1 if none. */
  committedOffset: bigint;
  /** v5+: the leader epoch of the committed offset, -1 if unknown. Default -1. */
  committedLeaderEpoch: number;
  /** The metadata committed with the offset. */
  metadata: string | null;
  /** The partition error code, or 0 if there was no error. */
  errorCode: number;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** The committed offsets of one topic. */
export interface OffsetFetchResponseTopic {
  /** The topic name. */
  name: string;
  /** Each partition's committed offset. */
  partitions: OffsetFetchResponsePartition[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** v8+: the committed offsets of one group. */
export interface OffsetFetchResponseGroup {
  /** The group id. */
  groupId: string;
  /** Each topic's committed offsets. */
  topics: OffsetFetchResponseTopic[];
  /** The group error code, or 0 if there was no error. */
  errorCode: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** OffsetFetch response. */
export interface OffsetFetchResponse {
  /** v3+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** v1-7: each topic's committed offsets. Default []. */
  topics: OffsetFetchResponseTopic[];
  /** v2-7: the top-level error code, or 0 if there was no error. Default 0. */
  errorCode: number;
  /** v8+: each group's committed offsets. Default []. */
  groups: OffsetFetchResponseGroup[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

const FLEX = 6;

function writeRequestTopic(w: Writer, flex: boolean, t: OffsetFetchRequestTopic): void {
  wString(w, flex, t.name);
  wArray(w, flex, t.partitionIndexes, (w, p) => w.int32(p));
  wTags(w, flex, t.taggedFields);
}

function readRequestTopic(r: Reader, flex: boolean): OffsetFetchRequestTopic {
  const t: OffsetFetchRequestTopic = {
    name: rString(r, flex),
    partitionIndexes: rArray(r, flex, (r) => r.int32()),
  };
  const tags = rTags(r, flex);
  if (tags) t.taggedFields = tags;
  return t;
}

function writeResponseTopic(w: Writer, flex: boolean, version: number, t: OffsetFetchResponseTopic): void {
  wString(w, flex, t.name);
  wArray(w, flex, t.partitions, (w, p) => {
    w.int32(p.partitionIndex).int64(p.committedOffset);
    if (version >= 5) w.int32(p.committedLeaderEpoch);
    wNullableString(w, flex, p.metadata);
    w.int16(p.errorCode);
    wTags(w, flex, p.taggedFields);
  });
  wTags(w, flex, t.taggedFields);
}

function readResponseTopic(r: Reader, flex: boolean, version: number): OffsetFetchResponseTopic {
  const t: OffsetFetchResponseTopic = {
    name: rString(r, flex),
    partitions: rArray(r, flex, (r) => {
      const p: OffsetFetchResponsePartition = {
        partitionIndex: r.int32(),
        committedOffset: r.int64(),
        committedLeaderEpoch: version >= 5 ? r.int32() : -1,
        metadata: rNullableString(r, flex),
        errorCode: r.int16(),
      };
      const tags = rTags(r, flex);
      if (tags) p.taggedFields = tags;
      return p;
    }),
  };
  const tags = rTags(r, flex);
  if (tags) t.taggedFields = tags;
  return t;
}

/** The OffsetFetch codec. */
export const offsetFetch: ApiCodec<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: 9,
  name: "OffsetFetch",
  minVersion: 1,
  maxVersion: 9,
  flexibleFrom: FLEX,

  // Request fields (v0 and the unstable v10 are not spoken):
  //   GroupId               string  0-7
  //   Topics                []OffsetFetchRequestTopic  0-7  nullable 2-7
  //     Name                string  0-7
  //     PartitionIndexes    []int32 0-7
  //   Groups                []OffsetFetchRequestGroup  8+
  //     GroupId             string  8+
  //     MemberId            string  9+   nullable 9+, default null, ignorable
  //     MemberEpoch         int32   9+   default -1, ignorable
  //     Topics              []OffsetFetchRequestTopics  8+  nullable 8+
  //       Name              string  8-9  ignorable
  //       TopicId           uuid    10+  (not spoken)
  //       PartitionIndexes  []int32 8+
  //   RequireStable         bool    7+   default false
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    // Kafka refuses to drop a non-ignorable field that holds a non-default value.
    if (version >= 8 && (req.groupId || req.topics === null || (req.topics && req.topics.length > 0))) {
      throw new RangeError(`OffsetFetch v${version} has no top-level groupId/topics; use groups`);
    }
    if (version < 8 && req.groups && req.groups.length > 0) {
      throw new RangeError(`OffsetFetch v${version} cannot send groups (needs v8+); use groupId and topics`);
    }
    if (version < 2 && req.topics === null) {
      throw new RangeError(`OffsetFetch v${version} cannot send null topics (all topics needs v2+)`);
    }
    if (version < 7 && req.requireStable) {
      throw new RangeError(`OffsetFetch v${version} cannot send requireStable (needs v7+)`);
    }
    if (version <= 7) {
      wString(w, flex, req.groupId ?? "");
      wNullableArray(
        w,
        flex,
        req.topics === undefined ? [] : req.topics,
        (w, t) => writeRequestTopic(w, flex, t),
      );
    } else {
      wArray(w, flex, req.groups ?? [], (w, g) => {
        wString(w, flex, g.groupId);
        if (version >= 9) {
          wNullableString(w, flex, g.memberId ?? null);
          w.int32(g.memberEpoch ?? -1);
        }
        wNullableArray(w, flex, g.topics, (w, t) => writeRequestTopic(w, flex, t));
        wTags(w, flex, g.taggedFields);
      });
    }
    if (version >= 7) w.boolean(req.requireStable ?? false);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: OffsetFetchRequest = { groupId: "", topics: [], groups: [], requireStable: false };
    if (version <= 7) {
      req.groupId = rString(r, flex);
      req.topics = version >= 2
        ? rNullableArray(r, flex, (r) => readRequestTopic(r, flex))
        : rArray(r, flex, (r) => readRequestTopic(r, flex));
    } else {
      req.groups = rArray(r, flex, (r) => {
        const g: OffsetFetchRequestGroup = {
          groupId: rString(r, flex),
          memberId: version >= 9 ? rNullableString(r, flex) : null,
          memberEpoch: version >= 9 ? r.int32() : -1,
          topics: rNullableArray(r, flex, (r) => readRequestTopic(r, flex)),
        };
        const tags = rTags(r, flex);
        if (tags) g.taggedFields = tags;
        return g;
      });
    }
    if (version >= 7) req.requireStable = r.boolean();
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields (v0 and v10 are not spoken):
  //   ThrottleTimeMs            int32   3+
  //   Topics                    []OffsetFetchResponseTopic  0-7
  //     Name                    string  0-7
  //     Partitions              []OffsetFetchResponsePartition  0-7
  //       PartitionIndex        int32   0-7
  //       CommittedOffset       int64   0-7
  //       CommittedLeaderEpoch  int32   5-7  default -1, ignorable
  //       Metadata              string  0-7  nullable 0-7
  //       ErrorCode             int16   0-7
  //   ErrorCode                 int16   2-7  default 0, ignorable
  //   Groups                    []OffsetFetchResponseGroup  8+
  //     GroupId                 string  8+
  //     Topics                  []OffsetFetchResponseTopics  8+
  //       Name                  string  8-9  ignorable
  //       TopicId               uuid    10+  (not spoken)
  //       Partitions            []OffsetFetchResponsePartitions  8+
  //         PartitionIndex        int32   8+
  //         CommittedOffset       int64   8+
  //         CommittedLeaderEpoch  int32   8+  default -1, ignorable
  //         Metadata              string  8+  nullable 8+
  //         ErrorCode             int16   8+
  //     ErrorCode               int16   8+   default 0
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 3) w.int32(res.throttleTimeMs);
    if (version <= 7) {
      wArray(w, flex, res.topics, (w, t) => writeResponseTopic(w, flex, version, t));
      if (version >= 2) w.int16(res.errorCode);
    } else {
      wArray(w, flex, res.groups, (w, g) => {
        wString(w, flex, g.groupId);
        wArray(w, flex, g.topics, (w, t) => writeResponseTopic(w, flex, version, t));
        w.int16(g.errorCode);
        wTags(w, flex, g.taggedFields);
      });
    }
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: OffsetFetchResponse = {
      throttleTimeMs: version >= 3 ? r.int32() : 0,
      topics: [],
      errorCode: 0,
      groups: [],
    };
    if (version <= 7) {
      res.topics = rArray(r, flex, (r) => readResponseTopic(r, flex, version));
      if (version >= 2) res.errorCode = r.int16();
    } else {
      res.groups = rArray(r, flex, (r) => {
        const g: OffsetFetchResponseGroup = {
          groupId: rString(r, flex),
          topics: rArray(r, flex, (r) => readResponseTopic(r, flex, version)),
          errorCode: r.int16(),
        };
        const tags = rTags(r, flex);
        if (tags) g.taggedFields = tags;
        return g;
      });
    }
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
