/**
 * The cluster: brokers and controller, finalized features, log dirs, leader
 * elections and partition reassignments. Elections and reassignments go to the
 * controller; the rest to any broker (log dirs: to each broker asked about).
 *
 * @module
 */

import { apiVersions } from "../../protocol/apis/api_versions.ts";
import { alterPartitionReassignments as alterReassignmentsApi } from "../../protocol/messages/alter_partition_reassignments.ts";
import { describeCluster as describeClusterApi } from "../../protocol/messages/describe_cluster.ts";
import { describeLogDirs as describeLogDirsApi } from "../../protocol/messages/describe_log_dirs.ts";
import { electLeaders as electLeadersApi } from "../../protocol/messages/elect_leaders.ts";
import { listPartitionReassignments as listReassignmentsApi } from "../../protocol/messages/list_partition_reassignments.ts";
import { metadata as metadataApi } from "../../protocol/apis/metadata.ts";
import type { BrokerInfo } from "../cluster.ts";
import type { BrokerError } from "../errors.ts";
import { type AdminContext, check, decodeOperations, itemError } from "./_context.ts";
import type { TopicPartitions } from "./groups.ts";
import type { AdminCallOptions } from "./topics.ts";

/** Options of {@linkcode Admin.describeCluster}. */
export interface DescribeClusterOptions extends AdminCallOptions {
  /** Ask for the operations this client may perform on the cluster. */
  includeAuthorizedOperations?: boolean;
}

/** The cluster as {@linkcode Admin.describeCluster} sees it. */
export interface ClusterDescription {
  /** The cluster id. */
  clusterId: string | null;
  /** The controller's node id as brokers see it (-1 when unknown). */
  controllerId: number;
  /** The brokers. */
  brokers: (BrokerInfo & { fenced: boolean })[];
  /** Operations this client may perform, when asked for. */
  authorizedOperations: string[] | null;
}

/** A feature's finalized and supported version ranges. */
export interface FeatureDescription {
  /** The feature, e.g. "metadata.version". */
  name: string;
  /** The finalized level range; null when not finalized. */
  finalized: { min: number; max: number } | null;
  /** The range the answering broker supports; null when it does not. */
  supported: { min: number; max: number } | null;
}

/** Features of the cluster. */
export interface FeaturesDescription {
  /** The finalized features' epoch (-1 when unknown). */
  epoch: bigint;
  /** Each feature. */
  features: FeatureDescription[];
}

/** One log dir of one broker. */
export interface LogDirDescription {
  /** The broker. */
  broker: number;
  /** The path. */
  path: string;
  /** Total and usable bytes (-1 when the broker does not say). */
  totalBytes: bigint;
  /** Usable bytes (-1 when the broker does not say). */
  usableBytes: bigint;
  /** The replicas in it. */
  replicas: { topic: string; partition: number; size: bigint; offsetLag: bigint; future: boolean }[];
  /** Why this dir failed (e.g. KAFKA_STORAGE_ERROR); null when fine. */
  error: BrokerError | null;
}

/** Options of {@linkcode Admin.electLeaders}. */
export interface ElectLeadersOptions extends AdminCallOptions {
  /** "preferred" (default) or "unclean" (may lose data). */
  type?: "preferred" | "unclean";
  /** Partitions; every partition when omitted. */
  partitions?: TopicPartitions[];
}

/** The outcome for one partition of an election or a reassignment. */
export interface PartitionResult {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The error (ELECTION_NOT_NEEDED when the leader is already right); null on success. */
  error: BrokerError | null;
}

/** An ongoing reassignment. */
export interface PartitionReassignment {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The current replica set. */
  replicas: number[];
  /** Replicas being added. */
  addingReplicas: number[];
  /** Replicas being removed. */
  removingReplicas: number[];
}

/** A reassignment to start (replicas) or cancel (null). */
export interface NewReassignment {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The target replicas, or null to cancel an ongoing reassignment. */
  replicas: number[] | null;
}

