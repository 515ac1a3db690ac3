/**
 * LeaveGroup (key 13), versions 0-5, flexible from 4.
 * Spec: LeaveGroupRequest.json / LeaveGroupResponse.json (Kafka 4.3.1).
 *
 * v0-2 remove one member by `memberId`; v3+ (KIP-345) remove a batch of
 * `members`, each answered in the response's `members`. The codec does not
 * translate between the two shapes: the caller picks the one that matches
 * the negotiated version.
 *
 * The codec is generated (protocol/messages/leave_group.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { LeaveGroupRequest, LeaveGroupResponse } from "../messages/leave_group.ts";
import type { LeaveGroupRequest, LeaveGroupResponse } from "../messages/leave_group.ts";
import {
  leaveGroup as generated,
  type LeaveGroupRequestMemberIdentity,
  type LeaveGroupResponseMemberResponse,
} from "../messages/leave_group.ts";

/** LeaveGroupMemberIdentity: see LeaveGroupRequestMemberIdentity in protocol/messages/leave_group.ts. */
export type LeaveGroupMemberIdentity = LeaveGroupRequestMemberIdentity;
/** LeaveGroupMemberResponse: see LeaveGroupResponseMemberResponse in protocol/messages/leave_group.ts. */
export type LeaveGroupMemberResponse = LeaveGroupResponseMemberResponse;

/** The LeaveGroup codec (generated). */
export const leaveGroup: ApiCodec<LeaveGroupRequest, LeaveGroupResponse> = generated;
