/**
 * The producer's API: `send()`, `flush()`, `close()` and the options. Records
 * are validated and serialised here, partitioned, and handed to the
 * accumulator (accumulator.ts); the sender (sender.ts) turns batches into
 * Produce requests and enforces `deliveryTimeoutMs`; idempotence.ts keeps the
 * producer id, epoch and sequences. Idempotence is on by default (acks
 * "all"): each batch carries the producer id, epoch and per-partition
 * sequence, so a retry never writes a record twice and per-partition order
 * holds with up to 5 requests in flight.
 *
 * The hot path (`send` with cached metadata and room in the buffer) does no
 * awaits and no copies of record bytes; batches are encoded once, when they
 * are drained, and re-encoded only if the producer epoch changes.
 *
 * @module
 */

import { Compression } from "../../protocol/compression.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { fnv1aPartition, murmur2Partition } from "../../protocol/partitioners.ts";
import type { RecordHeader, RecordInput } from "../../protocol/record_batch.ts";
import type { ClientContext } from "../context.ts";
import type { Cluster, TopicInfo } from "../cluster.ts";
import { checkOptions } from "../options.ts";
import { EventHub, type EventsOptions, type KafkaEvent } from "../observe/events.ts";
import type { Logger, LogLevel } from "../observe/log.ts";
import { BrokerError, ClosedError, SendAbortedError, TimeoutError } from "../errors.ts";
import { abortable, checkSignal, closeWith, Linked, onAbort } from "../abort.ts";
import { type Accumulator, type RecordMetadata, recordSize, type SendOp } from "./accumulator.ts";
import { Sender } from "./sender.ts";
import { type ProducerMetrics, ProducerRecorder } from "../observe/metrics.ts";
import type { SendTrace, Telemetry } from "../observe/otel.ts";
import {
  type GroupMetadata,
  isFatalTxnError,
  ProducerFencedError,
  TransactionAbortedError,
  type TransactionManager,
  type TransactionOffset,
  type TransactionState,
} from "./transactions.ts";

export type { GroupMetadata, RecordMetadata, TransactionOffset, TransactionState };
export { ProducerFencedError, TransactionAbortedError };

/**
 * What `tx.sendOffsets()` needs of a consumer: its group's metadata and, when no
 * offsets are given, its assignment and positions. A `Consumer` with a groupId fits.
 */
export interface TransactionConsumer {
  /** The group, generation and member ids. */
  groupMetadata(): GroupMetadata;
  /** The partitions assigned now. */
  assignment(): { topic: string; partition: number }[];
  /** The next offset to hand out for a partition. */
  position(topic: string, partition: number): bigint | undefined;
}

/** The transaction handed to {@linkcode Producer.transaction}'s function. */
export interface Transaction {
  /** Sends records in the transaction (like `producer.send()`, with its options). */
  send(record: ProducerRecord, opts?: SendOptions): Promise<RecordMetadata[]>;
  /**
   * Commits the consumer's offsets in the transaction: they count only if it
   * commits. Without `offsets`, the consumer's position in every assigned partition.
   */
  sendOffsets(
    consumer: TransactionConsumer | GroupMetadata,
    offsets?: readonly TransactionOffset[],
  ): Promise<void>;
}

