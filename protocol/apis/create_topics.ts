/**
 * CreateTopics (key 19), versions 2-7, flexible from 5.
 * Spec: CreateTopicsRequest.json / CreateTopicsResponse.json (Kafka 4.1.1).
 *
 * From v4 `numPartitions` and `replicationFactor` may be -1 to take the
 * broker's defaults (KIP-464). From v5 the response echoes the created topic's
 * partitions, replication factor and configs (KIP-525); v7 adds its topic id.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { type TaggedField, Writer, ZERO_UUID } from "../primitives.ts";
import {
  rArray,
  rNullableArray,
  rNullableString,
  rString,
  rTags,
  wArray,
  wNullableArray,
  wNullableString,
  wString,
  wTags,
} from "./_flex.ts";

/** A manual replica assignment for one partition. */
export interface CreatableReplicaAssignment {
  /** The partition index. */
  partitionIndex: number;
  /** The brokers to place the partition on, leader first. */
  brokerIds: number[];
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** A topic config to set at creation. */
export interface CreatableTopicConfig {
  /** The config name. */
  name: string;
  /** The config value, or null. */
  value: string | null;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** A topic to create. */
export interface CreatableTopic {
  /** The topic name. */
  name: string;
  /** The partition count, or -1 (v4+) for the broker default or a manual assignment. */
  numPartitions: number;
  /** The replication factor, or -1 (v4+) for the broker default or a manual assignment. */
  replicationFactor: number;
  /** A manual assignment; empty (the default) for automatic placement. */
  assignments?: CreatableReplicaAssignment[];
  /** Topic configs. Default []. */
  configs?: CreatableTopicConfig[];
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** CreateTopics request. */
export interface CreateTopicsRequest {
  /** The topics to create. */
  topics: CreatableTopic[];
  /** How long to wait for the creation, in ms. Default 60000. */
  timeoutMs?: number;
  /** Only validate the request, create nothing. Default false. */
  validateOnly?: boolean;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** A config of a created topic (v5+). */
export interface CreatableTopicConfigs {
  /** The config name. */
  name: string;
  /** The config value, or null (e.g. sensitive). */
  value: string | null;
  /** Whether the config is read-only. */
  readOnly: boolean;
  /** Where the value comes from (Kafka's ConfigSource), or -1. */
  configSource: number;
  /** Whether the config is sensitive. */
  isSensitive: boolean;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** The result of creating one topic. */
export interface CreatableTopicResult {
  /** The topic name. */
  name: string;
  /** v7+: the new topic's id; {@linkcode ZERO_UUID} when absent or on error. */
  topicId: string;
  /** The error code, or 0. */
  errorCode: number;
  /** The error message, or null. */
  errorMessage: string | null;
  /** v5+ (tag 0): an error describing why configs were not returned, or 0. */
  topicConfigErrorCode: number;
  /** v5+: the partition count; -1 when absent. */
  numPartitions: number;
  /** v5+: the replication factor; -1 when absent. */
  replicationFactor: number;
  /** v5+: the topic's configs, or null; empty when absent. */
  configs: CreatableTopicConfigs[] | null;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** CreateTopics response. */
export interface CreateTopicsResponse {
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** One result per topic. */
  topics: CreatableTopicResult[];
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

const FLEX = 5;

/** The CreateTopics codec. */
export const createTopics: ApiCodec<CreateTopicsRequest, CreateTopicsResponse> = {
  apiKey: 19,
  name: "CreateTopics",
  minVersion: 2,
  maxVersion: 7,
  flexibleFrom: FLEX,

  // CreateTopicsRequest 2-7, flexible 5+:
  //   Topics                               []CreatableTopic             0+
  //     Name                               string                       0+
  //     NumPartitions                      int32                        0+
  //     ReplicationFactor                  int16                        0+
  //     Assignments                        []CreatableReplicaAssignment 0+
  //       PartitionIndex                   int32                        0+
  //       BrokerIds                        []int32                      0+
  //     Configs                            []CreatableTopicConfig       0+
  //       Name                             string                       0+
  //       Value                            string                       0+    nullable 0+
  //   timeoutMs                            int32                        0+    default 60000
  //   validateOnly                         bool                         1+    default false
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    wArray(w, flex, req.topics, (w, t) => {
      wString(w, flex, t.name);
      w.int32(t.numPartitions).int16(t.replicationFactor);
      wArray(w, flex, t.assignments ?? [], (w, a) => {
        w.int32(a.partitionIndex);
        wArray(w, flex, a.brokerIds, (w, id) => w.int32(id));
        wTags(w, flex, a.taggedFields);
      });
      wArray(w, flex, t.configs ?? [], (w, c) => {
        wString(w, flex, c.name);
        wNullableString(w, flex, c.value);
        wTags(w, flex, c.taggedFields);
      });
      wTags(w, flex, t.taggedFields);
    });
    w.int32(req.timeoutMs ?? 60_000).boolean(req.validateOnly ?? false);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const topics = rArray(r, flex, (r): CreatableTopic => {
      const name = rString(r, flex);
      const numPartitions = r.int32();
      const replicationFactor = r.int16();
      const assignments = rArray(r, flex, (r): CreatableReplicaAssignment => {
        const a: CreatableReplicaAssignment = {
          partitionIndex: r.int32(),
          brokerIds: rArray(r, flex, (r) => r.int32()),
        };
        const tags = rTags(r, flex);
        if (tags) a.taggedFields = tags;
        return a;
      });
      const configs = rArray(r, flex, (r): CreatableTopicConfig => {
        const c: CreatableTopicConfig = { name: rString(r, flex), value: rNullableString(r, flex) };
        const tags = rTags(r, flex);
        if (tags) c.taggedFields = tags;
        return c;
      });
      const t: CreatableTopic = { name, numPartitions, replicationFactor, assignments, configs };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const req: CreateTopicsRequest = { topics, timeoutMs: r.int32(), validateOnly: r.boolean() };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // CreateTopicsResponse 2-7, flexible 5+:
  //   ThrottleTimeMs                       int32                        2+
  //   Topics                               []CreatableTopicResult       0+
  //     Name                               string                       0+
  //     TopicId                            uuid                         7+
  //     ErrorCode                          int16                        0+
  //     ErrorMessage                       string                       1+    nullable 0+
  //     TopicConfigErrorCode               int16                        5+    tag 0
  //     NumPartitions                      int32                        5+    default -1
  //     ReplicationFactor                  int16                        5+    default -1
  //     Configs                            []CreatableTopicConfigs      5+    nullable 5+
  //       Name                             string                       5+
  //       Value                            string                       5+    nullable 5+
  //       ReadOnly                         bool                         5+
  //       ConfigSource                     int8                         5+    default -1
  //       IsSensitive                      bool                         5+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int32(res.throttleTimeMs);
    wArray(w, flex, res.topics, (w, t) => {
      wString(w, flex, t.name);
      if (version >= 7) w.uuid(t.topicId);
      w.int16(t.errorCode);
      wNullableString(w, flex, t.errorMessage);
      if (version >= 5) {
        w.int32(t.numPartitions).int16(t.replicationFactor);
        wNullableArray(w, flex, t.configs, (w, c) => {
          wString(w, flex, c.name);
          wNullableString(w, flex, c.value);
          w.boolean(c.readOnly).int8(c.configSource).boolean(c.isSensitive);
          wTags(w, flex, c.taggedFields);
        });
      }
      if (flex) {
        let tags = t.taggedFields;
        if (t.topicConfigErrorCode !== 0) {
          const data = new Writer(2).int16(t.topicConfigErrorCode).finish();
          tags = [...(tags ?? []).filter((f) => f.tag !== 0), { tag: 0, data }];
        }
        w.taggedFields(tags);
      }
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = r.int32();
    const topics = rArray(r, flex, (r): CreatableTopicResult => {
      const name = rString(r, flex);
      const topicId = version >= 7 ? r.uuid() : ZERO_UUID;
      const errorCode = r.int16();
      const errorMessage = rNullableString(r, flex);
      let numPartitions = -1;
      let replicationFactor = -1;
      let configs: CreatableTopicConfigs[] | null = [];
      if (version >= 5) {
        numPartitions = r.int32();
        replicationFactor = r.int16();
        configs = rNullableArray(r, flex, (r): CreatableTopicConfigs => {
          const c: CreatableTopicConfigs = {
            name: rString(r, flex),
            value: rNullableString(r, flex),
            readOnly: r.boolean(),
            configSource: r.int8(),
            isSensitive: r.boolean(),
          };
          const tags = rTags(r, flex);
          if (tags) c.taggedFields = tags;
          return c;
        });
      }
      const t: CreatableTopicResult = {
        name,
        topicId,
        errorCode,
        errorMessage,
        topicConfigErrorCode: 0,
        numPartitions,
        replicationFactor,
        configs,
      };
      const tags = rTags(r, flex, (tag, r) => {
        if (tag !== 0) return false;
        t.topicConfigErrorCode = r.int16();
        return true;
      });
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: CreateTopicsResponse = { throttleTimeMs, topics };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
