/**
 * Topics: create (with configs, replica assignment, validate-only), delete
 * (by name or id), list, describe, add partitions. Creation and deletion go
 * to the controller; list and describe to any broker.
 *
 * @module
 */

import { createTopics as createTopicsApi } from "../../protocol/apis/create_topics.ts";
import { deleteTopics as deleteTopicsApi } from "../../protocol/apis/delete_topics.ts";
import { metadata as metadataApi } from "../../protocol/apis/metadata.ts";
import { createPartitions as createPartitionsApi } from "../../protocol/messages/create_partitions.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import type { PartitionInfo } from "../cluster.ts";
import { BrokerError, TimeoutError } from "../errors.ts";
import { validateTopicName } from "../producer/producer.ts";
import { type AdminContext, decodeOperations, itemError } from "./_context.ts";

/** A topic to create. */
export interface NewTopic {
  /** The topic's name. */
  topic: string;
  /** Number of partitions; the broker default (`num.partitions`) when omitted. */
  partitions?: number;
  /** Replication factor; the broker default when omitted. */
  replicationFactor?: number;
  /** Topic configs, e.g. `{ "cleanup.policy": "compact" }`. */
  configs?: Record<string, string>;
  /**
   * Replica assignment: partition number to the broker ids holding it, the
   * first being the preferred leader. Excludes `partitions` and `replicationFactor`.
   */
  assignments?: Record<number, number[]>;
}

/**
 * Some items of a call failed; the others succeeded. It is the `BrokerError`
 * of the first failed item (so `err.type` checks keep working), and
 * `results` holds every item's outcome, each with its own `error`.
 *
 * @example
 * ```ts
 * import { BrokerError, PartialFailureError } from "../../mod.ts";
 * const err = new PartialFailureError(36, { api: "CreateTopics", topic: "a" }, [
 *   { topic: "a", error: new BrokerError(36) },
 *   { topic: "b", error: null },
 * ]);
 * console.assert(err instanceof BrokerError && err.type === "TOPIC_ALREADY_EXISTS" && err.results.length === 2);
 * ```
 */
export class PartialFailureError<T extends { error: BrokerError | null }> extends BrokerError {
  /** Every item's outcome, in the order asked. */
  readonly results: T[];

  /**
   * Creates the error from the first failed item and every item's outcome.
   *
   * @param code The first failed item's error code.
   * @param context Where it happened.
   * @param results Every item's outcome.
   */
  constructor(code: number, context: ConstructorParameters<typeof BrokerError>[1], results: T[]) {
    super(code, context);
    this.results = results;
    const failed = results.filter((r) => r.error).length;
    if (failed > 1) this.message += ` (and ${failed - 1} more of ${results.length} failed; see .results)`;
  }
}

/** What happened to one topic. */
export interface CreateTopicResult {
  /** The topic. */
  topic: string;
  /** False when it already existed (with `ifNotExists`) or with `validateOnly`. */
  created: boolean;
  /** The topic id (Kafka base64url UUID); the zero id with `validateOnly`. */
  topicId: string;
  /** The partition count the broker reports (-1 when it does not say). */
  partitions: number;
  /** The replication factor the broker reports (-1 when it does not say). */
  replicationFactor: number;
  /** Why this topic was not created; null when it was (then the call threw a PartialFailureError). */
  error: BrokerError | null;
}

/** Options of {@linkcode Admin.createTopics}. */
export interface CreateTopicsOptions {
  /** Report TOPIC_ALREADY_EXISTS as `created: false` instead of throwing. */
  ifNotExists?: boolean;
  /** Only check that the topics could be created; create nothing. */
  validateOnly?: boolean;
  /** How long to wait for the topics to be usable. Default: the client's request timeout. */
  timeoutMs?: number;
  /** Cancels the call: it rejects with `signal.reason` and stops retrying (a request already sent may still take effect). */
  signal?: AbortSignal;
}

/** Options of {@linkcode Admin.deleteTopics}. */
export interface DeleteTopicsOptions {
  /** Ignore topics that do not exist. */
  ifExists?: boolean;
  /** How long to wait for the deletion to be visible. Default: the client's request timeout. */
  timeoutMs?: number;
  /** Cancels the call: it rejects with `signal.reason` and stops retrying (a request already sent may still take effect). */
  signal?: AbortSignal;
}

