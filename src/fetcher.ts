/**
 * The consumer's fetching side: the partitions it reads, one Fetch loop per
 * leader broker (each on that broker's "fetch" connection, so a long poll never
 * delays anything else), a prefetch buffer bounded in bytes and records (when
 * the application is slow the loops stop asking, so memory stays flat), offset
 * resets with ListOffsets, and leader changes followed through metadata.
 *
 * Every partition carries an epoch that a seek, a pause or a revocation bumps:
 * a fetch answered after that is dropped, and buffered records of an older
 * epoch are never handed out.
 *
 * Leader epochs (KIP-320): each partition keeps the leader epoch that the
 * metadata gave (sent as `currentLeaderEpoch` in Fetch, ListOffsets and
 * OffsetForLeaderEpoch, so that a stale leader or stale metadata is fenced)
 * and the leader epoch of the last record fetched (sent as `lastFetchedEpoch`).
 * When the leader epoch goes up, or a committed offset comes with its epoch,
 * the position is validated with OffsetForLeaderEpoch before fetching on; a
 * Fetch that answers with a diverging epoch says the same directly. When the
 * new leader's log ends below the offsets already fetched (an unclean leader
 * election truncated it), the fetch position moves back to where the logs
 * diverge, the records past it are dropped, and when the application had
 * already been handed records past it, a `LogTruncationError` goes to
 * `onNotice`: nothing is skipped or read again silently.
 *
 * @module
 */

import { fetch as fetchApi, type FetchPartitionData, type FetchTopic } from "../protocol/apis/fetch.ts";
import { listOffsets as listOffsetsApi } from "../protocol/apis/list_offsets.ts";
import { offsetForLeaderEpoch } from "../protocol/apis/offset_for_leader_epoch.ts";
import { ErrorCode } from "../protocol/error_codes.ts";
import { ZERO_UUID } from "../protocol/primitives.ts";
import {
  ControlRecordType,
  decodeRecordBatches,
  decodeRecordsInto,
  type KafkaRecord,
  type RecordBatchFrame,
  recordBatchFrames,
  type RecordBuilder,
  type RecordHeader,
} from "../protocol/record_batch.ts";
import type { Cluster, Lane } from "./cluster.ts";
import { AuthenticationError, BrokerError, KafkaError, LogTruncationError, ProtocolError } from "./errors.ts";
import type { Connection } from "./connection.ts";
import { Signal } from "./group.ts";
import type { ConsumerRecorder } from "./observe/metrics.ts";

const decoder = new TextDecoder();

/**
 * A record as the consumer hands it out. Keys, values and header values are
 * views into the fetched bytes (no copies); the helpers decode them on demand.
 *
 * @example
 * ```ts ignore
 * for await (const record of consumer) {
 *   console.log(record.topic, record.partition, record.offset, record.keyText(), record.json());
 * }
 * ```
 */
export class ConsumerRecord {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The record's offset. */
  readonly offset: bigint;
  /** The key, or null. */
  readonly key: Uint8Array | null;
  /** The value, or null (a tombstone). */
  readonly value: Uint8Array | null;
  /** The headers, in order (duplicate keys possible). */
  readonly headers: RecordHeader[];
  /** Milliseconds since the epoch (create or log-append time, as the topic says); -1 if none. */
  readonly timestamp: number;
  /** The leader epoch stamped on the record's batch (KIP-320); -1 if unknown. */
  readonly leaderEpoch: number;

  /**
   * Wraps a decoded record.
   *
   * @param topic The topic.
   * @param partition The partition.
   * @param r The decoded record.
   * @param leaderEpoch The leader epoch of its batch, -1 if unknown.
   */
  constructor(topic: string, partition: number, r: KafkaRecord, leaderEpoch = -1) {
    this.topic = topic;
    this.partition = partition;
    this.offset = r.offset;
    this.key = r.key;
    this.value = r.value;
    this.headers = r.headers;
    this.timestamp = r.timestamp;
    this.leaderEpoch = leaderEpoch;
  }

  /** The key decoded as UTF-8, or null. */
  keyText(): string | null {
    return this.key === null ? null : decoder.decode(this.key);
  }

  /** The value decoded as UTF-8, or null. */
  text(): string | null {
    return this.value === null ? null : decoder.decode(this.value);
  }

  /**
   * The value parsed as JSON (UTF-8), or null for a tombstone.
   *
   * @throws {SyntaxError} If the value is not JSON.
   */
  json<T = unknown>(): T | null {
    return this.value === null ? null : JSON.parse(decoder.decode(this.value)) as T;
  }

  /**
   * The value of the last header named `key` as bytes; undefined when absent.
   *
   * @param key The header key.
   */
  header(key: string): Uint8Array | null | undefined {
    for (let i = this.headers.length - 1; i >= 0; i--) {
      if (this.headers[i].key === key) return this.headers[i].value;
    }
    return undefined;
  }

  /**
   * The value of the last header named `key` as UTF-8 text; undefined when absent.
   *
   * @param key The header key.
   */
  headerText(key: string): string | null | undefined {
    const v = this.header(key);
    return v === undefined || v === null ? v : decoder.decode(v);
  }
}

/** Where to start reading a partition when there is no committed offset. */
export type OffsetSpec = "earliest" | "latest" | { timestamp: number | Date } | { offset: bigint };

/**
 * One assigned partition.
 *
 * @internal
 */
