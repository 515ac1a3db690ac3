/**
 * LeaveGroup (key 13), versions 0-5, flexible from 4.
 * Spec: LeaveGroupRequest.json / LeaveGroupResponse.json (Kafka 4.1.1).
 *
 * v0-2 remove one member by `memberId`; v3+ (KIP-345) remove a batch of
 * `members`, each answered in the response's `members`. The codec does not
 * translate between the two shapes: the caller picks the one that matches
 * the negotiated version.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rArray, rNullableString, rString, rTags, wArray, wNullableString, wString, wTags } from "./_flex.ts";

/** v3+: one member leaving the group. */
export interface LeaveGroupMemberIdentity {
  /** The member id to remove. */
  memberId: string;
  /** The static member id to remove. Default null. */
  groupInstanceId?: string | null;
  /** v5+: why the member left the group (KIP-800). Default null. */
  reason?: string | null;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** LeaveGroup request. */
export interface LeaveGroupRequest {
  /** The group to leave. */
  groupId: string;
  /** v0-2: the member id to remove. Default "". */
  memberId?: string;
  /** v3+: the members leaving. Default []. */
  members?: LeaveGroupMemberIdentity[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** v3+: the outcome for one leaving member. */
export interface LeaveGroupMemberResponse {
  /** The member id. */
  memberId: string;
  /** The static member id. */
  groupInstanceId: string | null;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** LeaveGroup response. */
export interface LeaveGroupResponse {
  /** v1+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** v3+: each leaving member's outcome. Default []. */
  members: LeaveGroupMemberResponse[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

const FLEX = 4;

/** The LeaveGroup codec. */
export const leaveGroup: ApiCodec<LeaveGroupRequest, LeaveGroupResponse> = {
  apiKey: 13,
  name: "LeaveGroup",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEX,

  // Request fields:
  //   GroupId            string  0+
  //   MemberId           string  0-2
  //   Members            []MemberIdentity  3+
  //     MemberId         string  3+
  //     GroupInstanceId  string  3+  nullable 3+, default null
  //     Reason           string  5+  nullable 5+, default null, ignorable
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version >= 3 && req.memberId) {
      throw new RangeError(`LeaveGroup v${version} has no memberId field; put "${req.memberId}" in members`);
    }
    if (version < 3 && req.members && req.members.length > 0) {
      throw new RangeError(`LeaveGroup v${version} cannot send members (needs v3+); use memberId`);
    }
    wString(w, flex, req.groupId);
    if (version <= 2) wString(w, flex, req.memberId ?? "");
    else {
      wArray(w, flex, req.members ?? [], (w, m) => {
        wString(w, flex, m.memberId);
        wNullableString(w, flex, m.groupInstanceId ?? null);
        if (version >= 5) wNullableString(w, flex, m.reason ?? null);
        wTags(w, flex, m.taggedFields);
      });
    }
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: LeaveGroupRequest = {
      groupId: rString(r, flex),
      memberId: version <= 2 ? rString(r, flex) : "",
      members: version >= 3
        ? rArray(r, flex, (r) => {
          const m: LeaveGroupMemberIdentity = {
            memberId: rString(r, flex),
            groupInstanceId: rNullableString(r, flex),
            reason: version >= 5 ? rNullableString(r, flex) : null,
          };
          const tags = rTags(r, flex);
          if (tags) m.taggedFields = tags;
          return m;
        })
        : [],
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs     int32   1+
  //   ErrorCode          int16   0+
  //   Members            []MemberResponse  3+
  //     MemberId         string  3+
  //     GroupInstanceId  string  3+  nullable 3+
  //     ErrorCode        int16   3+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 1) w.int32(res.throttleTimeMs);
    w.int16(res.errorCode);
    if (version >= 3) {
      wArray(w, flex, res.members, (w, m) => {
        wString(w, flex, m.memberId);
        wNullableString(w, flex, m.groupInstanceId);
        w.int16(m.errorCode);
        wTags(w, flex, m.taggedFields);
      });
    }
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: LeaveGroupResponse = {
      throttleTimeMs: version >= 1 ? r.int32() : 0,
      errorCode: r.int16(),
      members: version >= 3
        ? rArray(r, flex, (r) => {
          const m: LeaveGroupMemberResponse = {
            memberId: rString(r, flex),
            groupInstanceId: rNullableString(r, flex),
            errorCode: r.int16(),
          };
          const tags = rTags(r, flex);
          if (tags) m.taggedFields = tags;
          return m;
        })
        : [],
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
