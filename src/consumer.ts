/**
 * The consumer: an async iterable of records (or of batches), in a consumer
 * group (classic or KIP-848 consumer protocol, see `group.ts`) or standalone on explicit
 * partitions. Fetching happens in the background (see `fetcher.ts`) into a
 * bounded prefetch buffer; handing a buffered record out does no await and no
 * copy.
 *
 * Offsets: a record counts as processed once the application asks for the
 * next one, or commits (`commit()`, `commit(record)`). The record in hand when
 * the loop is left (`break`, `return` or an exception: JavaScript cannot tell
 * them apart) or when the consumer closes is not processed. Auto-commit (every
 * `autoCommitIntervalMs`, before partitions are given up in a rebalance, and on
 * close) commits what was processed, so a crash or an exception replays the
 * record in hand: at-least-once. The committed offset is the next one to read
 * (last processed + 1).
 *
 * Background failures are never dropped: fatal ones (the membership failed for
 * good, a subscription that cannot work, a commit on close) reject `next()`
 * and `close()`; recoverable ones (an auto-commit to be retried, a commit
 * before a rebalance) go to the `onError` option, or are logged as warnings
 * (the `logger` option; `console` by default).
 *
 * @module
 */

import {
  type Assignor,
  cooperativeStickyAssignor,
  DEFAULT_ASSIGNORS,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
} from "./assignors.ts";
import type { ClientContext } from "./context.ts";
import type { Cluster } from "./cluster.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  CommitFailedError,
  KafkaError,
  TimeoutError,
  UnsupportedVersionError,
} from "./errors.ts";
import { checkOptions } from "./options.ts";
import { badTopicName, missingTopicTimeout, topicNameProblem, watchTopics } from "./topics.ts";
import { abortable, closeWith, Linked, onAbort } from "./abort.ts";
import {
  type Chunk,
  ConsumerRecord,
  epochBefore,
  Fetcher,
  type OffsetSpec,
  type PartitionState,
  tpKey,
} from "./fetcher.ts";
import type { RecordHeader } from "../protocol/record_batch.ts";
import { GroupMember, type OffsetToCommit, Signal, type TopicPartitions } from "./group.ts";
import { EventHub, type EventsOptions, type KafkaEvent } from "./observe/events.ts";
import type { Log, Logger, LogLevel } from "./observe/log.ts";
import { type ConsumerMetrics, ConsumerRecorder } from "./observe/metrics.ts";
import type { ProcessTrace } from "./observe/otel.ts";

export { ConsumerRecord, type OffsetSpec, type RecordHeader };

/** A topic and a partition. */
export interface TopicPartition {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
}

/**
 * A rebalance listener: it gets the partitions concerned (sorted), and the
 * rebalance waits for the promise it returns. What it throws reaches the
 * application through the iterator's next `next()` (the rebalance goes on).
 */
export type RebalanceListener = (partitions: TopicPartition[]) => void | Promise<void>;

/** A topic to read without a group (standalone mode). */
export interface AssignedTopic {
  /** The topic. */
  topic: string;
  /** Its partitions; all of them when omitted. */
  partitions?: number[];
  /**
   * Where to start: "earliest", "latest", `{ timestamp }` (the first record at or after it) or
   * `{ offset }`. When omitted: the group's committed offset if `groupId` is set and one exists,
   * else the reset policy (`fromBeginning`).
   */
  from?: OffsetSpec;
}

/** The records of one partition from one fetch, as {@linkcode Consumer.batches} yields them. */
export interface ConsumerBatch {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The records, in offset order (at least one). */
  records: ConsumerRecord[];
  /** The partition's high watermark when fetched (lag = highWatermark - last offset - 1). */
  highWatermark: bigint;
}

/**
 * Consumer options shared by group members and standalone consumers.
 * Defaults follow the Java client.
 */
export interface ConsumerBaseOptions {
  /**
   * Where to start a partition that has no committed offset, and where to go after
   * OFFSET_OUT_OF_RANGE: the earliest offset when true, the latest (only new records) when
   * false. Default false, like sarama and the Java client.
   */
  fromBeginning?: boolean;
  /** A static member id (KIP-345): a restart within the session timeout causes no rebalance. */
  groupInstanceId?: string;
  /** The group session timeout. Default 45 s. */
  sessionTimeoutMs?: number;
  /** How often to heartbeat. Default 3 s. */
  heartbeatIntervalMs?: number;
  /** The longest the application may go without asking for records before the member leaves. Default 5 min. */
  maxPollIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin. Default `maxPollIntervalMs`. */
  rebalanceTimeoutMs?: number;
  /** Commit processed offsets automatically. Default true. */
  autoCommit?: boolean;
  /** How often to auto-commit. Default 5 s. */
  autoCommitIntervalMs?: number;
  /**
   * Assignors in order of preference. Default `["range", "cooperative-sticky"]`, like Java's: the
   * member rebalances eagerly (range is eager) but joins groups whose members offer either. The
   * member rebalances cooperatively (KIP-429: it keeps its partitions; only moved ones are
   * revoked) when every assignor listed is cooperative, e.g. `["cooperative-sticky"]`.
   */
  assignors?: ("range" | "roundrobin" | "sticky" | "cooperative-sticky" | Assignor)[];
  /** How long the broker may hold a fetch waiting for `minBytes`. Default 500 ms. */
  maxWaitMs?: number;
  /** The fewest bytes a fetch waits for. Default 1. */
  minBytes?: number;
  /** The most bytes per fetch response. Default 50 MiB. */
  maxBytes?: number;
  /** The most bytes per partition per fetch. Default 1 MiB. */
  maxPartitionBytes?: number;
  /**
   * Prefetch high-water mark in bytes: the fetch loops stop asking while the buffer holds this
   * much, and each request asks for no more than the room left (at least `maxPartitionBytes`).
   * Default 2 MiB: small enough that fetched bytes are usually freed by V8's young-generation
   * collections rather than waiting for a full one, which keeps the process's memory low; raise it
   * for brokers far away (one fetch per broker is in flight, so about this much per round trip).
   */
  maxBufferedBytes?: number;
  /** Prefetch high-water mark in records. Default 100,000. */
  maxBufferedRecords?: number;
  /** The first retry backoff; it doubles up to 1 s. Default 100 ms. */
  retryBackoffMs?: number;
  /**
   * "read_uncommitted" (default, like the Java client) delivers every record;
   * "read_committed" delivers transactional records only once committed, and
   * never those of aborted transactions.
   */
  isolationLevel?: "read_uncommitted" | "read_committed";
  /**
   * How long subscribed topics may stay missing from the cluster before the iterator fails
   * with a {@linkcode TimeoutError} naming them (`Infinity` waits forever). Default 60 s.
   */
  missingTopicTimeoutMs?: number;
  /**
   * Hears of background failures the consumer recovers from: an auto-commit that failed (the
   * next one retries), a commit before a rebalance that failed (those records are delivered
   * again), a LeaveGroup that failed. Fatal failures reject `next()` and `close()` instead.
   * Default: a warning to the `logger`.
   */
  onError?: (err: KafkaError) => void;
  /** This consumer's logger. Default: the client's. */
  logger?: Logger;
  /** This consumer's log level. Default: the client's. */
  logLevel?: LogLevel;
  /**
   * Group subscriptions (`topics`) only. Called with the partitions this member receives, once their starting offsets are known and
   * before any of them is fetched or handed out: `seek()` here moves where reading starts (for
   * example to offsets kept in an external store).
   */
  onAssigned?: RebalanceListener;
  /**
   * Called with the partitions this member gives up in a rebalance (and on close), after the
   * processed records were auto-committed and before the partitions go: no record of them is
   * handed out meanwhile, and `commit()`, `position()` and `seek()` still work on them.
   */
  onRevoked?: RebalanceListener;
  /**
   * Called instead of `onRevoked` when the partitions were already taken away (the member was
   * fenced, or missed its session or `maxPollIntervalMs`): committing them is no longer possible.
   */
  onLost?: RebalanceListener;
}