export interface PartitionState {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** Bumped by seek, pause and revocation. */
  epoch: number;
  /** The next offset to fetch; -1 while an offset reset is in progress. */
  fetchOffset: bigint;
  /** The next offset to hand to the application. */
  position: bigint;
  /** The next offset to commit: everything before it was processed. */
  consumed: bigint;
  /** The last committed offset, -1 if none. */
  committed: bigint;
  /** The leader's node id (-1 unknown). */
  leader: number;
  /** Whether the application paused it. */
  paused: boolean;
  /** Set when the partition was given up. */
  revoked: boolean;
  /** The high watermark from the last fetch, -1 before. */
  highWatermark: bigint;
  /** The leader epoch from metadata (KIP-320), sent for fencing; -1 unknown. */
  leaderEpoch: number;
  /** The leader epoch of the record before `fetchOffset`; -1 unknown. */
  fetchedEpoch: number;
  /**
   * Where each leader epoch starts among the offsets fetched ([start offset, epoch], ascending,
   * bounded): the epoch of a record to commit, and of the fetch position after a truncation.
   */
  epochStarts: [bigint, number][];
  /** Set while the position waits for OffsetForLeaderEpoch; the partition is not fetched meanwhile. */
  validating: boolean;
}

/** The most epoch starts a partition remembers. */
const MAX_EPOCH_STARTS = 64;

/**
 * The leader epoch of the record just before `offset` (what OffsetCommit's
 * `committedLeaderEpoch` wants for a commit of `offset`), -1 when unknown.
 *
 * @internal
 */
export function epochBefore(tp: PartitionState, offset: bigint): number {
  const starts = tp.epochStarts;
  for (let i = starts.length - 1; i >= 0; i--) if (starts[i][0] < offset) return starts[i][1];
  return -1;
}

function noteEpoch(tp: PartitionState, start: bigint, epoch: number): void {
  if (epoch < 0) return;
  const starts = tp.epochStarts;
  const last = starts[starts.length - 1];
  if (last !== undefined && last[1] === epoch) return;
  // Fetched offsets only move forward, except after a seek or truncation, which drop what lies ahead.
  while (starts.length > 0 && starts[starts.length - 1][0] >= start) starts.pop();
  starts.push([start, epoch]);
  if (starts.length > MAX_EPOCH_STARTS) starts.shift();
}

/**
 * Records of one partition from one fetch.
 *
 * @internal
 */
export interface Chunk {
  /** The partition. */
  readonly tp: PartitionState;
  /** Its epoch when fetched. */
  readonly epoch: number;
  /** The records (control batches removed). */
  readonly records: ConsumerRecord[];
  /** The next record to hand out. */
  index: number;
  /** The fetched bytes it accounts for. */
  readonly bytes: number;
  /** Records it still counts for in the prefetch budget (its header counts while undecoded). */
  count: number;
  /**
   * The fetched batches, not decoded yet: {@linkcode Fetcher.take} decodes a few at a time into a
   * chunk of their own, so that records are made just before they are handed out and die young
   * (a whole fetch decoded at once outlives V8's young generation and fills the old one).
   */
  readonly lazy?: LazyBatches;
}

/** Undecoded batches of one partition's fetch. */
interface LazyBatches {
  readonly bytes: Uint8Array;
  readonly frames: RecordBatchFrame[];
  /** The next frame to decode. */
  at: number;
  /** The offset fetched from: records before it (in the first batch) are skipped. */
  readonly from: bigint;
}

/** Batches decoded per {@linkcode Fetcher.take} call: at least one, then up to this many bytes. */
const SLICE_BYTES = 32 * 1024;
const NO_RECORDS: ConsumerRecord[] = [];
const NO_HEADERS: RecordHeader[] = [];

/**
 * The fields of the record being made, handed to the ConsumerRecord constructor: one reused
 * object instead of a KafkaRecord per record (the constructor copies the fields out).
 */
const scratch: KafkaRecord = {
  offset: 0n,
  offsetDelta: 0,
  timestamp: 0,
  attributes: 0,
  key: null,
  value: null,
  headers: NO_HEADERS,
};

/** Makes a partition's ConsumerRecords from decoded fields (one closure per decoded slice). */
function recordBuilder(tp: PartitionState): RecordBuilder<ConsumerRecord> {
  const { topic, partition } = tp;
  return (offset, timestamp, key, value, headers, leaderEpoch) => {
    scratch.offset = offset;
    scratch.timestamp = timestamp;
    scratch.key = key;
    scratch.value = value;
    scratch.headers = headers;
    return new ConsumerRecord(topic, partition, scratch, leaderEpoch);
  };
}

/** Fetcher options, all required (the consumer applies the defaults). */
export interface FetcherOptions {
  /** How long the broker may hold a fetch. */
  maxWaitMs: number;
  /** The fewest bytes the broker waits for. */
  minBytes: number;
  /** The most bytes per Fetch response. */
  maxBytes: number;
  /** The most bytes per partition in one response. */
  maxPartitionBytes: number;
  /** Prefetch high-water mark in bytes. */
  maxBufferedBytes: number;
  /** Prefetch high-water mark in records. */
  maxBufferedRecords: number;
  /** The reset policy for OFFSET_OUT_OF_RANGE and partitions without a committed offset. */
  reset: "earliest" | "latest";
  /** The first retry backoff. */
  retryBackoffMs: number;
  /** The private connection lane for fetches. */
  lane: Lane;
  /** 0 = read_uncommitted, 1 = read_committed (KIP-98): only committed transactional records. */
  isolationLevel: 0 | 1;
}

const LEADER_ERRORS = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INCONSISTENT_TOPIC_ID,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.OFFSET_NOT_AVAILABLE,
]);

