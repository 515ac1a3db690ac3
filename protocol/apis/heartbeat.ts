/**
 * Heartbeat (key 12), versions 0-4, flexible from 4.
 * Spec: HeartbeatRequest.json / HeartbeatResponse.json (Kafka 4.1.1).
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rNullableString, rString, rTags, wNullableString, wString, wTags } from "./_flex.ts";

/** Heartbeat request. */
export interface HeartbeatRequest {
  /** The group id. */
  groupId: string;
  /** The generation of the group. */
  generationId: number;
  /** The member id. */
  memberId: string;
  /** v3+: the static member id (group.instance.id). Default null. */
  groupInstanceId?: string | null;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** Heartbeat response. */
export interface HeartbeatResponse {
  /** v1+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

const FLEX = 4;

/** The Heartbeat codec. */
export const heartbeat: ApiCodec<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: 12,
  name: "Heartbeat",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: FLEX,

  // Request fields:
  //   GroupId          string  0+
  //   GenerationId     int32   0+
  //   MemberId         string  0+
  //   GroupInstanceId  string  3+  nullable 3+, default null
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version < 3 && req.groupInstanceId != null) {
      throw new RangeError(`Heartbeat v${version} cannot send groupInstanceId (needs v3+)`);
    }
    wString(w, flex, req.groupId);
    w.int32(req.generationId);
    wString(w, flex, req.memberId);
    if (version >= 3) wNullableString(w, flex, req.groupInstanceId ?? null);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: HeartbeatRequest = {
      groupId: rString(r, flex),
      generationId: r.int32(),
      memberId: rString(r, flex),
      groupInstanceId: version >= 3 ? rNullableString(r, flex) : null,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs  int32  1+
  //   ErrorCode       int16  0+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 1) w.int32(res.throttleTimeMs);
    w.int16(res.errorCode);
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: HeartbeatResponse = { throttleTimeMs: version >= 1 ? r.int32() : 0, errorCode: r.int16() };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
