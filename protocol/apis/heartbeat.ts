/**
 * Heartbeat (key 12), versions 0-4, flexible from 4.
 * Spec: HeartbeatRequest.json / HeartbeatResponse.json (Kafka 4.3.1).
 *
 * The codec is generated (protocol/messages/heartbeat.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { HeartbeatRequest, HeartbeatResponse } from "../messages/heartbeat.ts";
import type { HeartbeatRequest, HeartbeatResponse } from "../messages/heartbeat.ts";
import { heartbeat as generated } from "../messages/heartbeat.ts";

/** The Heartbeat codec (generated). */
export const heartbeat: ApiCodec<HeartbeatRequest, HeartbeatResponse> = generated;
