/**
 * Produce (key 0), versions 3-13, flexible from 9.
 * Spec: ProduceRequest.json / ProduceResponse.json (Kafka 4.3.1).
 *
 * Record data travels as raw bytes (a record batch encoded elsewhere). v13
 * names topics by id instead of by name (KIP-516); both fields are carried and
 * the one the version lacks holds its default. v10+ responses carry the new
 * leader of a partition and its endpoint as tagged fields (KIP-951).
 *
 * The codec is generated (protocol/messages/produce.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { ProduceRequest, ProduceResponse } from "../messages/produce.ts";
import type { ProduceRequest, ProduceResponse } from "../messages/produce.ts";
import {
  produce as generated,
  type ProduceRequestPartitionProduceData,
  type ProduceRequestTopicProduceData,
  type ProduceResponseBatchIndexAndErrorMessage,
  type ProduceResponseLeaderIdAndEpoch,
  type ProduceResponseNodeEndpoint,
  type ProduceResponsePartitionProduceResponse,
  type ProduceResponseTopicProduceResponse,
} from "../messages/produce.ts";

/** ProduceTopicData: see ProduceRequestTopicProduceData in protocol/messages/produce.ts. */
export type ProduceTopicData = ProduceRequestTopicProduceData;
/** ProducePartitionData: see ProduceRequestPartitionProduceData in protocol/messages/produce.ts. */
export type ProducePartitionData = ProduceRequestPartitionProduceData;
/** ProduceTopicResponse: see ProduceResponseTopicProduceResponse in protocol/messages/produce.ts. */
export type ProduceTopicResponse = ProduceResponseTopicProduceResponse;
/** ProducePartitionResponse: see ProduceResponsePartitionProduceResponse in protocol/messages/produce.ts. */
export type ProducePartitionResponse = ProduceResponsePartitionProduceResponse;
/** ProduceRecordError: see ProduceResponseBatchIndexAndErrorMessage in protocol/messages/produce.ts. */
export type ProduceRecordError = ProduceResponseBatchIndexAndErrorMessage;
/** ProduceLeaderIdAndEpoch: see ProduceResponseLeaderIdAndEpoch in protocol/messages/produce.ts. */
export type ProduceLeaderIdAndEpoch = ProduceResponseLeaderIdAndEpoch;
/** ProduceNodeEndpoint: see ProduceResponseNodeEndpoint in protocol/messages/produce.ts. */
export type ProduceNodeEndpoint = ProduceResponseNodeEndpoint;

/** The Produce codec (generated). */
export const produce: ApiCodec<ProduceRequest, ProduceResponse> = generated;