/** The key of a partition in maps. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** @internal What a notice that moved a partition's position says, for the consumer's events. */
export interface OffsetReset {
  /** The partition. */
  tp: PartitionState;
  /** Why it moved. */
  reason: "truncation" | "out-of-range" | "unvalidated";
  /** The position before. */
  from: bigint;
  /** Where it goes. */
  to: bigint | "earliest" | "latest";
}

/**
 * The fetch side of a consumer.
 *
 * @internal Used by the consumer.
 */
export class Fetcher {
  readonly #cluster: Cluster;
  readonly #opts: FetcherOptions;
  readonly #parts = new Map<string, PartitionState>();
  readonly #loops = new Map<number, Promise<void>>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #conns = new Set<Connection>();
  readonly #room = new Signal();
  #queue: Chunk[] = [];
  #head = 0;
  #bufferedBytes = 0;
  #bufferedRecords = 0;
  #stopped = false;
  #refreshing: Promise<void> | null = null;
  #rotate = 0;
  /** Notified when records arrive, an error happens or fetching stops. */
  readonly data: Signal = new Signal();
  /** Set by the consumer: a fatal error to surface to the application. */
  onError: (err: Error) => void = () => {};
  /**
   * Set by the consumer: something the application must hear of that does not
   * stop consuming, such as a {@linkcode LogTruncationError} after the position
   * was reset to where the new leader's log diverges.
   */
  onNotice: (err: Error, reset?: OffsetReset) => void = () => {};
  /** Set by the consumer: where fetches are counted; null when metrics are off. */
  metrics: ConsumerRecorder | null = null;

  /**
   * Creates a fetcher with no partitions.
   *
   * @param cluster The cluster.
   * @param opts Limits and the reset policy.
   */
  constructor(cluster: Cluster, opts: FetcherOptions) {
    this.#cluster = cluster;
    this.#opts = opts;
  }

  /** Bytes in the prefetch buffer. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Records in the prefetch buffer. */
  get bufferedRecords(): number {
    return this.#bufferedRecords;
  }