/** Options of {@linkcode Producer.send}. */
export interface SendOptions {
  /**
   * Cancels the call. Records that have not left the producer yet are taken
   * out (never sent) and the call rejects with `signal.reason`; if some had
   * already been sent, they cannot be taken back: the call rejects with a
   * {@linkcode SendAbortedError} (`mayHaveBeenDelivered: true`, `cause`: the
   * reason). Other calls' records in the same batches are not affected.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode Producer.close}. */
export interface ProducerCloseOptions {
  /** Records still unacknowledged after this long fail with a `TimeoutError`, and the producer stops. */
  timeoutMs?: number;
  /**
   * Stops waiting for the graceful close (an already-aborted signal closes hard
   * at once): records not yet sent fail with `signal.reason`, records in flight
   * with a {@linkcode SendAbortedError}; `close()` then rejects with the reason.
   */
  signal?: AbortSignal;
}

/** The sends that use one signal, and that signal's one listener. */
interface SignalWatch {
  /** Each send in progress and its topic. */
  readonly ops: Map<SendOp, string>;
  readonly abort: () => void;
}

const SEND_KEYS_RECORD: Record<keyof SendOptions, true> = { signal: true };
const SEND_KEYS: readonly string[] = Object.keys(SEND_KEYS_RECORD);
const CLOSE_KEYS_RECORD: Record<keyof ProducerCloseOptions, true> = { timeoutMs: true, signal: true };
const CLOSE_KEYS: readonly string[] = Object.keys(CLOSE_KEYS_RECORD);

/** Keys and values: bytes, a string (sent as UTF-8), or null. */
export type Payload = Uint8Array | string | null;

/** A record to send. */
export interface ProducerMessage {
  /** The key; decides the partition unless `partition` is set. */
  key?: Payload;
  /** The value; an explicit `null` is a tombstone (a missing value is a `TypeError`). */
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

/** A partitioner function: the partition for a record's key (null when the record has no key). */
export type PartitionerFunction = (key: Uint8Array | null, numPartitions: number, topic: string) => number;

/** The compression codecs by name. */
export type CompressionName = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** Producer options. Defaults follow the Java client where it makes sense. */
export interface ProducerOptions {
  /** 0 (no answer), 1 (the leader) or "all" (every in-sync replica). Default "all". */
  acks?: 0 | 1 | "all" | -1;
  /**
   * An extra wait before a batch is sent, for more records to join it. Default 0: a
   * partition's records go out as soon as a request slot for its leader is free, and while
   * every slot is busy they keep accumulating in the open batch (up to `batchBytes`).
   */
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
  /**
   * How long a record may take from `send()` to acknowledgement: waiting for buffer room,
   * queued, in flight and retrying. When it passes, that `send()` rejects with a
   * `TimeoutError` naming the topic-partition and the last error. Default 120 s.
   */
  deliveryTimeoutMs?: number;
  /** The broker-side timeout of a Produce request and the client-side wait for its answer. Default 30 s. */
  requestTimeoutMs?: number;
  /** The first retry backoff; it doubles up to 1 s. Default 100 ms. */
  retryBackoffMs?: number;
  /** "murmur2" (Java's default), "sarama" (FNV-1a, like sarama's hash partitioner) or a function. */
  partitioner?: "murmur2" | "sarama" | PartitionerFunction;
  /** Bytes of records buffered before `send()` waits. Default 32 MiB. */
  bufferBytes?: number;
  /**
   * Makes the producer transactional (KIP-98): records are sent in transactions
   * (`transaction()` or `beginTransaction()`/`commitTransaction()`) that
   * `read_committed` consumers see whole or not at all, with consumer offsets
   * in them for exactly-once consume-transform-produce. The id names the
   * producer across restarts: a new instance with it fences the old one. Needs
   * idempotence (acks "all").
   */
  transactionalId?: string;
  /**
   * How long the coordinator lets a transaction stay open before aborting it.
   * Default 60 s (the broker caps it with `transaction.max.timeout.ms`). Keep it
   * above a broker's restart time: Kafka 4.4.0, aborting a transaction that
   * timed out during a restart, skipped the markers of partitions that had no
   * leader yet (see the README's transactions section).
   */
  transactionTimeoutMs?: number;
  /** This producer's logger. Default: the client's. */
  logger?: Logger;
  /** This producer's log level. Default: the client's. */
  logLevel?: LogLevel;
}

const OPTION_KEYS: readonly (keyof ProducerOptions)[] = [
  "acks",
  "lingerMs",
  "batchBytes",
  "maxRequestBytes",
  "compression",
  "maxInFlight",
  "idempotent",
  "deliveryTimeoutMs",
  "requestTimeoutMs",
  "retryBackoffMs",
  "partitioner",
  "bufferBytes",
  "transactionalId",
  "transactionTimeoutMs",
  "logger",
  "logLevel",
];

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

/** The key of a single message, for its span. */
function keyOf(m: unknown): Uint8Array | null {
  if (!Array.isArray(m) || m.length !== 1) return null;
  const k = (m[0] as ProducerMessage | undefined)?.key;
  return typeof k === "string" ? encoder.encode(k) : k instanceof Uint8Array ? k : null;
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

/**
 * Sends records to Kafka. Create one with `client.producer()`.
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * await client.admin().createTopics([{ topic: "doc-producer", partitions: 3 }], { ifNotExists: true });
 * await using producer = client.producer({ compression: "lz4" });
 * const [meta] = await producer.send({ topic: "doc-producer", messages: [{ key: "42", value: "hello" }] });
 * console.log(meta.partition, meta.offset);
 * ```
 */
export class Producer implements AsyncDisposable {
  readonly #client: ClientContext;
  readonly #cluster: Cluster;
  readonly #maxRequestBytes: number;
  readonly #deliveryTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #partitioner: PartitionerFunction | null;
  readonly #hash: (key: Uint8Array, n: number) => number;
  readonly #bufferBytes: number;
  readonly #sender: Sender;
  readonly #acc: Accumulator;
  readonly #txn: TransactionManager | null;
  #closing: Promise<void> | null = null;
  /** Aborts when a `close({ signal })` signal does: the close turns hard. */
  readonly #hard = new Linked();
  /** Sends in progress with a signal, by signal (see #watch). */
  readonly #watches = new Map<AbortSignal, SignalWatch>();
  readonly #untrack: () => void;
  readonly #events: EventHub;
  readonly #telemetry: Telemetry | null;
  readonly #unobserve: () => void;

  /**
   * Use `client.producer()` instead.
   *
   * @param client The client whose connections to use.
   * @param opts Producer options.
   */
  constructor(client: ClientContext, opts: ProducerOptions = {}) {
    checkOptions(opts, OPTION_KEYS, "producer options");
    this.#client = client;
    this.#cluster = client.cluster;
    const hub = client.cluster.hub;
    this.#events = new EventHub(hub.log.derive(opts.logger, opts.logLevel), hub);
    const acks = opts.acks ?? "all";
    if (acks !== 0 && acks !== 1 && acks !== "all" && acks !== -1) {
      throw new TypeError(`Invalid acks ${JSON.stringify(acks)}: use 0, 1 or "all"`);
    }
    const acksNum = acks === "all" ? -1 : acks;
    if (opts.idempotent === true && acksNum !== -1) {
      throw new TypeError(`Idempotence needs acks "all", got acks ${JSON.stringify(acks)}`);
    }
    const transactionalId = opts.transactionalId;
    if (transactionalId !== undefined) {
      if (typeof transactionalId !== "string" || transactionalId.length === 0) {
        throw new TypeError(
          `Invalid transactionalId ${JSON.stringify(transactionalId)}: use a non-empty string`,
        );
      }
      if (acksNum !== -1 || opts.idempotent === false) {
        throw new TypeError(
          `A transactional producer needs idempotence and acks "all", got acks ${JSON.stringify(acks)}` +
            (opts.idempotent === false ? " and idempotent false" : ""),
        );
      }
    } else if (opts.transactionTimeoutMs !== undefined) {
      throw new TypeError("transactionTimeoutMs needs a transactionalId");
    }
    const transactionTimeoutMs = positive(opts.transactionTimeoutMs ?? 60_000, "transactionTimeoutMs");
    const idempotent = opts.idempotent ?? acksNum === -1;
    const lingerMs = nonNegative(opts.lingerMs ?? 0, "lingerMs");
    const batchBytes = positive(opts.batchBytes ?? 64 * 1024, "batchBytes");
    this.#maxRequestBytes = positive(opts.maxRequestBytes ?? 1024 * 1024, "maxRequestBytes");
    const c = opts.compression ?? "none";
    if (!(c in Compression)) {
      throw new TypeError(`Unknown compression ${JSON.stringify(c)}: use none, gzip, snappy, lz4 or zstd`);
    }
    const maxInFlight = positive(opts.maxInFlight ?? 5, "maxInFlight");
    if (idempotent && maxInFlight > 5) {
      throw new TypeError(`Idempotence allows at most 5 requests in flight, got ${maxInFlight}`);
    }
    this.#deliveryTimeoutMs = positive(opts.deliveryTimeoutMs ?? 120_000, "deliveryTimeoutMs");
    this.#requestTimeoutMs = positive(opts.requestTimeoutMs ?? 30_000, "requestTimeoutMs");
    const retryBackoffMs = nonNegative(opts.retryBackoffMs ?? 100, "retryBackoffMs");
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
    this.#sender = new Sender(
      {
        acks: acksNum,
        lingerMs,
        batchBytes,
        maxRequestBytes: this.#maxRequestBytes,
        compression: Compression[c],
        maxInFlight,
        idempotent,
        deliveryTimeoutMs: this.#deliveryTimeoutMs,
        requestTimeoutMs: this.#requestTimeoutMs,
        retryBackoffMs,
        bufferBytes: this.#bufferBytes,
        transactional: transactionalId === undefined ? undefined : { transactionalId, transactionTimeoutMs },
      },
      this.#cluster,
      this.#events,
    );
    this.#acc = this.#sender.accumulator;
    this.#txn = this.#sender.txn;
    this.#untrack = client.track((signal) => this.close({ signal }));
    this.#telemetry = client.telemetry;
    this.#unobserve = client.telemetry?.observe("producer", () => this.metrics()) ?? (() => {});
  }

  /**
   * A snapshot of this producer's metrics: records and bytes sent (totals and
   * per second), batch sizes, compression ratio, Produce latency, requests in
   * flight, buffer use, retries and errors by type. Empty when the client was
   * made with `metrics: false`.
   *
   * @example
   * ```ts ignore
   * const m = producer.metrics();
   * console.log(m.recordsSentPerSecond, m.requestLatencyMs.p99, m.bufferUsedBytes / m.bufferBytes);
   * ```
   */
  metrics(): ProducerMetrics {
    const rec = this.#sender.metrics ?? new ProducerRecorder();
    return rec.snapshot(this.#sender.inFlightRequests, this.#acc.bufferUsed, this.#bufferBytes);
  }

  /**
   * The producer's events, as an async iterable: `producer.id` (a producer id
   * or epoch was taken), `batch.retried`, `batch.expired`, and the client's own
   * (`connected`, `disconnected`, `reconnecting`, `metadata`, `throttled`). Each call
   * is a new subscriber with its own bounded buffer; it ends when the producer
   * closes, and `break` unsubscribes. A slow reader never slows the producer: what
   * overflows its buffer is counted in a `dropped` event.
   *
   * @param opts The subscriber's buffer size.
   */
  events(opts?: EventsOptions): AsyncIterableIterator<KafkaEvent> {
    return this.#events.subscribe(opts);
  }

  /** Bytes of records accepted by `send()` and not yet acknowledged or failed. */
  get bufferedBytes(): number {
    return this.#acc.bufferUsed;
  }

  /** The producer id and epoch (idempotent mode), -1 before the first send. */
  get producerIdentity(): { producerId: bigint; producerEpoch: number } {
    const idem = this.#sender.idempotence;
    return { producerId: idem.producerId, producerEpoch: idem.producerEpoch };
  }

  /**
   * Sends records; resolves with where each landed, in order, once all are
   * acknowledged (per `acks`). Records of one call go to their partitions in
   * order. When the buffer is full this waits for room (backpressure).
   *
   * @param record The topic and its messages.
   * @param opts The `signal` that cancels the call.
   * @throws {SendAbortedError} When the signal aborted after some of the records were sent.
   */
  send(record: ProducerRecord, opts?: SendOptions): Promise<RecordMetadata[]> {
    const tel = this.#telemetry;
    if (tel === null) return this.#send(record, opts, null);
    const m = record?.messages;
    const trace = tel.startSend(String(record?.topic), Array.isArray(m) ? m.length : 0, keyOf(m));
    return tel.endSend(trace, this.#send(record, opts, trace));
  }

  async #send(
    record: ProducerRecord,
    opts: SendOptions | undefined,
    trace: SendTrace | null,
  ): Promise<RecordMetadata[]> {
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      // for-in, not Object.keys: no array per call.
      for (const k in opts) if (k !== "signal") checkOptions(opts, SEND_KEYS, "send() options");
      if (opts === null || typeof opts !== "object") checkOptions(opts, SEND_KEYS, "send() options");
      signal = opts.signal;
      checkSignal(signal, "send()");
    }
    if (this.#closing) throw new ClosedError("The producer is closed");
    this.#client.assertOpen();
    if (this.#sender.fatal) throw this.#sender.fatal;
    // A transactional producer sends only inside a transaction.
    if (this.#txn !== null) this.#txn.assertInTransaction("send()");
    const started = Date.now();
    if (!record || typeof record !== "object") throw new TypeError("send() takes { topic, messages }");
    for (const k in record) {
      // Per-call settings of other clients (acks, compression) would be silently ignored: refuse them.
      if (k !== "topic" && k !== "messages") checkOptions(record, RECORD_KEYS, "send() argument");
    }
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
      checkMessage(m, i);
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
      if (trace !== null) trace.inject(input);
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
    let info = this.#cluster.freshTopic(topic) ?? await this.#readyTopic(topic, signal);
    if (messages.some((m) => m.partition !== undefined && m.partition >= info!.partitions.length)) {
      // The caller may know of partitions added since our last look.
      await abortable(this.#cluster.topic(topic, { force: true }), signal);
      info = await this.#readyTopic(topic, signal);
    }
    signal?.throwIfAborted();
    // Closed (or failed for good) while the metadata came: queue nothing (the sender may have stopped).
    if (this.#closing) throw new ClosedError("The producer is closed");
    if (this.#sender.fatal) throw this.#sender.fatal;
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

    const deadline = started + this.#deliveryTimeoutMs;
    // Backpressure: wait in line for room (at most until deliveryTimeoutMs).
    const wait = this.#acc.reserve(total, deadline, topic, signal);
    if (wait) {
      await wait;
      if (this.#closing || this.#sender.fatal || signal?.aborted) {
        // Closed (or failed for good, or aborted) while we waited: hand the room back, queue nothing.
        this.#acc.unreserve(total);
        if (signal?.aborted && !this.#closing && !this.#sender.fatal) throw signal.reason;
        throw this.#sender.fatal ?? new ClosedError("The producer is closed");
      }
    }

    return new Promise<RecordMetadata[]>((res, rej) => {
      let resolve = res;
      let reject = rej;
      let watch: SignalWatch | undefined;
      if (signal !== undefined) {
        // Registered with the signal's one listener, and taken off when the call settles.
        const w = watch = this.#watch(signal);
        resolve = (r) => {
          this.#unwatch(signal, w, op);
          res(r);
        };
        reject = (e) => {
          this.#unwatch(signal, w, op);
          rej(e);
        };
      }
      const op: SendOp = {
        results: new Array(messages.length),
        pending: messages.length,
        resolve,
        reject,
        failed: false,
        deadline,
      };
      watch?.ops.set(op, topic);
      for (let i = 0; i < inputs.length; i++) {
        const p = parts[i] >= 0 ? parts[i] : this.#acc.stickyPartition(topic, info!, sizes[i]);
        this.#acc.append(topic, p, inputs[i], sizes[i], op, i);
      }
      this.#sender.appended();
    });
  }

  /**
   * The sends in progress with a signal, by signal: one abort listener per signal however many
   * sends share it (an EventTarget's listener list would make each removal cost O(listeners)).
   * Removed with its listener when its last send settles.
   */
  #watch(signal: AbortSignal): SignalWatch {
    let w = this.#watches.get(signal);
    if (w === undefined) {
      const ops = new Map<SendOp, string>();
      const abort = () => {
        this.#watches.delete(signal);
        for (const [op, topic] of [...ops]) this.#abortSend(op, topic, signal.reason);
      };
      w = { ops, abort };
      this.#watches.set(signal, w);
      signal.addEventListener("abort", abort, { once: true });
    }
    return w;
  }

  #unwatch(signal: AbortSignal, w: SignalWatch, op: SendOp): void {
    w.ops.delete(op);
    if (w.ops.size === 0 && this.#watches.get(signal) === w) {
      this.#watches.delete(signal);
      signal.removeEventListener("abort", w.abort);
    }
  }

  /**
   * An aborted send(): its records that never left are taken out; it rejects
   * with the reason when that was all of them, else with a SendAbortedError.
   */
  #abortSend(op: SendOp, topic: string, reason: unknown): void {
    if (op.failed || op.pending === 0) return;
    const taken = this.#acc.withdraw(op);
    op.failed = true;
    const total = op.results.length;
    if (taken === total) {
      op.reject(reason);
      return;
    }
    op.reject(
      new SendAbortedError(
        `send() to ${topic} was aborted after ${total - taken} of its ${total} records had been sent ` +
          `(they may be written; ${taken} that had not left were dropped)`,
        { cause: reason },
      ),
    );
  }

  /**
   * Waits for a topic's metadata, at most min(deliveryTimeoutMs, requestTimeoutMs): a topic
   * that does not exist (and that the broker does not create) fails the send() with an error
   * naming it.
   */
  async #readyTopic(topic: string, signal?: AbortSignal): Promise<TopicInfo> {
    const bound = Math.min(this.#deliveryTimeoutMs, this.#requestTimeoutMs);
    try {
      return await abortable(this.#cluster.readyTopic(topic, bound, signal), signal);
    } catch (err) {
      if (!(err instanceof BrokerError) || !err.retriable) throw err;
      const missing = err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      throw new TimeoutError(
        `Topic "${topic}" ${
          missing ? "does not exist (and was not auto-created)" : "is not available"
        } after ${bound} ms of waiting for its metadata; last error: ${err.message}`,
        { cause: err },
      );
    }
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
    return this.#acc.stickyPartition(topic, info);
  }

  /** The transactional id, or null for a producer that is not transactional. */
  get transactionalId(): string | null {
    return this.#txn?.transactionalId ?? null;
  }

  /**
   * Where the transaction stands: "uninitialized" (before `initTransactions()`),
   * "ready", "in-transaction", "abortable" (it failed and must be aborted) or
   * "fatal" (fenced). Null for a producer that is not transactional.
   */
  get transactionState(): TransactionState | null {
    return this.#txn?.state ?? null;
  }

  #needTxn(what: string): TransactionManager {
    if (this.#closing) throw new ClosedError("The producer is closed");
    this.#client.assertOpen();
    if (this.#txn === null) throw new TypeError(`${what} needs a producer with a transactionalId`);
    return this.#txn;
  }

  /**
   * Registers the transactional id with its coordinator (InitProducerId):
   * fences every earlier producer with the same id and waits for its open
   * transaction to be completed or aborted. `beginTransaction()` and
   * `transaction()` call it the first time; call it yourself to fence before
   * reading input (an exactly-once processor should).
   *
   * @throws {ProducerFencedError} When the transactional id is not authorized.
   */
  async initTransactions(): Promise<void> {
    await this.#needTxn("initTransactions()").init();
  }

  /**
   * Starts a transaction: `send()` and `sendOffsets()` until `commitTransaction()`
   * or `abortTransaction()` belong to it.
   *
   * @throws {KafkaError} When a transaction is already open.
   */
  async beginTransaction(): Promise<void> {
    const txn = this.#needTxn("beginTransaction()");
    await txn.init();
    txn.begin();
  }

  /**
   * Commits the consumer's offsets in the open transaction (KIP-447: with the
   * group's generation and member id, so a member that was replaced cannot
   * commit). Without `offsets`, the consumer's position in every assigned partition.
   *
   * @param consumer The consumer whose input the transaction consumed (or its group metadata).
   * @param offsets The next offsets to read, per partition.
   */
  async sendOffsets(
    consumer: TransactionConsumer | GroupMetadata,
    offsets?: readonly TransactionOffset[],
  ): Promise<void> {
    const txn = this.#needTxn("sendOffsets()");
    txn.assertInTransaction("send offsets");
    const isConsumer = typeof (consumer as TransactionConsumer).groupMetadata === "function";
    const group = isConsumer ? (consumer as TransactionConsumer).groupMetadata() : consumer as GroupMetadata;
    if (!group || typeof group.groupId !== "string" || group.groupId === "") {
      throw new TypeError(
        "sendOffsets() takes a consumer with a groupId, or { groupId, generationId, memberId }",
      );
    }
    let list: readonly TransactionOffset[];
    if (offsets !== undefined) {
      if (!Array.isArray(offsets)) throw new TypeError("sendOffsets() offsets must be an array");
      for (const o of offsets) {
        if (
          !o || typeof o.topic !== "string" || !Number.isInteger(o.partition) || o.partition < 0 ||
          typeof o.offset !== "bigint" || o.offset < 0n
        ) {
          throw new TypeError(
            `Invalid offset ${
              JSON.stringify(o, (_, v) => typeof v === "bigint" ? `${v}n` : v)
            }: expected { topic: string, partition: integer >= 0, offset: bigint >= 0 }`,
          );
        }
      }
      list = offsets;
    } else {
      if (!isConsumer) throw new TypeError("sendOffsets() without offsets needs the consumer itself");
      const c = consumer as TransactionConsumer;
      const out: TransactionOffset[] = [];
      for (const { topic, partition } of c.assignment()) {
        const offset = c.position(topic, partition);
        if (offset !== undefined && offset >= 0n) out.push({ topic, partition, offset });
      }
      list = out;
    }
    if (list.length === 0) return;
    await txn.sendOffsets(
      {
        groupId: group.groupId,
        generationId: group.generationId ?? -1,
        memberId: group.memberId ?? "",
        groupInstanceId: group.groupInstanceId ?? null,
      },
      list,
    );
  }

  /**
   * Commits the open transaction: sends what is buffered, waits for it, then
   * ends the transaction (EndTxn). If any of it failed, the transaction is
   * aborted instead and {@linkcode TransactionAbortedError} says why.
   *
   * @throws {TransactionAbortedError} When the transaction had to be aborted.
   * @throws {ProducerFencedError} When another producer with the same transactional id took over.
   */
  async commitTransaction(): Promise<void> {
    const txn = this.#needTxn("commitTransaction()");
    await this.#settle();
    if (txn.state === "abortable") return await this.#abortFor(txn, null);
    try {
      await txn.end(true);
    } catch (err) {
      if (err instanceof ProducerFencedError || (txn.state as TransactionState) !== "abortable") throw err;
      await this.#abortFor(txn, err);
    }
  }

  /** Aborts after an abortable error; throws TransactionAbortedError naming it. */
  async #abortFor(txn: TransactionManager, err: unknown): Promise<never> {
    const reason = err ?? txnCause(txn);
    await this.abortTransaction();
    throw new TransactionAbortedError(
      `The transaction was aborted: ${
        reason instanceof Error ? reason.message : String(reason)
      }; none of its records or offsets are visible to read_committed readers`,
      { cause: reason },
    );
  }

  /**
   * Aborts the open transaction: records not yet sent are dropped (their
   * `send()` rejects), records already written are marked aborted, and the
   * offsets sent in it do not count.
   *
   * @throws {ProducerFencedError} When another producer with the same transactional id took over.
   */
  async abortTransaction(): Promise<void> {
    const txn = this.#needTxn("abortTransaction()");
    this.#sender.discardUnsent(
      new TransactionAbortedError("The transaction was aborted before this record was sent"),
    );
    await this.#settle();
    await txn.end(false);
  }

  /**
   * Runs `fn` in a transaction: commits when it returns, aborts and rethrows
   * when it throws. A commit that fails with an abortable error aborts and
   * throws {@linkcode TransactionAbortedError}; so does a `send()` or
   * `sendOffsets()` of the transaction that fails in `fn` (its `cause` is that
   * failure): the producer stays usable, and the input is processed again.
   *
   * @example
   * ```ts
   * import { connect } from "../../mod.ts";
   * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
   * await using client = await connect({ brokers });
   * await client.admin().createTopics([{ topic: "doc-tx-out", partitions: 1 }], { ifNotExists: true });
   * await using producer = client.producer({ transactionalId: "doc-tx" });
   * await producer.transaction(async (tx) => {
   *   await tx.send({ topic: "doc-tx-out", messages: [{ value: "a" }, { value: "b" }] });
   * });
   * ```
   *
   * @param fn The transaction's work.
   * @returns What `fn` returned.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (typeof fn !== "function") throw new TypeError("transaction() takes an async function");
    await this.beginTransaction();
    const tx: Transaction = {
      send: (record, opts) => this.send(record, opts),
      sendOffsets: (consumer, offsets) => this.sendOffsets(consumer, offsets),
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      const txn = this.#txn!;
      // The transaction's own send() or sendOffsets() failed (the transaction is abortable): like a
      // commit that fails so, the abort is reported as TransactionAbortedError naming the cause.
      // Anything else fn threw is rethrown as it is after the abort.
      const abortable = txn.state === "abortable" && !isFatalTxnError(err);
      if (txn.state === "in-transaction" || txn.state === "abortable") {
        try {
          await this.abortTransaction();
        } catch (abortErr) {
          if (abortErr instanceof ProducerFencedError) throw abortErr;
          throw new TransactionAbortedError(
            `The transaction's function threw and the abort failed too: ${
              abortErr instanceof Error ? abortErr.message : String(abortErr)
            }`,
            { cause: err },
          );
        }
      }
      if (abortable && !(err instanceof TransactionAbortedError)) {
        throw new TransactionAbortedError(
          `The transaction was aborted: ${
            err instanceof Error ? err.message : String(err)
          }; none of its records or offsets are visible to read_committed readers`,
          { cause: err },
        );
      }
      throw err;
    }
    await this.commitTransaction();
    return result;
  }

  /** Sends what is buffered and waits for every batch (acknowledged or failed), never throwing. */
  async #settle(): Promise<void> {
    const pending = [...this.#acc.outstanding].map((b) => b.done);
    if (pending.length === 0) return;
    this.#sender.flushing++;
    try {
      this.#sender.drain();
      await Promise.allSettled(pending);
    } finally {
      this.#sender.flushing--;
    }
  }

  /** Sends everything buffered now and waits until it is acknowledged (or failed). */
  async flush(): Promise<void> {
    const pending = [...this.#acc.outstanding].map((b) => b.done);
    if (pending.length === 0) return;
    this.#sender.flushing++;
    try {
      this.#sender.drain();
      await Promise.all(pending);
    } finally {
      this.#sender.flushing--;
    }
  }

  /**
   * Flushes, then stops the producer. Later `send()` calls fail with
   * {@linkcode ClosedError}. Idempotent. With `timeoutMs`, records still
   * unacknowledged by then fail with {@linkcode TimeoutError}. With `signal`,
   * an abort (also during a close an earlier call started) stops waiting:
   * see {@linkcode ProducerCloseOptions}.
   *
   * @param opts The graceful close's time limit and the signal that cuts it short.
   */
  close(opts: ProducerCloseOptions = {}): Promise<void> {
    // The events end even when the close fails.
    return closeWith(
      opts,
      CLOSE_KEYS,
      this.#hard,
      () =>
        this.#closing ??= this.#close(opts.timeoutMs).finally(() => {
          this.#events.close();
          this.#unobserve();
        }),
      false,
    );
  }

  async #close(timeoutMs: number | undefined): Promise<void> {
    this.#sender.closing = true;
    this.#acc.rejectWaiters(new ClosedError("The producer is closed"));
    const hard = this.#hard.signal;
    // Already aborted: nothing more is sent (flushing would send what lingers).
    const flushed = hard.aborted ? new Promise<void>(() => {}) : this.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unlisten = (): void => {};
    const cut = new Promise<"timeout" | "abort">((r) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => r("timeout"), timeoutMs);
      unlisten = onAbort(hard, () => r("abort"));
    });
    const first = await Promise.race([flushed.then(() => "ok" as const), cut]);
    clearTimeout(timer);
    unlisten();
    if (first === "timeout") {
      const err = new TimeoutError(`The producer closed after ${timeoutMs} ms with records unacknowledged`);
      this.#failOutstanding(err, err);
    } else if (first === "abort") {
      const reason = hard.reason;
      this.#failOutstanding(
        reason,
        new SendAbortedError(
          "The producer's close was aborted while these records were in flight: they may be written",
          { cause: reason },
        ),
      );
    }
    this.#sender.stop();
    this.#untrack();
    this.#hard.dispose();
  }

