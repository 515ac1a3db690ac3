/**
 * The producer: records are grouped per partition into batches, batches for
 * the same leader into one Produce request, with several requests in flight
 * per broker. Idempotence is on by default (acks "all"): each batch carries
 * the producer id, epoch and per-partition sequence, so a retry never writes a
 * record twice and per-partition order holds with up to 5 requests in flight.
 *
 * The hot path (`send` with cached metadata and room in the buffer) does no
 * awaits and no copies of record bytes; batches are encoded once, when they
 * are drained, and re-encoded only if the producer epoch changes.
 *
 * @module
 */

import { initProducerId } from "../protocol/apis/init_producer_id.ts";
import { produce, type ProduceResponse } from "../protocol/apis/produce.ts";
import { Compression } from "../protocol/compression.ts";
import { ErrorCode } from "../protocol/error_codes.ts";
import { fnv1aPartition, murmur2Partition } from "../protocol/partitioners.ts";
import { encodeRecordBatch, type RecordHeader, type RecordInput } from "../protocol/record_batch.ts";
import { utf8Length } from "../protocol/primitives.ts";
import type { ClientContext } from "./context.ts";
import type { Cluster, TopicInfo } from "./cluster.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  KafkaError,
  TimeoutError,
  UnsupportedVersionError,
} from "./errors.ts";

/** Keys and values: bytes, a string (sent as UTF-8), or null. */
export type Payload = Uint8Array | string | null;

/** A record to send. */
export interface ProducerMessage {
  /** The key; decides the partition unless `partition` is set. */
  key?: Payload;
  /** The value; null is a tombstone. */
  value: Payload;
  /** Headers; values are strings (UTF-8), bytes or null. An array keeps duplicate keys. */
  headers?: Record<string, string | Uint8Array | null> | [string, string | Uint8Array | null][];
  /** An explicit partition. */
  partition?: number;
  /** Milliseconds since the epoch; defaults to now. */
  timestamp?: number | Date;
}

/** What {@linkcode Producer.send} takes. */
export interface ProducerRecord {
  /** The topic. */
  topic: string;
  /** The records, sent in order. */
  messages: ProducerMessage[];
}

/** Where a record landed. */
export interface RecordMetadata {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The record's offset; -1n with acks=0, which gets no answer. */
  offset: bigint;
}

/** A partitioner function: the partition for a record's key (null when the record has no key). */
export type PartitionerFunction = (key: Uint8Array | null, numPartitions: number, topic: string) => number;

/** The compression codecs by name. */
export type CompressionName = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** Producer options. Defaults follow the Java client where it makes sense. */
export interface ProducerOptions {
  /** 0 (no answer), 1 (the leader) or "all" (every in-sync replica). Default "all". */
  acks?: 0 | 1 | "all" | -1;
  /** How long a batch waits for more records. Default 5 ms. */
  lingerMs?: number;
  /** A batch is sent once it holds this many bytes. Default 64 KiB. */
  batchBytes?: number;
  /** The largest Produce request, and so the largest record. Default 1 MiB. */
  maxRequestBytes?: number;
  /** Compression codec. Default "none". */
  compression?: CompressionName;
  /** Requests in flight per broker. Default 5. */
  maxInFlight?: number;
  /** Idempotent delivery (needs acks "all"). Default true when acks is "all". */
  idempotent?: boolean;
  /** How long a record may take from `send()` to acknowledgement, retries included. Default 120 s. */
  deliveryTimeoutMs?: number;
  /** The broker-side timeout of a Produce request and the client-side wait for its answer. Default 30 s. */
  requestTimeoutMs?: number;
  /** The first retry backoff; it doubles up to 1 s. Default 100 ms. */
  retryBackoffMs?: number;
  /** "murmur2" (Java's default), "sarama" (FNV-1a, like sarama's hash partitioner) or a function. */
  partitioner?: "murmur2" | "sarama" | PartitionerFunction;
  /** Bytes of records buffered before `send()` waits. Default 32 MiB. */
  bufferBytes?: number;
}

const TOPIC_RE = /^[a-zA-Z0-9._-]+$/;
const encoder = new TextEncoder();
const EMPTY: RecordHeader[] = [];

