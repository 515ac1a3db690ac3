/**
 * Routing for admin requests: to the controller, to a group's coordinator, to
 * a partition's leader, to one named broker, or to any broker; retried on the
 * routing errors (a moved controller, coordinator or leader, a lost
 * connection) after a metadata refresh, with backoff, until the call's
 * deadline.
 *
 * @module
 */

import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import type { Cluster } from "../cluster.ts";
import type { Connection } from "../connection.ts";
import type { ClientContext } from "../context.ts";
import { BrokerError, ConnectionError, KafkaError, TimeoutError } from "../errors.ts";
import { abortable, sleepUnlessAborted } from "../abort.ts";

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Error codes that mean "ask the coordinator again, maybe another one". */
const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

/** A per-item error, or null when `code` is 0. */
export function itemError(
  code: number,
  context: ConstructorParameters<typeof BrokerError>[1],
): BrokerError | null {
  return code === 0 ? null : new BrokerError(code, context);
}

/** Throws a BrokerError when `code` is not 0. */
export function check(code: number, context: ConstructorParameters<typeof BrokerError>[1]): void {
  if (code !== 0) throw new BrokerError(code, context);
}

/** @internal What every admin area gets: the cluster and the routing helpers. */
export class AdminContext {
  readonly #client: ClientContext;
  readonly #coordinators: Map<string, number>;
  readonly #signal: AbortSignal | undefined;

  /**
   * @param client The client's context.
   * @param coordinators The coordinator cache (shared by a call's context with its admin's).
   * @param signal The signal of one call.
   */
  constructor(client: ClientContext, coordinators = new Map<string, number>(), signal?: AbortSignal) {
    this.#client = client;
    this.#coordinators = coordinators;
    this.#signal = signal;
  }

