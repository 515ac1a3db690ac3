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
 * @module
 */

import { fetch as fetchApi, type FetchPartitionData, type FetchTopic } from "../protocol/apis/fetch.ts";
import { listOffsets as listOffsetsApi } from "../protocol/apis/list_offsets.ts";
import { ErrorCode } from "../protocol/error_codes.ts";
import { ZERO_UUID } from "../protocol/primitives.ts";
import {
  ControlRecordType,
  decodeRecordBatches,
  type KafkaRecord,
  type RecordHeader,
} from "../protocol/record_batch.ts";
import type { Cluster, Lane } from "./cluster.ts";
import { AuthenticationError, BrokerError, KafkaError, ProtocolError } from "./errors.ts";
import type { Connection } from "./connection.ts";
import { Signal } from "./group.ts";

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

  /**
   * Wraps a decoded record.
   *
   * @param topic The topic.
   * @param partition The partition.
   * @param r The decoded record.
   */
  constructor(topic: string, partition: number, r: KafkaRecord) {
    this.topic = topic;
    this.partition = partition;
    this.offset = r.offset;
    this.key = r.key;
    this.value = r.value;
    this.headers = r.headers;
    this.timestamp = r.timestamp;
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
    entries: { topic: string; partition: number; start: bigint | OffsetSpec; committed?: bigint }[],
  ): void {
    const toReset: [PartitionState, OffsetSpec][] = [];
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
        leader: this.#leaderOf(e.topic, e.partition),
        paused: false,
        revoked: false,
        highWatermark: -1n,
      };
      this.#parts.set(key, tp);
      if (typeof e.start === "bigint") this.#setOffset(tp, e.start);
      else toReset.push([tp, e.start]);
    }
    if (toReset.length) this.#resetOffsets(toReset);
    this.#ensureLoops();
  }

  /** Removes every partition and drops their buffered records; returns them. */
  revokeAll(): PartitionState[] {
    const all = [...this.#parts.values()];
    for (const tp of all) {
      tp.revoked = true;
      tp.epoch++;
    }
    this.#parts.clear();
    this.#dropBuffered(() => true);
    this.#room.notify();
    return all;
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
      if (tp.fetchOffset >= 0n && tp.position >= 0n) tp.fetchOffset = tp.position;
    }
    this.#room.notify();
    this.#ensureLoops();
  }

  #setOffset(tp: PartitionState, offset: bigint): void {
    tp.fetchOffset = offset;
    tp.position = offset;
    tp.consumed = offset;
  }

  #dropBuffered(match: (c: Chunk) => boolean): void {
    const kept: Chunk[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const c = this.#queue[i];
      if (match(c)) {
        this.#bufferedBytes -= c.bytes;
        this.#bufferedRecords -= c.records.length - c.index;
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
      this.#queue[this.#head++] = undefined as unknown as Chunk;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#bufferedBytes -= c.bytes;
      this.#bufferedRecords -= c.records.length;
      this.#room.notify();
      if (c.epoch === c.tp.epoch && !c.tp.revoked && !c.tp.paused) return c;
    }
    return null;
  }

  #hasRoom(): boolean {
    return this.#bufferedBytes < this.#opts.maxBufferedBytes &&
      this.#bufferedRecords < this.#opts.maxBufferedRecords;
  }

  #leaderOf(topic: string, partition: number): number {
    return this.#cluster.cachedTopic(topic)?.partitions[partition]?.leader ?? -1;
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
      for (const tp of this.#parts.values()) tp.leader = this.#leaderOf(tp.topic, tp.partition);
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

  async #fetchLoop(node: number): Promise<void> {
    let backoff = this.#opts.retryBackoffMs;
    while (!this.#stopped) {
      const mine: PartitionState[] = [];
      for (const tp of this.#parts.values()) if (tp.leader === node) mine.push(tp);
      if (mine.length === 0) return;
      const ready = mine.filter((tp) => !tp.paused && tp.fetchOffset >= 0n);
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
        fetchOffset: tp.fetchOffset,
        partitionMaxBytes: this.#opts.maxPartitionBytes,
      });
      sent.set(tpKey(tp.topic, tp.partition), { tp, epoch: tp.epoch, offset: tp.fetchOffset });
    }
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
        if (tp.epoch !== s.epoch || tp.revoked || tp.fetchOffset !== s.offset) continue;
        if (p.errorCode === 0) {
          if (this.#accept(tp, s.offset, p)) arrived = true;
        } else if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
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
          continue;
        }
      }
      // Control batches (transaction markers) take offsets but are not records for the application.
      if (!b.isControl) {
        for (const r of b.records) {
          if (r.offset >= from) out.push(new ConsumerRecord(tp.topic, tp.partition, r));
        }
      }
      const after = b.lastOffset + 1n;
      if (after > next) next = after;
    }
    tp.fetchOffset = next;
    if (out.length === 0) return false;
    this.#queue.push({ tp, epoch: tp.epoch, records: out, index: 0, bytes: bytes.length });
    this.#bufferedBytes += bytes.length;
    this.#bufferedRecords += out.length;
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
  const pending: { topic: string; partition: number; ts: bigint }[] = [];
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
      const leader = info.partitions[t.partition]?.leader ?? -1;
      if (leader < 0) throw new KafkaError(`No leader for ${t.topic}[${t.partition}]`);
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), t]);
    }
    const retry: typeof todo = [];
    let lastErr: BrokerError | null = null;
    await Promise.all([...byLeader].map(async ([leader, list]) => {
      const conn = await cluster.connectionTo(leader, "default");
      const topics = new Map<string, { partitionIndex: number; timestamp: bigint }[]>();
      for (const t of list) {
        topics.set(t.topic, [...(topics.get(t.topic) ?? []), {
          partitionIndex: t.partition,
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
