/**
 * The share consumer (KIP-932 "queues for Kafka"): a member of a share group.
 * Many members read the same partitions; the broker hands each record to one
 * of them under an acquisition lock, and each record is acknowledged on its
 * own: accepted (done), released (delivered again, to anyone, with a higher
 * delivery count) or rejected (never delivered again).
 *
 * Membership is ShareGroupHeartbeat with the share-group coordinator. Records
 * come from ShareFetch with one share session per broker (epoch 0 opens it,
 * each request increments it, -1 closes it). Acknowledgements ride on the
 * next ShareFetch to that broker; `commit()` and `close()` flush them at once
 * with ShareAcknowledge. Requests of one session never overlap: they are
 * chained per broker.
 *
 * Prefetch is bounded: a fetch asks for no more records than `maxRecords`
 * minus what is buffered, and none while the buffer is full (buffered records
 * hold broker locks, so the bound is also the most locks this member holds).
 *
 * @module
 */

import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import {
  shareAcknowledge,
  type ShareAcknowledgeRequestAcknowledgeTopic,
} from "../../protocol/messages/share_acknowledge.ts";
import {
  shareFetch,
  type ShareFetchRequestFetchTopic,
  type ShareFetchRequestForgottenTopic,
  type ShareFetchResponsePartitionData,
} from "../../protocol/messages/share_fetch.ts";
import { shareGroupHeartbeat } from "../../protocol/messages/share_group_heartbeat.ts";
import type { Cluster } from "../cluster.ts";
import type { Connection } from "../connection.ts";
import type { ClientContext } from "../context.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  ConnectionError,
  KafkaError,
  UnsupportedVersionError,
} from "../errors.ts";
import { ConsumerRecord } from "../fetcher.ts";
import { Signal } from "../group.ts";
import { checkOptions } from "../options.ts";
import { EventHub, type EventsOptions, type KafkaEvent } from "../observe/events.ts";
import type { Log, Logger, LogLevel } from "../observe/log.ts";
import { type ShareConsumerMetrics, ShareConsumerRecorder } from "../observe/metrics.ts";
import type { ProcessTrace } from "../observe/otel.ts";
import { closeWith, Linked, onAbort } from "../abort.ts";
import { badTopicName, missingTopicTimeout, watchTopics } from "../topics.ts";

/** How a record is acknowledged: done, to be delivered again, or never again. */
export type AcknowledgeType = "accept" | "release" | "reject";

/** The wire values of the acknowledge types (KIP-932; renew is KIP-1222). */
const ACK_GAP = 0;
const ACK_ACCEPT = 1;
const ACK_RELEASE = 2;
const ACK_REJECT = 3;
const ACK_RENEW = 4;
/** The names of the wire types, for span attributes. */
const ACK_NAMES = ["gap", "accept", "release", "reject", "renew"];
const ACK_CODE: Record<AcknowledgeType, number> = {
  accept: ACK_ACCEPT,
  release: ACK_RELEASE,
  reject: ACK_REJECT,
};

/**
 * A record's acquisition lock expired before it was acknowledged (or renewed):
 * the broker has taken it back and delivers it again, possibly to another
 * member. The acknowledgement was not sent.
 */
export class AcquisitionLockExpiredError extends KafkaError {}

/** Options of `client.shareConsumer()`. */
export interface ShareConsumerOptions {
  /** The share group. */
  groupId: string;
  /** The topics to subscribe to. */
  topics: string[];
  /**
   * "implicit" (default): a record handed out and not acknowledged is accepted when the
   * application asks for the next record (or commits). "explicit": every record must be
   * acknowledged with `accept()`, `release()` or `reject()`; one left unacknowledged stays
   * locked until its lock expires (then it is delivered again) or the consumer closes (released).
   */
  acknowledgementMode?: "implicit" | "explicit";
  /** The most records buffered (and so locked) by this member at once. Default 500. */
  maxRecords?: number;
  /** How long the broker may hold a ShareFetch waiting for records. Default 500 ms. */
  maxWaitMs?: number;
  /** The most bytes per ShareFetch response. Default 50 MiB. */
  maxBytes?: number;
  /** The first retry backoff; it doubles up to 1 s. Default 100 ms. */
  retryBackoffMs?: number;
  /** A rack id for the broker's assignor. */
  rackId?: string;
  /**
   * How long subscribed topics may stay missing from the cluster before the iterator fails
   * with a `TimeoutError` naming them (`Infinity` waits forever). Default 60 s.
   * A topic that is not authorized fails it at once (a `BrokerError`), as does an invalid
   * topic name (a `TypeError`).
   */
  missingTopicTimeoutMs?: number;
  /**
   * Hears of background failures the consumer recovers from (a fetch or heartbeat to retry,
   * an acknowledgement the broker refused: those records are delivered again). Fatal ones
   * reject `next()` and `close()`. Default: a warning to the `logger`.
   */
  onError?: (err: KafkaError) => void;
  /** This consumer's logger. Default: the client's. */
  logger?: Logger;
  /** This consumer's log level. Default: the client's. */
  logLevel?: LogLevel;
}

const KNOWN_KEYS: Record<keyof ShareConsumerOptions, true> = {
  groupId: true,
  topics: true,
  acknowledgementMode: true,
  maxRecords: true,
  maxWaitMs: true,
  maxBytes: true,
  retryBackoffMs: true,
  rackId: true,
  missingTopicTimeoutMs: true,
  onError: true,
  logger: true,
  logLevel: true,
};
const OPTION_KEYS = Object.keys(KNOWN_KEYS);

