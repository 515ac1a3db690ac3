/**
 * SyncGroup (key 14), versions 0-5, flexible from 4.
 * Spec: SyncGroupRequest.json / SyncGroupResponse.json (Kafka 4.1.1).
 *
 * Assignments are opaque here; for the "consumer" protocol they are
 * ConsumerProtocolAssignment bytes (see consumer_protocol.ts). Decoded
 * assignments are views into the frame, not copies.
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

/** The assignment of one member, sent by the group leader. */
export interface SyncGroupRequestAssignment {
  /** The member to assign. */
  memberId: string;
  /** The member's assignment. */
  assignment: Uint8Array;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** SyncGroup request. */
export interface SyncGroupRequest {
  /** The group id. */
  groupId: string;
  /** The generation of the group. */
  generationId: number;
  /** The member id assigned by the coordinator. */
  memberId: string;
  /** v3+: the static member id (group.instance.id). Default null. */
  groupInstanceId?: string | null;
  /** v5+: the group protocol type (KIP-559). Default null. */
  protocolType?: string | null;
  /** v5+: the group protocol name (KIP-559). Default null. */
  protocolName?: string | null;
  /** Each member's assignment (only the leader sends any). */
  assignments: SyncGroupRequestAssignment[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** SyncGroup response. */
export interface SyncGroupResponse {
  /** v1+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** v5+: the group protocol type. Default null. */
  protocolType: string | null;
  /** v5+: the group protocol name. Default null. */
  protocolName: string | null;
  /** This member's assignment. */
  assignment: Uint8Array;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

const FLEX = 4;

/** The SyncGroup codec. */
export const syncGroup: ApiCodec<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: 14,
  name: "SyncGroup",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEX,

  // Request fields:
  //   GroupId          string  0+
  //   GenerationId     int32   0+
  //   MemberId         string  0+
  //   GroupInstanceId  string  3+  nullable 3+, default null
  //   ProtocolType     string  5+  nullable 5+, default null, ignorable
  //   ProtocolName     string  5+  nullable 5+, default null, ignorable
  //   Assignments      []SyncGroupRequestAssignment  0+
  //     MemberId       string  0+
  //     Assignment     bytes   0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version < 3 && req.groupInstanceId != null) {
      throw new RangeError(`SyncGroup v${version} cannot send groupInstanceId (needs v3+)`);
    }
    wString(w, flex, req.groupId);
    w.int32(req.generationId);
    wString(w, flex, req.memberId);
    if (version >= 3) wNullableString(w, flex, req.groupInstanceId ?? null);
    if (version >= 5) {
      wNullableString(w, flex, req.protocolType ?? null);
      wNullableString(w, flex, req.protocolName ?? null);
    }
    wArray(w, flex, req.assignments, (w, a) => {
      wString(w, flex, a.memberId);
      wBytes(w, flex, a.assignment);
      wTags(w, flex, a.taggedFields);
    });
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: SyncGroupRequest = {
      groupId: rString(r, flex),
      generationId: r.int32(),
      memberId: rString(r, flex),
      groupInstanceId: version >= 3 ? rNullableString(r, flex) : null,
      protocolType: version >= 5 ? rNullableString(r, flex) : null,
      protocolName: version >= 5 ? rNullableString(r, flex) : null,
      assignments: rArray(r, flex, (r) => {
        const a: SyncGroupRequestAssignment = { memberId: rString(r, flex), assignment: rBytes(r, flex) };
        const tags = rTags(r, flex);
        if (tags) a.taggedFields = tags;
        return a;
      }),
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs  int32   1+
  //   ErrorCode       int16   0+
  //   ProtocolType    string  5+  nullable 5+, default null, ignorable
  //   ProtocolName    string  5+  nullable 5+, default null, ignorable
  //   Assignment      bytes   0+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 1) w.int32(res.throttleTimeMs);
    w.int16(res.errorCode);
    if (version >= 5) {
      wNullableString(w, flex, res.protocolType);
      wNullableString(w, flex, res.protocolName);
    }
    wBytes(w, flex, res.assignment);
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: SyncGroupResponse = {
      throttleTimeMs: version >= 1 ? r.int32() : 0,
      errorCode: r.int16(),
      protocolType: version >= 5 ? rNullableString(r, flex) : null,
      protocolName: version >= 5 ? rNullableString(r, flex) : null,
      assignment: rBytes(r, flex),
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
