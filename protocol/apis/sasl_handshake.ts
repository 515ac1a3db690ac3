/**
 * SaslHandshake (key 17), versions 0-1, never flexible.
 * Spec: SaslHandshakeRequest.json / SaslHandshakeResponse.json (Kafka 4.3.1).
 *
 * v0 is followed by raw (unframed) SASL tokens; v1 by SaslAuthenticate
 * requests (KIP-152). The version cannot be bumped (KAFKA-9577), which is
 * why it never became flexible.
 *
 * The codec is generated (protocol/messages/sasl_handshake.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { SaslHandshakeRequest, SaslHandshakeResponse } from "../messages/sasl_handshake.ts";
import type { SaslHandshakeRequest, SaslHandshakeResponse } from "../messages/sasl_handshake.ts";
import { saslHandshake as generated } from "../messages/sasl_handshake.ts";

/** The SaslHandshake codec (generated). */
export const saslHandshake: ApiCodec<SaslHandshakeRequest, SaslHandshakeResponse> = generated;