/** Options of {@linkcode ShareConsumer.records}. */
export interface ShareIterateOptions {
  /**
   * Ends the iteration: the pending `next()` rejects with `signal.reason` at once.
   * Buffered records stay (their locks run on); the consumer stays open.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode ShareConsumer.close}. */
export interface ShareCloseOptions {
  /**
   * Stops waiting for the graceful close (an already-aborted signal closes hard at
   * once): records not acknowledged are not released and pending acknowledgements
   * are not sent (the broker delivers those records again when their locks expire),
   * and the member does not leave (the group's session timeout removes it); then
   * `close()` rejects with `signal.reason`.
   */
  signal?: AbortSignal;
}

const ITERATE_KEYS_RECORD: Record<keyof ShareIterateOptions, true> = { signal: true };
const ITERATE_KEYS: readonly string[] = Object.keys(ITERATE_KEYS_RECORD);
const CLOSE_KEYS_RECORD: Record<keyof ShareCloseOptions, true> = { signal: true };
const CLOSE_KEYS: readonly string[] = Object.keys(CLOSE_KEYS_RECORD);

/** What a record needs from its consumer. */
interface RecordOwner {
  acknowledge(record: ShareRecord, type: number): void;
  renew(record: ShareRecord): Promise<void>;
  lockExpired(): void;
}

/** A partition in this member's assignment. */
interface SharePartition {
  topic: string;
  topicId: string;
  partition: number;
  key: string;
}

/**
 * A record delivered by a share group: a {@linkcode ConsumerRecord} with its
 * delivery count and the acknowledgement methods.
 */
export class ShareRecord extends ConsumerRecord {
  /** How many times the broker has delivered this record (1 the first time). */
  readonly deliveryCount: number;
  /** @internal */
  readonly tp: SharePartition;
  /** @internal The broker whose share session holds the lock. */
  readonly nodeId: number;
  /** @internal */
  readonly owner: RecordOwner;
  #lockExpiresAt: number;
  #acked: AcknowledgeType | null = null;

  /**
   * Wraps a decoded record; made by the share consumer.
   *
   * @param args Where it came from and its lock.
   */
  constructor(
    args: {
      tp: SharePartition;
      record: ConstructorParameters<typeof ConsumerRecord>[2];
      leaderEpoch: number;
      deliveryCount: number;
      lockExpiresAt: number;
      nodeId: number;
      owner: RecordOwner;
    },
  ) {
    super(args.tp.topic, args.tp.partition, args.record, args.leaderEpoch);
    this.tp = args.tp;
    this.deliveryCount = args.deliveryCount;
    this.#lockExpiresAt = args.lockExpiresAt;
    this.nodeId = args.nodeId;
    this.owner = args.owner;
  }

  /** When this member's lock on the record expires (milliseconds since the epoch, local clock). */
  get lockExpiresAt(): number {
    return this.#lockExpiresAt;
  }

  /** How it was acknowledged, or null while not yet. */
  get acknowledged(): AcknowledgeType | null {
    return this.#acked;
  }

  /** @internal Extends the lock after a renewal. */
  extendLock(until: number): void {
    this.#lockExpiresAt = until;
  }

  /** @internal Marks the record acknowledged by the consumer itself (implicit mode, close). */
  markAcknowledged(type: AcknowledgeType): void {
    this.#acked = type;
  }

  #ack(type: AcknowledgeType): void {
    if (this.#acked !== null) {
      throw new KafkaError(
        `${this.topic}[${this.partition}] offset ${this.offset} was already acknowledged (${this.#acked})`,
      );
    }
    if (Date.now() >= this.#lockExpiresAt) {
      this.owner.lockExpired();
      throw new AcquisitionLockExpiredError(
        `The acquisition lock of ${this.topic}[${this.partition}] offset ${this.offset} expired at ` +
          `${
            new Date(this.#lockExpiresAt).toISOString()
          }: the broker delivers it again; it cannot be ${type}ed`,
      );
    }
    this.owner.acknowledge(this, ACK_CODE[type]);
    this.#acked = type;
  }

  /** Done with it: it is never delivered again. Sent with the next fetch or `commit()`. */
  accept(): void {
    this.#ack("accept");
  }

  /** Gives it back: it is delivered again (to any member) with a higher delivery count. */
  release(): void {
    this.#ack("release");
  }

  /** Refuses it for good (a poison message): it is never delivered again. */
  reject(): void {
    this.#ack("reject");
  }

  /**
   * Asks the broker for a fresh acquisition lock, for work that takes longer than the lock
   * (KIP-1222; needs ShareAcknowledge v2 and the group config `share.renew.acknowledge.enable`).
   *
   * @throws {UnsupportedVersionError} When the broker cannot renew locks.
   * @throws {AcquisitionLockExpiredError} When the lock expired already.
   */
  async renew(): Promise<void> {
    if (this.#acked !== null) {
      throw new KafkaError(
        `${this.topic}[${this.partition}] offset ${this.offset} was already acknowledged (${this.#acked})`,
      );
    }
    if (Date.now() >= this.#lockExpiresAt) {
      this.owner.lockExpired();
      throw new AcquisitionLockExpiredError(
        `The acquisition lock of ${this.topic}[${this.partition}] offset ${this.offset} expired: it cannot be renewed`,
      );
    }
    await this.owner.renew(this);
  }
}

/** One broker's share session. */
class ShareSession {
  readonly nodeId: number;
  epoch = 0;
  /** Partitions the broker has in the session. */
  readonly inSession = new Map<string, SharePartition>();
  /** Acknowledgements waiting to be sent: partition key to offset/type pairs. */
  readonly pending = new Map<string, { tp: SharePartition; offsets: bigint[]; types: number[] }>();
  /** Requests of a session never overlap. */
  chain: Promise<unknown> = Promise.resolve();
  loop: Promise<void> | null = null;

  constructor(nodeId: number) {
    this.nodeId = nodeId;
  }

