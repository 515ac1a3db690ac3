/**
 * SaslAuthenticate (key 36), versions 0-2, flexible from 2.
 * Spec: SaslAuthenticateRequest.json / SaslAuthenticateResponse.json (Kafka 4.3.1).
 *
 * Auth bytes are opaque SASL tokens; decoded ones are views into the frame,
 * not copies.
 *
 * The codec is generated (protocol/messages/sasl_authenticate.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { SaslAuthenticateRequest, SaslAuthenticateResponse } from "../messages/sasl_authenticate.ts";
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from "../messages/sasl_authenticate.ts";
import { saslAuthenticate as generated } from "../messages/sasl_authenticate.ts";

/** The SaslAuthenticate codec (generated). */
export const saslAuthenticate: ApiCodec<SaslAuthenticateRequest, SaslAuthenticateResponse> = generated;
