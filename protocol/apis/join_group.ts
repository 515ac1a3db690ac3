/**
 * JoinGroup (key 11), versions 0-9, flexible from 6.
 * Spec: JoinGroupRequest.json / JoinGroupResponse.json (Kafka 4.3.1).
 *
 * Protocol metadata is opaque here; for the "consumer" protocol it is a
 * ConsumerProtocolSubscription (see consumer_protocol.ts). Decoded metadata
 * is a view into the frame, not a copy.
 *
 * The codec is generated (protocol/messages/join_group.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  JoinGroupRequest,
  JoinGroupRequestProtocol,
  JoinGroupResponse,
  JoinGroupResponseMember,
} from "../messages/join_group.ts";
import type { JoinGroupRequest, JoinGroupResponse } from "../messages/join_group.ts";
import { joinGroup as generated } from "../messages/join_group.ts";

/** The JoinGroup codec (generated). */
export const joinGroup: ApiCodec<JoinGroupRequest, JoinGroupResponse> = generated;