  add(tp: SharePartition, offset: bigint, type: number): void {
    let p = this.pending.get(tp.key);
    if (!p) this.pending.set(tp.key, p = { tp, offsets: [], types: [] });
    p.offsets.push(offset);
    p.types.push(type);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  nextEpoch(): void {
    this.epoch = this.epoch >= 0x7fffffff ? 1 : this.epoch + 1;
  }
}

/** Turns offset/type pairs into acknowledgement batches: runs of consecutive offsets. */
function ackBatches(offsets: bigint[], types: number[]) {
  const idx = offsets.map((_, i) => i).sort((
    a,
    b,
  ) => (offsets[a] < offsets[b] ? -1 : offsets[a] > offsets[b] ? 1 : 0));
  const out: { firstOffset: bigint; lastOffset: bigint; acknowledgeTypes: number[] }[] = [];
  for (const i of idx) {
    const last = out[out.length - 1];
    if (last && offsets[i] === last.lastOffset + 1n) {
      last.lastOffset = offsets[i];
      last.acknowledgeTypes.push(types[i]);
    } else if (last && offsets[i] === last.lastOffset) {
      continue; // the same offset twice: the first acknowledgement stands
    } else out.push({ firstOffset: offsets[i], lastOffset: offsets[i], acknowledgeTypes: [types[i]] });
  }
  for (const b of out) {
    const t = b.acknowledgeTypes;
    if (t.length > 1 && t.every((x) => x === t[0])) b.acknowledgeTypes = [t[0]];
  }
  return out;
}

/** One partition's acknowledgements to send; `counts` (per wire type) only when metrics are on. */
interface PartitionAcks {
  tp: SharePartition;
  batches: ReturnType<typeof ackBatches>;
  counts: number[] | null;
}

/** Acknowledgement batches to send: topic id to partitions. */
type AckMap = Map<string, PartitionAcks[]>;

/** How many acknowledgements of each wire type (0 gap .. 4 renew) a partition's list holds. */
function ackCounts(types: readonly number[]): number[] {
  const counts = [0, 0, 0, 0, 0];
  for (const t of types) if (t >= 0 && t < counts.length) counts[t]++;
  return counts;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid ${name} ${v}: expected a non-negative number`);
  }
  return v;
}

const COORDINATOR_ERRORS = new Set<number>([
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

const DONE: IteratorResult<never> = { done: true, value: undefined };

/**
 * A share-group member. Create one with `client.shareConsumer()`.
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * const topic = `doc-share-${crypto.randomUUID()}`;
 * await client.admin().createTopics([{ topic, partitions: 1 }]);
 * await client.admin().alterShareGroupConfigs(topic, { "share.auto.offset.reset": "earliest" });
 * await client.producer().send({ topic, messages: [{ value: "job 1" }] });
 * await using queue = client.shareConsumer({ groupId: topic, topics: [topic], acknowledgementMode: "explicit" });
 * for await (const record of queue) {
 *   console.log(record.text(), record.deliveryCount);
 *   record.accept();
 *   break; // leaving the loop sends the acknowledgement and leaves the group
 * }
 * ```
 */
export class ShareConsumer implements AsyncIterable<ShareRecord>, AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #groupId: string;
  readonly #topics: string[];
  readonly #implicit: boolean;
  readonly #maxRecords: number;
  readonly #maxWaitMs: number;
  /** The free room in the buffer at which to fetch again. */
  readonly #refillAt: number;
  readonly #maxBytes: number;
  readonly #retryBackoffMs: number;
  readonly #rackId: string | null;
  readonly #onError: ((err: KafkaError) => void) | null;
  readonly #log: Log;
  readonly #events: EventHub;
  readonly #untrack: () => void;
  readonly #lane: `group/${string}`;
  readonly #fetchLane: `fetch/${string}`;
  readonly #memberId: string = crypto.randomUUID();
  #memberEpoch = 0;
  #heartbeatIntervalMs = 5000;
  #coordinator: Promise<Connection> | null = null;
  /** The assignment: partition key to partition. */
  #assigned = new Map<string, SharePartition>();
  readonly #sessions = new Map<number, ShareSession>();
  readonly #buffer: ShareRecord[] = [];
  #head = 0;
  #inHand: ShareRecord | null = null;
  readonly #data = new Signal();
  readonly #room = new Signal();
  readonly #wake = new Signal();
  #stopping = false;
  #acksClosed = false;
  #closing: Promise<void> | null = null;
  /** Aborts when a `close({ signal })` signal does: the close turns hard. */
  readonly #hard = new Linked();
  #fatal: Error | null = null;
  #fatalDelivered = false;
  #heartbeat: Promise<void>;
  /** Fails the iterator when subscribed topics are bad or stay missing; ends once all exist. */
  #watch: Promise<void>;
  /** Wakes the topic watch when closing. */
  readonly #tick = new Signal();
  /** Where fetches and acknowledgements are counted; null when the client has `metrics: false`. */
  readonly #metrics: ShareConsumerRecorder | null;
  /** OpenTelemetry: the span of the record in hand; null when telemetry is off. */
  readonly #trace: ProcessTrace | null;
  /** The record whose process span is open. */
  #traced: ShareRecord | null = null;
  readonly #unobserve: () => void;

  /**
   * Creates a share consumer and starts joining; use `client.shareConsumer()`.
   *
   * @param client The client whose connections it shares.
   * @param opts Group, topics and limits.
   */
  constructor(client: ClientContext, opts: ShareConsumerOptions) {
    if (opts === undefined || opts === null) {
      throw new TypeError("A share consumer needs { groupId, topics }");
    }
    checkOptions(opts, OPTION_KEYS, "share consumer options");
    if (typeof opts.groupId !== "string" || opts.groupId.length === 0) {
      throw new TypeError(`Invalid groupId ${JSON.stringify(opts.groupId)}: expected a non-empty string`);
    }
    if (
      !Array.isArray(opts.topics) || opts.topics.length === 0 ||
      opts.topics.some((t) => typeof t !== "string" || t.length === 0)
    ) {
      throw new TypeError(
        `Invalid topics ${JSON.stringify(opts.topics)}: expected a non-empty array of names`,
      );
    }
    const mode = opts.acknowledgementMode ?? "implicit";
    if (mode !== "implicit" && mode !== "explicit") {
      throw new TypeError(
        `Invalid acknowledgementMode ${JSON.stringify(mode)}: expected "implicit" or "explicit"`,
      );
    }
    if (opts.onError !== undefined && typeof opts.onError !== "function") {
      throw new TypeError(`Invalid onError: expected a function, got ${typeof opts.onError}`);
    }
    this.#cluster = client.cluster;
    this.#groupId = opts.groupId;
    this.#topics = [...opts.topics];
    this.#implicit = mode === "implicit";
    this.#maxRecords = nonNegative("maxRecords", opts.maxRecords, 500);
    if (this.#maxRecords < 1 || !Number.isInteger(this.#maxRecords)) {
      throw new RangeError(`Invalid maxRecords ${opts.maxRecords}: expected a positive integer`);
    }
    this.#refillAt = Math.ceil(this.#maxRecords / 2);
    this.#maxWaitMs = nonNegative("maxWaitMs", opts.maxWaitMs, 500);
    this.#maxBytes = nonNegative("maxBytes", opts.maxBytes, 50 << 20);
    this.#retryBackoffMs = nonNegative("retryBackoffMs", opts.retryBackoffMs, 100);
    this.#rackId = opts.rackId ?? null;
    const missingTopicTimeoutMs = missingTopicTimeout(opts.missingTopicTimeoutMs);
    this.#onError = opts.onError ?? null;
    this.#log = client.cluster.hub.log.derive(opts.logger, opts.logLevel);
    this.#events = new EventHub(this.#log, client.cluster.hub);
    this.#metrics = client.cluster.recorder ? new ShareConsumerRecorder() : null;
    // OpenTelemetry, registered once nothing in the constructor can throw any more.
    this.#trace = client.telemetry?.consumer(this.#groupId) ?? null;
    this.#unobserve = client.telemetry?.observe(
      "share-consumer",
      () => this.metrics(),
      { "messaging.consumer.group.name": this.#groupId },
    ) ?? (() => {});
    const id = crypto.randomUUID();
    this.#lane = `group/${id}`;
    this.#fetchLane = `fetch/${id}`;
    this.#untrack = client.track((signal) =>
      this.close({ signal }).catch((err) => {
        if (signal?.aborted && err === signal.reason) return;
        this.#report(err instanceof KafkaError ? err : new KafkaError(String(err)));
      })
    );
    const bad = badTopicName(this.#topics);
    if (bad) {
      // Nothing can ever be assigned: the iterator fails at once.
      this.#fail(bad);
      this.#heartbeat = this.#watch = Promise.resolve();
      return;
    }
    this.#heartbeat = this.#heartbeatLoop();
    this.#watch = watchTopics(this.#cluster, this.#topics, missingTopicTimeoutMs, {
      stopping: () => this.#stopping,
      fail: (err) => this.#fail(err),
      wait: (ms) => this.#tick.wait(ms),
    });
  }

  /** The member id (chosen by the client, as share groups ask). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The partitions assigned to this member now. */
  get assignment(): { topic: string; partition: number }[] {
    return [...this.#assigned.values()].map((tp) => ({ topic: tp.topic, partition: tp.partition }));
  }

  /**
   * The share consumer's events: for now the client's (`connected`, `disconnected`,
   * `reconnecting`, `metadata`, `throttled`). Ends when it closes; `break` unsubscribes.
   *
   * @param opts The subscriber's buffer size.
   */
  events(opts?: EventsOptions): AsyncIterableIterator<KafkaEvent> {
    return this.#events.subscribe(opts);
  }

  /**
   * A snapshot of this share consumer's metrics: records received (totals and per
   * second, redeliveries among them), ShareFetch count, latency, records per fetch
   * and failures, the acknowledgements the broker confirmed (accepted, released,
   * rejected, renewed), ShareAcknowledge count, latency and failures, expired
   * locks, requests in flight and the buffer's size. The connections' own metrics
   * (requests per broker and API, bytes) are in `client.metrics()`. Empty (zeros,
   * except `buffered`) when the client was made with `metrics: false`.
   *
   * @example
   * ```ts ignore
   * const m = queue.metrics();
   * console.log(m.recordsAccepted, m.recordsReleased, m.redeliveries, m.fetchLatencyMs.p99);
   * ```
   */
  metrics(): ShareConsumerMetrics {
    return (this.#metrics ?? new ShareConsumerRecorder()).snapshot(this.#buffered);
  }

  /** @internal A record's acquisition lock was found expired. */
  lockExpired(): void {
    if (this.#metrics !== null) this.#metrics.locksExpired++;
  }

  #report(err: KafkaError, evenWhenStopping = false): void {
    if (this.#stopping && !evenWhenStopping) return;
    const fields = { groupId: this.#groupId, error: err };
    if (this.#onError) {
      try {
        this.#onError(err);
      } catch (hookErr) {
        this.#log.error(`kafka-deno share consumer: the onError hook threw while handling: ${err.message}`, {
          ...fields,
          error: hookErr,
          handling: err,
        });
      }
    } else this.#log.warn(`kafka-deno share consumer (group ${this.#groupId}): ${err.message}`, fields);
  }

  #fail(err: Error): void {
    this.#fatal ??= err;
    this.#data.notify();
  }

  // ---- membership ----

  #coordinatorConnection(): Promise<Connection> {
    if (this.#coordinator) return this.#coordinator;
    const p = (async () => {
      const conn = await this.#cluster.anyConnection();
      const res = await conn.request(findCoordinator, {
        keyType: CoordinatorKeyType.GROUP,
        coordinatorKeys: [this.#groupId],
      });
      const c = res.coordinators[0];
      if (!c) throw new KafkaError(`FindCoordinator answered without a coordinator for ${this.#groupId}`);
      if (c.errorCode) {
        throw new BrokerError(c.errorCode, {
          api: "FindCoordinator",
          groupId: this.#groupId,
          brokerMessage: c.errorMessage,
        });
      }
      if (!this.#cluster.brokers.some((b) => b.nodeId === c.nodeId)) await this.#cluster.refreshMetadata();
      return await this.#cluster.connectionTo(c.nodeId, this.#lane);
    })();
    this.#coordinator = p;
    p.catch(() => {
      if (this.#coordinator === p) this.#coordinator = null;
    });
    return p;
  }

  async #heartbeatLoop(): Promise<void> {
    let backoff = this.#retryBackoffMs;
    let subscribe = true;
    while (!this.#stopping) {
      let wait = this.#heartbeatIntervalMs;
      try {
        const conn = await this.#coordinatorConnection();
        const res = await conn.request(shareGroupHeartbeat, {
          groupId: this.#groupId,
          memberId: this.#memberId,
          memberEpoch: this.#memberEpoch,
          rackId: this.#rackId,
          subscribedTopicNames: subscribe ? this.#topics : null,
        });
        if (this.#stopping) break;
        if (res.errorCode !== 0) {
          const err = new BrokerError(res.errorCode, {
            api: "ShareGroupHeartbeat",
            groupId: this.#groupId,
            brokerMessage: res.errorMessage,
          });
          if (COORDINATOR_ERRORS.has(res.errorCode)) {
            this.#coordinator = null;
          } else if (
            res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || res.errorCode === ErrorCode.FENCED_MEMBER_EPOCH
          ) {
            // Fenced: join again from epoch 0; the broker has released what this member held.
            this.#memberEpoch = 0;
            subscribe = true;
            this.#setAssignment([]);
            this.#report(err);
          } else if (!err.retriable) {
            this.#fail(err);
            return;
          } else this.#report(err);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 1000);
          continue;
        }
        backoff = this.#retryBackoffMs;
        subscribe = false;
        this.#memberEpoch = res.memberEpoch;
        if (res.heartbeatIntervalMs > 0) this.#heartbeatIntervalMs = res.heartbeatIntervalMs;
        // Until the first assignment arrives, ask sooner than the interval (the assignor runs every second or so).
        wait = this.#assigned.size === 0 && res.assignment === null
          ? Math.min(this.#heartbeatIntervalMs, 1000)
          : this.#heartbeatIntervalMs;
        if (res.assignment) {
          await this.#applyAssignment(res.assignment.topicPartitions);
        }
      } catch (err) {
        if (this.#stopping) break;
        if (err instanceof AuthenticationError || err instanceof UnsupportedVersionError) {
          this.#fail(err);
          return;
        }
        this.#coordinator = null;
        // A coordinator that is moving or still loading (a new broker creates the share-group state topic
        // first) is found again after the backoff, as on a heartbeat's answer: nothing to report.
        if (!(err instanceof BrokerError && COORDINATOR_ERRORS.has(err.code))) {
          this.#report(err instanceof KafkaError ? err : new KafkaError(String(err), { cause: err }));
        }
        wait = backoff;
        backoff = Math.min(backoff * 2, 1000);
      }
      await this.#wake.wait(wait);
    }
  }

  async #applyAssignment(tps: { topicId: string; partitions: number[] }[]): Promise<void> {
    let names = tps.map((t) => this.#cluster.topicName(t.topicId));
    if (names.some((n) => n === undefined)) {
      await this.#cluster.refreshMetadata(this.#topics);
      names = tps.map((t) => this.#cluster.topicName(t.topicId));
    }
    const list: SharePartition[] = [];
    tps.forEach((t, i) => {
      const topic = names[i];
      if (topic === undefined) {
        this.#report(new KafkaError(`Assigned topic id ${t.topicId} is not in the metadata yet; retrying`));
        return;
      }
      for (const p of t.partitions) {
        const key = `${t.topicId}:${p}`;
        list.push(this.#assigned.get(key) ?? { topic, topicId: t.topicId, partition: p, key });
      }
    });
    this.#setAssignment(list);
  }

  #setAssignment(list: SharePartition[]): void {
    this.#assigned = new Map(list.map((tp) => [tp.key, tp]));
    this.#startSessions();
  }

  /** The broker that leads a partition (-1 when unknown). */
  #leaderOf(tp: SharePartition): number {
    const t = this.#cluster.cachedTopic(tp.topic);
    return t?.partitions[tp.partition]?.leader ?? -1;
  }

  #startSessions(): void {
    for (const tp of this.#assigned.values()) {
      const node = this.#leaderOf(tp);
      if (node < 0) continue;
      let s = this.#sessions.get(node);
      if (!s) this.#sessions.set(node, s = new ShareSession(node));
      if (!s.loop) s.loop = this.#fetchLoop(s);
    }
    this.#room.notify();
  }

  // ---- fetching ----

  get #buffered(): number {
    return this.#buffer.length - this.#head;
  }

  async #fetchLoop(s: ShareSession): Promise<void> {
    let backoff = this.#retryBackoffMs;
    while (!this.#stopping && this.#fatal === null) {
      const mine = [...this.#assigned.values()].filter((tp) => this.#leaderOf(tp) === s.nodeId);
      const room = this.#maxRecords - this.#buffered;
      // Refill once half the buffer is free, not record by record: fewer, fuller fetches.
      if ((mine.length === 0 && s.inSession.size === 0 && s.pending.size === 0) || room < this.#refillAt) {
        await this.#room.wait(this.#maxWaitMs);
        continue;
      }
      try {
        await s.exclusive(() => this.#fetchOnce(s, mine, room));
        backoff = this.#retryBackoffMs;
      } catch (err) {
        if (this.#stopping) break;
        if (err instanceof AuthenticationError || err instanceof UnsupportedVersionError) {
          this.#fail(err);
          break;
        }
        this.#report(err instanceof KafkaError ? err : new KafkaError(String(err), { cause: err }));
        if (err instanceof ConnectionError || (err instanceof BrokerError && err.refreshMetadata)) {
          await this.#cluster.refreshMetadata(this.#topics).catch(() => {});
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
    s.loop = null;
  }

  /** Takes a session's pending acknowledgements as request topics. */
  #takeAcks(s: ShareSession, only?: Set<string>) {
    const byTopic: AckMap = new Map();
    for (const [key, p] of s.pending) {
      if (only && !only.has(key)) continue;
      s.pending.delete(key);
      let l = byTopic.get(p.tp.topicId);
      if (!l) byTopic.set(p.tp.topicId, l = []);
      l.push({
        tp: p.tp,
        batches: ackBatches(p.offsets, p.types),
        counts: this.#metrics !== null ? ackCounts(p.types) : null,
      });
    }
    return byTopic;
  }

  async #fetchOnce(s: ShareSession, mine: SharePartition[], room: number): Promise<void> {
    const conn = await this.#cluster.connectionTo(s.nodeId, this.#fetchLane);
    const want = new Set(mine.map((tp) => tp.key));
    // Acknowledgements for partitions no longer fetched here go by ShareAcknowledge.
    const stray = [...s.pending.keys()].filter((k) => !want.has(k));
    if (stray.length) await this.#acknowledge(s, conn, this.#takeAcks(s, new Set(stray)), false);
    const acks = this.#takeAcks(s);
    const topics = new Map<string, ShareFetchRequestFetchTopic>();
    for (const tp of mine) {
      const ack = acks.get(tp.topicId)?.find((a) => a.tp === tp);
      if (s.inSession.has(tp.key) && !ack) continue;
      let t = topics.get(tp.topicId);
      if (!t) topics.set(tp.topicId, t = { topicId: tp.topicId, partitions: [] });
      t.partitions.push({ partitionIndex: tp.partition, acknowledgementBatches: ack?.batches ?? [] });
    }
    const forgotten = new Map<string, ShareFetchRequestForgottenTopic>();
    for (const [key, tp] of s.inSession) {
      if (want.has(key)) continue;
      let f = forgotten.get(tp.topicId);
      if (!f) forgotten.set(tp.topicId, f = { topicId: tp.topicId, partitions: [] });
      f.partitions.push(tp.partition);
    }
    if (mine.length === 0 && forgotten.size === 0) return;
    const sentAcks = [...acks.values()].flat();
    const sentAt = Date.now();
    const m = this.#metrics;
    const start = m !== null ? performance.now() : 0;
    if (m !== null) m.inFlight++;
    let res;
    try {
      res = await conn.request(shareFetch, {
        groupId: this.#groupId,
        memberId: this.#memberId,
        shareSessionEpoch: s.epoch,
        maxWaitMs: this.#stopping ? 0 : this.#maxWaitMs,
        minBytes: 1,
        maxBytes: this.#maxBytes,
        maxRecords: room,
        batchSize: room,
        shareAcquireMode: 1, // record_limit: never more than maxRecords (v2; ignorable before)
        topics: [...topics.values()],
        forgottenTopicsData: [...forgotten.values()],
      }, { timeoutMs: this.#maxWaitMs + this.#cluster.options.requestTimeoutMs });
    } catch (err) {
      // The broker may or may not have seen it: start a new session; those records come back after their locks.
      this.#resetSession(s, sentAcks.length);
      m?.fetchFailed(err);
      throw err;
    } finally {
      if (m !== null) m.inFlight--;
    }
    const fetchMs = m !== null ? performance.now() - start : 0;
    if (res.errorCode !== 0) {
      this.#resetSession(s, sentAcks.length);
      const err = new BrokerError(res.errorCode, {
        api: "ShareFetch",
        groupId: this.#groupId,
        brokerMessage: res.errorMessage,
      });
      m?.fetchFailed(err);
      if (
        res.errorCode === ErrorCode.SHARE_SESSION_NOT_FOUND ||
        res.errorCode === ErrorCode.INVALID_SHARE_SESSION_EPOCH ||
        res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID
      ) {
        if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) await sleep(this.#retryBackoffMs);
        return; // a fresh session next time
      }
      throw err;
    }
    s.nextEpoch();
    for (const tp of mine) s.inSession.set(tp.key, tp);
    for (const key of [...s.inSession.keys()]) if (!want.has(key)) s.inSession.delete(key);
    const lockUntil = sentAt + res.acquisitionLockTimeoutMs;
    let arrived = false;
    // Partitions whose piggybacked acknowledgements the broker refused (counted only when metrics are on).
    let refused: Set<string> | null = null;
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const tp = s.inSession.get(`${t.topicId}:${p.partitionIndex}`);
        if (!tp) continue;
        if (p.acknowledgeErrorCode !== 0) {
          const err = new BrokerError(p.acknowledgeErrorCode, {
            api: "ShareFetch",
            groupId: this.#groupId,
            topic: tp.topic,
            partition: tp.partition,
            brokerMessage: p.acknowledgeErrorMessage ??
              "acknowledgements refused: those records are delivered again",
          });
          if (m !== null) {
            (refused ??= new Set()).add(tp.key);
            m.ackFailed(err);
            if (p.acknowledgeErrorCode === ErrorCode.INVALID_RECORD_STATE) m.locksExpired++;
          }
          this.#report(err);
        }
        if (p.errorCode !== 0) {
          const err = new BrokerError(p.errorCode, {
            api: "ShareFetch",
            groupId: this.#groupId,
            topic: tp.topic,
            partition: tp.partition,
            brokerMessage: p.errorMessage,
          });
          m?.errors.add(err);
          if (err.refreshMetadata) {
            s.inSession.delete(tp.key);
            await this.#cluster.refreshMetadata(this.#topics).catch(() => {});
            this.#startSessions();
          }
          this.#report(err);
          continue;
        }
        if (this.#accept(s, tp, p, lockUntil)) arrived = true;
      }
    }
    if (m !== null) {
      for (const a of sentAcks) if (a.counts !== null && !refused?.has(a.tp.key)) m.confirmed(a.counts);
      m.fetched(fetchMs);
    }
    if (arrived) this.#data.notify();
  }

  /** A failed session request: open a new session next time. */
  #resetSession(s: ShareSession, lostAcks: number): void {
    s.epoch = 0;
    s.inSession.clear();
    if (lostAcks > 0 && !this.#stopping) {
      this.#report(
        new KafkaError(
          `Acknowledgements to broker ${s.nodeId} may not have arrived: their records are delivered again after their locks expire`,
        ),
      );
    }
  }

  /** Buffers the acquired records of one partition; offsets acquired without a record are acknowledged as gaps. */
  #accept(
    s: ShareSession,
    tp: SharePartition,
    p: ShareFetchResponsePartitionData,
    lockUntil: number,
  ): boolean {
    const ranges = p.acquiredRecords;
    if (ranges.length === 0) return false;
    const batches = p.records.length
      ? decodeRecordBatches(p.records, { topic: tp.topic, partition: tp.partition })
      : [];
    let n = 0;
    let redelivered = 0;
    let ri = 0;
    // The lowest acquired offset not yet handed out nor acknowledged as a gap.
    let next = ranges[0].firstOffset;
    outer: for (const b of batches) {
      if (b.isControl) continue;
      for (const r of b.records) {
        while (ri < ranges.length && r.offset > ranges[ri].lastOffset) {
          const range = ranges[ri];
          for (let o = next > range.firstOffset ? next : range.firstOffset; o <= range.lastOffset; o++) {
            s.add(tp, o, ACK_GAP);
          }
          ri++;
          if (ri < ranges.length) next = ranges[ri].firstOffset;
        }
        if (ri >= ranges.length) break outer;
        const range = ranges[ri];
        if (r.offset < range.firstOffset) continue;
        for (let o = next > range.firstOffset ? next : range.firstOffset; o < r.offset; o++) {
          s.add(tp, o, ACK_GAP);
        }
        this.#buffer.push(
          new ShareRecord({
            tp,
            record: r,
            leaderEpoch: b.partitionLeaderEpoch,
            deliveryCount: range.deliveryCount,
            lockExpiresAt: lockUntil,
            nodeId: s.nodeId,
            owner: this,
          }),
        );
        n++;
        if (range.deliveryCount > 1) redelivered++;
        next = r.offset + 1n;
      }
    }
    for (; ri < ranges.length; ri++) {
      const range = ranges[ri];
      for (let o = next > range.firstOffset ? next : range.firstOffset; o <= range.lastOffset; o++) {
        s.add(tp, o, ACK_GAP);
      }
    }
    this.#metrics?.partition(n, p.records.length, redelivered);
    return n > 0;
  }

  // ---- acknowledging ----

  /** @internal Queues an acknowledgement for the next request to the record's broker. */
  acknowledge(record: ShareRecord, type: number): void {
    if (this.#acksClosed) {
      throw new ClosedError(
        `The share consumer is closed: ${record.topic}[${record.partition}] offset ${record.offset} was released`,
      );
    }
    let s = this.#sessions.get(record.nodeId);
    if (!s) this.#sessions.set(record.nodeId, s = new ShareSession(record.nodeId));
    s.add(record.tp, record.offset, type);
    if (this.#traced === record) this.#endSpan(type);
  }

  /** Ends the open process span with how its record was acknowledged. */
  #endSpan(type: number): void {
    this.#traced = null;
    this.#trace!.end({ "messaging.kafka.acknowledgement.type": ACK_NAMES[type] });
  }

  /** @internal Renews a record's lock with ShareAcknowledge v2 (KIP-1222). */
  async renew(record: ShareRecord): Promise<void> {
    const s = this.#sessions.get(record.nodeId);
    if (!s || this.#stopping) throw new ClosedError("The share consumer is closed");
    const conn = await this.#cluster.connectionTo(s.nodeId, this.#fetchLane);
    if (conn.versionFor(shareAcknowledge) < 2) {
      throw new UnsupportedVersionError(
        `Broker ${s.nodeId} cannot renew acquisition locks: renew() needs ShareAcknowledge v2 (KIP-1222, Kafka 4.2+)`,
      );
    }
    const byTopic: AckMap = new Map([[record.tp.topicId, [{
      tp: record.tp,
      batches: [{ firstOffset: record.offset, lastOffset: record.offset, acknowledgeTypes: [ACK_RENEW] }],
      counts: this.#metrics !== null ? ackCounts([ACK_RENEW]) : null,
    }]]]);
    const sentAt = Date.now();
    const lockMs = await s.exclusive(() => this.#acknowledge(s, conn, byTopic, true));
    record.extendLock(sentAt + lockMs);
  }

  /** Sends acknowledgements with ShareAcknowledge; returns the lock timeout the broker gave. */
  async #acknowledge(
    s: ShareSession,
    conn: Connection,
    byTopic: AckMap,
    renew: boolean,
    final = false,
  ): Promise<number> {
    if (byTopic.size === 0 && !final) return 0;
    if (s.epoch === 0 && !final) {
      if (renew) {
        throw new AcquisitionLockExpiredError("The share session was reset: the record's lock is gone");
      }
      // No session: these records' locks went with it.
      this.#report(
        new KafkaError(
          `No share session with broker ${s.nodeId}: acknowledgements dropped, records will be redelivered`,
        ),
      );
      return 0;
    }
    if (s.epoch === 0) return 0;
    const topics: ShareAcknowledgeRequestAcknowledgeTopic[] = [...byTopic].map(([topicId, l]) => ({
      topicId,
      partitions: l.map((a) => ({ partitionIndex: a.tp.partition, acknowledgementBatches: a.batches })),
    }));
    const m = this.#metrics;
    const start = m !== null ? performance.now() : 0;
    if (m !== null) m.inFlight++;
    let res;
    try {
      res = await conn.request(shareAcknowledge, {
        groupId: this.#groupId,
        memberId: this.#memberId,
        shareSessionEpoch: final ? -1 : s.epoch,
        isRenewAck: renew,
        topics,
      });
    } catch (err) {
      m?.ackFailed(err);
      throw err;
    } finally {
      if (m !== null) m.inFlight--;
    }
    if (m !== null) m.ackLatency.record(performance.now() - start);
    if (res.errorCode !== 0) {
      s.epoch = 0;
      s.inSession.clear();
      const err = new BrokerError(res.errorCode, {
        api: "ShareAcknowledge",
        groupId: this.#groupId,
        brokerMessage: res.errorMessage,
      });
      m?.ackFailed(err);
      throw err;
    }
    if (final) s.epoch = 0;
    else s.nextEpoch();
    if (m !== null) this.#countAcknowledged(m, byTopic, res.responses);
    for (const t of res.responses) {
      for (const p of t.partitions) {
        if (p.errorCode === 0) continue;
        const tp = byTopic.get(t.topicId)?.find((a) => a.tp.partition === p.partitionIndex)?.tp;
        const err = new BrokerError(p.errorCode, {
          api: "ShareAcknowledge",
          groupId: this.#groupId,
          topic: tp?.topic,
          partition: p.partitionIndex,
          brokerMessage: p.errorMessage,
        });
        if (p.errorCode === ErrorCode.INVALID_RECORD_STATE) {
          throw new AcquisitionLockExpiredError(
            `The broker refused the acknowledgement of ${tp?.topic}[${p.partitionIndex}]: the records are no longer ` +
              `acquired by this member (their lock expired); they are delivered again`,
            { cause: err },
          );
        }
        throw err;
      }
    }
    return res.acquisitionLockTimeoutMs;
  }

  /** Counts what a ShareAcknowledge answer confirmed, and what it refused. */
  #countAcknowledged(
    m: ShareConsumerRecorder,
    byTopic: AckMap,
    responses: readonly {
      topicId: string;
      partitions: readonly { partitionIndex: number; errorCode: number }[];
    }[],
  ): void {
    for (const t of responses) {
      const sent = byTopic.get(t.topicId);
      for (const p of t.partitions) {
        const a = sent?.find((x) => x.tp.partition === p.partitionIndex);
        if (p.errorCode === 0) {
          if (a?.counts) m.confirmed(a.counts);
          continue;
        }
        m.ackFailed(new BrokerError(p.errorCode, { api: "ShareAcknowledge", groupId: this.#groupId }));
        if (p.errorCode === ErrorCode.INVALID_RECORD_STATE) m.locksExpired++;
      }
    }
  }

  /**
   * Sends every pending acknowledgement now (ShareAcknowledge) and waits for the brokers'
   * answers. In implicit mode the record in hand is accepted first.
   *
   * @throws {AcquisitionLockExpiredError} When the broker had taken records back already.
   */
  async commit(): Promise<void> {
    if (this.#fatal) throw this.#fatal;
    if (this.#implicit) this.#acceptInHand();
    const errors: unknown[] = [];
    await Promise.all([...this.#sessions.values()].map((s) =>
      s.exclusive(async () => {
        const acks = this.#takeAcks(s);
        if (acks.size === 0) return;
        const conn = await this.#cluster.connectionTo(s.nodeId, this.#fetchLane);
        await this.#acknowledge(s, conn, acks, false);
      }).catch((err) => errors.push(err))
    ));
    if (errors.length) throw errors[0];
  }

  #acceptInHand(): void {
    const r = this.#inHand;
    this.#inHand = null;
    if (r && r.acknowledged === null && Date.now() < r.lockExpiresAt) {
      this.acknowledge(r, ACK_ACCEPT);
      r.markAcknowledged("accept");
    }
  }

  // ---- iteration ----

  /** The next record; waits for one. */
  next(): Promise<IteratorResult<ShareRecord>> {
    return this.#next(undefined);
  }

  async #next(signal: AbortSignal | undefined): Promise<IteratorResult<ShareRecord>> {
    if (this.#implicit) this.#acceptInHand();
    else this.#inHand = null;
    // An abort wakes the wait; the loop then rejects before taking a record.
    const unlisten = signal === undefined ? undefined : onAbort(signal, () => this.#data.notify());
    try {
      while (true) {
        signal?.throwIfAborted();
        if (this.#fatal) {
          this.#fatalDelivered = true;
          throw this.#fatal;
        }
        if (this.#closing) return DONE;
        while (this.#head < this.#buffer.length) {
          const r = this.#buffer[this.#head++];
          if (this.#head === this.#buffer.length) {
            this.#buffer.length = 0;
            this.#head = 0;
          }
          this.#room.notify();
          // A record whose lock expired while buffered is the broker's again: skip it.
          if (Date.now() >= r.lockExpiresAt) {
            if (this.#metrics !== null) this.#metrics.locksExpired++;
            continue;
          }
          this.#inHand = r;
          if (this.#trace !== null) {
            this.#trace.record(r, { "messaging.kafka.delivery_count": r.deliveryCount });
            this.#traced = r;
          }
          return { done: false, value: r };
        }
        await this.#data.wait(1000);
      }
    } finally {
      unlisten?.();
    }
  }

  /** Leaving a `for await` loop closes the consumer (which releases what is not acknowledged). */
  async return(): Promise<IteratorResult<ShareRecord>> {
    await this.close();
    return DONE;
  }

  /** Iterates the records. */
  [Symbol.asyncIterator](): AsyncIterator<ShareRecord> {
    return { next: () => this.next(), return: () => this.return() };
  }

  /**
   * Iterates the records like `for await (const r of consumer)`, with a `signal`
   * that ends the iteration (see {@linkcode ShareIterateOptions}).
   *
   * @param opts The signal.
   */
  records(opts: ShareIterateOptions = {}): AsyncIterable<ShareRecord> {
    checkOptions(opts, ITERATE_KEYS, "records() options");
    const signal = opts.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("records(): signal must be an AbortSignal");
    }
    return {
      [Symbol.asyncIterator]: () => ({ next: () => this.#next(signal), return: () => this.return() }),
    };
  }

  /**
   * Releases every record handed out or buffered and not acknowledged (in implicit mode,
   * records before the one in hand were accepted already), sends the pending
   * acknowledgements, closes the share sessions and leaves the group. Idempotent.
   * With `signal`, an abort (also during a close an earlier call started) skips
   * what is left of that: see {@linkcode ShareCloseOptions}.
   *
   * @param opts The signal that cuts the graceful close short.
   */
  close(opts: ShareCloseOptions = {}): Promise<void> {
    return closeWith(opts, CLOSE_KEYS, this.#hard, (signal) => {
      if (signal !== undefined) this.#data.notify();
      return this.#closing ??= this.#doClose().finally(() => this.#hard.dispose());
    }, true);
  }

  async #doClose(): Promise<void> {
    this.#untrack();
    this.#events.close();
    this.#data.notify();
    // Let the fetch loops finish their request (bounded by maxWaitMs), then send the rest.
    this.#stopping = true;
    this.#wake.notify();
    this.#tick.notify();
    this.#room.notify();
    await Promise.all([...this.#sessions.values()].map((s) => s.loop ?? Promise.resolve()));
    const release = (r: ShareRecord) => {
      if (r.acknowledged !== null || Date.now() >= r.lockExpiresAt) return;
      let s = this.#sessions.get(r.nodeId);
      if (!s) this.#sessions.set(r.nodeId, s = new ShareSession(r.nodeId));
      s.add(r.tp, r.offset, ACK_RELEASE);
      r.markAcknowledged("release");
      if (this.#traced === r) this.#endSpan(ACK_RELEASE);
    };
    const hard = this.#hard.signal;
    if (this.#inHand && !hard.aborted) release(this.#inHand);
    this.#inHand = null;
    if (!hard.aborted) { for (let i = this.#head; i < this.#buffer.length; i++) release(this.#buffer[i]); }
    this.#buffer.length = 0;
    this.#head = 0;
    this.#acksClosed = true;
    const errors: unknown[] = [];
    await Promise.all([...this.#sessions.values()].map((s) =>
      s.exclusive(async () => {
        if (s.epoch === 0 || hard.aborted) return;
        const conn = await this.#cluster.connectionTo(s.nodeId, this.#fetchLane);
        await this.#acknowledge(s, conn, this.#takeAcks(s), false, true);
      }).catch((err) => {
        // Records the broker took back already are delivered again anyway: heard of, not thrown.
        if (err instanceof AcquisitionLockExpiredError) this.#report(err, true);
        else errors.push(err);
      })
    ));
    await this.#heartbeat;
    await this.#watch;
    if (this.#memberEpoch > 0 && !hard.aborted) {
      try {
        const conn = await this.#coordinatorConnection();
        await conn.request(shareGroupHeartbeat, {
          groupId: this.#groupId,
          memberId: this.#memberId,
          memberEpoch: -1,
        });
      } catch (err) {
        errors.push(err);
      }
    }
    this.#memberEpoch = -1;
    this.#traced = null;
    this.#trace?.end();
    this.#unobserve();
    if (this.#fatal && !this.#fatalDelivered) throw this.#fatal;
    if (errors.length) throw errors[0];
  }

  /** Same as {@linkcode ShareConsumer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