  /** The assigned partitions. */
  partitions(): PartitionState[] {
    return [...this.#parts.values()];
  }

  /**
   * An assigned partition.
   *
   * @param topic The topic.
   * @param partition The partition.
   */
  get(topic: string, partition: number): PartitionState | undefined {
    return this.#parts.get(tpKey(topic, partition));
  }

  /**
   * Adds partitions, each starting at a known offset or at an offset to look up.
   *
   * @param entries The partitions and where to start.
   */
  assign(
    entries: {
      topic: string;
      partition: number;
      start: bigint | OffsetSpec;
      committed?: bigint;
      /** The leader epoch committed with `committed` (OffsetFetch); the start is validated against it. */
      committedEpoch?: number;
      /** Start paused (nothing is fetched until `setPaused(tp, false)`); the offset lookup still runs. */
      paused?: boolean;
    }[],
  ): void {
    const toReset: [PartitionState, OffsetSpec][] = [];
    const toValidate: PartitionState[] = [];
    for (const e of entries) {
      const key = tpKey(e.topic, e.partition);
      if (this.#parts.has(key)) continue;
      const tp: PartitionState = {
        topic: e.topic,
        partition: e.partition,
        epoch: 0,
        fetchOffset: -1n,
        position: -1n,
        consumed: -1n,
        committed: e.committed ?? -1n,
        leader: -1,
        paused: e.paused ?? false,
        revoked: false,
        highWatermark: -1n,
        leaderEpoch: -1,
        fetchedEpoch: -1,
        epochStarts: [],
        validating: false,
      };
      this.#updateLeader(tp);
      this.#parts.set(key, tp);
      if (typeof e.start === "bigint") {
        this.#setOffset(tp, e.start);
        // A committed offset with its epoch (KIP-320): the log may have been truncated below it while
        // nobody was reading, so check it against the leader before fetching from it.
        if (
          e.committedEpoch !== undefined && e.committedEpoch >= 0 && e.start === e.committed && e.start > 0n
        ) {
          noteEpoch(tp, e.start - 1n, e.committedEpoch);
          tp.fetchedEpoch = e.committedEpoch;
          tp.validating = true;
          toValidate.push(tp);
        }
      } else toReset.push([tp, e.start]);
    }
    if (toReset.length) this.#resetOffsets(toReset);
    if (toValidate.length) this.#validate(toValidate);
    this.#ensureLoops();
  }

  /** Removes every partition and drops their buffered records; returns them. */
  revokeAll(): PartitionState[] {
    return this.revoke([...this.#parts.values()]);
  }

  /**
   * Removes some partitions (a cooperative rebalance gives up only the moved
   * ones) and drops their buffered records; returns those that were assigned.
   *
   * @param parts The partitions to give up.
   */
  revoke(parts: readonly PartitionState[]): PartitionState[] {
    const gone: PartitionState[] = [];
    for (const tp of parts) {
      const key = tpKey(tp.topic, tp.partition);
      if (this.#parts.get(key) !== tp) continue;
      tp.revoked = true;
      tp.epoch++;
      this.#parts.delete(key);
      gone.push(tp);
    }
    if (gone.length === 0) return gone;
    const set = new Set(gone);
    this.#dropBuffered(this.#parts.size === 0 ? () => true : (c) => set.has(c.tp));
    this.#room.notify();
    return gone;
  }

  /**
   * Moves a partition to an offset (or to an offset to look up).
   *
   * @param tp The partition.
   * @param to Where.
   */
  seek(tp: PartitionState, to: bigint | OffsetSpec): void {
    tp.epoch++;
    this.#dropBuffered((c) => c.tp === tp);
    if (typeof to === "bigint") this.#setOffset(tp, to);
    else {
      tp.fetchOffset = -1n;
      this.#resetOffsets([[tp, to]]);
    }
    this.#room.notify();
  }

  /**
   * Pauses or resumes a partition. Pausing drops its buffered records; it
   * resumes at the next offset not handed out.
   *
   * @param tp The partition.
   * @param paused Whether to pause.
   */
  setPaused(tp: PartitionState, paused: boolean): void {
    if (tp.paused === paused) return;
    tp.paused = paused;
    if (paused) {
      tp.epoch++;
      this.#dropBuffered((c) => c.tp === tp);
      if (tp.fetchOffset >= 0n && tp.position >= 0n) this.#rewind(tp, tp.position);
    }
    this.#room.notify();
    this.#ensureLoops();
  }

  #setOffset(tp: PartitionState, offset: bigint): void {
    tp.fetchOffset = offset;
    tp.position = offset;
    tp.consumed = offset;
    // Nothing is known of the epoch before an offset moved to from outside (a seek, a reset).
    tp.fetchedEpoch = -1;
    tp.epochStarts = [];
    tp.validating = false;
  }

  #dropBuffered(match: (c: Chunk) => boolean): void {
    const kept: Chunk[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const c = this.#queue[i];
      if (match(c)) {
        this.#bufferedBytes -= c.bytes;
        this.#bufferedRecords -= c.count;
      } else kept.push(c);
    }
    this.#queue = kept;
    this.#head = 0;
  }

  /**
   * The next buffered chunk, or null. Its bytes leave the prefetch budget now,
   * which lets the fetch loops ask for more.
   */
  take(): Chunk | null {
    while (this.#head < this.#queue.length) {
      const c = this.#queue[this.#head];
      const live = c.epoch === c.tp.epoch && !c.tp.revoked && !c.tp.paused;
      if (c.lazy !== undefined && live) {
        const records = this.#decodeSlice(c, c.lazy);
        // null: the slice did not decode; the partition was rewound and its chunks dropped.
        if (records === null) continue;
        if (c.lazy.at >= c.lazy.frames.length) this.#shift(c);
        this.#room.notify();
        if (records.length > 0) {
          return { tp: c.tp, epoch: c.epoch, records, index: 0, bytes: 0, count: records.length };
        }
        continue;
      }
      this.#shift(c);
      this.#room.notify();
      if (live) return c;
    }
    return null;
  }

  /** Removes the head chunk `c` from the queue and from the prefetch budget. */
  #shift(c: Chunk): void {
    this.#queue[this.#head++] = undefined as unknown as Chunk;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#bufferedBytes -= c.bytes;
    this.#bufferedRecords -= c.count;
    c.count = 0;
  }

  /**
   * Decodes the next batches of a lazy chunk (at least one, up to SLICE_BYTES). When they do
   * not decode (a checksum or format error), the application hears of it and the partition
   * goes back to the first of them, to be fetched again: null then.
   */
  #decodeSlice(c: Chunk, lazy: LazyBatches): ConsumerRecord[] | null {
    const { frames } = lazy;
    const first = lazy.at;
    const startPos = frames[first].start;
    let end = first;
    let counted = 0;
    while (end < frames.length && (end === first || frames[end].end - startPos <= SLICE_BYTES)) {
      counted += frames[end].count;
      end++;
    }
    const tp = c.tp;
    const out: ConsumerRecord[] = [];
    try {
      // Straight into ConsumerRecords (one object per record); control batches and records
      // before the fetch offset are left out.
      decodeRecordsInto(lazy.bytes.subarray(startPos, frames[end - 1].end), recordBuilder(tp), out, {
        topic: tp.topic,
        partition: tp.partition,
        from: lazy.from,
      });
    } catch (err) {
      const from = frames[first].baseOffset > lazy.from ? frames[first].baseOffset : lazy.from;
      tp.epoch++;
      this.#dropBuffered((x) => x.tp === tp);
      this.#rewind(tp, from);
      this.#room.notify();
      this.metrics?.errors.add(err);
      this.onError(err as Error);
      return null;
    } finally {
      // Holds no fetched bytes past the slice.
      scratch.key = scratch.value = null;
      scratch.headers = NO_HEADERS;
    }
    lazy.at = end;
    c.count -= counted;
    this.#bufferedRecords -= counted;
    return out;
  }

  #hasRoom(): boolean {
    return this.#bufferedBytes < this.#opts.maxBufferedBytes &&
      this.#bufferedRecords < this.#opts.maxBufferedRecords;
  }

