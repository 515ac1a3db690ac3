/**
 * SaslAuthenticate (key 36), versions 0-2, flexible from 2.
 * Spec: SaslAuthenticateRequest.json / SaslAuthenticateResponse.json (Kafka 4.1.1).
 *
 * Auth bytes are opaque SASL tokens; decoded ones are views into the frame,
 * not copies.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rBytes, rNullableString, rTags, wBytes, wNullableString, wTags } from "./_flex.ts";

/** SaslAuthenticate request. */
export interface SaslAuthenticateRequest {
  /** The client's SASL token, as the mechanism defines it. */
  authBytes: Uint8Array;
  /** Unknown tagged fields (v2+). */
  taggedFields?: TaggedField[];
}

/** SaslAuthenticate response. */
export interface SaslAuthenticateResponse {
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** The error message, or null if there was no error. */
  errorMessage: string | null;
  /** The server's SASL token, as the mechanism defines it. */
  authBytes: Uint8Array;
  /** v1+: ms after which the session must be re-authenticated (KIP-368); 0 for none. Default 0. */
  sessionLifetimeMs: bigint;
  /** Unknown tagged fields (v2+). */
  taggedFields?: TaggedField[];
}

const FLEX = 2;

/** The SaslAuthenticate codec. */
export const saslAuthenticate: ApiCodec<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  apiKey: 36,
  name: "SaslAuthenticate",
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: FLEX,

  // Request fields:
  //   AuthBytes  bytes  0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    wBytes(w, flex, req.authBytes);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: SaslAuthenticateRequest = { authBytes: rBytes(r, flex) };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ErrorCode          int16   0+
  //   ErrorMessage       string  0+  nullable 0+
  //   AuthBytes          bytes   0+
  //   SessionLifetimeMs  int64   1+  default 0, ignorable
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int16(res.errorCode);
    wNullableString(w, flex, res.errorMessage);
    wBytes(w, flex, res.authBytes);
    if (version >= 1) w.int64(res.sessionLifetimeMs);
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: SaslAuthenticateResponse = {
      errorCode: r.int16(),
      errorMessage: rNullableString(r, flex),
      authBytes: rBytes(r, flex),
      sessionLifetimeMs: version >= 1 ? r.int64() : 0n,
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