/** A topic named by its id instead of its name. */
export interface TopicById {
  /** The topic id (Kafka base64url UUID). */
  topicId: string;
}

/** Options of calls that only take a timeout. */
export interface AdminCallOptions {
  /** Bound on the whole call, retries included. Default: the client's request timeout. */
  timeoutMs?: number;
  /** Cancels the call: it rejects with `signal.reason` and stops retrying (a request already sent may still take effect). */
  signal?: AbortSignal;
}

/** Options of {@linkcode Admin.listTopics}. */
export interface ListTopicsOptions extends AdminCallOptions {
  /** Include internal topics such as `__consumer_offsets`. Default false. */
  includeInternal?: boolean;
}

/** A topic in {@linkcode Admin.listTopics}. */
export interface TopicListing {
  /** The name. */
  name: string;
  /** The topic id. */
  topicId: string;
  /** Whether it is internal. */
  isInternal: boolean;
  /** Its partition count. */
  partitions: number;
}

/** Options of {@linkcode Admin.describeTopics}. */
export interface DescribeTopicsOptions extends AdminCallOptions {
  /** Ask for the operations this client may perform on each topic. Default false. */
  includeAuthorizedOperations?: boolean;
}

/** A topic as {@linkcode Admin.describeTopics} sees it. */
export interface TopicDescription {
  /** The name. */
  name: string;
  /** The topic id (the zero id when the topic failed). */
  topicId: string;
  /** Whether it is internal. */
  isInternal: boolean;
  /** Partitions with leader, replicas, ISR and offline replicas. */
  partitions: PartitionInfo[];
  /** Operations this client may perform, when asked for and reported. */
  authorizedOperations: string[] | null;
  /** Why this topic could not be described (e.g. UNKNOWN_TOPIC_OR_PARTITION); null when it was. */
  error: BrokerError | null;
}

/** Partitions to add to a topic. */
export interface NewPartitions {
  /** The topic. */
  topic: string;
  /** The new total partition count. */
  count: number;
  /** For each new partition, the broker ids holding it (optional). */
  assignments?: number[][];
}

/** Options of {@linkcode Admin.createPartitions}. */
export interface CreatePartitionsOptions extends AdminCallOptions {
  /** Only check; change nothing. */
  validateOnly?: boolean;
}

/** A per-item result: which item, and its error or null. */
export interface TopicResult {
  /** The topic. */
  topic: string;
  /** The error for this topic; null on success. */
  error: BrokerError | null;
}

function positive(what: string, topic: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
    throw new RangeError(`${what} of "${topic}" must be a positive integer, got ${v}`);
  }
}