  /**
   * Fails every outstanding batch: `unsent` for those that never left, `sent` for those
   * sent at least once. A batch in flight is marked expired, so that its answer is ignored.
   */
  #failOutstanding(unsent: unknown, sent: unknown): void {
    for (const b of [...this.#acc.outstanding]) {
      const neverSent = b.encoded === null && b.attempts === 0;
      if (!this.#acc.remove(b)) b.expired = true;
      const err = neverSent ? unsent : sent;
      // Counted like any other failure (the close's timeout or abort is the error type).
      this.#sender.metrics?.failed(b.records.length, err);
      this.#acc.fail(b, err);
    }
  }

  /** Same as {@linkcode Producer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function txnCause(txn: TransactionManager): unknown {
  try {
    txn.assertInTransaction("commit");
  } catch (err) {
    return err instanceof TransactionAbortedError && err.cause !== undefined ? err.cause : err;
  }
  return new Error("the transaction failed");
}

const RECORD_KEYS: readonly (keyof ProducerRecord)[] = ["topic", "messages"];

const MESSAGE_KEYS: readonly (keyof ProducerMessage)[] = [
  "key",
  "value",
  "headers",
  "partition",
  "timestamp",
];

/** Unknown keys and a missing value are mistakes: a missing value must not become a tombstone. */
function checkMessage(m: ProducerMessage, i: number): void {
  // for-in, not Object.keys: no array per record on the hot path.
  for (const k in m) {
    if (k !== "key" && k !== "value" && k !== "headers" && k !== "partition" && k !== "timestamp") {
      checkOptions(m, MESSAGE_KEYS, `messages[${i}]`);
    }
  }
  if (m.value === undefined) {
    throw new TypeError(
      `messages[${i}] has no value: pass value (bytes or a string), or value: null for a tombstone`,
    );
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
