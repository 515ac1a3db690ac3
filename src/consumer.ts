/**
 * The consumer: an async iterable of records (or of batches), in a consumer
 * group (classic protocol, see `group.ts`) or standalone on explicit
 * partitions. Fetching happens in the background (see `fetcher.ts`) into a
 * bounded prefetch buffer; handing a buffered record out does no await and no
 * copy.
 *
 * Offsets: a record counts as processed once the application asks for the
 * next one (or commits, or closes). Auto-commit (every `autoCommitIntervalMs`,
 * before partitions are given up in a rebalance, and on close) commits what
 * was processed, so a crash replays at most the record in hand: at-least-once.
 * The committed offset is the next one to read (last processed + 1).
 *
 * @module
 */

import { type Assignor, DEFAULT_ASSIGNORS, rangeAssignor, roundRobinAssignor } from "./assignors.ts";
import type { ClientContext } from "./context.ts";
import type { Cluster } from "./cluster.ts";
import { ClosedError, TimeoutError } from "./errors.ts";
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

export { ConsumerRecord, type OffsetSpec, type RecordHeader };

/** A topic and a partition. */
export interface TopicPartition {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
}

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

/** Consumer options. Defaults follow the Java client. */
export interface ConsumerOptions {
  /** The consumer group. Required with `topics`; with `assign` it only enables commits. */
  groupId?: string;
  /** Topics to subscribe to as a group member. */
  topics?: string[];
  /** Partitions to read without group membership (standalone). Exclusive with `topics`. */
  assign?: AssignedTopic[];
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
  /** Assignors in order of preference. Default ["range", "roundrobin"]. */
  assignors?: ("range" | "roundrobin" | Assignor)[];
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
   * much, and each request asks for no more than the room left. Default 64 MiB.
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
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid ${name} ${v}: expected a non-negative number`);
  }
  return v;
}

const DONE: IteratorResult<never> = { done: true, value: undefined };

/**
 * Reads records from Kafka. Create one with `client.consumer()`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "../mod.ts";
 * await using client = await connect({ brokers: ["127.0.0.1:9092"] });
 * await using consumer = client.consumer({ groupId: "notifications-group", topics: ["notifications"] });
 * for await (const record of consumer) {
 *   console.log(record.partition, record.offset, record.text());
 * }
 * ```
 */
export class Consumer implements AsyncIterable<ConsumerRecord>, AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #fetcher: Fetcher;
  readonly #group: GroupMember | null;
  readonly #groupId: string | null;
  readonly #subscribed: boolean;
  readonly #autoCommit: boolean;
  readonly #autoCommitIntervalMs: number;
  readonly #reset: "earliest" | "latest";
  readonly #untrack: () => void;
  readonly #tick = new Signal();
  readonly #tasks: Promise<void>[] = [];
  #cur: Chunk | null = null;
  #ackTp: PartitionState | null = null;
  #ackEpoch = 0;
  #ackOffset = 0n;
  #lastPoll = Date.now();
  #waiting = false;
  #error: Error | null = null;
  #stopping = false;
  #closing: Promise<void> | null = null;
  #commits: Promise<void> = Promise.resolve();
  #generationOfAssignment = 0;