/** See {@linkcode Admin.createTopics}. */
export async function createTopics(
  ctx: AdminContext,
  topics: NewTopic[],
  opts: CreateTopicsOptions,
): Promise<CreateTopicResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const cluster = ctx.cluster;
  for (const t of topics) {
    validateTopicName(t.topic);
    positive("partitions", t.topic, t.partitions);
    positive("replicationFactor", t.topic, t.replicationFactor);
    if (t.assignments && (t.partitions !== undefined || t.replicationFactor !== undefined)) {
      throw new TypeError(`Topic "${t.topic}": give either assignments or partitions/replicationFactor`);
    }
  }
  const byName = new Map(topics.map((t) => [t.topic, t]));
  const results = await ctx.controller(
    "CreateTopics",
    [...byName.keys()],
    deadline,
    async (conn, names, left) => {
      const res = await conn.request(createTopicsApi, {
        topics: names.map((name) => {
          const t = byName.get(name)!;
          return {
            name,
            numPartitions: t.partitions ?? -1,
            replicationFactor: t.replicationFactor ?? -1,
            assignments: Object.entries(t.assignments ?? {}).map(([p, brokerIds]) => ({
              partitionIndex: Number(p),
              brokerIds,
            })),
            configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
          };
        }),
        timeoutMs: left,
        validateOnly: opts.validateOnly ?? false,
      }, { timeoutMs: left + 5_000 });
      return new Map(res.topics.map((r) => [r.name, r]));
    },
  );
  const out: CreateTopicResult[] = [];
  for (const t of topics) {
    const r = results.get(t.topic)!;
    const base = {
      topic: t.topic,
      topicId: r.topicId,
      partitions: r.numPartitions,
      replicationFactor: r.replicationFactor,
    };
    if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && opts.ifNotExists) {
      out.push({ ...base, created: false, error: null });
      continue;
    }
    out.push({
      ...base,
      created: r.errorCode === 0 && !opts.validateOnly,
      error: itemError(r.errorCode, { api: "CreateTopics", topic: t.topic, brokerMessage: r.errorMessage }),
    });
  }
  if (!opts.validateOnly) {
    // The topics that were created are waited for even when others failed: they exist either way.
    await Promise.all(
      out.filter((r) => !r.error).map(async (r) => {
        const info = await cluster.readyTopic(r.topic, Math.max(1, deadline - Date.now()));
        r.topicId = info.topicId;
        r.partitions = info.partitions.length;
        if (r.replicationFactor < 0) r.replicationFactor = info.partitions[0]?.replicas.length ?? -1;
      }),
    );
  }
  const failed = out.find((r) => r.error);
  if (failed) {
    throw new PartialFailureError(failed.error!.code, failed.error!.context, out);
  }
  return out;
}

/** See {@linkcode Admin.deleteTopics}. */
export async function deleteTopics(
  ctx: AdminContext,
  topics: (string | TopicById)[],
  opts: DeleteTopicsOptions,
): Promise<void> {
  const deadline = ctx.begin(opts.timeoutMs);
  const cluster = ctx.cluster;
  const names: string[] = [];
  const ids = topics.filter((t): t is TopicById => typeof t !== "string");
  for (const t of topics) if (typeof t === "string") validateTopicName(t), names.push(t);
  if (ids.length > 0) {
    // Deletion is confirmed through metadata, which lists names: resolve the ids first.
    const md = await ctx.any(
      "Metadata",
      deadline,
      (conn, left) =>
        conn.request(metadataApi, { topics: null, allowAutoTopicCreation: false }, { timeoutMs: left }),
    );
    for (const { topicId } of ids) {
      const t = md.topics.find((x) => x.topicId === topicId);
      if (t?.name) names.push(t.name);
      else if (!opts.ifExists) {
        throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_ID, { api: "DeleteTopics", topic: topicId });
      }
    }
  }
  if (names.length === 0) return;
  const results = await ctx.controller("DeleteTopics", names, deadline, async (conn, names, left) => {
    const version = conn.versionFor(deleteTopicsApi);
    const res = await conn.request(deleteTopicsApi, {
      // v6 names topics in a struct list (KIP-516), earlier versions in a string list.
      topics: version >= 6 ? names.map((name) => ({ name })) : undefined,
      topicNames: version < 6 ? names : undefined,
      timeoutMs: left,
    }, { timeoutMs: left + 5_000 });
    return new Map(res.responses.map((r) => [r.name ?? r.topicId, r]));
  });
  const outcome: TopicResult[] = names.map((name) => {
    const r = results.get(name)!;
    const ignore = r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && opts.ifExists;
    return {
      topic: name,
      error: ignore
        ? null
        : itemError(r.errorCode, { api: "DeleteTopics", topic: name, brokerMessage: r.errorMessage }),
    };
  });
  const deleted = outcome.filter((r) => !r.error).map((r) => r.topic);
  for (const t of deleted) cluster.forget(t);
  let delay = 20;
  while (deleted.length > 0) {
    const md = await cluster.fetchMetadata(deleted, false);
    const left = md.topics.filter((t) => t.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (left.length === 0) break;
    if (Date.now() + delay > deadline) {
      throw new TimeoutError(
        `Topics still listed after deletion, at the end of the timeout: ${
          left.map((t) => t.name).join(", ")
        }`,
      );
    }
    await ctx.sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  const failed = outcome.find((r) => r.error);
  if (failed) throw new PartialFailureError(failed.error!.code, failed.error!.context, outcome);
}

/** See {@linkcode Admin.listTopics}. */
export async function listTopics(ctx: AdminContext, opts: ListTopicsOptions): Promise<TopicListing[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const md = await ctx.any(
    "Metadata",
    deadline,
    (conn, left) =>
      conn.request(metadataApi, { topics: null, allowAutoTopicCreation: false }, { timeoutMs: left }),
  );
  return md.topics
    .filter((t) => t.errorCode === 0 && t.name !== null && (opts.includeInternal || !t.isInternal))
    .map((t) => ({
      name: t.name!,
      topicId: t.topicId,
      isInternal: t.isInternal,
      partitions: t.partitions.length,
    }))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** See {@linkcode Admin.describeTopics}. */
export async function describeTopics(
  ctx: AdminContext,
  topics: string[],
  opts: DescribeTopicsOptions,
): Promise<TopicDescription[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  topics.forEach((t) => validateTopicName(t));
  if (topics.length === 0) return [];
  const md = await ctx.any("Metadata", deadline, (conn, left) =>
    conn.request(metadataApi, {
      topics: topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: opts.includeAuthorizedOperations ?? false,
    }, { timeoutMs: left }));
  const byName = new Map(md.topics.map((t) => [t.name, t]));
  return topics.map((name) => {
    const t = byName.get(name);
    if (!t) {
      return {
        name,
        topicId: ZERO_UUID,
        isInternal: false,
        partitions: [],
        authorizedOperations: null,
        error: new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, { api: "Metadata", topic: name }),
      };
    }
    return {
      name,
      topicId: t.topicId,
      isInternal: t.isInternal,
      partitions: t.partitions.map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        offlineReplicas: p.offlineReplicas,
        errorCode: p.errorCode,
      })).sort((a, b) => a.partition - b.partition),
      authorizedOperations: opts.includeAuthorizedOperations
        ? decodeOperations(t.topicAuthorizedOperations)
        : null,
      error: itemError(t.errorCode, { api: "Metadata", topic: name }),
    };
  });
}

