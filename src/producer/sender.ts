/**
 * The producer's sender: moves batches from the accumulator into Produce
 * requests (one per leader, several in flight per broker), handles answers,
 * retries, splits batches the broker finds too large, and enforces
 * `deliveryTimeoutMs` with a timer wherever a batch is (open, queued, in
 * flight, waiting to retry).
 *
 * Natural batching: an open batch is closed and sent as soon as a request
 * slot for its partition's leader is free; while every slot is busy its
 * records keep accumulating, and the request that finishes drains again.
 * `lingerMs` adds an optional wait before a batch may go.
 *
 * @module
 */

import { produce, type ProduceResponse } from "../../protocol/apis/produce.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { encodeRecordBatch } from "../../protocol/record_batch.ts";
import type { Cluster } from "../cluster.ts";
import type { EventHub } from "../observe/events.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  KafkaError,
  TimeoutError,
  UnsupportedVersionError,
} from "../errors.ts";
import { Accumulator, type AccumulatorConfig, type Batch, type PartitionState } from "./accumulator.ts";
import { Idempotence } from "./idempotence.ts";
import { fatalTxnError, isFatalTxnError, isFencing, TransactionManager } from "./transactions.ts";
import { ProducerRecorder } from "../observe/metrics.ts";
import { BufferPool, Lease } from "./pool.ts";

/** The sender's settings (the accumulator's too). */
export interface SenderConfig extends AccumulatorConfig {
  readonly acks: number;
  readonly lingerMs: number;
  readonly maxInFlight: number;
  readonly idempotent: boolean;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  /** Transactional producers: the transactional id and timeout. */
  readonly transactional?: { transactionalId: string; transactionTimeoutMs: number };
}

/** Batches into requests, answers into results. */
export class Sender {
  readonly accumulator: Accumulator;
  readonly idempotence: Idempotence;
  /** The transaction manager of a transactional producer, else null. */
  readonly txn: TransactionManager | null;
  readonly #cfg: SenderConfig;
  readonly #cluster: Cluster;
  readonly #brokerInFlight = new Map<number, number>();
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerAt = Infinity;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryAt = Infinity;
  #drainScheduled = false;
  #refreshing = false;
  /** Flushes in progress: every open batch is sent without waiting. */
  flushing = 0;
  /** Closing: every open batch is sent without waiting. */
  closing = false;
  #closed = false;
  /** A fatal error (fenced, no producer id): every later send() fails with it. */
  fatal: KafkaError | null = null;
  /** The producer's metrics; null when the client has `metrics: false`. */
  readonly metrics: ProducerRecorder | null;

  readonly #events: EventHub;
  /** Memory for encoded batches, reused once no request can read it (see pool.ts). */
  readonly #pool: BufferPool;
  /** The memory the current encodeRecordBatch() call took for its batch. */
  #taken: Uint8Array | null = null;
  readonly #allocate = (size: number): Uint8Array => this.#taken = this.#pool.take(size);
  /**
   * Two reused buffers, read only during an encodeRecordBatch() call: the uncompressed records of
   * compressed batches (slot 0) and lz4's output (slot 1). They may be larger than any pooled class
   * when the data compresses well. Each is kept up to the pool's idle cap; a larger need gets plain
   * memory.
   */
  readonly #scratchMemory: (Uint8Array | null)[] = [null, null];
  readonly #scratchCap: number;
  readonly #scratch = (size: number, slot: 0 | 1): Uint8Array => {
    const m = this.#scratchMemory[slot];
    if (m !== null && m.length >= size) return m;
    if (size > this.#scratchCap) return new Uint8Array(size);
    let n = 1024;
    while (n < size) n *= 2;
    return this.#scratchMemory[slot] = new Uint8Array(Math.min(n, this.#scratchCap));
  };