/** A consumer group member: it subscribes to topics and the group shares their partitions. */
export interface GroupConsumerOptions extends ConsumerBaseOptions {
  /** The consumer group. */
  groupId: string;
  /**
   * Topics to subscribe to as a group member; or, with `groupProtocol: "consumer"`, a regular
   * expression the broker matches topic names against (KIP-848, RE2/J syntax: its `source` is sent),
   * so topics created later that match are picked up.
   */
  topics: string[] | RegExp;
  /** Not with `topics`. */
  assign?: undefined;
  /**
   * The group protocol: "classic" (default; JoinGroup/SyncGroup, every Kafka version, assignors run
   * in the client) or "consumer" (KIP-848, Kafka 4.0+: the broker assigns, members never stop for
   * each other's rebalances). See the README's "Group protocols".
   */
  groupProtocol?: "classic" | "consumer";
  /**
   * With `groupProtocol: "consumer"`: the broker-side assignor, "uniform" or "range" (or another the
   * broker has). Default: the broker's (uniform).
   */
  groupRemoteAssignor?: string;
}

/** A standalone consumer: explicit partitions, no group membership. */
export interface StandaloneConsumerOptions extends ConsumerBaseOptions {
  /** Partitions to read without group membership. */
  assign: AssignedTopic[];
  /** A group whose committed offsets to start from and to commit to (optional). */
  groupId?: string;
  /** Not with `assign`. */
  topics?: undefined;
}

/**
 * Consumer options: a group subscription (`groupId` and `topics`) or explicit
 * partitions (`assign`, with an optional `groupId` for commits).
 */
export type ConsumerOptions = GroupConsumerOptions | StandaloneConsumerOptions;

/** Every key of the options, checked against the types by the compiler. */
const KNOWN_KEYS: Record<keyof GroupConsumerOptions | keyof StandaloneConsumerOptions, true> = {
  groupId: true,
  topics: true,
  assign: true,
  fromBeginning: true,
  groupInstanceId: true,
  sessionTimeoutMs: true,
  heartbeatIntervalMs: true,
  maxPollIntervalMs: true,
  rebalanceTimeoutMs: true,
  autoCommit: true,
  autoCommitIntervalMs: true,
  assignors: true,
  maxWaitMs: true,
  minBytes: true,
  maxBytes: true,
  maxPartitionBytes: true,
  maxBufferedBytes: true,
  maxBufferedRecords: true,
  retryBackoffMs: true,
  isolationLevel: true,
  missingTopicTimeoutMs: true,
  onError: true,
  logger: true,
  logLevel: true,
  onAssigned: true,
  onRevoked: true,
  onLost: true,
  groupProtocol: true,
  groupRemoteAssignor: true,
};
const OPTION_KEYS = Object.keys(KNOWN_KEYS);

/** An offset to commit: the next offset to read in a partition (last processed + 1). */
export interface CommitOffset {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The next offset to read. */
  offset: bigint;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid ${name} ${v}: expected a non-negative number`);
  }
  return v;
}

const DONE: IteratorResult<never> = { done: true, value: undefined };

/** Options of {@linkcode Consumer.records} and {@linkcode Consumer.batches}. */
export interface IterateOptions {
  /**
   * Ends the iteration: the pending `next()` rejects with `signal.reason` at
   * once (and so does every later one of this iterator). Records fetched but not
   * handed out stay where they are: the next iteration gets them, and the
   * consumer stays open (an abort is not a `break`).
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode Consumer.commit}. */
export interface CommitOptions {
  /**
   * Cancels the commit: it rejects with `signal.reason`. A commit request
   * already sent may still be applied by the coordinator (committing the same
   * offsets twice is harmless); no further retry is made.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode Consumer.close}. */
export interface ConsumerCloseOptions {
  /** A close that takes longer turns hard and rejects with a `TimeoutError`. */
  timeoutMs?: number;
  /**
   * Stops waiting for the graceful close (an already-aborted signal closes hard
   * at once): no final commit, no `onRevoked`; the LeaveGroup is written without
   * waiting for its answer (best effort: otherwise the session timeout removes the
   * member); fetches stop; then `close()` rejects with `signal.reason`.
   */
  signal?: AbortSignal;
}

const ITERATE_KEYS_RECORD: Record<keyof IterateOptions, true> = { signal: true };
const ITERATE_KEYS: readonly string[] = Object.keys(ITERATE_KEYS_RECORD);
const COMMIT_KEYS_RECORD: Record<keyof CommitOptions, true> = { signal: true };
const COMMIT_KEYS: readonly string[] = Object.keys(COMMIT_KEYS_RECORD);
const CLOSE_KEYS_RECORD: Record<keyof ConsumerCloseOptions, true> = { timeoutMs: true, signal: true };
const CLOSE_KEYS: readonly string[] = Object.keys(CLOSE_KEYS_RECORD);

/** Throws a TypeError unless `signal` is undefined or an AbortSignal. */
function signalOf(signal: unknown, what: string): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}: signal must be an AbortSignal, got ${signal === null ? "null" : typeof signal}`,
    );
  }
  return signal;
}

/**
 * Reads records from Kafka. Create one with `client.consumer()`.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * const topic = `doc-consumer-${crypto.randomUUID()}`;
 * await client.admin().createTopics([{ topic, partitions: 1 }]);
 * await client.producer().send({ topic, messages: [{ key: "1", value: "hello" }] });
 * await using consumer = client.consumer({ groupId: topic, topics: [topic], fromBeginning: true });
 * for await (const record of consumer) {
 *   console.log(record.partition, record.offset, record.text());
 *   break; // leaving the loop commits and leaves the group
 * }
 * ```
 */