/** See {@linkcode Admin.createPartitions}. */
export async function createPartitions(
  ctx: AdminContext,
  topics: NewPartitions[],
  opts: CreatePartitionsOptions,
): Promise<TopicResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  for (const t of topics) {
    validateTopicName(t.topic);
    positive("count", t.topic, t.count);
  }
  const byName = new Map(topics.map((t) => [t.topic, t]));
  const res = await ctx.controller(
    "CreatePartitions",
    [...byName.keys()],
    deadline,
    async (conn, names, left) => {
      const r = await conn.request(createPartitionsApi, {
        topics: names.map((name) => {
          const t = byName.get(name)!;
          return {
            name,
            count: t.count,
            assignments: t.assignments?.map((brokerIds) => ({ brokerIds })) ?? null,
          };
        }),
        timeoutMs: left,
        validateOnly: opts.validateOnly ?? false,
      }, { timeoutMs: left + 5_000 });
      return new Map(r.results.map((x) => [x.name, x]));
    },
  );
  const out = topics.map((t) => {
    const r = res.get(t.topic)!;
    return {
      topic: t.topic,
      error: itemError(r.errorCode, {
        api: "CreatePartitions",
        topic: t.topic,
        brokerMessage: r.errorMessage,
      }),
    };
  });
  if (!opts.validateOnly) {
    // Wait until metadata shows the new partitions with leaders, so the next produce can use them.
    await Promise.all(
      out.filter((r) => !r.error).map(async (r) => {
        const want = byName.get(r.topic)!.count;
        let delay = 20;
        while (true) {
          const info = await ctx.cluster.readyTopic(r.topic, Math.max(1, deadline - Date.now())).catch(() =>
            null
          );
          if (info && info.partitions.length >= want) return;
          if (Date.now() + delay > deadline) {
            throw new TimeoutError(
              `Metadata of "${r.topic}" did not show ${want} partitions within the timeout`,
            );
          }
          await ctx.sleep(delay);
          delay = Math.min(delay * 2, 500);
          await ctx.cluster.topic(r.topic, { force: true }).catch(() => null);
        }
      }),
    );
  }
  return out;
}