  constructor(cfg: SenderConfig, cluster: Cluster, events: EventHub) {
    this.#cfg = cfg;
    this.#scratchCap = Math.max(4 * 1024 * 1024, 2 * cfg.batchBytes);
    this.#pool = new BufferPool({
      maxIdleBytes: this.#scratchCap,
      // A full batch's class and the next: a batch may pass batchBytes by its last record.
      largestClass: 2 * cfg.batchBytes,
    });
    this.#cluster = cluster;
    this.#events = events;
    this.metrics = cluster.recorder ? new ProducerRecorder() : null;
    this.accumulator = new Accumulator(cfg, cluster, {
      full: () => this.scheduleDrain(),
      deadline: (at) => {
        if (at < this.#expiryAt) this.#armExpiry(at);
      },
      opened: (b) => {
        if (cfg.lingerMs > 0) {
          const at = b.createdAt + cfg.lingerMs;
          if (at < this.#lingerAt) this.#armLinger(at);
        }
      },
    });
    this.idempotence = new Idempotence({
      cluster,
      retryBackoffMs: cfg.retryBackoffMs,
      deliveryTimeoutMs: cfg.deliveryTimeoutMs,
      partitions: this.accumulator.partitions,
      closed: () => this.#closed,
      ready: () => this.drain(),
      fatal: (e) => {
        this.fatal = e;
        this.accumulator.failAll(e);
      },
      transactionalBump: cfg.transactional ? () => this.txn!.requestBump() : undefined,
      events,
    });
    const t = cfg.transactional;
    this.txn = t
      ? new TransactionManager(t.transactionalId, t.transactionTimeoutMs, {
        cluster,
        idempotence: this.idempotence,
        retryBackoffMs: cfg.retryBackoffMs,
        deliveryTimeoutMs: cfg.deliveryTimeoutMs,
        drain: () => this.drain(),
        fatal: (e) => {
          if (isFatalTxnError(e)) {
            this.fatal = e;
            this.accumulator.failAll(e);
          } else this.discardUnsent(e);
        },
      })
      : null;
  }

  /**
   * Fails every batch not in flight (open or queued) with `err`: an aborted
   * transaction drops what it has not sent. A dropped batch that already had
   * sequence numbers leaves a gap: the epoch is bumped after the abort.
   */
  discardUnsent(err: unknown): void {
    const acc = this.accumulator;
    for (const tp of acc.partitions.values()) {
      const drop = tp.open ? [...tp.queue, tp.open] : [...tp.queue];
      tp.queue.length = 0;
      tp.open = null;
      for (const b of drop) {
        if (b.baseSequence >= 0) this.idempotence.requestBump();
        acc.fail(b, err);
      }
    }
  }

  /** Fails a batch; in a transaction, the transaction can then only abort. */
  #fail(b: Batch, err: unknown): void {
    this.metrics?.failed(b.records.length, err === b.lastError ? undefined : err);
    this.accumulator.fail(b, err);
    this.txn?.markAbortable(err);
  }

  /** After records were appended: drain soon unless a linger applies. */
  appended(): void {
    if (this.#cfg.lingerMs === 0 || this.flushing > 0) this.scheduleDrain();
  }

  /** Drains in a microtask (once, however many ask). */
  scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.drain();
    });
  }

  /** Moves sendable batches into Produce requests, per leader. */
  drain(): void {
    if (this.fatal) return;
    if (this.#cfg.idempotent && !this.idempotence.ready) {
      this.idempotence.ensure();
      return;
    }
    const txn = this.txn;
    const acc = this.accumulator;
    const now = Date.now();
    let nextLinger = Infinity;
    let nextRetry = Infinity;
    const byLeader = new Map<number, Batch[]>();
    const refresh = new Set<string>();
    for (const tp of acc.partitions.values()) {
      // Natural batching: an open batch past its linger (0 by default) is closed when it can go
      // out in this drain (a request slot for its leader is free, behind any batches of its
      // partition that go now); while every slot is busy it keeps collecting records (up to
      // batchBytes) and the request that finishes drains again. Flushing and closing send all.
      if (tp.open) {
        if (this.flushing > 0 || this.closing) acc.closeOpen(tp);
        else {
          const due = tp.open.createdAt + this.#cfg.lingerMs;
          if (due > now) nextLinger = Math.min(nextLinger, due);
          else if (this.#openCanGo(tp)) acc.closeOpen(tp);
        }
      }
      if (tp.queue.length === 0) continue;
      const head = tp.queue[0];
      if (head.retryAt > now) {
        nextRetry = Math.min(nextRetry, head.retryAt);
        continue;
      }
      // Without idempotence, one batch per partition in flight keeps order on retries.
      if (!this.#cfg.idempotent && tp.inFlight > 0) continue;
      if (this.#cfg.idempotent && (tp.inFlight >= 5 || (head.attempts > 0 && tp.inFlight > 0))) continue;
      // Transaction protocol v1: the partition joins the transaction (AddPartitionsToTxn) first.
      if (txn !== null && !txn.admit(tp)) continue;
      const leader = this.#leaderOf(tp);
      if (leader < 0) {
        refresh.add(tp.topic);
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, list = []);
      list.push(head);
    }
    if (refresh.size) this.#refreshSoon([...refresh]);
    for (const [leader, heads] of byLeader) {
      while (heads.length && (this.#brokerInFlight.get(leader) ?? 0) < this.#cfg.maxInFlight) {
        const batches: Batch[] = [];
        let bytes = 0;
        while (heads.length) {
          const b = heads[0];
          const enc = this.#encode(b);
          if (batches.length > 0 && bytes + enc.length > this.#cfg.maxRequestBytes) break;
          heads.shift();
          batches.push(b);
          bytes += enc.length;
        }
        for (const b of batches) {
          b.tp.queue.shift();
          b.tp.inFlight++;
        }
        this.#sendRequest(leader, batches);
        // A partition may have more queued batches: offer them in the next round.
        for (const b of batches) {
          const tp = b.tp;
          if (tp.queue.length && this.#cfg.idempotent && tp.inFlight < 5 && tp.queue[0].attempts === 0) {
            heads.push(tp.queue[0]);
          }
        }
      }
    }
    if (nextLinger < this.#lingerAt) this.#armLinger(nextLinger);
    if (nextRetry < Infinity) this.#armRetry(nextRetry);
  }

  #leaderOf(tp: PartitionState): number {
    return this.#cluster.cachedTopic(tp.topic)?.partitions[tp.partition]?.leader ?? -1;
  }

  /**
   * Whether a partition's open batch could go out in this drain, so that closing it now loses no
   * batching. With idempotence a partition may have 5 batches in flight, so the open batch goes
   * right behind queued ones (a send() whose records filled one batch of a partition and started
   * another there must not wait a round trip for its last records); without idempotence only
   * when nothing of the partition is queued or in flight. Its leader needs a request slot after
   * the queued batches' requests.
   */
  #openCanGo(tp: PartitionState): boolean {
    const queued = tp.queue.length;
    if (this.#cfg.idempotent) {
      if (tp.inFlight + queued >= 5) return false;
      // A batch being retried goes out alone first.
      if (queued > 0 && tp.queue[0].attempts > 0) return false;
    } else if (tp.inFlight > 0 || queued > 0) return false;
    const leader = this.#leaderOf(tp);
    // An unknown leader: close it, so that the queue's turn asks for metadata.
    if (leader < 0) return true;
    return (this.#brokerInFlight.get(leader) ?? 0) + queued < this.#cfg.maxInFlight;
  }

  #armLinger(at: number): void {
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerAt = at;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#lingerAt = Infinity;
      this.drain();
    }, Math.max(0, at - Date.now()));
  }

  #armRetry(at: number): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.drain();
    }, Math.max(0, at - Date.now()));
  }

  #armExpiry(at: number): void {
    if (this.#closed) return;
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryAt = at;
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = Infinity;
      this.#expireDue();
    }, Math.max(0, at - Date.now()));
    // Only a guard: what is pending (a request, a retry timer) keeps the process alive, not this.
    Deno.unrefTimer(this.#expiryTimer);
  }

  /** Fails every batch whose deliveryTimeoutMs has passed, wherever it is; re-arms for the next. */
  #expireDue(): void {
    const now = Date.now();
    let next = Infinity;
    for (const b of [...this.accumulator.outstanding]) {
      if (b.deadline <= now) this.#expire(b);
      else if (b.deadline < next) next = b.deadline;
    }
    if (next < Infinity) this.#armExpiry(next);
    this.scheduleDrain();
  }

  #expire(b: Batch): void {
    const tp = b.tp;
    // Not open nor queued: a request carrying it is in flight, and its answer will be ignored.
    if (!this.accumulator.remove(b)) b.expired = true;
    if (this.#cfg.idempotent && b.baseSequence >= 0) {
      // Its sequence numbers may or may not have been written: later batches of the partition
      // would leave a gap. As the Java producer does (KIP-360), bump the epoch once nothing is in
      // flight, which restarts every partition's sequence at 0.
      this.idempotence.requestBump();
    }
    const last = b.lastError;
    const reason = last === undefined
      ? ""
      : `; last error: ${last instanceof Error ? last.message : String(last)}`;
    const error = new TimeoutError(
      `Delivery to ${tp.topic}[${tp.partition}] timed out: not acknowledged within deliveryTimeoutMs (${this.#cfg.deliveryTimeoutMs} ms) of send()${reason}`,
      last === undefined ? undefined : { cause: last },
    );
    const records = b.records.length;
    this.#fail(b, error);
    if (this.#events.active) {
      this.#events.emit({ type: "batch.expired", topic: tp.topic, partition: tp.partition, records, error });
    }
  }

  #refreshSoon(topics: string[]): void {
    if (this.#refreshing) return;
    this.#refreshing = true;
    this.#cluster.refreshMetadata(topics).catch(() => {}).then(() => {
      setTimeout(() => {
        this.#refreshing = false;
        this.drain();
      }, this.#cfg.retryBackoffMs);
    });
  }

  #encode(b: Batch): Uint8Array {
    const idem = this.idempotence;
    if (b.encoded && b.encodedEpoch === idem.producerEpoch) return b.encoded;
    const on = this.#cfg.idempotent;
    if (on) idem.assignSequence(b);
    // Re-encoding for a new producer epoch: the old bytes' memory is freed once no request in
    // flight reads them (the batch is queued, so a request that carried it holds its own lease).
    const old = b.lease;
    b.lease = null;
    b.encoded = null;
    old?.drop();
    this.#taken = null;
    b.encoded = encodeRecordBatch(b.records, {
      transactional: this.txn !== null,
      compression: this.#cfg.compression,
      producerId: on ? idem.producerId : -1n,
      producerEpoch: on ? idem.producerEpoch : -1,
      baseSequence: on ? b.baseSequence : -1,
      allocate: this.#allocate,
      scratch: this.#scratch,
    });
    // (TypeScript cannot see that #allocate set it during the call.)
    const taken = this.#taken as Uint8Array | null;
    this.#taken = null;
    if (taken !== null && b.encoded.buffer === taken.buffer) b.lease = new Lease(this.#pool, taken);
    b.encodedEpoch = idem.producerEpoch;
    this.accumulator.noteCompressed(b);
    return b.encoded;
  }

  /** Produce requests awaiting an answer, all brokers. */
  get inFlightRequests(): number {
    let n = 0;
    for (const v of this.#brokerInFlight.values()) n += v;
    return n;
  }

  #sendRequest(leader: number, batches: Batch[]): void {
    const start = this.metrics ? performance.now() : 0;
    this.#brokerInFlight.set(leader, (this.#brokerInFlight.get(leader) ?? 0) + 1);
    // The request reads the batches' memory until it ends (answered or failed, and its writes
    // settled), even if a batch is done before that (expired, failed, split, re-encoded).
    const leases: Lease[] = [];
    for (const b of batches) {
      if (b.lease === null) continue;
      b.lease.hold();
      leases.push(b.lease);
    }
    const topics = new Map<string, { index: number; records: Uint8Array }[]>();
    for (const b of batches) {
      let list = topics.get(b.tp.topic);
      if (!list) topics.set(b.tp.topic, list = []);
      list.push({ index: b.tp.partition, records: b.encoded! });
    }
    const acks = this.#cfg.acks;
    const timeoutMs = this.#cfg.requestTimeoutMs;
    const request = {
      transactionalId: this.txn?.transactionalId ?? null,
      acks,
      timeoutMs,
      // Produce v13+ names topics by id (KIP-516); the codec writes whichever the version uses.
      topicData: [...topics].map(([name, partitionData]) => ({
        name,
        topicId: this.#cluster.cachedTopic(name)?.topicId,
        partitionData,
      })),
    };
    const finish = () => {
      for (const l of leases) l.drop();
      this.#brokerInFlight.set(leader, (this.#brokerInFlight.get(leader) ?? 1) - 1);
      for (const b of batches) b.tp.inFlight--;
      this.drain();
    };
    (async () => {
      const conn = await this.#cluster.connectionTo(leader, "produce");
      let sizeHint = 256;
      for (const b of batches) sizeHint += b.encoded!.length + 64;
      if (acks === 0) {
        await conn.send(produce, request, { sizeHint });
        return null;
      }
      // Transaction protocol v1 stays below Produce v12, which would add partitions implicitly (KIP-890).
      const version = this.txn === null
        ? undefined
        : Math.min(conn.versionFor(produce), this.txn.produceMaxVersion);
      return await conn.request(produce, request, {
        timeoutMs: timeoutMs + 5_000,
        sizeHint,
        version,
        // Batch memory goes back to the pool when the request ends: not while a write still reads it.
        waitForWrite: true,
      });
    })().then(
      (res) => {
        this.metrics?.latency.record(performance.now() - start);
        this.#handleResponse(res, batches, leader);
        finish();
      },
      (err) => {
        // The whole request failed (connection lost, timeout): every batch may be retried.
        this.#cluster.refreshMetadata().catch(() => {});
        for (const b of batches) if (!b.expired) this.#retryOrFail(b, err);
        finish();
      },
    );
  }

  #handleResponse(res: ProduceResponse | null, batches: Batch[], leader: number): void {
    const acc = this.accumulator;
    if (res === null) {
      for (const b of batches) if (!b.expired) this.#complete(b, -1n);
      return;
    }
    const byKey = new Map<string, { errorCode: number; baseOffset: bigint; errorMessage: string | null }>();
    for (const t of res.responses) {
      const name = t.name || this.#cluster.topicName(t.topicId);
      for (const p of t.partitionResponses) byKey.set(`${name}\u0000${p.index}`, p);
    }
    let refresh = false;
    for (const b of batches) {
      // Already failed by deliveryTimeoutMs (and the epoch bump it asked for covers its sequences).
      if (b.expired) continue;
      const p = byKey.get(`${b.tp.topic}\u0000${b.tp.partition}`);
      if (!p) {
        this.#retryOrFail(
          b,
          new KafkaError(`Produce response from broker ${leader} lacks ${b.tp.topic}[${b.tp.partition}]`),
        );
        continue;
      }
      const code = p.errorCode;
      if (code === 0) {
        this.#complete(b, p.baseOffset);
        continue;
      }
      const err = new BrokerError(code, {
        api: "Produce",
        topic: b.tp.topic,
        partition: b.tp.partition,
        broker: `node ${leader}`,
        brokerMessage: p.errorMessage,
      });
      if (code === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
        // The broker already has this batch (an earlier attempt landed); its offset is not returned.
        this.#complete(b, -1n);
        continue;
      }
      if (
        this.#cfg.idempotent &&
        (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER || code === ErrorCode.UNKNOWN_PRODUCER_ID)
      ) {
        // An earlier batch of this partition is being retried: resend in order. If none is,
        // the broker lost our sequence state: bump the epoch and renumber (KIP-360).
        if (!this.idempotence.earlierPending(acc.outstanding, b)) this.idempotence.requestBump();
        this.#retryOrFail(b, err, true);
        continue;
      }
      if (
        (code === ErrorCode.MESSAGE_TOO_LARGE || code === ErrorCode.RECORD_LIST_TOO_LARGE) &&
        b.records.length > 1
      ) {
        // The topic's max.message.bytes is below our batch: resend record by record so that
        // only a record that is too large on its own fails.
        acc.split(b);
        this.scheduleDrain();
        continue;
      }
      if (err.refreshMetadata) refresh = true;
      this.#retryOrFail(b, err);
    }
    if (refresh) this.#cluster.refreshMetadata().catch(() => {});
  }

  #complete(b: Batch, baseOffset: bigint): void {
    this.metrics?.batch(b.records.length, b.encoded?.length ?? 0, b.bytes);
    this.accumulator.complete(b, baseOffset);
  }

  #retryOrFail(b: Batch, err: unknown, forceRetry = false): void {
    this.metrics?.errors.add(err);
    // Connection failures and timeouts are worth retrying; refused credentials or an API the
    // broker does not speak are not, and fail the records at once.
    const retriable = forceRetry ||
      (err instanceof BrokerError
        ? err.retriable
        : !(err instanceof AuthenticationError || err instanceof UnsupportedVersionError) &&
          (!(err instanceof ClosedError) || !this.#closed));
    b.lastError = err;
    if (this.#fatalFor(err)) {
      this.#fail(b, this.fatal!);
      return;
    }
    const now = Date.now();
    if (retriable && now >= b.deadline) {
      this.#expire(b);
      return;
    }
    if (!retriable) {
      // Its sequences leave a gap before the partition's later batches: restart them (KIP-360).
      if (this.#cfg.idempotent && b.baseSequence >= 0) this.idempotence.requestBump();
      this.#fail(b, err);
      return;
    }
    if (this.metrics) this.metrics.retries++;
    b.attempts++;
    const delayMs = Math.min(this.#cfg.retryBackoffMs * 2 ** (b.attempts - 1), 1_000);
    b.retryAt = now + delayMs;
    if (this.#events.active) {
      const { topic, partition } = b.tp;
      const error = err instanceof Error ? err : new KafkaError(String(err));
      this.#events.emit({
        type: "batch.retried",
        topic,
        partition,
        records: b.records.length,
        attempt: b.attempts,
        delayMs,
        error,
      });
    }
    // Keep the partition's queue in sequence order: a retried batch goes before later ones.
    const q = b.tp.queue;
    let at = 0;
    while (
      at < q.length && (q[at].attempts > 0 || (b.baseSequence >= 0 && q[at].baseSequence >= 0 &&
        q[at].baseSequence < b.baseSequence))
    ) at++;
    q.splice(at, 0, b);
    this.#armRetry(b.retryAt);
  }

  #fatalFor(err: unknown): boolean {
    if (!(err instanceof BrokerError)) return false;
    if (this.txn !== null && err.code === ErrorCode.INVALID_PRODUCER_EPOCH) {
      // The partition holds a newer epoch of our producer id: the coordinator aborted the
      // transaction (transactionTimeoutMs ran out, say while the broker restarted) and bumped the
      // epoch, or another instance took over. Not fatal yet (KIP-588): the transaction aborts, and
      // the coordinator, which knows which of the two it was, gives us a new epoch or fences us.
      this.txn.staleEpoch();
      return false;
    }
    if (this.txn !== null && isFencing(err.code)) {
      // Another instance with our transactional id took over (or we may not use it): fatal.
      const fenced = fatalTxnError(err, this.txn.transactionalId);
      this.txn.fence(fenced);
      this.fatal = fenced;
      return true;
    }
    if (err.code === ErrorCode.PRODUCER_FENCED || err.code === ErrorCode.INVALID_PRODUCER_EPOCH) {
      this.fatal = err;
      return true;
    }
    return false;
  }

  /** Stops the timers; later connection failures are not retried. */
  stop(): void {
    this.#closed = true;
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }
}
