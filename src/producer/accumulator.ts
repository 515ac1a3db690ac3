/**
 * The producer's accumulator: records grouped per partition into batches (an
 * open batch that records join, then a queue of closed batches in sequence
 * order), the buffer that bounds the bytes held, and the settling of each
 * `send()` call's promise as its batches are acknowledged or fail.
 *
 * When a batch closes is decided by the sender (natural batching); the
 * accumulator closes a batch only when it is full.
 *
 * @module
 */

import { Compression } from "../../protocol/compression.ts";
import type { RecordInput } from "../../protocol/record_batch.ts";
import { utf8Length } from "../../protocol/primitives.ts";
import type { Cluster, TopicInfo } from "../cluster.ts";
import { TimeoutError } from "../errors.ts";
import type { Lease } from "./pool.ts";

/** Where a record landed. */
export interface RecordMetadata {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The record's offset; -1n with acks=0, which gets no answer. */
  offset: bigint;
}

/** One send() call: collects the results of its messages. */
export interface SendOp {
  results: RecordMetadata[];
  pending: number;
  resolve(r: RecordMetadata[]): void;
  reject(e: unknown): void;
  failed: boolean;
  /** When deliveryTimeoutMs, counted from the send() call, passes. */
  deadline: number;
}

/** Records of one partition that go out together. */
export interface Batch {
  readonly tp: PartitionState;
  readonly records: RecordInput[];
  readonly ops: SendOp[];
  readonly index: number[];
  bytes: number;
  createdAt: number;
  /** When its records' deliveryTimeoutMs passes (the earliest of its send() calls'). */
  deadline: number;
  /** The last error of a failed attempt, named when the batch expires. */
  lastError: unknown;
  /** Failed by deliveryTimeoutMs while a request carrying it was in flight: its answer is ignored. */
  expired: boolean;
  /** Sequence of the first record once assigned (idempotent mode). */
  baseSequence: number;
  /** Encoded bytes and the epoch they were encoded for; null again once the batch is done. */
  encoded: Uint8Array | null;
  encodedEpoch: number;
  /** The pooled memory `encoded` is a view of, when it came from the producer's pool. */
  lease: Lease | null;
  attempts: number;
  retryAt: number;
  done: Promise<void>;
  settle(): void;
}

/** A topic-partition's batches and in-flight count. */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  open: Batch | null;
  /** Closed batches waiting to be sent (or re-sent), in sequence order. */
  readonly queue: Batch[];
  inFlight: number;
  nextSequence: number;
}

interface BufferWaiter {
  bytes: number;
  resolve(): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** What the accumulator tells the sender. */
export interface AccumulatorHooks {
  /** A batch filled up and was closed: worth a drain. */
  full(): void;
  /** A batch was created (or its deadline moved earlier): the expiry timer may need to move. */
  deadline(at: number): void;
  /** A new open batch: its linger starts. */
  opened(b: Batch): void;
}

/** The accumulator's settings. */
export interface AccumulatorConfig {
  readonly batchBytes: number;
  readonly maxRequestBytes: number;
  readonly compression: Compression;
  readonly bufferBytes: number;
  readonly deliveryTimeoutMs: number;
}

const EMPTY: never[] = [];

/** The bytes a record counts for in batches and in the buffer (an upper bound of its encoding). */
export function recordSize(r: RecordInput): number {
  let n = 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? EMPTY) n += 10 + utf8Length(h.key) + (h.value?.length ?? 0);
  return n;
}

/**
 * A batch is done with its encoded bytes: its hold on their memory ends (a
 * request still carrying them keeps its own until it ends).
 */
function retire(b: Batch): void {
  b.encoded = null;
  const lease = b.lease;
  if (lease === null) return;
  b.lease = null;
  lease.drop();
}

/** Batches per partition, and the buffer. */
export class Accumulator {
  /** Every partition written to, by "topic\0partition". */
  readonly partitions = new Map<string, PartitionState>();
  /** Batches not yet acknowledged or failed (open, queued, in flight). */
  readonly outstanding = new Set<Batch>();
  readonly #byTopic = new Map<string, PartitionState[]>();
  readonly #ratio = new Map<string, number>();
  readonly #sticky = new Map<string, number>();
  readonly #waiters: BufferWaiter[] = [];
  readonly #cfg: AccumulatorConfig;
  readonly #cluster: Cluster;
  readonly #hooks: AccumulatorHooks;
  #bufferUsed = 0;