/** Java's rule for valid topic names. */
export function validateTopicName(topic: unknown): asserts topic is string {
  if (
    typeof topic !== "string" || topic.length === 0 || topic.length > 249 || !TOPIC_RE.test(topic) ||
    topic === "." || topic === ".."
  ) {
    throw new TypeError(
      `Invalid topic name ${JSON.stringify(topic)}: use 1-249 characters of [a-zA-Z0-9._-], not "." or ".."`,
    );
  }
}

function toBytes(v: Payload | undefined, what: string): Uint8Array | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return encoder.encode(v);
  if (v instanceof Uint8Array) return v;
  throw new TypeError(`${what} must be a Uint8Array, a string or null, got ${typeof v}`);
}

function toHeaders(h: ProducerMessage["headers"]): RecordHeader[] {
  if (!h) return EMPTY;
  const entries = Array.isArray(h) ? h : Object.entries(h);
  const out: RecordHeader[] = [];
  for (const [key, value] of entries) {
    if (typeof key !== "string") throw new TypeError(`Header keys must be strings, got ${typeof key}`);
    out.push({ key, value: toBytes(value, `Header "${key}"`) });
  }
  return out;
}

function recordSize(r: RecordInput): number {
  let n = 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? EMPTY) n += 10 + utf8Length(h.key) + (h.value?.length ?? 0);
  return n;
}

/** One send() call: collects the results of its messages. */
interface SendOp {
  results: RecordMetadata[];
  pending: number;
  resolve(r: RecordMetadata[]): void;
  reject(e: unknown): void;
  failed: boolean;
}

interface Batch {
  readonly tp: PartitionState;
  readonly records: RecordInput[];
  readonly ops: SendOp[];
  readonly index: number[];
  bytes: number;
  readonly createdAt: number;
  /** Sequence of the first record once assigned (idempotent mode). */
  baseSequence: number;
  /** Encoded bytes and the epoch they were encoded for. */
  encoded: Uint8Array | null;
  encodedEpoch: number;
  attempts: number;
  retryAt: number;
  done: Promise<void>;
  settle(): void;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  open: Batch | null;
  /** Closed batches waiting to be sent (or re-sent), in sequence order. */
  readonly queue: Batch[];
  inFlight: number;
  nextSequence: number;
}

/**
 * Sends records to Kafka. Create one with `client.producer()`.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * await using producer = client.producer({ compression: "lz4" });
 * const [meta] = await producer.send({ topic: "doc-producer", messages: [{ key: "42", value: "hello" }] });
 * console.log(meta.partition, meta.offset);
 * ```
 */
export class Producer implements AsyncDisposable {
  readonly #client: ClientContext;
  readonly #cluster: Cluster;
  readonly #acks: number;
  readonly #lingerMs: number;
  readonly #batchBytes: number;
  readonly #maxRequestBytes: number;
  readonly #compression: Compression;
  readonly #maxInFlight: number;
  readonly #idempotent: boolean;
  readonly #deliveryTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #retryBackoffMs: number;
  readonly #partitioner: PartitionerFunction | null;
  readonly #hash: (key: Uint8Array, n: number) => number;
  readonly #bufferBytes: number;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #byTopic = new Map<string, PartitionState[]>();
  readonly #ratio = new Map<string, number>();
  readonly #sticky = new Map<string, number>();
  readonly #brokerInFlight = new Map<number, number>();
  readonly #outstanding = new Set<Batch>();
  readonly #bufferWaiters: { bytes: number; resolve(): void; reject(e: unknown): void }[] = [];
  #bufferUsed = 0;
  #producerId = -1n;
  #producerEpoch = -1;
  #initializing: Promise<void> | null = null;
  #needEpochBump = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerAt = Infinity;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #drainScheduled = false;
  #inDrain = false;
  #refreshing = false;
  #flushing = 0;
  #closing: Promise<void> | null = null;
  #closed = false;
  #fatal: KafkaError | null = null;
  readonly #untrack: () => void;

