/**
 * Admin basics: create and delete topics, waiting until the change is visible
 * in metadata so that the next produce or fetch finds it. Both go to the
 * controller that the metadata names (NOT_CONTROLLER refreshes and retries).
 *
 * @module
 */

import { createTopics } from "../protocol/apis/create_topics.ts";
import { deleteTopics } from "../protocol/apis/delete_topics.ts";
import { ErrorCode } from "../protocol/error_codes.ts";
import type { ClientContext } from "./context.ts";
import type { Connection } from "./connection.ts";
import { BrokerError, ConnectionError, KafkaError, TimeoutError } from "./errors.ts";
import { validateTopicName } from "./producer/producer.ts";
import * as share from "./admin/share_groups.ts";

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
}

/** What happened to one topic. */
export interface CreateTopicResult {
  /** The topic. */
  topic: string;
  /** False when it already existed (with `ifNotExists`). */
  created: boolean;
  /** The topic id (Kafka base64url UUID). */
  topicId: string;
}

/** Options of {@linkcode Admin.createTopics}. */
export interface CreateTopicsOptions {
  /** Report TOPIC_ALREADY_EXISTS as `created: false` instead of throwing. */
  ifNotExists?: boolean;
  /** How long to wait for the topics to be usable. Default: the client's request timeout. */
  timeoutMs?: number;
}

