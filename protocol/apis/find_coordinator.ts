/**
 * FindCoordinator (key 10), versions 0-6, flexible from 3.
 * Spec: FindCoordinatorRequest.json / FindCoordinatorResponse.json (Kafka 4.3.1).
 *
 * v0-3 look up one key and answer with top-level fields; v4+ (KIP-699) batch
 * the keys in `coordinatorKeys` and answer with one `coordinators` entry per
 * key. The codec does not translate between the two shapes: the caller picks
 * the one that matches the negotiated version.
 *
 * The codec is generated (protocol/messages/find_coordinator.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  FindCoordinatorResponseCoordinator,
} from "../messages/find_coordinator.ts";
import type { FindCoordinatorRequest, FindCoordinatorResponse } from "../messages/find_coordinator.ts";
import { findCoordinator as generated } from "../messages/find_coordinator.ts";

/** The FindCoordinator codec (generated). */
export const findCoordinator: ApiCodec<FindCoordinatorRequest, FindCoordinatorResponse> = generated;
/** Coordinator key types (the request's `keyType`). */
export const CoordinatorKeyType = {
  /** A consumer group. */
  GROUP: 0,
  /** A transactional id. */
  TRANSACTION: 1,
  /** A share group, keyed "groupId:topicId:partition" (KIP-932, v6+). */
  SHARE: 2,
} as const;
/** A coordinator key type. */
export type CoordinatorKeyType = typeof CoordinatorKeyType[keyof typeof CoordinatorKeyType];
