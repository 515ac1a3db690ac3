/**
 * Transactions (KIP-98): the transactional producer's side of the protocol.
 * A transactional id names the producer across restarts; InitProducerId at
 * its transaction coordinator fences any earlier instance (and aborts its open
 * transaction). In a transaction, records and consumer offsets become
 * visible to `read_committed` readers together, or not at all.
 *
 * Two versions of the protocol:
 * - v1 (KIP-98): every partition is registered with AddPartitionsToTxn before
 *   a batch goes to it, the group's offsets partition with AddOffsetsToTxn;
 *   Produce stays at v11 or lower.
 * - v2 (KIP-890, Kafka 4's default when the `transaction.version` feature is
 *   finalized at 2 or more): Produce v12+ and TxnOffsetCommit v5+ add their
 *   partitions themselves, and EndTxn v5 bumps the producer epoch at every
 *   commit or abort, so a late write of an old transaction can never land in
 *   the next one. Sequences restart at 0 with each new epoch.
 *
 * Errors are of three kinds: retriable ones (coordinator moved or loading,
 * CONCURRENT_TRANSACTIONS while the previous transaction completes) are
 * retried within `deliveryTimeoutMs`; fencing ones ({@linkcode ProducerFencedError}:
 * another instance with the same transactional id took over) end the producer;
 * the rest make the transaction abortable: it must be aborted, and
 * `commitTransaction` aborts it and throws {@linkcode TransactionAbortedError}.
 *
 * @module
 */

import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { addOffsetsToTxn } from "../../protocol/messages/add_offsets_to_txn.ts";
import { addPartitionsToTxn } from "../../protocol/messages/add_partitions_to_txn.ts";
import { endTxn } from "../../protocol/messages/end_txn.ts";
import { txnOffsetCommit } from "../../protocol/messages/txn_offset_commit.ts";
import type { Cluster } from "../cluster.ts";
import type { Connection } from "../connection.ts";
import {
  BrokerError,
  type BrokerErrorContext,
  ClosedError,
  ConnectionError,
  KafkaError,
  TimeoutError,
} from "../errors.ts";
import type { PartitionState } from "./accumulator.ts";
import type { Idempotence } from "./idempotence.ts";

/**
 * Another producer with the same transactional id took over (PRODUCER_FENCED,
 * INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED...). Fatal: the
 * producer cannot send any more; close it (a new instance fences the others in
 * its turn). A transactional id the ACLs deny is just as fatal but is an
 * `AuthorizationError` naming the id. An INVALID_PRODUCER_EPOCH from a
 * partition or the group coordinator is not enough (the transaction
 * coordinator may have aborted a transaction that outlived
 * `transactionTimeoutMs`, which bumps the epoch): that transaction aborts, and
 * only the coordinator's answer to the abort decides whether we are fenced.
 *
 * @example
 * ```ts
 * import { ProducerFencedError } from "../../mod.ts";
 * const err: unknown = new Error("x");
 * if (err instanceof ProducerFencedError) console.log("another instance took over", err.type);
 * ```
 */
export class ProducerFencedError extends BrokerError {
  /**
   * Creates a ProducerFencedError from a fencing error code.
   *
   * @param code The broker's error code.
   * @param context Where it happened.
   * @param transactionalId The producer's transactional id.
   */
  constructor(code: number, context: BrokerErrorContext = {}, transactionalId?: string) {
    super(code, context);
    if (transactionalId !== undefined) this.message += ` (transactional id "${transactionalId}")`;
  }
}

/**
 * The transaction was aborted because of an error that leaves it unable to
 * commit (a record that could not be delivered, offsets the group refused,
 * TRANSACTION_ABORTABLE...): none of its records or offsets are visible to
 * `read_committed` readers. The producer stays usable: begin a new transaction
 * and process the input again from the last committed offsets. `cause` is the
 * error that made it abort.
 *
 * @example
 * ```ts
 * import { TransactionAbortedError } from "../../mod.ts";
 * const err: unknown = new Error("x");
 * if (err instanceof TransactionAbortedError) console.log("retry from the committed offsets", err.cause);
 * ```
 */
