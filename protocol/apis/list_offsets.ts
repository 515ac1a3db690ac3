/**
 * ListOffsets (key 2), versions 1-10, flexible from 6.
 * Spec: ListOffsetsRequest.json / ListOffsetsResponse.json (Kafka 4.3.1). The
 * schema marks no version unstable, so v10 (KIP-1075's timeout) is included.
 *
 * The request's `timestamp` is either a time in ms or one of Kafka's special
 * values: -1 latest, -2 earliest, -3 max timestamp (v7+), -4 earliest local
 * (v8+), -5 latest tiered (v9+).
 *
 * The codec is generated (protocol/messages/list_offsets.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { ListOffsetsResponse } from "../messages/list_offsets.ts";
import type {
  ListOffsetsRequest as GeneratedRequest,
  ListOffsetsResponse,
} from "../messages/list_offsets.ts";
import {
  listOffsets as generated,
  type ListOffsetsRequestListOffsetsPartition,
  type ListOffsetsRequestListOffsetsTopic,
  type ListOffsetsResponseListOffsetsPartitionResponse,
  type ListOffsetsResponseListOffsetsTopicResponse,
} from "../messages/list_offsets.ts";

/**
 * ListOffsets request. `replicaId` defaults to -1 (a consumer): the schema
 * gives no default, and its implied 0 would name broker 0.
 */
export type ListOffsetsRequest = Omit<GeneratedRequest, "replicaId"> & { replicaId?: number };
/** ListOffsetsTopic: see ListOffsetsRequestListOffsetsTopic in protocol/messages/list_offsets.ts. */
export type ListOffsetsTopic = ListOffsetsRequestListOffsetsTopic;
/** ListOffsetsPartition: see ListOffsetsRequestListOffsetsPartition in protocol/messages/list_offsets.ts. */
export type ListOffsetsPartition = ListOffsetsRequestListOffsetsPartition;
/** ListOffsetsTopicResponse: see ListOffsetsResponseListOffsetsTopicResponse in protocol/messages/list_offsets.ts. */
export type ListOffsetsTopicResponse = ListOffsetsResponseListOffsetsTopicResponse;
/** ListOffsetsPartitionResponse: see ListOffsetsResponseListOffsetsPartitionResponse in protocol/messages/list_offsets.ts. */
export type ListOffsetsPartitionResponse = ListOffsetsResponseListOffsetsPartitionResponse;

/**
 * The ListOffsets codec, negotiated up to v10: later versions change semantics the client does not
 * handle yet (the generated codec speaks them all).
 */
export const listOffsets: ApiCodec<ListOffsetsRequest, ListOffsetsResponse> = {
  ...generated,
  maxVersion: 10,
  encodeRequest(w, req, version) {
    generated.encodeRequest(w, { ...req, replicaId: req.replicaId ?? -1 }, version);
  },
};