  /**
   * Use `client.producer()` instead.
   *
   * @param client The client whose connections to use.
   * @param opts Producer options.
   */
  constructor(client: ClientContext, opts: ProducerOptions = {}) {
    this.#client = client;
    this.#cluster = client.cluster;
    const acks = opts.acks ?? "all";
    if (acks !== 0 && acks !== 1 && acks !== "all" && acks !== -1) {
      throw new TypeError(`Invalid acks ${JSON.stringify(acks)}: use 0, 1 or "all"`);
    }
    this.#acks = acks === "all" ? -1 : acks;
    if (opts.idempotent === true && this.#acks !== -1) {
      throw new TypeError(`Idempotence needs acks "all", got acks ${JSON.stringify(acks)}`);
    }
    this.#idempotent = opts.idempotent ?? this.#acks === -1;
    this.#lingerMs = nonNegative(opts.lingerMs ?? 5, "lingerMs");
    this.#batchBytes = positive(opts.batchBytes ?? 64 * 1024, "batchBytes");
    this.#maxRequestBytes = positive(opts.maxRequestBytes ?? 1024 * 1024, "maxRequestBytes");
    const c = opts.compression ?? "none";
    if (!(c in Compression)) {
      throw new TypeError(`Unknown compression ${JSON.stringify(c)}: use none, gzip, snappy, lz4 or zstd`);
    }
    this.#compression = Compression[c];
    this.#maxInFlight = positive(opts.maxInFlight ?? 5, "maxInFlight");
    if (this.#idempotent && this.#maxInFlight > 5) {
      throw new TypeError(`Idempotence allows at most 5 requests in flight, got ${this.#maxInFlight}`);
    }
    this.#deliveryTimeoutMs = positive(opts.deliveryTimeoutMs ?? 120_000, "deliveryTimeoutMs");
    this.#requestTimeoutMs = positive(opts.requestTimeoutMs ?? 30_000, "requestTimeoutMs");
    this.#retryBackoffMs = nonNegative(opts.retryBackoffMs ?? 100, "retryBackoffMs");
    this.#bufferBytes = positive(opts.bufferBytes ?? 32 * 1024 * 1024, "bufferBytes");
    const p = opts.partitioner ?? "murmur2";
    if (typeof p === "function") {
      this.#partitioner = p;
      this.#hash = murmur2Partition;
    } else if (p === "murmur2" || p === "sarama") {
      this.#partitioner = null;
      this.#hash = p === "murmur2" ? murmur2Partition : fnv1aPartition;
    } else {
      throw new TypeError(`Unknown partitioner ${JSON.stringify(p)}: use "murmur2", "sarama" or a function`);
    }
    this.#untrack = client.track(() => this.close());
  }

  /** Bytes of records accepted by `send()` and not yet acknowledged or failed. */
  get bufferedBytes(): number {
    return this.#bufferUsed;
  }