export class TransactionAbortedError extends KafkaError {}

/** What a consumer group says about the member whose offsets a transaction commits (KIP-447). */
export interface GroupMetadata {
  /** The group id. */
  groupId: string;
  /** The generation (-1 when unknown: then the coordinator does not check it). */
  generationId: number;
  /** The member id ("" when unknown). */
  memberId: string;
  /** The static member id, or null. */
  groupInstanceId: string | null;
}

/** An offset to commit in a transaction: the next offset to read, like `consumer.commit()`'s. */
export interface TransactionOffset {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The next offset to read. */
  offset: bigint;
  /** The leader epoch of the last record consumed, when known (KIP-320). */
  leaderEpoch?: number;
}

/** What the transaction manager needs from the producer. */
export interface TransactionHost {
  readonly cluster: Cluster;
  readonly idempotence: Idempotence;
  readonly retryBackoffMs: number;
  /** How long a transactional request is retried. */
  readonly deliveryTimeoutMs: number;
  /** Partitions were added: drain again. */
  drain(): void;
  /** A fencing error: the producer is dead. */
  fatal(err: KafkaError): void;
}

/** Where a transaction stands. */
export type TransactionState = "uninitialized" | "ready" | "in-transaction" | "abortable" | "fatal";

/** Errors that leave the producer unusable. */
const FENCING = new Set<number>([
  ErrorCode.PRODUCER_FENCED,
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  ErrorCode.TRANSACTION_COORDINATOR_FENCED,
  ErrorCode.INVALID_PRODUCER_ID_MAPPING,
]);

/** Retried against the (re-discovered) coordinator. */
const COORDINATOR_MOVED = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

/** Whether a broker error code fences the producer. */
export function isFencing(code: number): boolean {
  return FENCING.has(code);
}

/**
 * The fatal error a fencing code becomes: an `AuthorizationError` naming the
 * transactional id for TRANSACTIONAL_ID_AUTHORIZATION_FAILED (an ACL, not
 * another instance), a {@linkcode ProducerFencedError} for the rest.
 */
export function fatalTxnError(err: BrokerError, transactionalId: string): KafkaError {
  if (err.code === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) {
    return new BrokerError(err.code, { ...err.context, transactionalId });
  }
  return err instanceof ProducerFencedError
    ? err
    : new ProducerFencedError(err.code, err.context, transactionalId);
}

