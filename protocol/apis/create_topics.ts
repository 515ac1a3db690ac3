/**
 * CreateTopics (key 19), versions 2-7, flexible from 5.
 * Spec: CreateTopicsRequest.json / CreateTopicsResponse.json (Kafka 4.3.1).
 *
 * From v4 `numPartitions` and `replicationFactor` may be -1 to take the
 * broker's defaults (KIP-464). From v5 the response echoes the created topic's
 * partitions, replication factor and configs (KIP-525); v7 adds its topic id.
 *
 * The codec is generated (protocol/messages/create_topics.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { CreateTopicsResponse } from "../messages/create_topics.ts";
import type {
  CreateTopicsRequest as GeneratedRequest,
  CreateTopicsResponse,
} from "../messages/create_topics.ts";
import {
  createTopics as generated,
  type CreateTopicsRequestCreatableReplicaAssignment,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsRequestCreatableTopicConfig,
  type CreateTopicsResponseCreatableTopicConfigs,
  type CreateTopicsResponseCreatableTopicResult,
} from "../messages/create_topics.ts";

/** A topic to create; `assignments` and `configs` default to []. */
export type CreatableTopic = Omit<CreateTopicsRequestCreatableTopic, "assignments" | "configs"> & {
  assignments?: CreatableReplicaAssignment[];
  configs?: CreatableTopicConfig[];
};
/** CreateTopics request. */
export type CreateTopicsRequest = Omit<GeneratedRequest, "topics"> & { topics: CreatableTopic[] };
/** CreatableReplicaAssignment: see CreateTopicsRequestCreatableReplicaAssignment in protocol/messages/create_topics.ts. */
export type CreatableReplicaAssignment = CreateTopicsRequestCreatableReplicaAssignment;
/** CreatableTopicConfig: see CreateTopicsRequestCreatableTopicConfig in protocol/messages/create_topics.ts. */
export type CreatableTopicConfig = CreateTopicsRequestCreatableTopicConfig;
/** CreatableTopicResult: see CreateTopicsResponseCreatableTopicResult in protocol/messages/create_topics.ts. */
export type CreatableTopicResult = CreateTopicsResponseCreatableTopicResult;
/** CreatableTopicConfigs: see CreateTopicsResponseCreatableTopicConfigs in protocol/messages/create_topics.ts. */
export type CreatableTopicConfigs = CreateTopicsResponseCreatableTopicConfigs;

/** The CreateTopics codec (generated). */
export const createTopics: ApiCodec<CreateTopicsRequest, CreateTopicsResponse> = {
  ...generated,
  encodeRequest(w, req, version) {
    const topics = req.topics.map((t) => ({
      ...t,
      assignments: t.assignments ?? [],
      configs: t.configs ?? [],
    }));
    generated.encodeRequest(w, { ...req, topics }, version);
  },
};