export class Consumer implements AsyncIterable<ConsumerRecord>, AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #fetcher: Fetcher;
  readonly #group: GroupMember | null;
  readonly #groupId: string | null;
  readonly #groupInstanceId: string | null;
  readonly #subscribed: boolean;
  readonly #autoCommit: boolean;
  readonly #autoCommitIntervalMs: number;
  readonly #reset: "earliest" | "latest";
  readonly #onError: ((err: KafkaError) => void) | null;
  readonly #events: EventHub;
  readonly #log: Log;
  readonly #untrack: () => void;
  readonly #tick = new Signal();
  readonly #tasks: Promise<void>[] = [];
  #cur: Chunk | null = null;
  #ackTp: PartitionState | null = null;
  #ackEpoch = 0;
  #ackOffset = 0n;
  #lastPoll = Date.now();
  #waiting = false;
  /** A failure to hand to the application once (the fetcher's). */
  #error: Error | null = null;
  /** A failure that ends the consumer: every `next()` rejects with it, and `close()` unless `next()` did. */
  #fatal: Error | null = null;
  #fatalDelivered = false;
  /** Partitions whose records were handed out since their last commit (marked per chunk, not per record). */
  readonly #handed = new Set<PartitionState>();
  /** Partitions given up with records handed out and not committed: the next `commit()` says so. */
  readonly #lost = new Map<string, TopicPartition>();
  #stopping = false;
  #closing: Promise<void> | null = null;
  /** Aborts when a `close({ signal })` signal does: the close turns hard. */
  readonly #hard = new Linked();
  #commits: Promise<void> = Promise.resolve();
  #generationOfAssignment = 0;
  /**
   * The group generation and member id when records were last handed out (null before):
   * what `groupMetadata()` answers, so that the offsets of those records, committed in a
   * transaction after a rebalance, are refused by the coordinator (see groupMetadata()).
   */
  #handedGeneration: number | null = null;
  #handedMemberId = "";
  readonly #listeners: {
    onAssigned?: RebalanceListener;
    onRevoked?: RebalanceListener;
    onLost?: RebalanceListener;
  };
  /**
   * Partitions being given up (commit and onRevoked in progress): their records are no longer handed
   * out; the other partitions' are (a cooperative or KIP-848 member keeps consuming them).
   */
  readonly #revoking = new Set<PartitionState>();
  /** New partitions paused by the consumer while `onAssigned` runs (not by the application). */
  readonly #held = new Set<PartitionState>();
  /** Set while `onRevoked` runs on close, where `commit()` is still allowed. */
  #closeListener = false;
  /** OpenTelemetry: the span of the record or batch in hand; null when telemetry is off. */
  readonly #trace: ProcessTrace | null;
  readonly #unobserve: () => void;

  /**
   * Creates a consumer and starts joining (or reading); use `client.consumer()`.
   *
   * @param client The client whose connections it shares.
   * @param opts Group or partitions, and limits.
   */
  constructor(client: ClientContext, opts: ConsumerOptions) {
    checkOptions(opts, OPTION_KEYS, "consumer options");
    if (opts === undefined) {
      throw new TypeError("A consumer needs options: { groupId, topics } or { assign }");
    }
    this.#cluster = client.cluster;
    const hub = client.cluster.hub;
    this.#log = hub.log.derive(opts.logger, opts.logLevel);
    this.#events = new EventHub(this.#log, hub);
    const topics = opts.topics;
    if (topics !== undefined && opts.assign !== undefined) {
      throw new TypeError(
        "Use either topics (a group subscription) or assign (explicit partitions), not both",
      );
    }
    if (topics === undefined && opts.assign === undefined) {
      throw new TypeError("A consumer needs topics (with a groupId) or assign");
    }
    const gopts = opts as Partial<GroupConsumerOptions>;
    if (
      topics === undefined && (gopts.groupProtocol !== undefined || gopts.groupRemoteAssignor !== undefined)
    ) {
      throw new TypeError(
        "groupProtocol and groupRemoteAssignor are for group subscriptions (topics), not assign",
      );
    }
    const groupProtocol = gopts.groupProtocol ?? "classic";
    if (groupProtocol !== "classic" && groupProtocol !== "consumer") {
      throw new TypeError(
        `Invalid groupProtocol ${JSON.stringify(groupProtocol)}: use "classic" or "consumer"`,
      );
    }
    const regex = topics instanceof RegExp ? topics : null;
    if (regex !== null && groupProtocol !== "consumer") {
      throw new TypeError(
        `A regular expression subscription (${regex}) needs groupProtocol: "consumer" (the broker matches it, KIP-848)`,
      );
    }
    if (regex !== null && regex.flags !== "") {
      throw new TypeError(`Invalid topics ${regex}: the broker's regular expressions take no flags`);
    }
    if (
      topics !== undefined && regex === null && (!Array.isArray(topics) || topics.length === 0)
    ) {
      throw new TypeError(`Invalid topics ${JSON.stringify(topics)}: expected a non-empty array of names`);
    }
    if (groupProtocol === "consumer") {
      // The broker owns these with KIP-848 (group.consumer.* configs); accepting them would ignore them.
      for (const k of ["assignors", "sessionTimeoutMs", "heartbeatIntervalMs"] as const) {
        if (opts[k] !== undefined) {
          throw new TypeError(
            `${k} is not used with groupProtocol "consumer": the broker sets it (group.consumer.* configs)` +
              (k === "assignors" ? "; choose a broker-side assignor with groupRemoteAssignor" : ""),
          );
        }
      }
    } else if (gopts.groupRemoteAssignor !== undefined) {
      throw new TypeError(
        'groupRemoteAssignor needs groupProtocol: "consumer"; use assignors with "classic"',
      );
    }
    if (gopts.groupRemoteAssignor !== undefined && typeof gopts.groupRemoteAssignor !== "string") {
      throw new TypeError(`Invalid groupRemoteAssignor ${JSON.stringify(gopts.groupRemoteAssignor)}`);
    }
    if (topics !== undefined && !opts.groupId) {
      throw new TypeError("Subscribing to topics needs a groupId; use assign to read without a group");
    }
    if (opts.groupId !== undefined && (typeof opts.groupId !== "string" || opts.groupId.length === 0)) {
      throw new TypeError(`Invalid groupId ${JSON.stringify(opts.groupId)}: expected a non-empty string`);
    }
    if (opts.onError !== undefined && typeof opts.onError !== "function") {
      throw new TypeError(`Invalid onError: expected a function, got ${typeof opts.onError}`);
    }
    this.#onError = opts.onError ?? null;
    this.#listeners = {};
    for (const name of ["onAssigned", "onRevoked", "onLost"] as const) {
      const f = opts[name];
      if (f === undefined) continue;
      if (typeof f !== "function") {
        throw new TypeError(`Invalid ${name}: expected a function, got ${typeof f}`);
      }
      if (topics === undefined) {
        throw new TypeError(
          `${name} is for group subscriptions (topics); a consumer with assign is not rebalanced`,
        );
      }
      this.#listeners[name] = f;
    }
    this.#groupId = opts.groupId ?? null;
    this.#groupInstanceId = opts.groupInstanceId ?? null;
    this.#subscribed = topics !== undefined;
    this.#autoCommit = (opts.autoCommit ?? true) && this.#groupId !== null;
    this.#autoCommitIntervalMs = positive("autoCommitIntervalMs", opts.autoCommitIntervalMs, 5000);
    this.#reset = opts.fromBeginning ? "earliest" : "latest";
    const retryBackoffMs = positive("retryBackoffMs", opts.retryBackoffMs, 100);
    const maxPartitionBytes = positive("maxPartitionBytes", opts.maxPartitionBytes, 1 << 20);
    const missingTopicTimeoutMs = missingTopicTimeout(opts.missingTopicTimeoutMs);
    const id = crypto.randomUUID();
    this.#fetcher = new Fetcher(this.#cluster, {
      maxWaitMs: positive("maxWaitMs", opts.maxWaitMs, 500),
      minBytes: positive("minBytes", opts.minBytes, 1),
      maxBytes: positive("maxBytes", opts.maxBytes, 50 << 20),
      maxPartitionBytes,
      maxBufferedBytes: positive("maxBufferedBytes", opts.maxBufferedBytes, 2 << 20),
      maxBufferedRecords: positive("maxBufferedRecords", opts.maxBufferedRecords, 100_000),
      reset: this.#reset,
      retryBackoffMs,
      lane: `fetch/${id}`,
      isolationLevel: isolationLevel(opts.isolationLevel),
    });
    this.#fetcher.onError = (err) => {
      if (this.#stopping) return;
      this.#error ??= err;
      this.#fetcher.data.notify();
    };
    // Recovered conditions the application must hear of: log truncation (KIP-320), an offset reset.
    this.#fetcher.onNotice = (err, r) => {
      if (r !== undefined && this.#events.active) {
        const { tp, reason, from, to } = r;
        this.#events.emit({
          type: "offsets.reset",
          topic: tp.topic,
          partition: tp.partition,
          reason,
          from,
          to,
        });
      }
      this.#report(asKafkaError(err, "fetch"), "fetch");
    };
    if (this.#cluster.recorder) this.#fetcher.metrics = new ConsumerRecorder();
    const maxPollIntervalMs = positive("maxPollIntervalMs", opts.maxPollIntervalMs, 300_000);
    const assignors = (opts.assignors ?? DEFAULT_ASSIGNORS).map((a) => {
      if (a === "range") return rangeAssignor;
      if (a === "roundrobin") return roundRobinAssignor;
      if (a === "sticky") return stickyAssignor;
      if (a === "cooperative-sticky") return cooperativeStickyAssignor;
      if (typeof a === "object" && a && typeof a.assign === "function") return a;
      throw new TypeError(
        `Invalid assignor ${
          JSON.stringify(a)
        }: expected "range", "roundrobin", "sticky", "cooperative-sticky" or an Assignor`,
      );
    });
    if (this.#groupId !== null) {
      this.#group = new GroupMember(this.#cluster, {
        groupId: this.#groupId,
        topics: Array.isArray(topics) ? topics : [],
        groupProtocol,
        remoteAssignor: gopts.groupRemoteAssignor ?? null,
        topicRegex: regex?.source ?? null,
        groupInstanceId: opts.groupInstanceId ?? null,
        sessionTimeoutMs: positive("sessionTimeoutMs", opts.sessionTimeoutMs, 45_000),
        heartbeatIntervalMs: positive("heartbeatIntervalMs", opts.heartbeatIntervalMs, 3000),
        rebalanceTimeoutMs: positive("rebalanceTimeoutMs", opts.rebalanceTimeoutMs, maxPollIntervalMs),
        maxPollIntervalMs,
        assignors,
        retryBackoffMs,
        lane: `group/${id}`,
        events: this.#events,
      }, {
        revoke: (only) => this.#revoke(only),
        assign: (a) => this.#assign(a),
        lastPollAt: () => this.#waiting ? Date.now() : this.#lastPoll,
        fail: (err) => this.#fail(err),
        report: (err) => this.#report(err),
        rebalanced: (ms) => this.#fetcher.metrics?.rebalanced(ms),
      });
    } else this.#group = null;
    // OpenTelemetry, registered once nothing in the constructor can throw any more.
    this.#trace = client.telemetry?.consumer(opts.groupId ?? null) ?? null;
    this.#unobserve = client.telemetry?.observe(
      "consumer",
      () => this.metrics(),
      opts.groupId ? { "messaging.consumer.group.name": opts.groupId } : {},
    ) ?? (() => {});
    // The client ignores what its closers throw: report it.
    this.#untrack = client.track((signal) =>
      this.close({ signal }).catch((err) => {
        if (signal?.aborted && err === signal.reason) return;
        const why = "Closing the consumer with its client failed";
        this.#report(asKafkaError(err, why), why);
      })
    );
    if (this.#subscribed && regex !== null) {
      // Which topics match is the broker's business; none matching is not an error.
      this.#group!.start();
    } else if (this.#subscribed) {
      const names = topics as string[];
      const bad = badTopicName(names);
      if (bad) {
        // Nothing can ever be assigned: the iterator fails at once.
        this.#fail(bad);
        return;
      }
      this.#group!.start();
      this.#tasks.push(watchTopics(this.#cluster, names, missingTopicTimeoutMs, {
        stopping: () => this.#stopping,
        fail: (err) => this.#fail(err),
        wait: (ms) => this.#tick.wait(ms),
      }));
    } else this.#tasks.push(this.#startStandalone(opts.assign!));
    if (this.#autoCommit) this.#tasks.push(this.#autoCommitLoop());
  }

  /**
   * The consumer's events, as an async iterable: group membership (`group.joined`,
   * `group.rebalancing`, `group.assigned`, `group.revoked`, `group.lost`), commits
   * (`commit.succeeded`, `commit.failed`), `offsets.reset`, and the client's own
   * (`connected`, `disconnected`, `reconnecting`, `metadata`, `throttled`). Each
   * call is a new subscriber with its own bounded buffer; it ends when the consumer
   * closes, and `break` unsubscribes. A reader that falls behind never slows the
   * consumer: what overflows its buffer is counted in a `dropped` event.
   *
   * @example
   * ```ts ignore
   * (async () => {
   *   for await (const e of consumer.events()) {
   *     if (e.type === "group.assigned") console.log("now reading", e.assignment);
   *   }
   * })();
   * ```
   *
   * @param opts The subscriber's buffer size.
   */
  events(opts?: EventsOptions): AsyncIterableIterator<KafkaEvent> {
    return this.#events.subscribe(opts);
  }

  /**
   * A snapshot of this consumer's metrics: records and bytes fetched (totals and
   * per second), Fetch latency, records per fetch, the lag of every assigned
   * partition (the last Fetch response's high watermark minus the position: no
   * extra request), and the rebalances' count and time. Empty when the client
   * was made with `metrics: false`.
   *
   * @example
   * ```ts ignore
   * const m = consumer.metrics();
   * for (const p of m.lag) console.log(p.topic, p.partition, p.lag);
   * ```
   */
  metrics(): ConsumerMetrics {
    return (this.#fetcher.metrics ?? new ConsumerRecorder()).snapshot(this.#fetcher.partitions());
  }

  /** The group member id ("" before joining or without a group). */
  get memberId(): string {
    return this.#group?.memberId ?? "";
  }

  /** The group generation (-1 when not a member). */
  get generationId(): number {
    return this.#group?.generationId ?? -1;
  }

  /**
   * The group's view of this member, for offsets committed in a producer's
   * transaction (`tx.sendOffsets(consumer)`, KIP-447): the coordinator refuses
   * them from a member that is no longer in the group's current generation.
   *
   * The generation and member id are those of the last records handed out
   * (like the Java client's, which change only in `poll()`), not the newest: a
   * rebalance may take a partition away and give it back, its reading restarting
   * at the group's committed offset, while the application still processes
   * records it had received. Offsets committed for those with the newer
   * generation would count, and the records after the committed offset would be
   * read and written again; with the generation they were handed out in, the
   * coordinator refuses them and the transaction aborts.
   *
   * @throws {TypeError} Without a groupId.
   */
  groupMetadata(): {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
  } {
    if (this.#group === null || this.#groupId === null) {
      throw new TypeError("groupMetadata() needs a consumer with a groupId");
    }
    const handed = this.#handedGeneration !== null;
    return {
      groupId: this.#groupId,
      generationId: this.#handedGeneration ?? this.#group.generationId,
      memberId: handed ? this.#handedMemberId : this.#group.memberId,
      groupInstanceId: this.#groupInstanceId,
    };
  }

  /** How many times the consumer received an assignment (0 before the first). */
  get assignmentCount(): number {
    return this.#generationOfAssignment;
  }

  /** The partitions the consumer reads now, sorted (none once closing). */
  assignment(): TopicPartition[] {
    if (this.#closing !== null) return [];
    return this.#fetcher.partitions().map((tp) => ({ topic: tp.topic, partition: tp.partition })).sort((
      a,
      b,
    ) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
  }

  /**
   * The next offset to hand out for a partition (-1 while being looked up), or
   * undefined when the partition is not assigned.
   *
   * @param topic The topic.
   * @param partition The partition.
   */
  position(topic: string, partition: number): bigint | undefined {
    return this.#fetcher.get(topic, partition)?.position;
  }

  async #startStandalone(assign: AssignedTopic[]): Promise<void> {
    try {
      if (!Array.isArray(assign) || assign.length === 0) {
        throw new TypeError(`Invalid assign ${JSON.stringify(assign)}: expected a non-empty array`);
      }
      const entries: { topic: string; partition: number; from?: OffsetSpec }[] = [];
      for (const a of assign) {
        if (!a || typeof a.topic !== "string") {
          throw new TypeError(`Invalid assign entry ${JSON.stringify(a)}`);
        }
        const why = topicNameProblem(a.topic);
        if (why) throw new TypeError(`Cannot read topic ${JSON.stringify(a.topic)}: ${why}`);
        const info = await this.#cluster.readyTopic(a.topic);
        const parts = a.partitions ?? info.partitions.map((p) => p.partition);
        for (const p of parts) {
          if (!info.partitions.some((x) => x.partition === p)) {
            throw new RangeError(`Topic "${a.topic}" has no partition ${p}`);
          }
          entries.push({ topic: a.topic, partition: p, from: a.from });
        }
      }
      let committed = new Map<string, bigint>();
      if (this.#group && entries.some((e) => e.from === undefined)) {
        const tps: TopicPartitions = new Map();
        for (const e of entries) {
          if (e.from === undefined) tps.set(e.topic, [...(tps.get(e.topic) ?? []), e.partition]);
        }
        committed = await this.#group.committed(tps);
      }
      if (this.#stopping) return;
      this.#fetcher.assign(entries.map((e) => {
        const c = committed.get(tpKey(e.topic, e.partition)) ?? -1n;
        return {
          topic: e.topic,
          partition: e.partition,
          start: e.from ?? (c >= 0n ? c : this.#reset),
          committed: c,
        };
      }));
      this.#generationOfAssignment++;
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  /** Runs a rebalance listener; what it throws reaches the application through `next()`. */
  async #listen(
    name: "onAssigned" | "onRevoked" | "onLost",
    parts: readonly PartitionState[],
  ): Promise<void> {
    const f = this.#listeners[name];
    if (f === undefined || parts.length === 0) return;
    const list = sortPartitions(parts.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
    try {
      await f(list);
    } catch (err) {
      if (this.#stopping) {
        this.#report(asKafkaError(err, `The ${name} listener failed`), `The ${name} listener failed`);
        return;
      }
      this.#error ??= err instanceof Error ? err : new KafkaError(`The ${name} listener threw ${err}`);
      this.#fetcher.data.notify();
    }
  }

  /**
   * Gives partitions up: every assigned one (eager rebalance) or `only` those
   * (cooperative). Auto-commits what was processed, then calls `onRevoked` (or
   * `onLost` when the coordinator already dropped this member), then removes them.
   */
  async #revoke(only?: TopicPartitions): Promise<void> {
    const parts = only === undefined
      ? this.#fetcher.partitions()
      : [...only].flatMap(([t, ps]) =>
        ps.map((p) => this.#fetcher.get(t, p)).filter((tp) => tp !== undefined)
      );
    if (this.#cur !== null && (only === undefined || parts.includes(this.#cur.tp))) this.#cur = null;
    const lost = this.#group!.generationId < 0;
    for (const tp of parts) this.#revoking.add(tp);
    try {
      if (this.#autoCommit && lost) {
        // The coordinator already dropped this member (fenced, expired): the partitions are lost, not
        // handed over, and a commit cannot be made for them any more.
        const unsaved = parts.filter((tp) => tp.consumed >= 0n && tp.consumed !== tp.committed);
        if (unsaved.length > 0) {
          this.#report(
            new CommitFailedError(
              `This member was dropped from group ${this.#groupId} before it committed ${
                unsaved.map((tp) => `${tp.topic}[${tp.partition}]`).join(", ")
              }; the records processed since the last commit will be delivered again`,
            ),
          );
        }
      } else if (this.#autoCommit) {
        try {
          await this.#commit(parts);
        } catch (err) {
          const why = "The commit before giving partitions up in a rebalance failed; their records " +
            "since the last commit will be delivered again";
          this.#report(asKafkaError(err, why), why);
        }
      }
      await this.#listen(lost ? "onLost" : "onRevoked", parts);
      if (this.#events.active && parts.length > 0) {
        const partitions = sortPartitions(parts.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
        this.#events.emit({
          type: lost ? "group.lost" : "group.revoked",
          groupId: this.#groupId!,
          partitions,
        });
      }
    } finally {
      for (const tp of parts) this.#revoking.delete(tp);
    }
    if (this.#cur !== null && parts.includes(this.#cur.tp)) this.#cur = null;
    for (const tp of this.#fetcher.revoke(parts)) {
      this.#held.delete(tp);
      // Records handed out and not committed: a later commit() cannot cover them any more.
      if (this.#handed.delete(tp) && tp.position > tp.committed) {
        this.#lost.set(tpKey(tp.topic, tp.partition), { topic: tp.topic, partition: tp.partition });
      }
    }
    this.#fetcher.data.notify();
  }

  /** Takes partitions (those already assigned are kept as they are), then calls `onAssigned`. */
  async #assign(assignment: TopicPartitions): Promise<void> {
    const fresh: TopicPartitions = new Map();
    for (const [topic, partitions] of assignment) {
      const ps = partitions.filter((p) => this.#fetcher.get(topic, p) === undefined);
      if (ps.length > 0) fresh.set(topic, ps);
    }
    const epochs = new Map<string, number>();
    const committed = await this.#group!.committed(fresh, epochs);
    if (this.#stopping) return;
    const listen = this.#listeners.onAssigned !== undefined && fresh.size > 0;
    const entries = [];
    for (const [topic, partitions] of fresh) {
      for (const partition of partitions) {
        const c = committed.get(tpKey(topic, partition)) ?? -1n;
        entries.push({
          topic,
          partition,
          start: c >= 0n ? c : this.#reset,
          committed: c,
          committedEpoch: epochs.get(tpKey(topic, partition)),
          // Nothing of the new partitions is fetched until onAssigned is done (it may seek).
          paused: listen,
        });
      }
    }
    this.#fetcher.assign(entries);
    const added = entries.map((e) => this.#fetcher.get(e.topic, e.partition)!);
    if (listen) {
      try {
        for (const tp of added) this.#held.add(tp);
        await this.#listen("onAssigned", added);
      } finally {
        for (const tp of added) {
          if (this.#held.delete(tp) && !tp.revoked) this.#fetcher.setPaused(tp, false);
        }
      }
    }
    this.#generationOfAssignment++;
    if (this.#events.active) {
      const partitions = sortPartitions(added.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
      this.#events.emit({
        type: "group.assigned",
        groupId: this.#groupId!,
        partitions,
        assignment: this.assignment(),
      });
    }
    this.#fetcher.data.notify();
  }

  /** A failure that ends the consumer: `next()` and `close()` reject with it. */
  #fail(err: Error): void {
    if (this.#stopping) return;
    this.#fatal ??= err;
    this.#fetcher.data.notify();
  }

  /**
   * A background failure the consumer recovers from: to the `onError` hook, or
   * logged as a warning. The fetcher's notices (truncation, offset resets) come here too.
   */
  #report(err: KafkaError, context?: string): void {
    const hook = this.#onError;
    if (hook === null) {
      const who = `kafka-deno consumer${this.#groupId === null ? "" : ` (group ${this.#groupId})`}`;
      this.#log.warn(`${who}: ${context ? `${context}: ` : ""}${err.message}`, {
        groupId: this.#groupId,
        error: err,
      });
      return;
    }
    try {
      hook(err);
    } catch (hookErr) {
      this.#log.error(`kafka-deno consumer: the onError hook threw while handling: ${err.message}`, {
        groupId: this.#groupId,
        error: hookErr,
        handling: err,
      });
    }
  }

  /** The record handed out last is processed (the application asked for more). */
  #ack(): void {
    const tp = this.#ackTp;
    if (tp !== null) {
      if (tp.epoch === this.#ackEpoch && this.#ackOffset > tp.consumed) tp.consumed = this.#ackOffset;
      this.#ackTp = null;
    }
  }

  #nextRecord(signal?: AbortSignal): Promise<IteratorResult<ConsumerRecord>> {
    this.#ack();
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    this.#lastPoll = Date.now();
    const c = this.#cur;
    if (c !== null && c.index < c.records.length && c.epoch === c.tp.epoch && !this.#stopping) {
      const r = c.records[c.index++];
      const next = r.offset + 1n;
      c.tp.position = next;
      this.#ackTp = c.tp;
      this.#ackEpoch = c.epoch;
      this.#ackOffset = next;
      if (this.#trace !== null) this.#trace.record(r);
      return Promise.resolve({ value: r, done: false });
    }
    return this.#slow(signal).then((ok) => ok ? this.#nextRecord(signal) : DONE);
  }

  #nextBatch(signal?: AbortSignal): Promise<IteratorResult<ConsumerBatch>> {
    this.#ack();
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    this.#lastPoll = Date.now();
    const c = this.#cur;
    if (c !== null && c.index < c.records.length && c.epoch === c.tp.epoch && !this.#stopping) {
      const records = c.index === 0 ? c.records : c.records.slice(c.index);
      c.index = c.records.length;
      const next = records[records.length - 1].offset + 1n;
      c.tp.position = next;
      this.#ackTp = c.tp;
      this.#ackEpoch = c.epoch;
      this.#ackOffset = next;
      if (this.#trace !== null) this.#trace.batch(c.tp.topic, c.tp.partition, records);
      return Promise.resolve({
        value: { topic: c.tp.topic, partition: c.tp.partition, records, highWatermark: c.tp.highWatermark },
        done: false,
      });
    }
    return this.#slow(signal).then((ok) => ok ? this.#nextBatch(signal) : DONE);
  }

  /**
   * Waits for a chunk to become current; false when the consumer is closing.
   * An abort wakes the wait and rejects before a chunk is taken: nothing is lost.
   */
  async #slow(signal?: AbortSignal): Promise<boolean> {
    this.#group?.poke();
    const unlisten = signal === undefined ? undefined : onAbort(signal, () => this.#fetcher.data.notify());
    try {
      while (true) {
        signal?.throwIfAborted();
        if (this.#fatal) {
          this.#fatalDelivered = true;
          throw this.#fatal;
        }
        if (this.#error) {
          const err = this.#error;
          this.#error = null;
          throw err;
        }
        if (this.#stopping) return false;
        let c = this.#fetcher.take();
        // Records of a partition being given up stay unread: its next owner reads them from the commit.
        while (c !== null && this.#revoking.has(c.tp)) c = this.#fetcher.take();
        if (c !== null) {
          this.#cur = c;
          this.#handed.add(c.tp);
          if (this.#group !== null) {
            this.#handedGeneration = this.#group.generationId;
            this.#handedMemberId = this.#group.memberId;
          }
          return true;
        }
        this.#waiting = true;
        try {
          // Bounded: new data, an error and close all notify; the timeout only re-checks.
          await this.#fetcher.data.wait(1000);
        } finally {
          this.#waiting = false;
          this.#lastPoll = Date.now();
        }
      }
    } finally {
      unlisten?.();
    }
  }

  /** What leaving a loop does: close, without counting the record in hand as processed. */
  async #leaveLoop(): Promise<IteratorResult<never>> {
    try {
      await this.close();
    } catch (err) {
      // When the loop was left by an exception, JavaScript drops this rejection: report it too.
      const why = "Closing the consumer after its loop ended failed";
      this.#report(asKafkaError(err, why), why);
      throw err;
    }
    return DONE;
  }

  /**
   * Iterates over records, one at a time. A record counts as processed once the
   * loop asks for the next one. Leaving the loop (`break`, `return`, an
   * exception) closes the consumer without counting the record in hand as
   * processed: it is delivered again to the group's next reader. To count it,
   * `await consumer.commit(record)` before `break`.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return {
      next: () => this.#nextRecord(),
      return: () => this.#leaveLoop(),
    };
  }

  /**
   * Iterates over records like `for await (const r of consumer)`, with a
   * `signal` that ends the iteration: see {@linkcode IterateOptions}.
   *
   * @example
   * ```ts ignore
   * try {
   *   for await (const record of consumer.records({ signal: AbortSignal.timeout(5_000) })) handle(record);
   * } catch (err) {
   *   if ((err as Error).name !== "TimeoutError") throw err; // five seconds are up; the consumer stays open
   * }
   * ```
   *
   * @param opts The signal.
   */
  records(opts: IterateOptions = {}): AsyncIterable<ConsumerRecord> {
    checkOptions(opts, ITERATE_KEYS, "records() options");
    const signal = signalOf(opts.signal, "records()");
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#nextRecord(signal),
        return: () => this.#leaveLoop(),
      }),
    };
  }

  /**
   * Iterates over batches: the records of one partition from one fetch. Cheaper
   * per record than the record iterator. A batch counts as processed once the
   * loop asks for the next one; leaving the loop closes the consumer without
   * counting the batch in hand.
   *
   * @example
   * ```ts ignore
   * for await (const batch of consumer.batches()) {
   *   for (const record of batch.records) handle(record);
   * }
   * ```
   *
   * @param opts The `signal` that ends the iteration, see {@linkcode IterateOptions}.
   */
  batches(opts: IterateOptions = {}): AsyncIterable<ConsumerBatch> {
    checkOptions(opts, ITERATE_KEYS, "batches() options");
    const signal = signalOf(opts.signal, "batches()");
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#nextBatch(signal),
        return: () => this.#leaveLoop(),
      }),
    };
  }

  async #autoCommitLoop(): Promise<void> {
    while (!this.#stopping) {
      await this.#tick.wait(this.#autoCommitIntervalMs);
      if (this.#stopping) return;
      if (this.#group && this.#subscribed && !this.#group.stable) continue;
      try {
        await this.#commit(this.#fetcher.partitions());
      } catch (err) {
        if (this.#stopping) return;
        if (fatalCommitError(err)) {
          this.#fail(err as Error);
          return;
        }
        // The next auto-commit (or the one before a rebalance, or on close) retries.
        const why = "An auto-commit failed; the next one retries";
        this.#report(asKafkaError(err, why), why);
      }
    }
  }

  /** Commits the processed offsets of `parts` that moved; commits run one at a time. */
  #commit(parts: PartitionState[], signal?: AbortSignal): Promise<void> {
    const run = this.#commits.catch(() => {}).then(async () => {
      // Aborted while earlier commits ran: this one is never sent.
      signal?.throwIfAborted();
      const todo: { tp: PartitionState; offset: OffsetToCommit }[] = [];
      for (const tp of parts) {
        if (tp.consumed >= 0n && tp.consumed !== tp.committed) {
          const leaderEpoch = epochBefore(tp, tp.consumed);
          todo.push({
            tp,
            offset: { topic: tp.topic, partition: tp.partition, offset: tp.consumed, leaderEpoch },
          });
        }
      }
      if (todo.length === 0) return;
      await this.#commitOffsets(todo.map((t) => t.offset), signal);
      for (const t of todo) t.tp.committed = t.offset.offset;
    });
    this.#commits = run;
    return run;
  }

  /** The group's commit, with its event. */
  async #commitOffsets(offsets: OffsetToCommit[], signal?: AbortSignal): Promise<void> {
    try {
      await this.#group!.commit(offsets, signal);
    } catch (error) {
      if (this.#events.active) {
        this.#events.emit({ type: "commit.failed", groupId: this.#groupId!, offsets, error: error as Error });
      }
      throw error;
    }
    if (this.#events.active) {
      this.#events.emit({ type: "commit.succeeded", groupId: this.#groupId!, offsets });
    }
  }

  /** Commits explicit offsets, in turn with the other commits. */
  #commitExact(
    offsets: { tp: PartitionState | undefined; offset: OffsetToCommit }[],
    signal?: AbortSignal,
  ): Promise<void> {
    const run = this.#commits.catch(() => {}).then(async () => {
      signal?.throwIfAborted();
      await this.#commitOffsets(offsets.map((o) => o.offset), signal);
      for (const { tp, offset } of offsets) {
        if (tp === undefined || tp.revoked) continue;
        tp.committed = offset.offset;
        if (offset.offset > tp.consumed) tp.consumed = offset.offset;
      }
    });
    this.#commits = run;
    return run;
  }

  /**
   * Commits offsets to the group.
   *
   * - `commit()`: every record handed out so far, including the record (or batch) in hand,
   *   which now counts as processed.
   * - `commit(record)`: that record's offset + 1 in its partition.
   * - `commit([{ topic, partition, offset }])`: these offsets (the next offset to read).
   *
   * It rejects with a {@linkcode CommitFailedError} when this member lost partitions whose
   * records it handed out since they were last committed (it overran `maxPollIntervalMs`, a
   * rebalance moved them, or it was fenced): those records will be delivered again, to this
   * member or another. Keep iterating; the member rejoins when it asks for records.
   *
   * @param what Nothing (pass `undefined` to give options), a record, or offsets.
   * @param opts The `signal` that cancels the commit, see {@linkcode CommitOptions}.
   * @throws {TypeError} Without a groupId, or with something that is not a record or offsets.
   * @throws {CommitFailedError} When the partitions were lost.
   * @throws {BrokerError} When the coordinator refuses otherwise.
   */
  async commit(what?: ConsumerRecord | readonly CommitOffset[], opts?: CommitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      checkOptions(opts, COMMIT_KEYS, "commit() options");
      signal = signalOf(opts.signal, "commit()");
      signal?.throwIfAborted();
    }
    if (this.#group === null) throw new TypeError("commit() needs a consumer with a groupId");
    if (this.#closing && !this.#closeListener) throw new ClosedError("The consumer is closed");
    if (this.#fatal) throw this.#fatal;
    if (what === undefined) {
      const inHand = this.#ackTp;
      this.#ack();
      if (inHand !== null && inHand.revoked && inHand.position > inHand.committed) {
        this.#lost.set(tpKey(inHand.topic, inHand.partition), {
          topic: inHand.topic,
          partition: inHand.partition,
        });
      }
      await abortable(this.#commit(this.#fetcher.partitions(), signal), signal);
      if (this.#lost.size > 0) {
        const lost = [...this.#lost.values()];
        this.#lost.clear();
        throw new CommitFailedError(
          `Cannot commit ${lost.map((p) => `${p.topic}[${p.partition}]`).join(", ")}: this member ` +
            `lost ${lost.length > 1 ? "them" : "it"} (maxPollIntervalMs overrun, a rebalance or fencing) ` +
            `before its records were committed; they will be delivered again`,
        );
      }
      return;
    }
    let list: readonly CommitOffset[];
    if (what instanceof ConsumerRecord) {
      list = [{ topic: what.topic, partition: what.partition, offset: what.offset + 1n }];
    } else if (Array.isArray(what)) list = what;
    else {
      throw new TypeError(
        "commit() takes nothing, a ConsumerRecord or an array of { topic, partition, offset }",
      );
    }
    const offsets: { tp: PartitionState | undefined; offset: OffsetToCommit }[] = [];
    for (const o of list) {
      if (
        !o || typeof o.topic !== "string" || !Number.isInteger(o.partition) || o.partition < 0 ||
        typeof o.offset !== "bigint" || o.offset < 0n
      ) {
        throw new TypeError(
          `Invalid offset to commit ${
            JSON.stringify(o, (_, v) => typeof v === "bigint" ? `${v}n` : v)
          }: expected { topic: string, partition: integer >= 0, offset: bigint >= 0 }`,
        );
      }
      const tp = this.#fetcher.get(o.topic, o.partition);
      if (this.#subscribed && (tp === undefined || tp.revoked)) {
        throw new CommitFailedError(
          `Cannot commit ${o.topic}[${o.partition}]: it is not assigned to this member (any more); ` +
            `its records since the last commit will be delivered again`,
        );
      }
      // KIP-320: the epoch of the last record before the committed offset, so a later reader can validate it.
      const leaderEpoch = what instanceof ConsumerRecord
        ? what.leaderEpoch
        : tp === undefined
        ? -1
        : epochBefore(tp, o.offset);
      offsets.push({ tp, offset: { topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch } });
    }
    if (offsets.length === 0) return;
    await abortable(this.#commitExact(offsets, signal), signal);
  }

  #find(topic: string, partition: number): PartitionState {
    const tp = this.#fetcher.get(topic, partition);
    if (!tp) throw new RangeError(`${topic}[${partition}] is not assigned to this consumer`);
    return tp;
  }

  /**
   * Moves a partition: the next record handed out is at `offset` (or at the
   * offset that "earliest", "latest" or `{ timestamp }` resolves to). Records of
   * that partition already buffered are dropped.
   *
   * @param topic The topic.
   * @param partition The partition (must be assigned).
   * @param offset Where to go.
   */
  seek(topic: string, partition: number, offset: bigint | OffsetSpec): void {
    const tp = this.#find(topic, partition);
    if (typeof offset === "bigint" && offset < 0n) throw new RangeError(`Invalid offset ${offset}`);
    if (this.#ackTp === tp) this.#ackTp = null;
    this.#fetcher.seek(tp, offset);
  }

  /**
   * Stops handing out (and fetching) records of these partitions until
   * {@linkcode Consumer.resume}. A rebalance forgets pauses.
   *
   * @param partitions Assigned partitions.
   */
  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const tp = this.#find(p.topic, p.partition);
      // Paused by the application while onAssigned runs: it stays paused afterwards.
      if (this.#held.delete(tp)) continue;
      this.#fetcher.setPaused(tp, true);
    }
  }

  /**
   * Resumes paused partitions where they stopped.
   *
   * @param partitions Assigned partitions.
   */
  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const tp = this.#find(p.topic, p.partition);
      if (this.#held.has(tp)) continue; // resumed when onAssigned returns
      this.#fetcher.setPaused(tp, false);
    }
  }

  /** The partitions paused now (none once closing). */
  paused(): TopicPartition[] {
    if (this.#closing !== null) return [];
    return this.#fetcher.partitions().filter((tp) => tp.paused && !this.#held.has(tp)).map((tp) => ({
      topic: tp.topic,
      partition: tp.partition,
    }));
  }

  /**
   * Closes the consumer: stops fetching, ends the iterator, commits the records
   * processed (with auto-commit; the record in hand is not processed, see
   * {@linkcode Consumer.commit}), leaves the group and releases everything.
   * Idempotent. It rejects when the commit on close failed (those records will
   * be delivered again) or with a fatal failure that no `next()` reported. With
   * `timeoutMs`, a close that takes longer turns hard: it stops without
   * committing or leaving and rejects with a {@linkcode TimeoutError}.
   *
   * @param opts The graceful close's time limit.
   */
  close(opts: ConsumerCloseOptions = {}): Promise<void> {
    return closeWith(opts, CLOSE_KEYS, this.#hard, () => this.#closing ??= this.#close(opts.timeoutMs), true);
  }

  async #close(timeoutMs: number | undefined): Promise<void> {
    this.#stopping = true;
    this.#cur = null;
    this.#tick.notify();
    this.#fetcher.data.notify();
    // The record in hand was not processed: only the ones the application asked past (or committed).
    this.#ackTp = null;
    const hard = this.#hard.signal;
    const graceful = (async () => {
      await this.#fetcher.stop();
      await Promise.allSettled(this.#tasks);
      let failed: KafkaError | null = null;
      if (this.#autoCommit && this.#fatal === null) {
        try {
          await this.#commit(this.#fetcher.partitions(), hard);
        } catch (err) {
          failed = asKafkaError(
            err,
            "The commit on close failed; the records since the last commit will be delivered again",
          );
        }
      }
      if (this.#subscribed && this.#fatal === null && this.#group!.generationId >= 0) {
        // The partitions go with the member: the listener may still commit (or save) them.
        this.#closeListener = true;
        const parts = this.#fetcher.partitions();
        try {
          await this.#listen("onRevoked", parts);
        } finally {
          this.#closeListener = false;
        }
        if (this.#events.active && parts.length > 0) {
          const partitions = sortPartitions(
            parts.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
          );
          this.#events.emit({ type: "group.revoked", groupId: this.#groupId!, partitions });
        }
      }
      await this.#group?.close();
      if (failed) throw failed;
      if (this.#fatal !== null && !this.#fatalDelivered) throw this.#fatal;
    })();
    try {
      // A time limit or a `close({ signal })` abort (also one passed to a later call) turns the close hard.
      let timer: ReturnType<typeof setTimeout> | undefined;
      let unlisten = (): void => {};
      const cut = new Promise<"timeout" | "abort">((r) => {
        if (timeoutMs !== undefined) timer = setTimeout(() => r("timeout"), timeoutMs);
        unlisten = onAbort(hard, () => r("abort"));
      });
      const first = await Promise.race([graceful.then(() => "ok" as const), cut]).finally(() => {
        clearTimeout(timer);
        unlisten();
      });
      if (first !== "ok") {
        // An abort leaves the group best-effort (one request, no answer awaited); a timeout does not.
        await this.#group?.close({ leave: first === "abort" ? "best-effort" : false });
        await this.#fetcher.stop();
        await graceful.catch(() => {});
        if (first === "abort") throw hard.reason;
        throw new TimeoutError(`The consumer did not close gracefully within ${timeoutMs} ms`);
      }
    } finally {
      this.#handed.clear();
      this.#lost.clear();
      this.#untrack();
      this.#events.close();
      this.#trace?.end();
      this.#unobserve();
      this.#hard.dispose();
    }
  }

  /** Same as {@linkcode Consumer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Sorts partitions by topic, then partition. */
function sortPartitions(list: TopicPartition[]): TopicPartition[] {
  return list.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
}

/** Whether a commit failure ends the consumer (it will not get better by retrying). */
function fatalCommitError(err: unknown): boolean {
  if (err instanceof CommitFailedError) return false;
  if (err instanceof BrokerError) return !err.retriable;
  return !(err instanceof KafkaError) || err instanceof AuthenticationError ||
    err instanceof UnsupportedVersionError;
}

/** `err` as a KafkaError: itself, or wrapped with `message`. */
function asKafkaError(err: unknown, message: string): KafkaError {
  if (err instanceof KafkaError) return err;
  return new KafkaError(`${message}: ${(err as Error)?.message ?? err}`, { cause: err });
}

function isolationLevel(v: ConsumerOptions["isolationLevel"]): 0 | 1 {
  if (v === undefined || v === "read_uncommitted") return 0;
  if (v === "read_committed") return 1;
  throw new TypeError(
    `Invalid isolationLevel ${JSON.stringify(v)}: use "read_uncommitted" or "read_committed"`,
  );
}