/** See {@linkcode Admin.describeCluster}. */
export async function describeCluster(
  ctx: AdminContext,
  opts: DescribeClusterOptions,
): Promise<ClusterDescription> {
  const deadline = ctx.begin(opts.timeoutMs);
  const ops = opts.includeAuthorizedOperations ?? false;
  return await ctx.any("DescribeCluster", deadline, async (conn, left): Promise<ClusterDescription> => {
    if (!conn.brokerVersions.has(describeClusterApi.apiKey)) {
      // Before Kafka 2.8 (KIP-700): Metadata says the same, minus fencing.
      const md = await conn.request(metadataApi, {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: ops,
      }, { timeoutMs: left });
      return {
        clusterId: md.clusterId,
        controllerId: md.controllerId,
        brokers: md.brokers.map((b) => ({
          nodeId: b.nodeId,
          host: b.host,
          port: b.port,
          rack: b.rack,
          fenced: false,
        })),
        authorizedOperations: ops ? decodeOperations(md.clusterAuthorizedOperations) : null,
      };
    }
    const v = conn.versionFor(describeClusterApi);
    const r = await conn.request(describeClusterApi, {
      includeClusterAuthorizedOperations: ops,
      includeFencedBrokers: v >= 2 ? true : undefined,
    }, { timeoutMs: left });
    check(r.errorCode, { api: "DescribeCluster", brokerMessage: r.errorMessage });
    return {
      clusterId: r.clusterId,
      controllerId: r.controllerId,
      brokers: r.brokers.map((b) => ({
        nodeId: b.brokerId,
        host: b.host,
        port: b.port,
        rack: b.rack,
        fenced: b.isFenced,
      }))
        .sort((a, b) => a.nodeId - b.nodeId),
      authorizedOperations: ops ? decodeOperations(r.clusterAuthorizedOperations) : null,
    };
  });
}

/** See {@linkcode Admin.describeFeatures}. */
export async function describeFeatures(
  ctx: AdminContext,
  opts: AdminCallOptions,
): Promise<FeaturesDescription> {
  const deadline = ctx.begin(opts.timeoutMs);
  const r = await ctx.any(
    "ApiVersions",
    deadline,
    (conn, left) =>
      conn.request(apiVersions, { clientSoftwareName: "kafka-deno", clientSoftwareVersion: "admin" }, {
        timeoutMs: left,
      }),
  );
  check(r.errorCode, { api: "ApiVersions" });
  const finalized = r.finalizedFeatures ?? [];
  const supported = r.supportedFeatures ?? [];
  const names = new Set([...supported.map((f) => f.name), ...finalized.map((f) => f.name)]);
  return {
    epoch: r.finalizedFeaturesEpoch ?? -1n,
    features: [...names].sort().map((name) => {
      const f = finalized.find((x) => x.name === name);
      const s = supported.find((x) => x.name === name);
      return {
        name,
        finalized: f ? { min: f.minVersion, max: f.maxVersion } : null,
        supported: s ? { min: s.minVersion, max: s.maxVersion } : null,
      };
    }),
  };
}

/** See {@linkcode Admin.describeLogDirs}. */
export async function describeLogDirs(
  ctx: AdminContext,
  brokers: number[] | undefined,
  opts: AdminCallOptions,
): Promise<LogDirDescription[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  if (!brokers) {
    await ctx.retry("Metadata", deadline, () => ctx.cluster.refreshMetadata());
    brokers = ctx.cluster.brokers.map((b) => b.nodeId);
  }
  const all = await Promise.all(
    brokers.map((broker) =>
      ctx.broker("DescribeLogDirs", broker, deadline, async (conn, left) => {
        const r = await conn.request(describeLogDirsApi, { topics: null }, { timeoutMs: left });
        check(r.errorCode, { api: "DescribeLogDirs", broker: conn.address });
        return r.results.map((d): LogDirDescription => ({
          broker,
          path: d.logDir,
          totalBytes: d.totalBytes,
          usableBytes: d.usableBytes,
          replicas: d.topics.flatMap((t) =>
            t.partitions.map((p) => ({
              topic: t.name,
              partition: p.partitionIndex,
              size: p.partitionSize,
              offsetLag: p.offsetLag,
              future: p.isFutureKey,
            }))
          ),
          error: itemError(d.errorCode, { api: "DescribeLogDirs", broker: conn.address }),
        }));
      })
    ),
  );
  return all.flat();
}

