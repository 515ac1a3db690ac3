/**
 * Metadata (key 3), versions 0-13, flexible from 9.
 * Spec: MetadataRequest.json / MetadataResponse.json (Kafka 4.1.1).
 *
 * The request's topic list is nullable from v1 (null = every topic); v0 has no
 * null and uses an empty list for "every topic", so a null list is sent as an
 * empty one there. Topic ids appear in v10+, but brokers only honour lookups by
 * id from v12 (the schema's own comment).
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { type Reader, type TaggedField, type Writer, ZERO_UUID } from "../primitives.ts";
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

/** A topic to describe in a Metadata request. */
export interface MetadataRequestTopic {
  /** v10+: the topic id, or {@linkcode ZERO_UUID} to look the topic up by name. Defaults to ZERO_UUID. */
  topicId?: string;
  /** The topic name; may be null from v10 when the topic is looked up by id. */
  name: string | null;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** Metadata request. */
export interface MetadataRequest {
  /** The topics to describe; null for every topic (v0 sends an empty list instead). */
  topics: MetadataRequestTopic[] | null;
  /** v4+: let the broker auto-create requested topics that do not exist, if so configured. Default true. */
  allowAutoTopicCreation?: boolean;
  /** v8-10: ask for the cluster's authorized operations. Default false. */
  includeClusterAuthorizedOperations?: boolean;
  /** v8+: ask for each topic's authorized operations. Default false. */
  includeTopicAuthorizedOperations?: boolean;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** A broker in a Metadata response. */
export interface MetadataResponseBroker {
  /** The broker id. */
  nodeId: number;
  /** The broker's hostname. */
  host: string;
  /** The broker's port. */
  port: number;
  /** v1+: the broker's rack, or null if it has none. */
  rack: string | null;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** A partition in a Metadata response. */
export interface MetadataResponsePartition {
  /** The partition error, or 0. */
  errorCode: number;
  /** The partition index. */
  partitionIndex: number;
  /** The leader's broker id, or -1 if there is no leader. */
  leaderId: number;
  /** v7+: the leader epoch; -1 when absent. */
  leaderEpoch: number;
  /** Every broker that hosts the partition. */
  replicaNodes: number[];
  /** The in-sync replicas. */
  isrNodes: number[];
  /** v5+: the offline replicas; empty when absent. */
  offlineReplicas: number[];
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** A topic in a Metadata response. */
export interface MetadataResponseTopic {
  /** The topic error, or 0. */
  errorCode: number;
  /** The topic name; null (v12+) for a topic asked for by an id that does not exist. */
  name: string | null;
  /** v10+: the topic id; {@linkcode ZERO_UUID} when absent or unknown. */
  topicId: string;
  /** v1+: whether the topic is internal; false when absent. */
  isInternal: boolean;
  /** The topic's partitions. */
  partitions: MetadataResponsePartition[];
  /** v8+: bitfield of authorized operations; -2147483648 (INT32_MIN) when absent or not asked for. */
  topicAuthorizedOperations: number;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

/** Metadata response. */
export interface MetadataResponse {
  /** v3+: throttle time in ms; 0 when absent. */
  throttleTimeMs: number;
  /** The brokers in the cluster. */
  brokers: MetadataResponseBroker[];
  /** v2+: the cluster id; null when absent. */
  clusterId: string | null;
  /** v1+: the controller's broker id; -1 when absent. */
  controllerId: number;
  /** The topics. */
  topics: MetadataResponseTopic[];
  /** v8-10: bitfield of the cluster's authorized operations; -2147483648 when absent. */
  clusterAuthorizedOperations: number;
  /** v13+: the top-level error code; 0 when absent. */
  errorCode: number;
  /** Unknown tagged fields (v9+). */
  taggedFields?: TaggedField[];
}

const FLEX = 9;
/** Kafka's "authorized operations not requested" value (INT32_MIN). */
const NO_OPS = -2147483648;

function wName(w: Writer, flex: boolean, name: string | null, nullable: boolean, version: number): void {
  if (nullable) return wNullableString(w, flex, name);
  if (name === null) throw new TypeError(`Metadata v${version} cannot carry a null topic name`);
  wString(w, flex, name);
}

function wInt32s(w: Writer, flex: boolean, items: readonly number[]): void {
  wArray(w, flex, items, (w, x) => w.int32(x));
}

function rInt32s(r: Reader, flex: boolean): number[] {
  return rArray(r, flex, (r) => r.int32());
}

/** The Metadata codec. */
export const metadata: ApiCodec<MetadataRequest, MetadataResponse> = {
  apiKey: 3,
  name: "Metadata",
  minVersion: 0,
  maxVersion: 13,
  flexibleFrom: FLEX,

  // MetadataRequest 0-13, flexible 9+:
  //   Topics                               []MetadataRequestTopic       0+    nullable 1+
  //     TopicId                            uuid                         10+
  //     Name                               string                       0+    nullable 10+
  //   AllowAutoTopicCreation               bool                         4+    default true
  //   IncludeClusterAuthorizedOperations   bool                         8-10
  //   IncludeTopicAuthorizedOperations     bool                         8+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    const writeTopic = (w: Writer, t: MetadataRequestTopic) => {
      if (version >= 10) w.uuid(t.topicId ?? ZERO_UUID);
      wName(w, flex, t.name, version >= 10, version);
      wTags(w, flex, t.taggedFields);
    };
    if (version >= 1) wNullableArray(w, flex, req.topics, writeTopic);
    else wArray(w, flex, req.topics ?? [], writeTopic);
    if (version >= 4) w.boolean(req.allowAutoTopicCreation ?? true);
    if (version >= 8 && version <= 10) w.boolean(req.includeClusterAuthorizedOperations ?? false);
    if (version >= 8) w.boolean(req.includeTopicAuthorizedOperations ?? false);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const readTopic = (r: Reader): MetadataRequestTopic => {
      const t: MetadataRequestTopic = {
        topicId: version >= 10 ? r.uuid() : ZERO_UUID,
        name: version >= 10 ? rNullableString(r, flex) : rString(r, flex),
      };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    };
    const req: MetadataRequest = {
      topics: version >= 1 ? rNullableArray(r, flex, readTopic) : rArray(r, flex, readTopic),
      allowAutoTopicCreation: version >= 4 ? r.boolean() : true,
      includeClusterAuthorizedOperations: version >= 8 && version <= 10 ? r.boolean() : false,
      includeTopicAuthorizedOperations: version >= 8 ? r.boolean() : false,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // MetadataResponse 0-13, flexible 9+:
  //   ThrottleTimeMs                       int32                        3+
  //   Brokers                              []MetadataResponseBroker     0+
  //     NodeId                             int32                        0+
  //     Host                               string                       0+
  //     Port                               int32                        0+
  //     Rack                               string                       1+    nullable 1+ default null
  //   ClusterId                            string                       2+    nullable 2+ default null
  //   ControllerId                         int32                        1+    default -1
  //   Topics                               []MetadataResponseTopic      0+
  //     ErrorCode                          int16                        0+
  //     Name                               string                       0+    nullable 12+
  //     TopicId                            uuid                         10+
  //     IsInternal                         bool                         1+    default false
  //     Partitions                         []MetadataResponsePartition  0+
  //       ErrorCode                        int16                        0+
  //       PartitionIndex                   int32                        0+
  //       LeaderId                         int32                        0+
  //       LeaderEpoch                      int32                        7+    default -1
  //       ReplicaNodes                     []int32                      0+
  //       IsrNodes                         []int32                      0+
  //       OfflineReplicas                  []int32                      5+
  //     TopicAuthorizedOperations          int32                        8+    default -2147483648
  //   ClusterAuthorizedOperations          int32                        8-10  default -2147483648
  //   ErrorCode                            int16                        13+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 3) w.int32(res.throttleTimeMs);
    wArray(w, flex, res.brokers, (w, b) => {
      w.int32(b.nodeId);
      wString(w, flex, b.host);
      w.int32(b.port);
      if (version >= 1) wNullableString(w, flex, b.rack);
      wTags(w, flex, b.taggedFields);
    });
    if (version >= 2) wNullableString(w, flex, res.clusterId);
    if (version >= 1) w.int32(res.controllerId);
    wArray(w, flex, res.topics, (w, t) => {
      w.int16(t.errorCode);
      wName(w, flex, t.name, version >= 12, version);
      if (version >= 10) w.uuid(t.topicId);
      if (version >= 1) w.boolean(t.isInternal);
      wArray(w, flex, t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
        if (version >= 7) w.int32(p.leaderEpoch);
        wInt32s(w, flex, p.replicaNodes);
        wInt32s(w, flex, p.isrNodes);
        if (version >= 5) wInt32s(w, flex, p.offlineReplicas);
        wTags(w, flex, p.taggedFields);
      });
      if (version >= 8) w.int32(t.topicAuthorizedOperations);
      wTags(w, flex, t.taggedFields);
    });
    if (version >= 8 && version <= 10) w.int32(res.clusterAuthorizedOperations);
    if (version >= 13) w.int16(res.errorCode);
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = version >= 3 ? r.int32() : 0;
    const brokers = rArray(r, flex, (r): MetadataResponseBroker => {
      const b: MetadataResponseBroker = {
        nodeId: r.int32(),
        host: rString(r, flex),
        port: r.int32(),
        rack: version >= 1 ? rNullableString(r, flex) : null,
      };
      const tags = rTags(r, flex);
      if (tags) b.taggedFields = tags;
      return b;
    });
    const clusterId = version >= 2 ? rNullableString(r, flex) : null;
    const controllerId = version >= 1 ? r.int32() : -1;
    const topics = rArray(r, flex, (r): MetadataResponseTopic => {
      const errorCode = r.int16();
      const name = version >= 12 ? rNullableString(r, flex) : rString(r, flex);
      const topicId = version >= 10 ? r.uuid() : ZERO_UUID;
      const isInternal = version >= 1 ? r.boolean() : false;
      const partitions = rArray(r, flex, (r): MetadataResponsePartition => {
        const p: MetadataResponsePartition = {
          errorCode: r.int16(),
          partitionIndex: r.int32(),
          leaderId: r.int32(),
          leaderEpoch: version >= 7 ? r.int32() : -1,
          replicaNodes: rInt32s(r, flex),
          isrNodes: rInt32s(r, flex),
          offlineReplicas: version >= 5 ? rInt32s(r, flex) : [],
        };
        const tags = rTags(r, flex);
        if (tags) p.taggedFields = tags;
        return p;
      });
      const t: MetadataResponseTopic = {
        errorCode,
        name,
        topicId,
        isInternal,
        partitions,
        topicAuthorizedOperations: version >= 8 ? r.int32() : NO_OPS,
      };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: MetadataResponse = {
      throttleTimeMs,
      brokers,
      clusterId,
      controllerId,
      topics,
      clusterAuthorizedOperations: version >= 8 && version <= 10 ? r.int32() : NO_OPS,
      errorCode: version >= 13 ? r.int16() : 0,
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
