/**
 * DeleteTopics (key 20), versions 1-6, flexible from 4.
 * Spec: DeleteTopicsRequest.json / DeleteTopicsResponse.json (Kafka 4.3.1).
 *
 * v6 replaces the request's list of names (`topicNames`, v1-5) with a list of
 * `topics`, each named by name or by id. The codec carries both lists; the one
 * a version lacks is not sent and decodes as empty.
 *
 * The codec is generated (protocol/messages/delete_topics.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { DeleteTopicsRequest, DeleteTopicsResponse } from "../messages/delete_topics.ts";
import type { DeleteTopicsRequest, DeleteTopicsResponse } from "../messages/delete_topics.ts";
import {
  deleteTopics as generated,
  type DeleteTopicsRequestDeleteTopicState,
  type DeleteTopicsResponseDeletableTopicResult,
} from "../messages/delete_topics.ts";

/** DeleteTopicState: see DeleteTopicsRequestDeleteTopicState in protocol/messages/delete_topics.ts. */
export type DeleteTopicState = DeleteTopicsRequestDeleteTopicState;
/** DeletableTopicResult: see DeleteTopicsResponseDeletableTopicResult in protocol/messages/delete_topics.ts. */
export type DeletableTopicResult = DeleteTopicsResponseDeletableTopicResult;

/** The DeleteTopics codec (generated). */
export const deleteTopics: ApiCodec<DeleteTopicsRequest, DeleteTopicsResponse> = generated;