/** See {@linkcode Admin.electLeaders}. */
export async function electLeaders(ctx: AdminContext, opts: ElectLeadersOptions): Promise<PartitionResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const type = opts.type ?? "preferred";
  if (type !== "preferred" && type !== "unclean") throw new TypeError(`Unknown election type "${type}"`);
  const res = await ctx.controller("ElectLeaders", ["*"], deadline, async (conn, _items, left) => {
    const v = conn.versionFor(electLeadersApi);
    if (type === "unclean" && v < 1) {
      throw new TypeError(`Broker ${conn.address} cannot run unclean elections (ElectLeaders v0)`);
    }
    const r = await conn.request(electLeadersApi, {
      electionType: v >= 1 ? (type === "preferred" ? 0 : 1) : undefined,
      topicPartitions: opts.partitions?.map((t) => ({ topic: t.topic, partitions: t.partitions })) ?? null,
      timeoutMs: left,
    }, { timeoutMs: left + 5_000 });
    return new Map([["*", r]]);
  });
  const r = res.get("*")!;
  check(r.errorCode, { api: "ElectLeaders" });
  return r.replicaElectionResults.flatMap((t) =>
    t.partitionResult.map((p) => ({
      topic: t.topic,
      partition: p.partitionId,
      error: itemError(p.errorCode, {
        api: "ElectLeaders",
        topic: t.topic,
        partition: p.partitionId,
        brokerMessage: p.errorMessage,
      }),
    }))
  ).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
}

/** See {@linkcode Admin.alterPartitionReassignments}. */
export async function alterPartitionReassignments(
  ctx: AdminContext,
  reassignments: NewReassignment[],
  opts: AdminCallOptions,
): Promise<PartitionResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const byTopic = new Map<string, NewReassignment[]>();
  for (const r of reassignments) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
  const res = await ctx.controller(
    "AlterPartitionReassignments",
    ["*"],
    deadline,
    async (conn, _items, left) => {
      const r = await conn.request(alterReassignmentsApi, {
        timeoutMs: left,
        topics: [...byTopic].map(([name, list]) => ({
          name,
          partitions: list.map((x) => ({ partitionIndex: x.partition, replicas: x.replicas })),
        })),
      }, { timeoutMs: left + 5_000 });
      return new Map([["*", r]]);
    },
  );
  const r = res.get("*")!;
  check(r.errorCode, { api: "AlterPartitionReassignments", brokerMessage: r.errorMessage });
  return reassignments.map((x) => {
    const p = r.responses.find((t) => t.name === x.topic)?.partitions.find((q) =>
      q.partitionIndex === x.partition
    );
    return {
      topic: x.topic,
      partition: x.partition,
      error: itemError(p?.errorCode ?? 0, {
        api: "AlterPartitionReassignments",
        topic: x.topic,
        partition: x.partition,
        brokerMessage: p?.errorMessage,
      }),
    };
  });
}

/** See {@linkcode Admin.listPartitionReassignments}. */
export async function listPartitionReassignments(
  ctx: AdminContext,
  partitions: TopicPartitions[] | undefined,
  opts: AdminCallOptions,
): Promise<PartitionReassignment[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const res = await ctx.controller(
    "ListPartitionReassignments",
    ["*"],
    deadline,
    async (conn, _items, left) => {
      const r = await conn.request(listReassignmentsApi, {
        timeoutMs: left,
        topics: partitions?.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) ?? null,
      }, { timeoutMs: left + 5_000 });
      return new Map([["*", r]]);
    },
  );
  const r = res.get("*")!;
  check(r.errorCode, { api: "ListPartitionReassignments", brokerMessage: r.errorMessage });
  return r.topics.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.name,
      partition: p.partitionIndex,
      replicas: p.replicas,
      addingReplicas: p.addingReplicas,
      removingReplicas: p.removingReplicas,
    }))
  );
}
