/**
 * SyncGroup (key 14), versions 0-5, flexible from 4.
 * Spec: SyncGroupRequest.json / SyncGroupResponse.json (Kafka 4.3.1).
 *
 * Assignments are opaque here; for the "consumer" protocol they are
 * ConsumerProtocolAssignment bytes (see consumer_protocol.ts). Decoded
 * assignments are views into the frame, not copies.
 *
 * The codec is generated (protocol/messages/sync_group.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  SyncGroupRequest,
  SyncGroupRequestAssignment,
  SyncGroupResponse,
} from "../messages/sync_group.ts";
import type { SyncGroupRequest, SyncGroupResponse } from "../messages/sync_group.ts";
import { syncGroup as generated } from "../messages/sync_group.ts";

/** The SyncGroup codec (generated). */
export const syncGroup: ApiCodec<SyncGroupRequest, SyncGroupResponse> = generated;