/** Whether an error made by {@linkcode fatalTxnError} (the producer is dead), not an abortable one. */
export function isFatalTxnError(err: unknown): boolean {
  return err instanceof ProducerFencedError ||
    (err instanceof BrokerError && err.code === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
}

/** The transactional producer's coordinator conversation and state. */
export class TransactionManager {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly #host: TransactionHost;
  #state: TransactionState = "uninitialized";
  #initializing: Promise<void> | null = null;
  #coordinator: Promise<Connection> | null = null;
  /** Protocol v2 (KIP-890): the broker adds partitions itself and bumps the epoch per transaction. */
  #v2 = false;
  /** Partitions registered in the open transaction (v1). */
  readonly #added = new Set<PartitionState>();
  /** Partitions waiting for (or in) an AddPartitionsToTxn (v1). */
  readonly #adding = new Set<PartitionState>();
  #addRunning = false;
  /** The error that made the open transaction abortable. */
  #abortCause: unknown = null;
  #fatal: KafkaError | null = null;
  /** Whether the broker may hold a sequence gap: bump the epoch after the abort (KIP-360). */
  #bumpAfterAbort = false;
  /**
   * Whether a partition or the group refused our epoch as old (INVALID_PRODUCER_EPOCH): the
   * abort must end with an epoch from the coordinator, even in protocol v2 (KIP-588).
   */
  #epochStale = false;
  /** Whether the transaction has anything at the coordinator (a partition or offsets). */
  #touched = false;

  constructor(transactionalId: string, transactionTimeoutMs: number, host: TransactionHost) {
    this.transactionalId = transactionalId;
    this.transactionTimeoutMs = transactionTimeoutMs;
    this.#host = host;
  }

  /** Where the transaction stands. */
  get state(): TransactionState {
    return this.#state;
  }

  /** Whether protocol v2 (KIP-890) is in use (known after initialization). */
  get v2(): boolean {
    return this.#v2;
  }

  /** The Produce version cap: v1 must not use v12+, which would add partitions implicitly. */
  get produceMaxVersion(): number {
    return this.#v2 ? Infinity : 11;
  }

  /** The fatal error, if any. */
  get fatalError(): KafkaError | null {
    return this.#fatal;
  }

  /** InitProducerId with the transactional id (once; fences earlier instances). */
  init(): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#state !== "uninitialized") return Promise.resolve();
    this.#initializing ??= this.#initProducerId(false).then(
      () => {
        this.#state = "ready";
      },
      (err) => {
        this.#initializing = null;
        throw this.#classify(err);
      },
    );
    return this.#initializing;
  }

  /** Starts a transaction (local only: the coordinator learns of it with the first partition). */
  begin(): void {
    this.#throwIfFatal();
    if (this.#state === "uninitialized") {
      throw new KafkaError("Call initTransactions() (or transaction()) before beginTransaction()");
    }
    if (this.#state !== "ready") {
      throw new KafkaError(`Cannot begin a transaction: one is already ${this.#state}`);
    }
    this.#state = "in-transaction";
    this.#abortCause = null;
    this.#touched = false;
    this.#added.clear();
  }

  /** Throws unless a transaction is open (and can still commit). */
  assertInTransaction(what: string): void {
    this.#throwIfFatal();
    if (this.#state === "abortable") {
      throw new TransactionAbortedError(
        `Cannot ${what}: the transaction failed and must be aborted (${errText(this.#abortCause)})`,
        { cause: this.#abortCause },
      );
    }
    if (this.#state !== "in-transaction") {
      throw new KafkaError(`Cannot ${what} outside a transaction: call beginTransaction() first`);
    }
  }

  /** A batch of the transaction failed (or another abortable error): the transaction must abort. */
  markAbortable(err: unknown): void {
    if (this.#state === "in-transaction") {
      this.#state = "abortable";
      this.#abortCause = err;
    }
  }

  /** A batch whose sequences may or may not be written failed: bump the epoch after the abort. */
  requestBump(): void {
    this.#bumpAfterAbort = true;
  }

  /**
   * A partition leader or the group coordinator answered INVALID_PRODUCER_EPOCH: it holds a newer
   * epoch of our producer id. Either the coordinator aborted the transaction itself
   * (transactionTimeoutMs ran out, for instance while the broker restarted) and bumped the epoch,
   * or another instance took over. Only the transaction coordinator knows which (KIP-588): the
   * transaction must abort, and the abort asks the coordinator for our next epoch, which it gives
   * (the producer goes on) or refuses with PRODUCER_FENCED (fatal).
   */
  staleEpoch(): void {
    this.#bumpAfterAbort = true;
    this.#epochStale = true;
  }

  /** Fencing: the producer is dead. */
  fence(err: KafkaError): void {
    this.#fatal ??= err;
    this.#state = "fatal";
  }

  /**
   * Whether a batch of this partition may be sent now. In v1 the partition must
   * first be added to the transaction: this starts that and answers false; the
   * producer drains again once it is added.
   */
  admit(tp: PartitionState): boolean {
    if (this.#state !== "in-transaction" && this.#state !== "abortable") return false;
    this.#touched = true;
    if (this.#v2 || this.#added.has(tp)) return true;
    if (this.#state === "abortable") return false;
    if (!this.#adding.has(tp)) {
      this.#adding.add(tp);
      if (!this.#addRunning) queueMicrotask(() => this.#addPartitions());
    }
    return false;
  }

  async #addPartitions(): Promise<void> {
    if (this.#addRunning || this.#adding.size === 0) return;
    this.#addRunning = true;
    const batch = [...this.#adding];
    try {
      const idem = this.#host.idempotence;
      const topics = new Map<string, number[]>();
      for (const tp of batch) {
        let l = topics.get(tp.topic);
        if (!l) topics.set(tp.topic, l = []);
        l.push(tp.partition);
      }
      await this.#coordinatorRequest("AddPartitionsToTxn", async (conn) => {
        const res = await conn.request(addPartitionsToTxn, {
          v3AndBelowTransactionalId: this.transactionalId,
          v3AndBelowProducerId: idem.producerId,
          v3AndBelowProducerEpoch: idem.producerEpoch,
          v3AndBelowTopics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        }, { version: Math.min(3, conn.versionFor(addPartitionsToTxn)) });
        // One code for the request: the first real error (OPERATION_NOT_ATTEMPTED marks the others).
        let code = 0;
        for (const t of res.resultsByTopicV3AndBelow ?? []) {
          for (const p of t.resultsByPartition) {
            if (p.partitionErrorCode && (code === 0 || code === ErrorCode.OPERATION_NOT_ATTEMPTED)) {
              code = p.partitionErrorCode;
            }
          }
        }
        return code;
      });
      for (const tp of batch) {
        this.#adding.delete(tp);
        this.#added.add(tp);
      }
    } catch (err) {
      for (const tp of batch) this.#adding.delete(tp);
      const e = this.#classify(err);
      if (!this.#fatal) this.markAbortable(e);
      // The batches waiting for these partitions fail with the cause; the commit will abort.
      this.#host.fatal(e);
    } finally {
      this.#addRunning = false;
    }
    this.#host.drain();
    if (this.#adding.size) queueMicrotask(() => this.#addPartitions());
  }

  /** Adds the group's offsets to the transaction and commits them in it (KIP-98, KIP-447). */
  async sendOffsets(group: GroupMetadata, offsets: readonly TransactionOffset[]): Promise<void> {
    this.assertInTransaction("send offsets");
    const idem = this.#host.idempotence;
    this.#touched = true;
    try {
      if (!this.#v2) {
        await this.#coordinatorRequest("AddOffsetsToTxn", async (conn) => {
          const res = await conn.request(addOffsetsToTxn, {
            transactionalId: this.transactionalId,
            producerId: idem.producerId,
            producerEpoch: idem.producerEpoch,
            groupId: group.groupId,
          });
          return res.errorCode;
        });
      }
      const topics = new Map<string, TransactionOffset[]>();
      for (const o of offsets) {
        let l = topics.get(o.topic);
        if (!l) topics.set(o.topic, l = []);
        l.push(o);
      }
      // TxnOffsetCommit goes to the group's coordinator, not the transaction's. A connection that
      // failed is never asked again: a closed one would fail every retry at once with its old
      // error (a broker restart then stalled the transaction until deliveryTimeoutMs).
      let groupConn: Promise<Connection> | null = null;
      await this.#retry("TxnOffsetCommit", async () => {
        groupConn ??= this.#findCoordinator(CoordinatorKeyType.GROUP, group.groupId);
        let conn: Connection;
        try {
          conn = await groupConn;
        } catch (err) {
          groupConn = null;
          throw err;
        }
        if (conn.isClosed) {
          groupConn = null;
          throw new ConnectionError(`The connection to the coordinator of group "${group.groupId}" closed`, {
            broker: conn.address,
          });
        }
        const max = conn.versionFor(txnOffsetCommit);
        const res = await conn.request(txnOffsetCommit, {
          transactionalId: this.transactionalId,
          groupId: group.groupId,
          producerId: idem.producerId,
          producerEpoch: idem.producerEpoch,
          generationId: group.generationId,
          memberId: group.memberId,
          groupInstanceId: group.groupInstanceId,
          topics: [...topics].map(([name, list]) => ({
            name,
            partitions: list.map((o) => ({
              partitionIndex: o.partition,
              committedOffset: o.offset,
              committedLeaderEpoch: o.leaderEpoch ?? -1,
              committedMetadata: null,
            })),
          })),
        }, { version: this.#v2 ? max : Math.min(max, 4) }).catch((err) => {
          groupConn = null;
          throw err;
        });
        let code = 0;
        for (const t of res.topics) {
          for (const p of t.partitions) if (p.errorCode && !code) code = p.errorCode;
        }
        if (COORDINATOR_MOVED.has(code)) groupConn = null;
        return code;
      }, { groupId: group.groupId });
    } catch (err) {
      // The group coordinator checks the epoch against the partition's producer state, which a
      // timed-out transaction's abort bumped: not proof of fencing (see staleEpoch()).
      if (err instanceof BrokerError && err.code === ErrorCode.INVALID_PRODUCER_EPOCH) {
        this.staleEpoch();
        this.markAbortable(err);
        throw err;
      }
      const e = this.#classify(err);
      if (!this.#fatal) this.markAbortable(e);
      throw e;
    }
  }

  /**
   * Ends the transaction: EndTxn commit or abort. In v2 the answer carries the
   * next epoch. Afterwards a new transaction may begin.
   */
  async end(commit: boolean): Promise<void> {
    this.#throwIfFatal();
    if (this.#state !== "in-transaction" && this.#state !== "abortable") {
      throw new KafkaError(`Cannot ${commit ? "commit" : "abort"}: no transaction is open`);
    }
    if (commit && this.#state === "abortable") {
      throw new TransactionAbortedError(
        `Cannot commit: the transaction failed and must be aborted (${errText(this.#abortCause)})`,
        { cause: this.#abortCause },
      );
    }
    const idem = this.#host.idempotence;
    const epochBefore = idem.producerEpoch;
    try {
      if (this.#touched) {
        await this.#coordinatorRequest("EndTxn", async (conn) => {
          const res = await conn.request(endTxn, {
            transactionalId: this.transactionalId,
            producerId: idem.producerId,
            producerEpoch: idem.producerEpoch,
            committed: commit,
          }, { version: this.#v2 ? conn.versionFor(endTxn) : Math.min(4, conn.versionFor(endTxn)) });
          if (res.errorCode === 0 && this.#v2 && res.producerId >= 0n) {
            // KIP-890: every transaction ends with a new epoch; sequences restart at 0.
            idem.setIdentity(res.producerId, res.producerEpoch);
          }
          return res.errorCode;
        });
      }
      // A failed batch may have left a sequence gap: a new epoch (KIP-360) restarts the sequences
      // (in v2 the abort gave one). An epoch found stale needs one from the coordinator in any
      // case; InitProducerId with our current identity asks for it, and is refused if we are fenced.
      if (
        !commit && this.#bumpAfterAbort &&
        (!this.#v2 || (this.#epochStale && idem.producerEpoch === epochBefore))
      ) {
        await this.#initProducerId(true);
      }
      this.#bumpAfterAbort = false;
      this.#epochStale = false;
      this.#state = "ready";
      this.#added.clear();
    } catch (err) {
      const e = this.#classify(err);
      if (!this.#fatal && commit) this.markAbortable(e);
      throw e;
    }
  }

  async #initProducerId(bump: boolean): Promise<void> {
    const idem = this.#host.idempotence;
    await this.#coordinatorRequest("InitProducerId", async (conn) => {
      const res = await conn.request(initProducerId, {
        transactionalId: this.transactionalId,
        transactionTimeoutMs: this.transactionTimeoutMs,
        // KIP-360 (v3+): our current identity, so the coordinator bumps the epoch instead of fencing us.
        producerId: bump ? idem.producerId : -1n,
        producerEpoch: bump ? idem.producerEpoch : -1,
      });
      if (res.errorCode === 0) {
        idem.setIdentity(res.producerId, res.producerEpoch);
        this.#v2 = (conn.finalizedFeatures.get("transaction.version") ?? 0) >= 2;
      }
      return res.errorCode;
    });
  }

  /** A request to the transaction coordinator, retried on coordinator moves and concurrent transactions. */
  #coordinatorRequest(api: string, call: (conn: Connection) => Promise<number>): Promise<void> {
    return this.#retry(api, async () => {
      this.#coordinator ??= this.#findCoordinator(CoordinatorKeyType.TRANSACTION, this.transactionalId);
      const p = this.#coordinator;
      let conn: Connection;
      try {
        conn = await p;
      } catch (err) {
        if (this.#coordinator === p) this.#coordinator = null;
        throw err;
      }
      try {
        const code = await call(conn);
        if (COORDINATOR_MOVED.has(code) && this.#coordinator === p) this.#coordinator = null;
        return code;
      } catch (err) {
        if (this.#coordinator === p) this.#coordinator = null;
        throw err;
      }
    }, {});
  }

  /** Runs `attempt` until it answers 0, retrying what is retriable within deliveryTimeoutMs. */
  async #retry(api: string, attempt: () => Promise<number>, ctx: BrokerErrorContext): Promise<void> {
    const host = this.#host;
    const deadline = Date.now() + host.deliveryTimeoutMs;
    let delay = host.retryBackoffMs;
    let last: unknown = null;
    while (true) {
      let wait = delay;
      try {
        const code = await attempt();
        if (code === 0) return;
        last = new BrokerError(code, { ...ctx, api });
        if (!isRetriableTxnCode(code)) throw last;
        // CONCURRENT_TRANSACTIONS clears as soon as the previous transaction's markers are written.
        if (code === ErrorCode.CONCURRENT_TRANSACTIONS) wait = Math.min(delay, 20);
      } catch (err) {
        if (err instanceof BrokerError && !isRetriableTxnCode(err.code)) throw err;
        // A broker that went away (refused, closed, timed out): ask again, maybe another one; unless
        // the client itself closed, when nothing will answer.
        if (
          !(err instanceof BrokerError) &&
          !(err instanceof ConnectionError || err instanceof TimeoutError || err instanceof ClosedError)
        ) {
          throw err;
        }
        if (host.cluster.closed) throw err;
        last = err;
      }
      if (Date.now() + wait > deadline) {
        throw new TimeoutError(
          `${api} for transactional id "${this.transactionalId}" did not succeed within ${host.deliveryTimeoutMs} ms; last error: ${
            errText(last)
          }`,
          { cause: last },
        );
      }
      await new Promise((r) => setTimeout(r, wait));
      delay = Math.min(delay * 2, 1_000);
    }
  }

  async #findCoordinator(keyType: CoordinatorKeyType, key: string): Promise<Connection> {
    const cluster = this.#host.cluster;
    const conn = await cluster.anyConnection();
    const batched = conn.versionFor(findCoordinator) >= 4;
    const res = await conn.request(
      findCoordinator,
      batched ? { keyType, coordinatorKeys: [key] } : { key, keyType },
    );
    const c = batched ? res.coordinators[0] : res;
    if (!c) throw new KafkaError(`FindCoordinator answered without a coordinator for "${key}"`);
    if (c.errorCode) {
      throw new BrokerError(c.errorCode, {
        api: "FindCoordinator",
        groupId: keyType === CoordinatorKeyType.GROUP ? key : undefined,
        brokerMessage: c.errorMessage ?? `transactional id "${key}"`,
      });
    }
    if (!cluster.brokers.some((b) => b.nodeId === c.nodeId)) await cluster.refreshMetadata();
    return await cluster.connectionTo(c.nodeId);
  }

  /** Fencing errors become {@linkcode ProducerFencedError} and kill the producer. */
  #classify(err: unknown): KafkaError {
    if (err instanceof ProducerFencedError) return err;
    if (err instanceof BrokerError && FENCING.has(err.code)) {
      const fenced = fatalTxnError(err, this.transactionalId);
      this.fence(fenced);
      this.#host.fatal(fenced);
      return fenced;
    }
    return err instanceof KafkaError ? err : new KafkaError(errText(err), { cause: err });
  }

  #throwIfFatal(): void {
    if (this.#fatal) throw this.#fatal;
  }
}

function isRetriableTxnCode(code: number): boolean {
  return COORDINATOR_MOVED.has(code) || code === ErrorCode.CONCURRENT_TRANSACTIONS ||
    code === ErrorCode.REQUEST_TIMED_OUT || code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    code === ErrorCode.NOT_ENOUGH_REPLICAS || code === ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND ||
    code === ErrorCode.UNKNOWN_LEADER_EPOCH || code === ErrorCode.NOT_LEADER_OR_FOLLOWER;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