  constructor(cfg: AccumulatorConfig, cluster: Cluster, hooks: AccumulatorHooks) {
    this.#cfg = cfg;
    this.#cluster = cluster;
    this.#hooks = hooks;
  }

  /** Bytes of records accepted and not yet acknowledged or failed. */
  get bufferUsed(): number {
    return this.#bufferUsed;
  }

  /**
   * Reserves buffer room for a send() call: null when there was room, else a
   * promise that resolves once there is (in line, so big calls are not
   * starved) and rejects with a `TimeoutError` at the call's deadline.
   */
  reserve(bytes: number, deadline: number, topic: string, signal?: AbortSignal): Promise<void> | null {
    if (this.#bufferUsed + bytes <= this.#cfg.bufferBytes && this.#waiters.length === 0) {
      this.#bufferUsed += bytes;
      return null;
    }
    return new Promise<void>((res, rej) => {
      // With a signal, an abort takes the call out of the line (nothing reserved) and rejects it.
      const abort = signal === undefined ? undefined : () => {
        const at = this.#waiters.indexOf(w);
        if (at < 0) return;
        this.#waiters.splice(at, 1);
        clearTimeout(w.timer);
        this.#wake();
        rej(signal.reason);
      };
      const resolve = abort === undefined ? res : () => {
        signal!.removeEventListener("abort", abort);
        res();
      };
      const reject = abort === undefined ? rej : (e: unknown) => {
        signal!.removeEventListener("abort", abort);
        rej(e);
      };
      const w: BufferWaiter = { bytes, resolve, reject, timer: undefined };
      if (abort !== undefined) signal!.addEventListener("abort", abort, { once: true });
      w.timer = setTimeout(() => {
        const at = this.#waiters.indexOf(w);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(
          new TimeoutError(
            `send() to ${topic} waited ${this.#cfg.deliveryTimeoutMs} ms (deliveryTimeoutMs) for room in the buffer (bufferBytes ${this.#cfg.bufferBytes})`,
          ),
        );
      }, Math.max(0, deadline - Date.now()));
      this.#waiters.push(w);
    });
  }

  /** Gives back room reserved by a send() that then queued nothing. */
  unreserve(bytes: number): void {
    this.#bufferUsed -= bytes;
    this.#wake();
  }

  /** Rejects every send() waiting for buffer room. */
  rejectWaiters(err: unknown): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** A partition's state, created on first use. */
  state(topic: string, partition: number): PartitionState {
    // Indexed by topic then partition number: no string key per record on the hot path.
    let byPartition = this.#byTopic.get(topic);
    if (!byPartition) this.#byTopic.set(topic, byPartition = []);
    let s = byPartition[partition];
    if (!s) {
      s = { topic, partition, open: null, queue: [], inFlight: 0, nextSequence: 0 };
      byPartition[partition] = s;
      this.partitions.set(`${topic}\u0000${partition}`, s);
    }
    return s;
  }

  /** The partition keyless records of a topic stick to until its batch closes (KIP-480). */
  stickyPartition(topic: string, info: TopicInfo, size = 0): number {
    let p = this.#sticky.get(topic);
    if (p === undefined || p >= info.partitions.length) p = this.#newSticky(topic, info, -1);
    // A record of `size` bytes that would overflow the sticky partition's open batch closes it and
    // starts the next partition's batch, rather than a batch of its own in the same partition.
    const open = size > 0 ? this.#byTopic.get(topic)?.[p]?.open : undefined;
    if (open && open.records.length > 0 && open.bytes + size > this.#batchLimit(topic)) {
      this.closeOpen(open.tp, true);
      p = this.#sticky.get(topic) ?? p;
    }
    return p;
  }

  #newSticky(topic: string, info: TopicInfo, avoid: number): number {
    const live = info.partitions.filter((x) => x.leader >= 0 && x.partition !== avoid);
    // Prefer partitions with no closed batch waiting: records that start a batch there go out in
    // the same request as those queued elsewhere (a partition takes one batch per request).
    const states = this.#byTopic.get(topic);
    const idle = live.filter((x) => !states?.[x.partition]?.queue.length);
    const pool = idle.length ? idle : live.length ? live : info.partitions;
    const p = pool[Math.floor(Math.random() * pool.length)].partition;
    this.#sticky.set(topic, p);
    return p;
  }

  /** A new, empty batch of a partition, counted as outstanding. */
  newBatch(tp: PartitionState, deadline: number): Batch {
    let settle!: () => void;
    const done = new Promise<void>((r) => settle = r);
    const b: Batch = {
      tp,
      records: [],
      ops: [],
      index: [],
      bytes: 0,
      createdAt: Date.now(),
      deadline,
      lastError: undefined,
      expired: false,
      baseSequence: -1,
      encoded: null,
      encodedEpoch: -2,
      lease: null,
      attempts: 0,
      retryAt: 0,
      done,
      settle,
    };
    this.outstanding.add(b);
    this.#hooks.deadline(deadline);
    return b;
  }

  /**
   * The uncompressed bytes that make a full batch. With compression, `batchBytes`
   * is a target for the compressed batch (as in the Java client): the limit
   * grows by the compression ratio seen so far, up to what still fits in a
   * request even if the data does not compress.
   */
  #batchLimit(topic: string): number {
    const { batchBytes, maxRequestBytes } = this.#cfg;
    if (this.#cfg.compression === Compression.none) return batchBytes;
    const ratio = this.#ratio.get(topic) ?? 1;
    return Math.max(batchBytes, Math.min(batchBytes / ratio, maxRequestBytes - 4096));
  }

  /** Tracks the compression ratio per topic: up quickly when data compresses worse, down slowly. */
  noteCompressed(b: Batch): void {
    if (this.#cfg.compression === Compression.none || !b.encoded) return;
    const seen = b.encoded.length / Math.max(1, b.bytes);
    const est = this.#ratio.get(b.tp.topic) ?? 1;
    this.#ratio.set(
      b.tp.topic,
      seen > est
        ? Math.min(1, Math.max(est + 0.05, seen))
        : Math.max(0.05, seen, est - Math.max(0.005, (est - seen) / 4)),
    );
  }

  /** Adds a record to its partition's open batch (opening one, closing a full one). */
  append(topic: string, partition: number, input: RecordInput, size: number, op: SendOp, i: number): void {
    const tp = this.state(topic, partition);
    const limit = this.#batchLimit(topic);
    let b = tp.open;
    if (b && b.bytes + size > limit && b.records.length > 0) {
      this.closeOpen(tp, true);
      b = null;
    }
    if (!b) {
      b = this.newBatch(tp, op.deadline);
      tp.open = b;
      this.#hooks.opened(b);
    } else if (op.deadline < b.deadline) {
      // A send() that waited for buffer room joins a younger batch: the batch expires with it.
      b.deadline = op.deadline;
      this.#hooks.deadline(op.deadline);
    }
    b.records.push(input);
    b.ops.push(op);
    b.index.push(i);
    b.bytes += size;
    if (b.bytes >= limit) this.closeOpen(tp, true);
  }

  /** Moves a partition's open batch to its queue; `full` tells the sender it may drain. */
  closeOpen(tp: PartitionState, full = false): void {
    const b = tp.open;
    if (!b) return;
    tp.open = null;
    tp.queue.push(b);
    if (full) this.#hooks.full();
    // Keyless records stick to one partition per batch (KIP-480): move on.
    if (this.#sticky.get(tp.topic) === tp.partition) {
      const info = this.#cluster.cachedTopic(tp.topic);
      if (info) this.#newSticky(tp.topic, info, tp.partition);
    }
  }

  /** Takes a batch out of the accumulator (open or queued); false when it is neither (in flight). */
  remove(b: Batch): boolean {
    const tp = b.tp;
    if (tp.open === b) {
      tp.open = null;
      return true;
    }
    const at = tp.queue.indexOf(b);
    if (at < 0) return false;
    tp.queue.splice(at, 1);
    return true;
  }

  /**
   * Takes an aborted send() call's records out of the batches that never left
   * (open or queued, never encoded, so no sequence numbers were given out) and
   * releases their buffer room; a batch left empty is dropped. Records in
   * batches that were encoded, sent or are being retried stay. Returns how many
   * records were taken out. Only aborts call it: a scan of the outstanding batches.
   */
  withdraw(op: SendOp): number {
    let taken = 0;
    for (const b of [...this.outstanding]) {
      if (b.encoded !== null || b.attempts > 0 || b.baseSequence >= 0 || !b.ops.includes(op)) continue;
      const tp = b.tp;
      if (tp.open !== b && !tp.queue.includes(b)) continue;
      let kept = 0;
      let freed = 0;
      for (let i = 0; i < b.records.length; i++) {
        if (b.ops[i] === op) {
          freed += recordSize(b.records[i]);
          taken++;
          continue;
        }
        b.records[kept] = b.records[i];
        b.ops[kept] = b.ops[i];
        b.index[kept] = b.index[i];
        kept++;
      }
      b.records.length = kept;
      b.ops.length = kept;
      b.index.length = kept;
      b.bytes -= freed;
      this.#bufferUsed -= freed;
      if (kept === 0) {
        this.remove(b);
        this.outstanding.delete(b);
        b.settle();
      }
    }
    if (taken > 0) this.#wake();
    return taken;
  }

  /**
   * Replaces a batch by one batch per record, first in the partition's queue.
   * Sequence numbers stay those of the records' places in the old batch, so
   * later batches of the partition keep theirs.
   */
  split(b: Batch): void {
    this.outstanding.delete(b);
    retire(b);
    const parts: Batch[] = [];
    for (let i = 0; i < b.records.length; i++) {
      const one = this.newBatch(b.tp, b.deadline);
      one.records.push(b.records[i]);
      one.ops.push(b.ops[i]);
      one.index.push(b.index[i]);
      one.bytes = recordSize(b.records[i]);
      one.baseSequence = b.baseSequence < 0 ? -1 : (b.baseSequence + i) % 0x80000000;
      one.attempts = 1;
      one.createdAt = b.createdAt;
      one.lastError = b.lastError;
      parts.push(one);
    }
    // Buffer accounting moves to the parts; the old batch's flush waiters move with them.
    b.bytes = 0;
    Promise.all(parts.map((x) => x.done)).then(() => b.settle());
    let at = 0;
    while (at < b.tp.queue.length && b.tp.queue[at].attempts > 0) at++;
    b.tp.queue.splice(at, 0, ...parts);
  }

  /** Resolves the batch's records with their offsets (-1n when unknown). */
  complete(b: Batch, baseOffset: bigint): void {
    const { topic, partition } = b.tp;
    const known = baseOffset >= 0n;
    let offset = known ? baseOffset : -1n;
    for (let i = 0; i < b.records.length; i++) {
      const op = b.ops[i];
      if (!op.failed) {
        op.results[b.index[i]] = { topic, partition, offset };
        if (--op.pending === 0) op.resolve(op.results);
      }
      if (known) offset++;
    }
    this.#release(b);
  }

  /** Rejects every send() call with records in the batch. */
  fail(b: Batch, err: unknown): void {
    for (const op of b.ops) {
      if (op.failed) continue;
      op.failed = true;
      op.reject(err);
    }
    this.#release(b);
  }

  /** Fails every outstanding batch and empties every partition. */
  failAll(err: unknown): void {
    for (const b of [...this.outstanding]) this.fail(b, err);
    for (const tp of this.partitions.values()) {
      tp.queue.length = 0;
      tp.open = null;
    }
  }

  #release(b: Batch): void {
    this.outstanding.delete(b);
    retire(b);
    this.#bufferUsed -= b.bytes;
    b.settle();
    this.#wake();
  }

  #wake(): void {
    while (this.#waiters.length && this.#bufferUsed + this.#waiters[0].bytes <= this.#cfg.bufferBytes) {
      const w = this.#waiters.shift()!;
      clearTimeout(w.timer);
      this.#bufferUsed += w.bytes;
      w.resolve();
    }
  }
}
