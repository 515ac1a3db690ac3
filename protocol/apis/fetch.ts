/**
 * Fetch (key 1), versions 4-18, flexible from 12.
 * Spec: FetchRequest.json / FetchResponse.json (Kafka 4.3.1).
 *
 * v13+ names topics by id instead of by name (KIP-516): the codec carries both
 * `topic` and `topicId`, the one the version lacks holds its default, and the
 * client maps ids to names. Record data stays raw bytes, returned as a view
 * into the response frame (no copy). v15 moves the follower's replica id into
 * the `replicaState` tagged field (KIP-903); consumers leave both at -1.
 *
 * The codec is generated (protocol/messages/fetch.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { FetchRequest, FetchResponse } from "../messages/fetch.ts";
import type { FetchRequest, FetchResponse } from "../messages/fetch.ts";
import {
  fetch as generated,
  type FetchRequestFetchPartition,
  type FetchRequestFetchTopic,
  type FetchRequestForgottenTopic,
  type FetchRequestReplicaState,
  type FetchResponseAbortedTransaction,
  type FetchResponseEpochEndOffset,
  type FetchResponseFetchableTopicResponse,
  type FetchResponseLeaderIdAndEpoch,
  type FetchResponseNodeEndpoint,
  type FetchResponsePartitionData,
  type FetchResponseSnapshotId,
} from "../messages/fetch.ts";

/** FetchReplicaState: see FetchRequestReplicaState in protocol/messages/fetch.ts. */
export type FetchReplicaState = FetchRequestReplicaState;
/** FetchTopic: see FetchRequestFetchTopic in protocol/messages/fetch.ts. */
export type FetchTopic = FetchRequestFetchTopic;
/** FetchPartition: see FetchRequestFetchPartition in protocol/messages/fetch.ts. */
export type FetchPartition = FetchRequestFetchPartition;
/** FetchForgottenTopic: see FetchRequestForgottenTopic in protocol/messages/fetch.ts. */
export type FetchForgottenTopic = FetchRequestForgottenTopic;
/** FetchTopicResponse: see FetchResponseFetchableTopicResponse in protocol/messages/fetch.ts. */
export type FetchTopicResponse = FetchResponseFetchableTopicResponse;
/** FetchPartitionData: see FetchResponsePartitionData in protocol/messages/fetch.ts. */
export type FetchPartitionData = FetchResponsePartitionData;
/** FetchEpochEndOffset: see FetchResponseEpochEndOffset in protocol/messages/fetch.ts. */
export type FetchEpochEndOffset = FetchResponseEpochEndOffset;
/** FetchLeaderIdAndEpoch: see FetchResponseLeaderIdAndEpoch in protocol/messages/fetch.ts. */
export type FetchLeaderIdAndEpoch = FetchResponseLeaderIdAndEpoch;
/** FetchSnapshotId: see FetchResponseSnapshotId in protocol/messages/fetch.ts. */
export type FetchSnapshotId = FetchResponseSnapshotId;
/** FetchAbortedTransaction: see FetchResponseAbortedTransaction in protocol/messages/fetch.ts. */
export type FetchAbortedTransaction = FetchResponseAbortedTransaction;
/** FetchNodeEndpoint: see FetchResponseNodeEndpoint in protocol/messages/fetch.ts. */
export type FetchNodeEndpoint = FetchResponseNodeEndpoint;

/** The Fetch codec (generated). */
export const fetch: ApiCodec<FetchRequest, FetchResponse> = generated;