  /**
   * A context for one call that `signal` cancels: its waits end and its retry
   * loops stop at the abort (a request already sent cannot be taken back).
   *
   * @param signal The call's signal.
   */
  withSignal(signal: AbortSignal): AdminContext {
    return new AdminContext(this.#client, this.#coordinators, signal);
  }

  /** The call's signal, if any. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /**
   * Sleeps `ms` milliseconds; an abort of the call's signal ends the sleep and throws its reason.
   *
   * @param ms How long.
   */
  async sleep(ms: number): Promise<void> {
    await sleepUnlessAborted(ms, this.#signal);
    this.#signal?.throwIfAborted();
  }

  /** The cluster. */
  get cluster(): Cluster {
    return this.#client.cluster;
  }

  /** Throws when the client is closed; returns the deadline for a call bounded by `timeoutMs`. */
  begin(timeoutMs: number | undefined): number {
    this.#signal?.throwIfAborted();
    this.#client.assertOpen();
    const t = timeoutMs ?? this.cluster.options.requestTimeoutMs;
    if (!Number.isFinite(t) || t <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${t}`);
    return Date.now() + t;
  }

  /**
   * Runs `attempt` until it succeeds, retrying after a metadata refresh when
   * it throws a ConnectionError or a retriable BrokerError; when the deadline
   * passes, a TimeoutError whose cause is the last error.
   */
  async retry<T>(api: string, deadline: number, attempt: (leftMs: number) => Promise<T>): Promise<T> {
    let backoff = 50;
    let lastErr: Error | null = null;
    while (true) {
      this.#signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(
          `${api} did not complete within the timeout` + (lastErr ? ` (last error: ${lastErr.message})` : ""),
          { cause: lastErr ?? undefined },
        );
      }
      try {
        return await abortable(attempt(left), this.#signal);
      } catch (err) {
        const retriable = err instanceof ConnectionError || (err instanceof BrokerError && err.retriable);
        if (!retriable) throw err;
        lastErr = err as Error;
      }
      await this.sleep(Math.max(0, Math.min(backoff, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 1_000);
      try {
        await this.cluster.refreshMetadata();
      } catch (err) {
        lastErr = err as Error;
      }
    }
  }

  /** Sends to any broker, retried on connection errors. */
  any<T>(api: string, deadline: number, send: (conn: Connection, leftMs: number) => Promise<T>): Promise<T> {
    return this.retry(api, deadline, async (left) => await send(await this.cluster.anyConnection(), left));
  }

  /** Sends to one broker by node id, retried on connection errors. */
  broker<T>(
    api: string,
    nodeId: number,
    deadline: number,
    send: (conn: Connection, leftMs: number) => Promise<T>,
  ): Promise<T> {
    return this.retry(
      api,
      deadline,
      async (left) => await send(await this.cluster.connectionTo(nodeId), left),
    );
  }

  /**
   * Sends to the coordinator of `key` (a group, or a transactional id),
   * found with FindCoordinator and cached. `send` throws a BrokerError for a
   * coordinator error code; that forgets the coordinator and retries.
   */
  coordinator<T>(
    api: string,
    key: string,
    deadline: number,
    send: (conn: Connection, leftMs: number) => Promise<T>,
    keyType: number = CoordinatorKeyType.GROUP,
  ): Promise<T> {
    const cacheKey = `${keyType}:${key}`;
    return this.retry(api, deadline, async (left) => {
      let node = this.#coordinators.get(cacheKey);
      if (node === undefined) {
        node = await this.#findCoordinator(key, keyType, left);
        this.#coordinators.set(cacheKey, node);
      }
      try {
        return await send(await this.cluster.connectionTo(node), left);
      } catch (err) {
        if (
          err instanceof ConnectionError || (err instanceof BrokerError && COORDINATOR_ERRORS.has(err.code))
        ) this.#coordinators.delete(cacheKey);
        throw err;
      }
    });
  }

  /** The node id of the coordinator of `key`. */
  async #findCoordinator(key: string, keyType: number, leftMs: number): Promise<number> {
    const conn = await this.cluster.anyConnection();
    const batched = conn.versionFor(findCoordinator) >= 4;
    const res = await conn.request(
      findCoordinator,
      batched ? { keyType, coordinatorKeys: [key] } : { key, keyType },
      { timeoutMs: leftMs },
    );
    const c = batched ? res.coordinators[0] : res;
    if (!c) throw new KafkaError(`FindCoordinator answered without a coordinator for "${key}"`);
    check(c.errorCode, { api: "FindCoordinator", groupId: key, brokerMessage: c.errorMessage });
    if (!this.cluster.brokers.some((b) => b.nodeId === c.nodeId)) await this.cluster.refreshMetadata();
    return c.nodeId;
  }

  /**
   * Sends a request that only the controller serves to the controller the
   * metadata names, never to just any broker. Items answered NOT_CONTROLLER
   * (the controller moved, or a broker that does not forward, as in
   * ZooKeeper-mode Kafka) are sent again after a metadata refresh, with
   * backoff, until `deadline`; then the call fails with a `TimeoutError`
   * whose cause is the last error.
   */
  async controller<R extends { errorCode: number }>(
    api: string,
    items: readonly string[],
    deadline: number,
    send: (conn: Connection, items: string[], leftMs: number) => Promise<Map<string, R>>,
  ): Promise<Map<string, R>> {
    const cluster = this.cluster;
    const out = new Map<string, R>();
    let pending = [...items];
    let backoff = 50;
    let lastErr: Error | null = null;
    while (true) {
      this.#signal?.throwIfAborted();
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
          res = await abortable(send(conn, pending, left), this.#signal);
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
      await this.sleep(Math.max(0, Math.min(backoff, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 1_000);
      try {
        await cluster.refreshMetadata();
      } catch (err) {
        lastErr = err as Error;
      }
    }
  }

  /**
   * Partitions and leaders of `topics`, from one Metadata request that never
   * creates a topic (whatever the client's allowAutoTopicCreation) and leaves
   * the client's own metadata alone.
   */
  async topicPartitions(
    topics: readonly string[],
    deadline: number,
  ): Promise<Map<string, { errorCode: number; partitions: { partition: number; leader: number }[] }>> {
    const names = [...new Set(topics)];
    const out = new Map<string, { errorCode: number; partitions: { partition: number; leader: number }[] }>();
    if (names.length === 0) return out;
    const md = await this.retry("Metadata", deadline, () => this.cluster.fetchMetadata(names, false));
    for (const t of md.topics) {
      if (t.name === null) continue;
      out.set(t.name, {
        errorCode: t.errorCode,
        partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, leader: p.leaderId }))
          .sort((a, b) => a.partition - b.partition),
      });
    }
    for (const n of names) {
      if (!out.has(n)) out.set(n, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] });
    }
    return out;
  }

  /**
   * Sends per-partition requests to each partition's leader. `send` gets one
   * leader's partitions and returns an error code per partition; partitions
   * answered with a retriable error (a moved leader) are sent again after a
   * metadata refresh until the deadline, then keep their last error.
   */
  async leaders<P extends { topic: string; partition: number }, R extends { errorCode: number }>(
    api: string,
    parts: readonly P[],
    deadline: number,
    send: (conn: Connection, parts: P[], leftMs: number) => Promise<Map<P, R>>,
    failed: (p: P, code: number) => R,
  ): Promise<Map<P, R>> {
    const out = new Map<P, R>();
    const lastCode = new Map<P, number>();
    let pending = [...parts];
    let backoff = 50;
    while (pending.length > 0) {
      this.#signal?.throwIfAborted();
      if (deadline - Date.now() <= 0) {
        // Out of time: each partition keeps the error that made it wait.
        for (const p of pending) out.set(p, failed(p, lastCode.get(p) ?? ErrorCode.REQUEST_TIMED_OUT));
        break;
      }
      const byLeader = new Map<number, P[]>();
      const again: P[] = [];
      let md: Awaited<ReturnType<AdminContext["topicPartitions"]>>;
      try {
        md = await this.topicPartitions(pending.map((p) => p.topic), deadline);
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        for (const p of pending) out.set(p, failed(p, lastCode.get(p) ?? ErrorCode.REQUEST_TIMED_OUT));
        break;
      }
      for (const p of pending) {
        const info = md.get(p.topic)!;
        if (info.errorCode !== 0 && !new BrokerError(info.errorCode).retriable) {
          out.set(p, failed(p, info.errorCode));
          continue;
        }
        if (info.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
          // Retriable in Kafka's table, but for an admin lookup a missing topic is the answer.
          out.set(p, failed(p, info.errorCode));
          continue;
        }
        const pi = info.partitions.find((x) => x.partition === p.partition);
        if (info.errorCode === 0 && !pi) {
          out.set(p, failed(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        const leader = pi?.leader ?? -1;
        if (leader < 0) {
          lastCode.set(p, ErrorCode.LEADER_NOT_AVAILABLE);
          again.push(p);
          continue;
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
      }
      await abortable(
        Promise.all([...byLeader].map(async ([leader, ps]) => {
          try {
            const conn = await this.cluster.connectionTo(leader);
            const res = await send(conn, ps, Math.max(1, deadline - Date.now()));
            for (const p of ps) {
              const r = res.get(p);
              if (!r) throw new KafkaError(`${api} response lacks ${p.topic}[${p.partition}]`);
              if (r.errorCode !== 0 && new BrokerError(r.errorCode).retriable) {
                lastCode.set(p, r.errorCode);
                again.push(p);
              } else out.set(p, r);
            }
          } catch (err) {
            // A lost connection or a request that ran out of time: try again while time is left.
            if (!(err instanceof ConnectionError || err instanceof TimeoutError)) throw err;
            for (const p of ps) {
              lastCode.set(
                p,
                err instanceof TimeoutError ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.NETWORK_EXCEPTION,
              );
            }
            again.push(...ps);
          }
        })),
        this.#signal,
      );
      if (again.length === 0) break;
      pending = again;
      await this.sleep(Math.max(0, Math.min(backoff, deadline - Date.now())));
      backoff = Math.min(backoff * 2, 1_000);
    }
    return out;
  }
}

/** ACL operation names by code (Kafka's AclOperation). */
export const ACL_OPERATIONS: readonly string[] = [
  "UNKNOWN",
  "ANY",
  "ALL",
  "READ",
  "WRITE",
  "CREATE",
  "DELETE",
  "ALTER",
  "DESCRIBE",
  "CLUSTER_ACTION",
  "DESCRIBE_CONFIGS",
  "ALTER_CONFIGS",
  "IDEMPOTENT_WRITE",
  "CREATE_TOKENS",
  "DESCRIBE_TOKENS",
  "TWO_PHASE_COMMIT",
];

/** The operation names in an authorized-operations bit field; null when the broker did not report them. */
export function decodeOperations(bits: number): string[] | null {
  if (bits === -2147483648) return null;
  const out: string[] = [];
  for (let i = 0; i < 31; i++) {
    if (bits & (1 << i)) out.push(ACL_OPERATIONS[i] ?? `OPERATION_${i}`);
  }
  return out;
}
