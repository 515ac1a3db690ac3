/**
 * JoinGroup (key 11), versions 0-9, flexible from 6.
 * Spec: JoinGroupRequest.json / JoinGroupResponse.json (Kafka 4.1.1).
 *
 * Protocol metadata is opaque here; for the "consumer" protocol it is a
 * ConsumerProtocolSubscription (see consumer_protocol.ts). Decoded metadata
 * is a view into the frame, not a copy.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import {
  rArray,
  rBytes,
  rNullableString,
  rString,
  rTags,
  wArray,
  wBytes,
  wNullableString,
  wString,
  wTags,
} from "./_flex.ts";

/** One protocol the joining member supports. */
export interface JoinGroupRequestProtocol {
  /** The protocol name (for consumers, the assignor name). */
  name: string;
  /** The protocol metadata. */
  metadata: Uint8Array;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** JoinGroup request. */
export interface JoinGroupRequest {
  /** The group identifier. */
  groupId: string;
  /** The member is dead if the coordinator gets no heartbeat within this many ms. */
  sessionTimeoutMs: number;
  /** v1+: how long the coordinator waits for each member to rejoin in a rebalance, ms. Default -1. */
  rebalanceTimeoutMs?: number;
  /** The member id assigned by the coordinator ("" on the first join). */
  memberId: string;
  /** v5+: the static member id (group.instance.id). Default null. */
  groupInstanceId?: string | null;
  /** The protocol type ("consumer" for consumers). */
  protocolType: string;
  /** The protocols the member supports, in order of preference. */
  protocols: JoinGroupRequestProtocol[];
  /** v8+: why the member (re-)joins the group (KIP-800). Default null. */
  reason?: string | null;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** One group member, sent to the group leader. */
export interface JoinGroupResponseMember {
  /** The member id. */
  memberId: string;
  /** v5+: the member's static id. Default null. */
  groupInstanceId: string | null;
  /** The member's protocol metadata. */
  metadata: Uint8Array;
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

/** JoinGroup response. */
export interface JoinGroupResponse {
  /** v2+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** The generation id of the group. */
  generationId: number;
  /** v7+: the group protocol type (KIP-559). Default null. */
  protocolType: string | null;
  /** The protocol the coordinator selected; nullable in v7+. */
  protocolName: string | null;
  /** The member id of the group leader. */
  leader: string;
  /** v9+: whether the leader must skip running the assignment. Default false. */
  skipAssignment: boolean;
  /** This member's id. */
  memberId: string;
  /** The group members (only sent to the leader). */
  members: JoinGroupResponseMember[];
  /** Unknown tagged fields (v6+). */
  taggedFields?: TaggedField[];
}

const FLEX = 6;

/** The JoinGroup codec. */
export const joinGroup: ApiCodec<JoinGroupRequest, JoinGroupResponse> = {
  apiKey: 11,
  name: "JoinGroup",
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: FLEX,

  // Request fields:
  //   GroupId             string  0+
  //   SessionTimeoutMs    int32   0+
  //   RebalanceTimeoutMs  int32   1+  default -1, ignorable
  //   MemberId            string  0+
  //   GroupInstanceId     string  5+  nullable 5+, default null
  //   ProtocolType        string  0+
  //   Protocols           []JoinGroupRequestProtocol  0+
  //     Name              string  0+
  //     Metadata          bytes   0+
  //   Reason              string  8+  nullable 8+, default null, ignorable
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version < 5 && req.groupInstanceId != null) {
      throw new RangeError(`JoinGroup v${version} cannot send groupInstanceId (needs v5+)`);
    }
    wString(w, flex, req.groupId);
    w.int32(req.sessionTimeoutMs);
    if (version >= 1) w.int32(req.rebalanceTimeoutMs ?? -1);
    wString(w, flex, req.memberId);
    if (version >= 5) wNullableString(w, flex, req.groupInstanceId ?? null);
    wString(w, flex, req.protocolType);
    wArray(w, flex, req.protocols, (w, p) => {
      wString(w, flex, p.name);
      wBytes(w, flex, p.metadata);
      wTags(w, flex, p.taggedFields);
    });
    if (version >= 8) wNullableString(w, flex, req.reason ?? null);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: JoinGroupRequest = {
      groupId: rString(r, flex),
      sessionTimeoutMs: r.int32(),
      rebalanceTimeoutMs: version >= 1 ? r.int32() : -1,
      memberId: rString(r, flex),
      groupInstanceId: version >= 5 ? rNullableString(r, flex) : null,
      protocolType: rString(r, flex),
      protocols: rArray(r, flex, (r) => {
        const p: JoinGroupRequestProtocol = { name: rString(r, flex), metadata: rBytes(r, flex) };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      }),
      reason: version >= 8 ? rNullableString(r, flex) : null,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs   int32   2+
  //   ErrorCode        int16   0+
  //   GenerationId     int32   0+  default -1
  //   ProtocolType     string  7+  nullable 7+, default null
  //   ProtocolName     string  0+  nullable 7+
  //   Leader           string  0+
  //   SkipAssignment   bool    9+  default false
  //   MemberId         string  0+
  //   Members          []JoinGroupResponseMember  0+
  //     MemberId         string  0+
  //     GroupInstanceId  string  5+  nullable 5+, default null
  //     Metadata         bytes   0+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 2) w.int32(res.throttleTimeMs);
    w.int16(res.errorCode).int32(res.generationId);
    if (version >= 7) wNullableString(w, flex, res.protocolType);
    if (version >= 7) wNullableString(w, flex, res.protocolName);
    else if (res.protocolName === null) {
      throw new RangeError(`JoinGroup v${version} cannot send a null protocolName (nullable in v7+)`);
    } else wString(w, flex, res.protocolName);
    wString(w, flex, res.leader);
    if (version >= 9) w.boolean(res.skipAssignment);
    wString(w, flex, res.memberId);
    wArray(w, flex, res.members, (w, m) => {
      wString(w, flex, m.memberId);
      if (version >= 5) wNullableString(w, flex, m.groupInstanceId);
      wBytes(w, flex, m.metadata);
      wTags(w, flex, m.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: JoinGroupResponse = {
      throttleTimeMs: version >= 2 ? r.int32() : 0,
      errorCode: r.int16(),
      generationId: r.int32(),
      protocolType: version >= 7 ? rNullableString(r, flex) : null,
      protocolName: version >= 7 ? rNullableString(r, flex) : rString(r, flex),
      leader: rString(r, flex),
      skipAssignment: version >= 9 ? r.boolean() : false,
      memberId: rString(r, flex),
      members: rArray(r, flex, (r) => {
        const m: JoinGroupResponseMember = {
          memberId: rString(r, flex),
          groupInstanceId: version >= 5 ? rNullableString(r, flex) : null,
          metadata: rBytes(r, flex),
        };
        const tags = rTags(r, flex);
        if (tags) m.taggedFields = tags;
        return m;
      }),
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