  /** The producer id and epoch (idempotent mode), -1 before the first send. */
  get producerIdentity(): { producerId: bigint; producerEpoch: number } {
    return { producerId: this.#producerId, producerEpoch: this.#producerEpoch };
  }

  /**
   * Sends records; resolves with where each landed, in order, once all are
   * acknowledged (per `acks`). Records of one call go to their partitions in
   * order. When the buffer is full this waits for room (backpressure).
   *
   * @param record The topic and its messages.
   */
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.#closing) throw new ClosedError("The producer is closed");
    this.#client.assertOpen();
    if (this.#fatal) throw this.#fatal;
    if (!record || typeof record !== "object") throw new TypeError("send() takes { topic, messages }");
    const { topic, messages } = record;
    validateTopicName(topic);
    if (!Array.isArray(messages)) throw new TypeError("messages must be an array");
    if (messages.length === 0) return [];

    // Validate and serialise every message before any is queued, so a bad one
    // rejects this call alone and nothing of it is half sent.
    const inputs: RecordInput[] = new Array(messages.length);
    const sizes: number[] = new Array(messages.length);
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (!m || typeof m !== "object") throw new TypeError(`messages[${i}] must be an object`);
      const ts = m.timestamp instanceof Date ? m.timestamp.getTime() : m.timestamp;
      if (ts !== undefined && !Number.isSafeInteger(ts)) {
        throw new TypeError(`messages[${i}].timestamp must be an integer of milliseconds, got ${ts}`);
      }
      const input: RecordInput = {
        key: toBytes(m.key, `messages[${i}].key`),
        value: toBytes(m.value, `messages[${i}].value`),
        headers: toHeaders(m.headers),
        timestamp: ts ?? Date.now(),
      };
      const size = recordSize(input);
      if (size + 61 + 200 > this.#maxRequestBytes) {
        throw new BrokerError(ErrorCode.MESSAGE_TOO_LARGE, {
          api: "Produce",
          topic,
          brokerMessage:
            `messages[${i}] is ${size} bytes, larger than maxRequestBytes (${this.#maxRequestBytes})`,
        });
      }
      inputs[i] = input;
      sizes[i] = size;
      total += size;
    }
    if (total > this.#bufferBytes) {
      throw new RangeError(
        `One send() of ${total} bytes exceeds bufferBytes (${this.#bufferBytes}); split it`,
      );
    }

    // Cached metadata keeps the hot path free of awaits; it is refreshed when older than
    // metadataMaxAgeMs, so partitions added to a topic are used within that time.
    let info = this.#cluster.freshTopic(topic) ??
      await this.#cluster.readyTopic(topic, this.#requestTimeoutMs);
    if (messages.some((m) => m.partition !== undefined && m.partition >= info!.partitions.length)) {
      // The caller may know of partitions added since our last look.
      await this.#cluster.topic(topic, { force: true });
      info = await this.#cluster.readyTopic(topic, this.#requestTimeoutMs);
    }
    const n = info.partitions.length;
    const parts = new Array<number>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const explicit = messages[i].partition;
      if (explicit !== undefined) {
        if (!Number.isInteger(explicit) || explicit < 0 || explicit >= n) {
          throw new RangeError(
            `messages[${i}].partition ${explicit} is out of range: ${topic} has ${n} partitions`,
          );
        }
        parts[i] = explicit;
      } else if (this.#partitioner || inputs[i].key != null) {
        // A custom partitioner may throw or answer out of range: find out before anything is queued.
        parts[i] = this.#choosePartition(topic, inputs[i].key ?? null, info);
      } else parts[i] = -1; // keyless: the sticky partition, chosen as the record joins a batch
    }