  /**
   * Creates a consumer and starts joining (or reading); use `client.consumer()`.
   *
   * @param client The client whose connections it shares.
   * @param opts Group or partitions, and limits.
   */
  constructor(client: ClientContext, opts: ConsumerOptions) {
    this.#cluster = client.cluster;
    const topics = opts.topics;
    if (topics !== undefined && opts.assign !== undefined) {
      throw new TypeError(
        "Use either topics (a group subscription) or assign (explicit partitions), not both",
      );
    }
    if (topics === undefined && opts.assign === undefined) {
      throw new TypeError("A consumer needs topics (with a groupId) or assign");
    }
    if (topics !== undefined && (!Array.isArray(topics) || topics.length === 0)) {
      throw new TypeError(`Invalid topics ${JSON.stringify(topics)}: expected a non-empty array of names`);
    }
    if (topics !== undefined && !opts.groupId) {
      throw new TypeError("Subscribing to topics needs a groupId; use assign to read without a group");
    }
    if (opts.groupId !== undefined && (typeof opts.groupId !== "string" || opts.groupId.length === 0)) {
      throw new TypeError(`Invalid groupId ${JSON.stringify(opts.groupId)}: expected a non-empty string`);
    }
    this.#groupId = opts.groupId ?? null;
    this.#subscribed = topics !== undefined;
    this.#autoCommit = (opts.autoCommit ?? true) && this.#groupId !== null;
    this.#autoCommitIntervalMs = positive("autoCommitIntervalMs", opts.autoCommitIntervalMs, 5000);
    this.#reset = opts.fromBeginning ? "earliest" : "latest";
    const retryBackoffMs = positive("retryBackoffMs", opts.retryBackoffMs, 100);
    const maxPartitionBytes = positive("maxPartitionBytes", opts.maxPartitionBytes, 1 << 20);
    const id = crypto.randomUUID();
    this.#fetcher = new Fetcher(this.#cluster, {
      maxWaitMs: positive("maxWaitMs", opts.maxWaitMs, 500),
      minBytes: positive("minBytes", opts.minBytes, 1),
      maxBytes: positive("maxBytes", opts.maxBytes, 50 << 20),
      maxPartitionBytes,
      maxBufferedBytes: positive("maxBufferedBytes", opts.maxBufferedBytes, 64 << 20),
      maxBufferedRecords: positive("maxBufferedRecords", opts.maxBufferedRecords, 100_000),
      reset: this.#reset,
      retryBackoffMs,
      lane: `fetch/${id}`,
      isolationLevel: isolationLevel(opts.isolationLevel),
    });
    this.#fetcher.onError = (err) => this.#fail(err);
    this.#fetcher.onNotice = (err) => console.error(err); // TEMPORARY (routing): the lead wires this to onError.
    const maxPollIntervalMs = positive("maxPollIntervalMs", opts.maxPollIntervalMs, 300_000);
    const assignors = (opts.assignors ?? DEFAULT_ASSIGNORS).map((a) => {
      if (a === "range") return rangeAssignor;
      if (a === "roundrobin") return roundRobinAssignor;
      if (typeof a === "object" && a && typeof a.assign === "function") return a;
      throw new TypeError(
        `Invalid assignor ${JSON.stringify(a)}: expected "range", "roundrobin" or an Assignor`,
      );
    });
    if (this.#groupId !== null) {
      this.#group = new GroupMember(this.#cluster, {
        groupId: this.#groupId,
        topics: topics ?? [],
        groupInstanceId: opts.groupInstanceId ?? null,
        sessionTimeoutMs: positive("sessionTimeoutMs", opts.sessionTimeoutMs, 45_000),
        heartbeatIntervalMs: positive("heartbeatIntervalMs", opts.heartbeatIntervalMs, 3000),
        rebalanceTimeoutMs: positive("rebalanceTimeoutMs", opts.rebalanceTimeoutMs, maxPollIntervalMs),
        maxPollIntervalMs,
        assignors,
        retryBackoffMs,
        lane: `group/${id}`,
      }, {
        revoke: () => this.#revoke(),
        assign: (a) => this.#assign(a),
        lastPollAt: () => this.#waiting ? Date.now() : this.#lastPoll,
        fail: (err) => this.#fail(err),
      });
    } else this.#group = null;
    this.#untrack = client.track(() => this.close());
    if (this.#subscribed) this.#group!.start();
    else this.#tasks.push(this.#startStandalone(opts.assign!));
    if (this.#autoCommit) this.#tasks.push(this.#autoCommitLoop());
  }

  /** The group member id ("" before joining or without a group). */
  get memberId(): string {
    return this.#group?.memberId ?? "";
  }

  /** The group generation (-1 when not a member). */
  get generationId(): number {
    return this.#group?.generationId ?? -1;
  }

  /** How many times the consumer received an assignment (0 before the first). */
  get assignmentCount(): number {
    return this.#generationOfAssignment;
  }

  /** The partitions the consumer reads now, sorted. */
  assignment(): TopicPartition[] {
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
      const entries: { topic: string; partition: number; from?: OffsetSpec }[] = [];
      for (const a of assign) {
        if (!a || typeof a.topic !== "string") {
          throw new TypeError(`Invalid assign entry ${JSON.stringify(a)}`);
        }
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

  async #revoke(): Promise<void> {
    this.#cur = null;
    const parts = this.#fetcher.revokeAll();
    if (this.#autoCommit) {
      try {
        await this.#commit(parts);
      } catch {
        // The generation may already be gone; the next owner then re-reads from the last commit.
      }
    }
  }

  async #assign(assignment: TopicPartitions): Promise<void> {
    const epochs = new Map<string, number>();
    const committed = await this.#group!.committed(assignment, epochs);
    if (this.#stopping) return;
    const entries = [];
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        const c = committed.get(tpKey(topic, partition)) ?? -1n;
        entries.push({
          topic,
          partition,
          start: c >= 0n ? c : this.#reset,
          committed: c,
          committedEpoch: epochs.get(tpKey(topic, partition)),
        });
      }
    }
    this.#fetcher.assign(entries);
    this.#generationOfAssignment++;
    this.#fetcher.data.notify();
  }

  #fail(err: Error): void {
    if (this.#stopping) return;
    this.#error ??= err;
    this.#fetcher.data.notify();
  }

  /** The record handed out last is processed (the application asked for more). */
  #ack(): void {
    const tp = this.#ackTp;
    if (tp !== null) {
      if (tp.epoch === this.#ackEpoch) tp.consumed = this.#ackOffset;
      this.#ackTp = null;
    }
  }

  #nextRecord(): Promise<IteratorResult<ConsumerRecord>> {
    this.#ack();
    this.#lastPoll = Date.now();
    const c = this.#cur;
    if (c !== null && c.index < c.records.length && c.epoch === c.tp.epoch && !this.#stopping) {
      const r = c.records[c.index++];
      const next = r.offset + 1n;
      c.tp.position = next;
      this.#ackTp = c.tp;
      this.#ackEpoch = c.epoch;
      this.#ackOffset = next;
      return Promise.resolve({ value: r, done: false });
    }
    return this.#slow().then((ok) => ok ? this.#nextRecord() : DONE);
  }

  #nextBatch(): Promise<IteratorResult<ConsumerBatch>> {
    this.#ack();
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
      return Promise.resolve({
        value: { topic: c.tp.topic, partition: c.tp.partition, records, highWatermark: c.tp.highWatermark },
        done: false,
      });
    }
    return this.#slow().then((ok) => ok ? this.#nextBatch() : DONE);
  }

  /** Waits for a chunk to become current; false when the consumer is closing. */
  async #slow(): Promise<boolean> {
    this.#group?.poke();
    while (true) {
      if (this.#error) {
        const err = this.#error;
        this.#error = null;
        throw err;
      }
      if (this.#stopping) return false;
      const c = this.#fetcher.take();
      if (c !== null) {
        this.#cur = c;
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
  }

  /**
   * Iterates over records, one at a time. Leaving the loop (`break`, `return`, an
   * exception) closes the consumer.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return {
      next: () => this.#nextRecord(),
      return: async () => {
        await this.close();
        return DONE;
      },
    };
  }

  /**
   * Iterates over batches: the records of one partition from one fetch. Cheaper
   * per record than the record iterator. Leaving the loop closes the consumer.
   *
   * @example
   * ```ts ignore
   * for await (const batch of consumer.batches()) {
   *   for (const record of batch.records) handle(record);
   * }
   * ```
   */
  batches(): AsyncIterable<ConsumerBatch> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#nextBatch(),
        return: async () => {
          await this.close();
          return DONE;
        },
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
      } catch {
        // Auto-commit is best effort; the next one (or the one before a rebalance) catches up.
      }
    }
  }

  /** Commits the processed offsets of `parts` that moved; commits run one at a time. */
  #commit(parts: PartitionState[]): Promise<void> {
    const run = this.#commits.catch(() => {}).then(async () => {
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
      await this.#group!.commit(todo.map((t) => t.offset));
      for (const t of todo) t.tp.committed = t.offset.offset;
    });
    this.#commits = run;
    return run;
  }

  /**
   * Commits the offsets of the records handed out so far (each partition's last
   * delivered offset + 1), including the record in hand.
   *
   * @throws {TypeError} Without a groupId.
   * @throws {BrokerError} When the coordinator refuses (e.g. the group rebalanced).
   */
  async commit(): Promise<void> {
    if (this.#group === null) throw new TypeError("commit() needs a consumer with a groupId");
    if (this.#closing) throw new ClosedError("The consumer is closed");
    this.#ack();
    await this.#commit(this.#fetcher.partitions());
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
    for (const p of partitions) this.#fetcher.setPaused(this.#find(p.topic, p.partition), true);
  }

  /**
   * Resumes paused partitions where they stopped.
   *
   * @param partitions Assigned partitions.
   */
  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) this.#fetcher.setPaused(this.#find(p.topic, p.partition), false);
  }

  /** The partitions paused now. */
  paused(): TopicPartition[] {
    return this.#fetcher.partitions().filter((tp) => tp.paused).map((tp) => ({
      topic: tp.topic,
      partition: tp.partition,
    }));
  }

  /**
   * Closes the consumer: stops fetching, ends the iterator after the records
   * already handed out, commits them (with auto-commit), leaves the group and
   * releases everything. Idempotent. With `timeoutMs`, a close that takes longer
   * turns hard: it stops without committing or leaving and rejects with a
   * {@linkcode TimeoutError}.
   *
   * @param opts The graceful close's time limit.
   */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(opts.timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number | undefined): Promise<void> {
    this.#stopping = true;
    this.#cur = null;
    this.#tick.notify();
    this.#fetcher.data.notify();
    // Records handed out before close count as processed, as in the Java client.
    this.#ack();
    const graceful = (async () => {
      await this.#fetcher.stop();
      await Promise.allSettled(this.#tasks);
      if (this.#autoCommit) {
        try {
          await this.#commit(this.#fetcher.partitions());
        } catch {
          // Best effort, like the Java client's commit on close.
        }
      }
      await this.#group?.close();
    })();
    try {
      if (timeoutMs === undefined) {
        await graceful;
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
      const first = await Promise.race([graceful.then(() => "ok" as const), expired]);
      clearTimeout(timer);
      if (first === "timeout") {
        await this.#group?.close({ leave: false });
        await this.#fetcher.stop();
        await graceful.catch(() => {});
        throw new TimeoutError(`The consumer did not close gracefully within ${timeoutMs} ms`);
      }
    } finally {
      this.#untrack();
    }
  }

  /** Same as {@linkcode Consumer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function isolationLevel(v: ConsumerOptions["isolationLevel"]): 0 | 1 {
  if (v === undefined || v === "read_uncommitted") return 0;
  if (v === "read_committed") return 1;
  throw new TypeError(
    `Invalid isolationLevel ${JSON.stringify(v)}: use "read_uncommitted" or "read_committed"`,
  );
}
