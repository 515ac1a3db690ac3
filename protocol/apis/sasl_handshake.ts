/**
 * SaslHandshake (key 17), versions 0-1, never flexible.
 * Spec: SaslHandshakeRequest.json / SaslHandshakeResponse.json (Kafka 4.1.1).
 *
 * v0 is followed by raw (unframed) SASL tokens; v1 by SaslAuthenticate
 * requests (KIP-152). The version cannot be bumped (KAFKA-9577), which is
 * why it never became flexible.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";

/** SaslHandshake request. */
export interface SaslHandshakeRequest {
  /** The SASL mechanism the client chose, e.g. "PLAIN" or "SCRAM-SHA-256". */
  mechanism: string;
}

/** SaslHandshake response. */
export interface SaslHandshakeResponse {
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** The mechanisms the broker has enabled. */
  mechanisms: string[];
}

/** The SaslHandshake codec. */
export const saslHandshake: ApiCodec<SaslHandshakeRequest, SaslHandshakeResponse> = {
  apiKey: 17,
  name: "SaslHandshake",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: Infinity,

  // Request fields:
  //   Mechanism  string  0+
  encodeRequest(w, req) {
    w.string(req.mechanism);
  },

  decodeRequest(r) {
    return { mechanism: r.string() };
  },

  // Response fields:
  //   ErrorCode   int16     0+
  //   Mechanisms  []string  0+
  encodeResponse(w, res) {
    w.int16(res.errorCode);
    w.array(res.mechanisms, (w, m) => w.string(m));
  },

  decodeResponse(r) {
    return { errorCode: r.int16(), mechanisms: r.array((r) => r.string()) };
  },
};