    if (this.#bufferUsed + total > this.#bufferBytes || this.#bufferWaiters.length > 0) {
      // Backpressure: wait in line; #release reserves our bytes when it wakes us.
      await new Promise<void>((resolve, reject) =>
        this.#bufferWaiters.push({ bytes: total, resolve, reject })
      );
    } else {
      this.#bufferUsed += total;
    }

    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const op: SendOp = {
        results: new Array(messages.length),
        pending: messages.length,
        resolve,
        reject,
        failed: false,
      };
      for (let i = 0; i < inputs.length; i++) {
        const p = parts[i] >= 0 ? parts[i] : this.#stickyPartition(topic, info!);
        this.#append(topic, p, inputs[i], sizes[i], op, i);
      }
      this.#afterAppend();
    });
  }

  #choosePartition(topic: string, key: Uint8Array | null, info: TopicInfo): number {
    const n = info.partitions.length;
    if (this.#partitioner) {
      const p = this.#partitioner(key, n, topic);
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw new RangeError(`The partitioner returned ${p} for ${topic}, which has ${n} partitions`);
      }
      return p;
    }
    if (key !== null) return this.#hash(key, n);
    return this.#stickyPartition(topic, info);
  }

  #stickyPartition(topic: string, info: TopicInfo): number {
    let p = this.#sticky.get(topic);
    if (p === undefined || p >= info.partitions.length) p = this.#newSticky(topic, info, -1);
    return p;
  }

  #newSticky(topic: string, info: TopicInfo, avoid: number): number {
    const live = info.partitions.filter((x) => x.leader >= 0 && x.partition !== avoid);
    const pool = live.length ? live : info.partitions;
    const p = pool[Math.floor(Math.random() * pool.length)].partition;
    this.#sticky.set(topic, p);
    return p;
  }

  #state(topic: string, partition: number): PartitionState {
    // Indexed by topic then partition number: no string key per record on the hot path.
    let byPartition = this.#byTopic.get(topic);
    if (!byPartition) this.#byTopic.set(topic, byPartition = []);
    let s = byPartition[partition];
    if (!s) {
      s = { topic, partition, open: null, queue: [], inFlight: 0, nextSequence: 0 };
      byPartition[partition] = s;
      this.#partitions.set(`${topic}\u0000${partition}`, s);
    }
    return s;
  }

  #newBatch(tp: PartitionState): Batch {
    let settle!: () => void;
    const done = new Promise<void>((r) => settle = r);
    const b: Batch = {
      tp,
      records: [],
      ops: [],
      index: [],
      bytes: 0,
      createdAt: Date.now(),
      baseSequence: -1,
      encoded: null,
      encodedEpoch: -2,
      attempts: 0,
      retryAt: 0,
      done,
      settle,
    };
    this.#outstanding.add(b);
    return b;
  }

  /**
   * The uncompressed bytes that make a full batch. With compression, `batchBytes`
   * is a target for the compressed batch (as in the Java client): the limit
   * grows by the compression ratio seen so far, up to what still fits in a
   * request even if the data does not compress.
   */
  #batchLimit(topic: string): number {
    if (this.#compression === Compression.none) return this.#batchBytes;
    const ratio = this.#ratio.get(topic) ?? 1;
    return Math.max(this.#batchBytes, Math.min(this.#batchBytes / ratio, this.#maxRequestBytes - 4096));
  }

  #append(topic: string, partition: number, input: RecordInput, size: number, op: SendOp, i: number): void {
    const tp = this.#state(topic, partition);
    const limit = this.#batchLimit(topic);
    let b = tp.open;
    if (b && b.bytes + size > limit && b.records.length > 0) {
      this.#closeOpen(tp);
      b = null;
    }
    if (!b) {
      b = this.#newBatch(tp);
      tp.open = b;
      const at = b.createdAt + this.#lingerMs;
      if (at < this.#lingerAt) this.#armLinger(at);
    }
    b.records.push(input);
    b.ops.push(op);
    b.index.push(i);
    b.bytes += size;
    if (b.bytes >= limit) this.#closeOpen(tp);
  }

  #closeOpen(tp: PartitionState): void {
    const b = tp.open;
    if (!b) return;
    tp.open = null;
    tp.queue.push(b);
    // A batch closed outside a drain (it filled up) is sent without waiting for the linger timer.
    if (!this.#inDrain) this.#scheduleDrain();
    // Keyless records stick to one partition per batch (KIP-480): move on.
    if (this.#sticky.get(tp.topic) === tp.partition) {
      const info = this.#cluster.cachedTopic(tp.topic);
      if (info) this.#newSticky(tp.topic, info, tp.partition);
    }
  }

  #armLinger(at: number): void {
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerAt = at;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#lingerAt = Infinity;
      this.#drain();
    }, Math.max(0, at - Date.now()));
  }

  #afterAppend(): void {
    // Full batches scheduled a drain when they closed (#closeOpen); the rest wait for their linger.
    if (this.#lingerMs === 0 || this.#flushing > 0) this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  /** Moves sendable batches into Produce requests, per leader. */
  #drain(): void {
    this.#inDrain = true;
    try {
      this.#drainOnce();
    } finally {
      this.#inDrain = false;
    }
  }

  #drainOnce(): void {
    if (this.#fatal) return;
    if (this.#idempotent && (this.#producerId < 0n || this.#needEpochBump)) {
      this.#ensureProducerId();
      return;
    }
    const now = Date.now();
    let nextLinger = Infinity;
    let nextRetry = Infinity;
    const byLeader = new Map<number, Batch[]>();
    const refresh = new Set<string>();
    for (const tp of this.#partitions.values()) {
      // Batches whose linger has passed (or all, when flushing or closing) are closed.
      if (tp.open) {
        const due = tp.open.createdAt + this.#lingerMs;
        if (due <= now || this.#flushing > 0 || this.#closing) this.#closeOpen(tp);
        else nextLinger = Math.min(nextLinger, due);
      }
      if (tp.queue.length === 0) continue;
      const head = tp.queue[0];
      if (head.retryAt > now) {
        nextRetry = Math.min(nextRetry, head.retryAt);
        continue;
      }
      // Without idempotence, one batch per partition in flight keeps order on retries.
      if (!this.#idempotent && tp.inFlight > 0) continue;
      if (this.#idempotent && (tp.inFlight >= 5 || (head.attempts > 0 && tp.inFlight > 0))) continue;
      const info = this.#cluster.cachedTopic(tp.topic);
      const leader = info?.partitions[tp.partition]?.leader ?? -1;
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
      while (heads.length && (this.#brokerInFlight.get(leader) ?? 0) < this.#maxInFlight) {
        const batches: Batch[] = [];
        let bytes = 0;
        while (heads.length) {
          const b = heads[0];
          const enc = this.#encode(b);
          if (batches.length > 0 && bytes + enc.length > this.#maxRequestBytes) break;
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
          if (tp.queue.length && this.#idempotent && tp.inFlight < 5 && tp.queue[0].attempts === 0) {
            heads.push(tp.queue[0]);
          }
        }
      }
    }
    if (nextLinger < this.#lingerAt) this.#armLinger(nextLinger);
    if (nextRetry < Infinity) this.#armRetry(nextRetry);
  }

  #armRetry(at: number): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#drain();
    }, Math.max(0, at - Date.now()));
  }

  #refreshSoon(topics: string[]): void {
    if (this.#refreshing) return;
    this.#refreshing = true;
    this.#cluster.refreshMetadata(topics).catch(() => {}).then(() => {
      setTimeout(() => {
        this.#refreshing = false;
        this.#drain();
      }, this.#retryBackoffMs);
    });
  }

  #encode(b: Batch): Uint8Array {
    if (b.encoded && b.encodedEpoch === this.#producerEpoch) return b.encoded;
    if (this.#idempotent && b.baseSequence < 0) {
      b.baseSequence = b.tp.nextSequence;
      b.tp.nextSequence = (b.tp.nextSequence + b.records.length) % 0x80000000;
    }
    b.encoded = encodeRecordBatch(b.records, {
      compression: this.#compression,
      producerId: this.#idempotent ? this.#producerId : -1n,
      producerEpoch: this.#idempotent ? this.#producerEpoch : -1,
      baseSequence: this.#idempotent ? b.baseSequence : -1,
    });
    b.encodedEpoch = this.#producerEpoch;
    if (this.#compression !== Compression.none) {
      // Track the compression ratio per topic: up quickly when data compresses worse, down slowly.
      const seen = b.encoded.length / Math.max(1, b.bytes);
      const est = this.#ratio.get(b.tp.topic) ?? 1;
      this.#ratio.set(
        b.tp.topic,
        seen > est
          ? Math.min(1, Math.max(est + 0.05, seen))
          : Math.max(0.05, seen, est - Math.max(0.005, (est - seen) / 4)),
      );
    }
    return b.encoded;
  }

  #sendRequest(leader: number, batches: Batch[]): void {
    this.#brokerInFlight.set(leader, (this.#brokerInFlight.get(leader) ?? 0) + 1);
    const topics = new Map<string, { index: number; records: Uint8Array }[]>();
    for (const b of batches) {
      let list = topics.get(b.tp.topic);
      if (!list) topics.set(b.tp.topic, list = []);
      list.push({ index: b.tp.partition, records: b.encoded! });
    }
    const request = {
      transactionalId: null,
      acks: this.#acks,
      timeoutMs: this.#requestTimeoutMs,
      // Produce v13+ names topics by id (KIP-516); the codec writes whichever the version uses.
      topicData: [...topics].map(([name, partitionData]) => ({
        name,
        topicId: this.#cluster.cachedTopic(name)?.topicId,
        partitionData,
      })),
    };
    const finish = () => {
      this.#brokerInFlight.set(leader, (this.#brokerInFlight.get(leader) ?? 1) - 1);
      for (const b of batches) b.tp.inFlight--;
      this.#drain();
    };
    (async () => {
      const conn = await this.#cluster.connectionTo(leader, "produce");
      let sizeHint = 256;
      for (const b of batches) sizeHint += b.encoded!.length + 64;
      if (this.#acks === 0) {
        await conn.send(produce, request, { sizeHint });
        return null;
      }
      return await conn.request(produce, request, { timeoutMs: this.#requestTimeoutMs + 5_000, sizeHint });
    })().then(
      (res) => {
        this.#handleResponse(res, batches, leader);
        finish();
      },
      (err) => {
        // The whole request failed (connection lost, timeout): every batch may be retried.
        this.#cluster.refreshMetadata().catch(() => {});
        for (const b of batches) this.#retryOrFail(b, err);
        finish();
      },
    );
  }

  #handleResponse(res: ProduceResponse | null, batches: Batch[], leader: number): void {
    if (res === null) {
      for (const b of batches) this.#complete(b, -1n);
      return;
    }
    const byKey = new Map<string, { errorCode: number; baseOffset: bigint; errorMessage: string | null }>();
    for (const t of res.responses) {
      const name = t.name || this.#cluster.topicName(t.topicId);
      for (const p of t.partitionResponses) byKey.set(`${name}\u0000${p.index}`, p);
    }
    let refresh = false;
    for (const b of batches) {
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
        this.#idempotent &&
        (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER || code === ErrorCode.UNKNOWN_PRODUCER_ID)
      ) {
        // An earlier batch of this partition is being retried: resend in order. If none is,
        // the broker lost our sequence state: bump the epoch and renumber (KIP-360).
        const earlier = [...this.#outstanding].some((o) =>
          o !== b && o.tp === b.tp && o.baseSequence >= 0 && o.baseSequence < b.baseSequence &&
          o.encoded !== null
        );
        if (!earlier) this.#needEpochBump = true;
        this.#retryOrFail(b, err, true);
        continue;
      }
      if (
        (code === ErrorCode.MESSAGE_TOO_LARGE || code === ErrorCode.RECORD_LIST_TOO_LARGE) &&
        b.records.length > 1
      ) {
        // The topic's max.message.bytes is below our batch: resend record by record so that
        // only a record that is too large on its own fails.
        this.#split(b);
        continue;
      }
      if (err.refreshMetadata) refresh = true;
      this.#retryOrFail(b, err);
    }
    if (refresh) this.#cluster.refreshMetadata().catch(() => {});
  }

  /**
   * Replaces a batch by one batch per record, first in the partition's queue.
   * Sequence numbers stay those of the records' places in the old batch, so
   * later batches of the partition keep theirs.
   */
  #split(b: Batch): void {
    this.#outstanding.delete(b);
    const parts: Batch[] = [];
    for (let i = 0; i < b.records.length; i++) {
      const one = this.#newBatch(b.tp);
      one.records.push(b.records[i]);
      one.ops.push(b.ops[i]);
      one.index.push(b.index[i]);
      one.bytes = recordSize(b.records[i]);
      one.baseSequence = b.baseSequence < 0 ? -1 : (b.baseSequence + i) % 0x80000000;
      one.attempts = 1;
      parts.push(one);
    }
    // Buffer accounting moves to the parts; the old batch's flush waiters move with them.
    b.bytes = 0;
    Promise.all(parts.map((x) => x.done)).then(() => b.settle());
    let at = 0;
    while (at < b.tp.queue.length && b.tp.queue[at].attempts > 0) at++;
    b.tp.queue.splice(at, 0, ...parts);
    this.#scheduleDrain();
  }

  #retryOrFail(b: Batch, err: unknown, forceRetry = false): void {
    // Connection failures and timeouts are worth retrying; refused credentials or an API the
    // broker does not speak are not, and fail the records at once.
    const retriable = forceRetry ||
      (err instanceof BrokerError
        ? err.retriable
        : !(err instanceof AuthenticationError || err instanceof UnsupportedVersionError) &&
          (!(err instanceof ClosedError) || !this.#closed));
    const elapsed = Date.now() - b.createdAt;
    if (this.#fatalFor(err)) {
      this.#fail(b, err);
      return;
    }
    if (!retriable || elapsed >= this.#deliveryTimeoutMs) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#fail(
        b,
        retriable
          ? new TimeoutError(
            `Delivery to ${b.tp.topic}[${b.tp.partition}] timed out after ${elapsed} ms (deliveryTimeoutMs ${this.#deliveryTimeoutMs}); last error: ${reason}`,
            { cause: err },
          )
          : err,
      );
      return;
    }
    b.attempts++;
    b.retryAt = Date.now() + Math.min(this.#retryBackoffMs * 2 ** (b.attempts - 1), 1_000);
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
    if (err.code === ErrorCode.PRODUCER_FENCED || err.code === ErrorCode.INVALID_PRODUCER_EPOCH) {
      this.#fatal = err;
      return true;
    }
    return false;
  }

  #complete(b: Batch, baseOffset: bigint): void {
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

  #fail(b: Batch, err: unknown): void {
    for (const op of b.ops) {
      if (op.failed) continue;
      op.failed = true;
      op.reject(err);
    }
    this.#release(b);
  }

  #release(b: Batch): void {
    this.#outstanding.delete(b);
    this.#bufferUsed -= b.bytes;
    b.settle();
    while (
      this.#bufferWaiters.length && this.#bufferUsed + this.#bufferWaiters[0].bytes <= this.#bufferBytes
    ) {
      const w = this.#bufferWaiters.shift()!;
      this.#bufferUsed += w.bytes;
      w.resolve();
    }
  }

  #ensureProducerId(): void {
    if (this.#initializing) return;
    // Bump only once nothing is in flight, so no batch is written under two epochs.
    if (this.#needEpochBump) {
      for (const tp of this.#partitions.values()) if (tp.inFlight > 0) return;
      if (this.#producerId >= 0n && this.#producerEpoch < 32766) {
        // An idempotent (non-transactional) producer bumps its epoch itself (KIP-360): the
        // broker takes a higher epoch starting again at sequence 0 as a fresh start.
        this.#producerEpoch++;
        this.#renumber();
        this.#scheduleDrain();
        return;
      }
    }
    this.#initializing = (async () => {
      const deadline = Date.now() + this.#deliveryTimeoutMs;
      let delay = this.#retryBackoffMs;
      while (true) {
        try {
          const conn = await this.#cluster.anyConnection();
          const res = await conn.request(initProducerId, {
            transactionalId: null,
            transactionTimeoutMs: 60_000,
            producerId: -1n,
            producerEpoch: -1,
          });
          if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { api: "InitProducerId" });
          this.#producerId = res.producerId;
          this.#producerEpoch = res.producerEpoch;
          break;
        } catch (err) {
          const retriable = !(err instanceof BrokerError) || err.retriable;
          if (!retriable || Date.now() + delay > deadline || this.#closed) throw err;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 1_000);
        }
      }
      // A new producer id (first use, or an exhausted epoch): sequences restart at 0.
      if (this.#needEpochBump) this.#renumber();
    })().then(
      () => {
        this.#initializing = null;
        this.#drain();
      },
      (err) => {
        this.#initializing = null;
        const e = err instanceof KafkaError ? err : new KafkaError("InitProducerId failed", { cause: err });
        this.#fatal = e;
        for (const b of [...this.#outstanding]) this.#fail(b, e);
        for (const tp of this.#partitions.values()) {
          tp.queue.length = 0;
          tp.open = null;
        }
      },
    );
  }

  /** After an epoch change: every partition's sequence restarts at 0; unsent batches are renumbered. */
  #renumber(): void {
    this.#needEpochBump = false;
    for (const tp of this.#partitions.values()) {
      tp.nextSequence = 0;
      for (const b of tp.queue) b.baseSequence = -1;
    }
  }

  /** Sends everything buffered now and waits until it is acknowledged (or failed). */
  async flush(): Promise<void> {
    const pending = [...this.#outstanding].map((b) => b.done);
    if (pending.length === 0) return;
    this.#flushing++;
    try {
      this.#drain();
      await Promise.all(pending);
    } finally {
      this.#flushing--;
    }
  }

  /**
   * Flushes, then stops the producer. Later `send()` calls fail with
   * {@linkcode ClosedError}. Idempotent. With `timeoutMs`, records still
   * unacknowledged by then fail with {@linkcode TimeoutError}.
   */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      for (const w of this.#bufferWaiters.splice(0)) w.reject(new ClosedError("The producer is closed"));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const flushed = this.flush();
      if (opts.timeoutMs !== undefined) {
        const expired = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), opts.timeoutMs));
        const first = await Promise.race([flushed.then(() => "ok" as const), expired]);
        clearTimeout(timer);
        if (first === "timeout") {
          const err = new TimeoutError(
            `The producer closed after ${opts.timeoutMs} ms with records unacknowledged`,
          );
          for (const b of [...this.#outstanding]) this.#fail(b, err);
        }
      } else {
        await flushed;
      }
      this.#closed = true;
      if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
      if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
      this.#untrack();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode Producer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be zero or more, got ${v}`);
  return v;
}
