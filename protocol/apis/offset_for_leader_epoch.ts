/**
 * OffsetForLeaderEpoch (key 23), versions 2-4, flexible from 4.
 * Spec: OffsetForLeaderEpochRequest.json / OffsetForLeaderEpochResponse.json (Kafka 4.3.1).
 *
 * A consumer asks the leader where a leader epoch ends, to find out whether
 * the log was truncated below its position after a leader change (KIP-320).
 *
 * The codec is generated (protocol/messages/offset_for_leader_epoch.ts, from Kafka 4.3.1's schemas); this
 * module keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochRequestOffsetForLeaderPartition,
  OffsetForLeaderEpochRequestOffsetForLeaderTopic,
  OffsetForLeaderEpochResponse,
  OffsetForLeaderEpochResponseEpochEndOffset,
  OffsetForLeaderEpochResponseOffsetForLeaderTopicResult,
} from "../messages/offset_for_leader_epoch.ts";
import { offsetForLeaderEpoch as generated } from "../messages/offset_for_leader_epoch.ts";

export type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse };
/** A partition whose epoch end offset is asked for. */
export type OffsetForLeaderPartition = OffsetForLeaderEpochRequestOffsetForLeaderPartition;
/** A topic whose partitions' epoch end offsets are asked for. */
export type OffsetForLeaderTopic = OffsetForLeaderEpochRequestOffsetForLeaderTopic;
/** One partition's answer. */
export type EpochEndOffset = OffsetForLeaderEpochResponseEpochEndOffset;
/** One topic's answers. */
export type OffsetForLeaderTopicResult = OffsetForLeaderEpochResponseOffsetForLeaderTopicResult;

/** The OffsetForLeaderEpoch codec (generated). */
export const offsetForLeaderEpoch: ApiCodec<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> =
  generated;