/** Options of {@linkcode Admin.deleteTopics}. */
export interface DeleteTopicsOptions {
  /** Ignore topics that do not exist. */
  ifExists?: boolean;
  /** How long to wait for the deletion to be visible. Default: the client's request timeout. */
  timeoutMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Topic administration. Get one with `client.admin()`.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * const topic = `doc-admin-${crypto.randomUUID()}`;
 * await client.admin().createTopics([{ topic, partitions: 6, replicationFactor: 1 }], { ifNotExists: true });
 * await client.admin().deleteTopics([topic]);
 * ```
 */
export class Admin {
  readonly #client: ClientContext;

  /**
   * Use `client.admin()` instead.
   *
   * @param client The client.
   */
  constructor(client: ClientContext) {
    this.#client = client;
  }

  /**
   * Creates topics and waits until each has a leader for every partition.
   *
   * @param topics The topics.
   * @param opts Whether an existing topic is an error, and the wait.
   */
  async createTopics(topics: NewTopic[], opts: CreateTopicsOptions = {}): Promise<CreateTopicResult[]> {
    this.#client.assertOpen();
    const cluster = this.#client.cluster;
    const timeoutMs = opts.timeoutMs ?? cluster.options.requestTimeoutMs;
    for (const t of topics) {
      validateTopicName(t.topic);
      for (
        const [k, v] of [["partitions", t.partitions], ["replicationFactor", t.replicationFactor]] as const
      ) {
        if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
          throw new RangeError(`${k} of "${t.topic}" must be a positive integer, got ${v}`);
        }
      }
    }
    const deadline = Date.now() + timeoutMs;
    const byName = new Map(topics.map((t) => [t.topic, t]));
    const results = await this.#onController(
      "CreateTopics",
      [...byName.keys()],
      deadline,
      async (conn, names, left) => {
        const res = await conn.request(createTopics, {
          topics: names.map((name) => {
            const t = byName.get(name)!;
            return {
              name,
              numPartitions: t.partitions ?? -1,
              replicationFactor: t.replicationFactor ?? -1,
              assignments: [],
              configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
            };
          }),
          timeoutMs: left,
          validateOnly: false,
        }, { timeoutMs: left + 5_000 });
        return new Map(res.topics.map((r) => [r.name, r]));
      },
    );
    const out: CreateTopicResult[] = [];
    for (const t of topics) {
      const r = results.get(t.topic)!;
      if (r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && opts.ifNotExists) {
        out.push({ topic: t.topic, created: false, topicId: r.topicId });
        continue;
      }
      if (r.errorCode !== 0) {
        throw new BrokerError(r.errorCode, {
          api: "CreateTopics",
          topic: t.topic,
          brokerMessage: r.errorMessage,
        });
      }
      out.push({ topic: t.topic, created: true, topicId: r.topicId });
    }
    await Promise.all(out.map(async (r) => {
      const info = await cluster.readyTopic(r.topic, timeoutMs);
      r.topicId = info.topicId;
    }));
    return out;
  }

  /**
   * Deletes topics and waits until metadata no longer lists them.
   *
   * @param topics Topic names.
   * @param opts Whether a missing topic is an error, and the wait.
   */
  async deleteTopics(topics: string[], opts: DeleteTopicsOptions = {}): Promise<void> {
    this.#client.assertOpen();
    const cluster = this.#client.cluster;
    const timeoutMs = opts.timeoutMs ?? cluster.options.requestTimeoutMs;
    topics.forEach((t) => validateTopicName(t));
    const deadline = Date.now() + timeoutMs;
    const results = await this.#onController("DeleteTopics", topics, deadline, async (conn, names, left) => {
      const version = conn.versionFor(deleteTopics);
      const res = await conn.request(deleteTopics, {
        // v6 names topics in a struct list (KIP-516), earlier versions in a string list.
        topics: version >= 6 ? names.map((name) => ({ name })) : undefined,
        topicNames: version < 6 ? names : undefined,
        timeoutMs: left,
      }, { timeoutMs: left + 5_000 });
      return new Map(res.responses.map((r) => [r.name ?? r.topicId, r]));
    });
    for (const [name, r] of results) {
      if (r.errorCode === 0) continue;
      if (r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && opts.ifExists) continue;
      throw new BrokerError(r.errorCode, {
        api: "DeleteTopics",
        topic: name,
        brokerMessage: r.errorMessage,
      });
    }
    for (const t of topics) cluster.forget(t);
    let delay = 20;
    while (true) {
      const md = await cluster.fetchMetadata(topics, false);
      const left = md.topics.filter((t) => t.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if (left.length === 0) return;
      if (Date.now() + delay > deadline) {
        throw new TimeoutError(
          `Topics still listed ${timeoutMs} ms after deletion: ${left.map((t) => t.name).join(", ")}`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 500);
    }
  }

  // ---- share groups (src/admin/share_groups.ts) ----

  /** Lists the share groups. */
  listShareGroups(): Promise<share.ShareGroupListing[]> {
    return share.listShareGroups(this.#client);
  }

  /**
   * Describes share groups: state, members, assignments.
   *
   * @param groupIds The groups.
   * @param opts Timeout.
   */
  describeShareGroups(
    groupIds: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<share.ShareGroupDescription[]> {
    return share.describeShareGroups(this.#client, groupIds, opts);
  }

  /**
   * A share group's start offsets.
   *
   * @param groupId The group.
   * @param topics Only these topics.
   * @param opts Timeout.
   */
  describeShareGroupOffsets(
    groupId: string,
    topics?: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<share.ShareGroupOffset[]> {
    return share.describeShareGroupOffsets(this.#client, groupId, topics, opts);
  }

  /**
   * Sets a share group's start offsets (the group must be empty).
   *
   * @param groupId The group.
   * @param offsets The new start offsets.
   * @param opts Timeout.
   */
  alterShareGroupOffsets(
    groupId: string,
    offsets: { topic: string; partition: number; offset: bigint }[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<void> {
    return share.alterShareGroupOffsets(this.#client, groupId, offsets, opts);
  }

  /**
   * Deletes a share group's state for whole topics (the group must be empty).
   *
   * @param groupId The group.
   * @param topics The topics.
   * @param opts Timeout.
   */
  deleteShareGroupOffsets(
    groupId: string,
    topics: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<void> {
    return share.deleteShareGroupOffsets(this.#client, groupId, topics, opts);
  }

  /**
   * Deletes share groups (each must be empty).
   *
   * @param groupIds The groups.
   * @param opts Timeout.
   */
  deleteShareGroups(groupIds: string[], opts?: share.ShareGroupAdminOptions): Promise<void> {
    return share.deleteShareGroups(this.#client, groupIds, opts);
  }

  /**
   * Sets (or with null removes) a share group's dynamic configs, e.g. `share.auto.offset.reset`.
   *
   * @param groupId The group.
   * @param configs Names to values.
   */
  alterShareGroupConfigs(groupId: string, configs: Record<string, string | null>): Promise<void> {
    return share.alterShareGroupConfigs(this.#client, groupId, configs);
  }

  /**
   * Sends a request that only the controller serves to the controller the
   * metadata names, never to just any broker. Items answered NOT_CONTROLLER
   * (the controller moved, or a broker that does not forward, as in
   * ZooKeeper-mode Kafka) are sent again after a metadata refresh, with
   * backoff, until `deadline`; then the call fails with a `TimeoutError`
   * whose cause is the last error.
   */
  async #onController<R extends { errorCode: number }>(
    api: string,
    items: readonly string[],
    deadline: number,
    send: (conn: Connection, items: string[], leftMs: number) => Promise<Map<string, R>>,
  ): Promise<Map<string, R>> {
    const cluster = this.#client.cluster;
    const out = new Map<string, R>();
    let pending = [...items];
    let backoff = 50;
    let lastErr: Error | null = null;
    while (true) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(
          `${api} of ${pending.join(", ")} found no controller to serve it within the timeout` +
            (lastErr ? ` (last error: ${lastErr.message})` : ""),
          { cause: lastErr ?? undefined },
        );
      }
      let conn: Connection | null = null;
      try {
        conn = await cluster.controllerConnection();
      } catch (err) {
        // The controller is unreachable (it may be moving): look again after the backoff.
        if (!(err instanceof ConnectionError)) throw err;
        lastErr = err;
      }
      let res: Map<string, R> | null = null;
      if (conn) {
        try {
          res = await send(conn, pending, left);
        } catch (err) {
          // The controller went away mid-request (it may be moving). As with Kafka's Java admin, a retry
          // after a lost answer may report TOPIC_ALREADY_EXISTS / UNKNOWN_TOPIC_OR_PARTITION for the change
          // the lost request made.
          if (!(err instanceof ConnectionError)) throw err;
          lastErr = err;
        }
      }
      if (conn && res) {
        const again: string[] = [];
        for (const item of pending) {
          const r = res.get(item);
          if (!r) throw new KafkaError(`${api} response lacks "${item}"`);
          if (r.errorCode === ErrorCode.NOT_CONTROLLER) again.push(item);
          else out.set(item, r);
        }
        if (again.length === 0) return out;
        pending = again;
        lastErr = new BrokerError(ErrorCode.NOT_CONTROLLER, { api, broker: conn.address });
      }
      await sleep(Math.max(0, Math.min(backoff, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 1_000);
      try {
        await cluster.refreshMetadata();
      } catch (err) {
        lastErr = err as Error;
      }
    }
  }
}