  /** Moves the fetch position back to `offset` (at or after the last validated point), keeping epochs before it. */
  #rewind(tp: PartitionState, offset: bigint): void {
    tp.fetchOffset = offset;
    while (tp.epochStarts.length > 0 && tp.epochStarts[tp.epochStarts.length - 1][0] >= offset) {
      tp.epochStarts.pop();
    }
    tp.fetchedEpoch = epochBefore(tp, offset);
  }

  /**
   * Takes the partition's leader and leader epoch from the metadata cache
   * (which already ignores older epochs from brokers that lag). True when the
   * epoch went up after records were fetched: the position must then be
   * validated (KIP-320).
   */
  #updateLeader(tp: PartitionState): boolean {
    const p = this.#cluster.cachedTopic(tp.topic)?.partitions[tp.partition];
    if (!p) {
      tp.leader = -1;
      return false;
    }
    const raised = tp.leaderEpoch >= 0 && p.leaderEpoch > tp.leaderEpoch;
    tp.leader = p.leader;
    tp.leaderEpoch = p.leaderEpoch;
    return raised && tp.fetchedEpoch >= 0 && tp.fetchOffset >= 0n;
  }

  #ensureLoops(): void {
    if (this.#stopped) return;
    let unknown = false;
    for (const tp of this.#parts.values()) {
      if (tp.leader < 0) {
        unknown = true;
        continue;
      }
      if (!this.#loops.has(tp.leader)) {
        const node = tp.leader;
        const p = this.#fetchLoop(node).finally(() => this.#loops.delete(node));
        this.#loops.set(node, p);
      }
    }
    if (unknown) this.#refreshLeaders();
  }

  /** Refreshes metadata and moves partitions to their new leaders. */
  #refreshLeaders(): Promise<void> {
    if (this.#refreshing || this.#stopped) return this.#refreshing ?? Promise.resolve();
    const topics = [...new Set([...this.#parts.values()].map((tp) => tp.topic))];
    const p = (async () => {
      try {
        await this.#cluster.refreshMetadata(topics);
      } catch {
        // Tried again on the next error.
      }
      await sleep(this.#opts.retryBackoffMs);
    })().finally(() => {
      this.#refreshing = null;
      this.#tasks.delete(p);
      const moved: PartitionState[] = [];
      for (const tp of this.#parts.values()) {
        if (this.#updateLeader(tp) && !tp.validating) {
          tp.validating = true;
          moved.push(tp);
        }
      }
      if (moved.length && !this.#stopped) this.#validate(moved);
      if (!this.#stopped) {
        this.#room.notify();
        // Starts loops for new leaders; partitions still without one refresh again (after the backoff above).
        this.#ensureLoops();
      }
    });
    this.#refreshing = p;
    this.#tasks.add(p);
    return p;
  }

  #resetOffsets(items: [PartitionState, OffsetSpec][]): void {
    const p = (async () => {
      let backoff = this.#opts.retryBackoffMs;
      for (let attempt = 0; !this.#stopped; attempt++) {
        const todo = items.filter(([tp]) => !tp.revoked && tp.fetchOffset < 0n);
        if (todo.length === 0) return;
        const epochs = todo.map(([tp]) => tp.epoch);
        try {
          const specs = todo.map(([tp, spec]) => ({ topic: tp.topic, partition: tp.partition, spec }));
          const offsets = await listOffsets(this.#cluster, specs, this.#opts.isolationLevel);
          todo.forEach(([tp], i) => {
            if (tp.epoch !== epochs[i] || tp.revoked) return;
            const o = offsets.get(tpKey(tp.topic, tp.partition));
            if (o !== undefined) this.#setOffset(tp, o);
          });
          this.#room.notify();
          this.#ensureLoops();
          return;
        } catch (err) {
          if (this.#stopped) return;
          if (
            attempt >= 10 || !(err instanceof KafkaError) || (err instanceof BrokerError && !err.retriable)
          ) {
            this.onError(err as Error);
            this.data.notify();
            return;
          }
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 1000);
        }
      }
    })();
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  /**
   * Validates the fetch positions of `items` against their leaders with
   * OffsetForLeaderEpoch (KIP-320), in the background, until each is settled,
   * moved elsewhere (seek, revocation) or the fetcher stops. Leader errors
   * refresh metadata and try again with backoff.
   */
  #validate(items: PartitionState[]): void {
    const p = (async () => {
      let backoff = this.#opts.retryBackoffMs;
      while (!this.#stopped) {
        const todo = items.filter((tp) =>
          tp.validating && !tp.revoked && this.#parts.get(tpKey(tp.topic, tp.partition)) === tp
        );
        if (todo.length === 0) return;
        let again = false;
        try {
          again = await this.#validateOnce(todo);
        } catch (err) {
          if (this.#stopped) return;
          if (
            !(err instanceof KafkaError) || err instanceof ProtocolError || err instanceof AuthenticationError
          ) {
            for (const tp of todo) tp.validating = false;
            this.onError(err as Error);
            this.data.notify();
            return;
          }
          again = true;
        }
        this.#room.notify();
        this.#ensureLoops();
        if (!again) continue;
        await this.#refreshLeaders();
        await this.#room.wait(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    })();
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  /** One round of OffsetForLeaderEpoch, per leader; true when some partition must be tried again. */
  async #validateOnce(todo: PartitionState[]): Promise<boolean> {
    const byLeader = new Map<number, PartitionState[]>();
    let again = false;
    for (const tp of todo) {
      if (tp.leader < 0) {
        again = true;
        continue;
      }
      byLeader.set(tp.leader, [...(byLeader.get(tp.leader) ?? []), tp]);
    }
    await Promise.all([...byLeader].map(async ([leader, list]) => {
      const conn = await this.#cluster.connectionTo(leader, "default");
      if (!conn.brokerVersions.has(offsetForLeaderEpoch.apiKey)) {
        // A broker without OffsetForLeaderEpoch cannot tell; fetch on as before KIP-320.
        for (const tp of list) tp.validating = false;
        return;
      }
      const sent = list.map((tp) => ({ tp, epoch: tp.epoch, offset: tp.fetchOffset }));
      const topics = new Map<
        string,
        { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[]
      >();
      for (const tp of list) {
        topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), {
          partition: tp.partition,
          currentLeaderEpoch: tp.leaderEpoch,
          leaderEpoch: tp.fetchedEpoch,
        }]);
      }
      const res = await conn.request(offsetForLeaderEpoch, {
        replicaId: -1,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
      if (this.#stopped) return;
      for (const t of res.topics) {
        for (const r of t.partitions) {
          const s = sent.find((x) => x.tp.topic === t.topic && x.tp.partition === r.partition);
          if (!s) continue;
          const { tp } = s;
          if (tp.epoch !== s.epoch || tp.fetchOffset !== s.offset || !tp.validating || tp.revoked) {
            again = true;
            continue;
          }
          if (r.errorCode === 0) {
            this.#diverged(tp, r.leaderEpoch, r.endOffset);
            continue;
          }
          const err = new BrokerError(r.errorCode, {
            api: "OffsetForLeaderEpoch",
            topic: t.topic,
            partition: r.partition,
            broker: conn.address,
          });
          if (LEADER_ERRORS.has(r.errorCode) || err.retriable) {
            again = true;
            continue;
          }
          tp.validating = false;
          this.onError(err);
          this.data.notify();
        }
      }
      // A partition the broker did not answer for is asked again.
      if (sent.some((x) => x.tp.validating && x.tp.epoch === x.epoch)) again = true;
    }));
    return again;
  }

  /**
   * Settles a partition against where its leader's log ends for the epoch it
   * fetched last (`endOffset` of `epoch`, from OffsetForLeaderEpoch or a
   * Fetch's diverging epoch). Below the fetch position means the log was
   * truncated: fetching goes back to `endOffset`, and when records past it
   * were already handed out, a `LogTruncationError` reports it.
   */
  #diverged(tp: PartitionState, epoch: number, endOffset: bigint): void {
    tp.validating = false;
    if (epoch < 0 || endOffset < 0n) {
      // The leader has no epoch at or before ours (its log starts later): reset by the policy.
      const position = tp.position;
      tp.epoch++;
      this.#dropBuffered((c) => c.tp === tp);
      tp.fetchOffset = -1n;
      this.#resetOffsets([[tp, this.#opts.reset]]);
      this.onNotice(
        new KafkaError(
          `The leader of ${tp.topic}[${tp.partition}] knows no leader epoch up to ${tp.fetchedEpoch}, so position ${position} cannot be validated; it is reset to the ${this.#opts.reset} offset`,
        ),
        { tp, reason: "unvalidated", from: position, to: this.#opts.reset },
      );
      return;
    }
    if (endOffset >= tp.fetchOffset) {
      // Our log matches the leader's up to the fetch position; go on in the epoch the leader names.
      tp.fetchedEpoch = epoch;
      return;
    }
    tp.epoch++;
    this.#dropBuffered((c) => c.tp === tp);
    const position = tp.position;
    if (position > endOffset) {
      this.#rewind(tp, endOffset);
      // The record before endOffset is in the leader's `epoch`: the next fetch says so.
      tp.fetchedEpoch = epoch;
      tp.position = endOffset;
      if (tp.consumed > endOffset) tp.consumed = endOffset;
      this.onNotice(new LogTruncationError(tp.topic, tp.partition, position, endOffset), {
        tp,
        reason: "truncation",
        from: position,
        to: endOffset,
      });
    } else {
      // Only records not yet handed out are gone: fetch again from the position.
      this.#rewind(tp, position);
    }
    this.#room.notify();
  }

  async #fetchLoop(node: number): Promise<void> {
    let backoff = this.#opts.retryBackoffMs;
    while (!this.#stopped) {
      const mine: PartitionState[] = [];
      for (const tp of this.#parts.values()) if (tp.leader === node) mine.push(tp);
      if (mine.length === 0) return;
      const ready = mine.filter((tp) => !tp.paused && tp.fetchOffset >= 0n && !tp.validating);
      if (ready.length === 0 || !this.#hasRoom()) {
        await this.#room.wait(500);
        continue;
      }
      // Rotate the order so that a partition whose first batch is larger than its
      // share of the response gets to be first (and so complete) in time.
      const start = this.#rotate++ % ready.length;
      const order = ready.slice(start).concat(ready.slice(0, start));
      try {
        await this.#fetchOnce(node, order);
        backoff = this.#opts.retryBackoffMs;
      } catch (err) {
        if (this.#stopped) return;
        this.metrics?.errors.add(err);
        // Corrupt or undecodable records, a non-retriable error: the application hears of it.
        if (
          !(err instanceof KafkaError) || err instanceof ProtocolError ||
          err instanceof AuthenticationError ||
          (err instanceof BrokerError && !err.retriable)
        ) {
          this.onError(err as Error);
          this.data.notify();
          await this.#room.wait(1000);
          continue;
        }
        // A broken connection or a moved leader: look again, then retry.
        await this.#refreshLeaders();
        await this.#room.wait(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  async #fetchOnce(node: number, order: PartitionState[]): Promise<void> {
    const conn = await this.#cluster.connectionTo(node, this.#opts.lane);
    this.#conns.add(conn);
    if (this.#stopped) return;
    const byId = conn.versionFor(fetchApi) >= 13;
    const topics = new Map<string, FetchTopic>();
    const sent = new Map<string, { tp: PartitionState; epoch: number; offset: bigint }>();
    const names = new Map<string, string>();
    for (const tp of order) {
      let t = topics.get(tp.topic);
      if (!t) {
        let topicId = ZERO_UUID;
        if (byId) {
          topicId = this.#cluster.cachedTopic(tp.topic)?.topicId ?? ZERO_UUID;
          if (topicId === ZERO_UUID) {
            await this.#refreshLeaders();
            return;
          }
          names.set(topicId, tp.topic);
        }
        t = byId ? { topicId, partitions: [] } : { topic: tp.topic, partitions: [] };
        topics.set(tp.topic, t);
      }
      t.partitions.push({
        partition: tp.partition,
        // KIP-320: a broker whose epoch differs answers FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, and
        // (v12+) one whose log differs from ours before fetchOffset answers with the diverging epoch.
        currentLeaderEpoch: tp.leaderEpoch,
        lastFetchedEpoch: tp.fetchedEpoch,
        fetchOffset: tp.fetchOffset,
        partitionMaxBytes: this.#opts.maxPartitionBytes,
      });
      sent.set(tpKey(tp.topic, tp.partition), { tp, epoch: tp.epoch, offset: tp.fetchOffset });
    }
    const start = this.metrics ? performance.now() : 0;
    const res = await conn.request(fetchApi, {
      maxWaitMs: this.#opts.maxWaitMs,
      minBytes: this.#opts.minBytes,
      // Ask for no more than the buffer has room for, so that memory stays near the high-water mark.
      maxBytes: Math.min(
        this.#opts.maxBytes,
        Math.max(this.#opts.maxBufferedBytes - this.#bufferedBytes, this.#opts.maxPartitionBytes),
      ),
      isolationLevel: this.#opts.isolationLevel,
      topics: [...topics.values()],
    }, { timeoutMs: this.#opts.maxWaitMs + this.#cluster.options.requestTimeoutMs });
    const fetchMs = this.metrics ? performance.now() - start : 0;
    if (this.#stopped) return;
    if (res.errorCode) throw new BrokerError(res.errorCode, { api: "Fetch", broker: conn.address });
    let leaderMoved = false;
    let arrived = false;
    for (const t of res.responses) {
      const topic = byId ? names.get(t.topicId) : t.topic;
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const s = sent.get(tpKey(topic, p.partitionIndex));
        if (!s) continue;
        const { tp } = s;
        // Dropped: the partition was sought, paused or revoked while the fetch was out.
        if (tp.epoch !== s.epoch || tp.revoked || tp.fetchOffset !== s.offset || tp.validating) continue;
        if (p.errorCode === 0 && p.divergingEpoch.epoch >= 0 && p.divergingEpoch.endOffset >= 0n) {
          // Fetch v12+: our last fetched epoch ends earlier on this leader (KIP-595/320).
          this.#diverged(tp, p.divergingEpoch.epoch, p.divergingEpoch.endOffset);
          arrived = true;
        } else if (p.errorCode === 0) {
          if (this.#accept(tp, s.offset, p)) arrived = true;
        } else if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          // The position left the log (retention, a truncation without epochs to tell): reset by the
          // policy, and say so, since that skips or re-reads records.
          const err = new BrokerError(p.errorCode, { api: "Fetch", topic, partition: p.partitionIndex });
          this.onNotice(
            new KafkaError(
              `Offset ${s.offset} of ${topic}[${p.partitionIndex}] is out of range; the position is reset to the ${this.#opts.reset} offset`,
              { cause: err },
            ),
            { tp, reason: "out-of-range", from: s.offset, to: this.#opts.reset },
          );
          tp.fetchOffset = -1n;
          this.#resetOffsets([[tp, this.#opts.reset]]);
        } else if (LEADER_ERRORS.has(p.errorCode)) {
          leaderMoved = true;
        } else {
          const err = new BrokerError(p.errorCode, { api: "Fetch", topic, partition: p.partitionIndex });
          if (!err.retriable) {
            this.onError(err);
            arrived = true;
          }
        }
      }
    }
    this.metrics?.fetched(fetchMs);
    if (arrived) this.data.notify();
    if (leaderMoved) {
      await this.#refreshLeaders();
    }
  }

  /** Decodes one partition's records into a chunk; true when records were buffered. */
  #accept(tp: PartitionState, from: bigint, p: FetchPartitionData): boolean {
    tp.highWatermark = p.highWatermark;
    const bytes = p.records;
    if (bytes === null || bytes.length === 0) return false;
    // Magic 2 without aborted transactions to filter: located now, decoded as they are handed out.
    if (!(this.#opts.isolationLevel === 1 && p.abortedTransactions?.length)) {
      const frames = recordBatchFrames(bytes, { topic: tp.topic, partition: tp.partition });
      if (frames.every((f) => f.magic === 2)) return this.#acceptLazy(tp, from, bytes, frames);
    }
    const batches = decodeRecordBatches(bytes, { topic: tp.topic, partition: tp.partition });
    let next = from;
    const out: ConsumerRecord[] = [];
    // read_committed: the broker lists the aborted transactions that start in this range; a
    // transactional batch of such a producer is skipped until its ABORT marker (KIP-98).
    const aborted = this.#opts.isolationLevel === 1 && p.abortedTransactions?.length
      ? [...p.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1))
      : null;
    const abortedProducers = new Set<bigint>();
    for (const b of batches) {
      if (aborted) {
        while (aborted.length && aborted[0].firstOffset <= b.lastOffset) {
          abortedProducers.add(aborted.shift()!.producerId);
        }
        if (b.isControl && b.control?.type === ControlRecordType.abort) abortedProducers.delete(b.producerId);
        if (b.isTransactional && !b.isControl && abortedProducers.has(b.producerId)) {
          const after = b.lastOffset + 1n;
          if (after > next) next = after;
          if (b.partitionLeaderEpoch >= 0) noteEpoch(tp, b.baseOffset, b.partitionLeaderEpoch);
          continue;
        }
      }
      // Control batches (transaction markers) take offsets but are not records for the application.
      if (!b.isControl) {
        const epoch = b.partitionLeaderEpoch;
        for (const r of b.records) {
          if (r.offset >= from) out.push(new ConsumerRecord(tp.topic, tp.partition, r, epoch));
        }
      }
      const after = b.lastOffset + 1n;
      if (after > next) next = after;
      if (b.partitionLeaderEpoch >= 0) noteEpoch(tp, b.baseOffset, b.partitionLeaderEpoch);
    }
    tp.fetchOffset = next;
    tp.fetchedEpoch = epochBefore(tp, next);
    this.metrics?.partition(out.length, bytes.length);
    if (out.length === 0) return false;
    this.#queue.push({ tp, epoch: tp.epoch, records: out, index: 0, bytes: bytes.length, count: out.length });
    this.#bufferedBytes += bytes.length;
    this.#bufferedRecords += out.length;
    return true;
  }

  /** Queues a partition's batches undecoded (see {@linkcode Chunk.lazy}); true when any may hold records. */
  #acceptLazy(tp: PartitionState, from: bigint, bytes: Uint8Array, frames: RecordBatchFrame[]): boolean {
    let next = from;
    let count = 0;
    let data = false;
    for (const f of frames) {
      if (!f.isControl && f.lastOffset >= from) {
        count += f.count;
        data = true;
      }
      const after = f.lastOffset + 1n;
      if (after > next) next = after;
      if (f.partitionLeaderEpoch >= 0) noteEpoch(tp, f.baseOffset, f.partitionLeaderEpoch);
    }
    tp.fetchOffset = next;
    tp.fetchedEpoch = epochBefore(tp, next);
    if (!data) return false;
    const lazy: LazyBatches = { bytes, frames, at: 0, from };
    this.#queue.push({
      tp,
      epoch: tp.epoch,
      records: NO_RECORDS,
      index: 0,
      bytes: bytes.length,
      count,
      lazy,
    });
    this.#bufferedBytes += bytes.length;
    this.#bufferedRecords += count;
    this.metrics?.partition(count, bytes.length);
    return true;
  }

  /** Stops every loop and waits for them (at most a fetch's maxWaitMs). Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#room.notify();
    this.data.notify();
    // Closing the private connections ends the long polls in flight at once.
    for (const c of this.#conns) c.close();
    await Promise.allSettled([...this.#loops.values(), ...this.#tasks]);
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Offsets by timestamp through ListOffsets, sent to each partition's leader:
 * "earliest" (the log start), "latest" (the high watermark), the first offset
 * at or after a timestamp (the latest when there is none), or a given offset.
 *
 * @internal
 */
export async function listOffsets(
  cluster: Cluster,
  specs: readonly { topic: string; partition: number; spec: OffsetSpec }[],
  isolationLevel: 0 | 1 = 0,
): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  const pending: { topic: string; partition: number; ts: bigint; leaderEpoch?: number }[] = [];
  for (const s of specs) {
    const spec = s.spec;
    if (typeof spec === "object" && "offset" in spec) out.set(tpKey(s.topic, s.partition), spec.offset);
    else {
      const ts = spec === "earliest"
        ? -2n
        : spec === "latest"
        ? -1n
        : BigInt(spec.timestamp instanceof Date ? spec.timestamp.getTime() : spec.timestamp);
      pending.push({ topic: s.topic, partition: s.partition, ts });
    }
  }
  let todo = pending;
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt > 0) await cluster.refreshMetadata(todo.map((t) => t.topic));
    const byLeader = new Map<number, typeof todo>();
    for (const t of todo) {
      const info = cluster.cachedTopic(t.topic) ?? await cluster.readyTopic(t.topic);
      const p = info.partitions[t.partition];
      const leader = p?.leader ?? -1;
      if (leader < 0) throw new KafkaError(`No leader for ${t.topic}[${t.partition}]`);
      // KIP-320: the leader fences a request made with another epoch (FENCED/UNKNOWN_LEADER_EPOCH, retried).
      t.leaderEpoch = p.leaderEpoch;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), t]);
    }
    const retry: typeof todo = [];
    let lastErr: BrokerError | null = null;
    await Promise.all([...byLeader].map(async ([leader, list]) => {
      const conn = await cluster.connectionTo(leader, "default");
      const topics = new Map<
        string,
        { partitionIndex: number; currentLeaderEpoch: number; timestamp: bigint }[]
      >();
      for (const t of list) {
        topics.set(t.topic, [...(topics.get(t.topic) ?? []), {
          partitionIndex: t.partition,
          currentLeaderEpoch: t.leaderEpoch ?? -1,
          timestamp: t.ts,
        }]);
      }
      const res = await conn.request(listOffsetsApi, {
        replicaId: -1,
        // read_committed: "latest" is the last stable offset, not the high watermark.
        isolationLevel,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        timeoutMs: 5000,
      });
      for (const t of res.topics) {
        for (const p of t.partitions) {
          const item = list.find((x) => x.topic === t.name && x.partition === p.partitionIndex);
          if (!item) continue;
          if (p.errorCode) {
            const err = new BrokerError(p.errorCode, {
              api: "ListOffsets",
              topic: t.name,
              partition: p.partitionIndex,
            });
            if (!err.retriable) throw err;
            lastErr = err;
            retry.push(item);
          } else if (p.offset < 0n && item.ts >= 0n) {
            // No record at or after the timestamp: start at the end.
            retry.push({ ...item, ts: -1n });
          } else out.set(tpKey(t.name, p.partitionIndex), p.offset);
        }
      }
    }));
    if (retry.length > 0 && attempt >= 5) {
      throw lastErr ?? new KafkaError("ListOffsets did not answer every partition");
    }
    if (retry.length > 0 && lastErr) await sleep(100 * (attempt + 1));
    todo = retry;
  }
  return out;
}
