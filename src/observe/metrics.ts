/**
 * Metrics: cheap recorders that the connection, the producer's sender, the
 * fetcher and the group update as they work, and the plain snapshot objects
 * that `client.metrics()`, `producer.metrics()` and `consumer.metrics()` return.
 *
 * Everything here is fixed in size whatever the traffic: integer counters, a
 * log-bucket histogram (a fixed array of counts, no list of samples) and a
 * rate meter with a fixed ring of one-second slots. Updates happen per request,
 * per batch or per fetch, never per record, and allocate nothing.
 *
 * @module
 */

import { BrokerError } from "../errors.ts";

/** Sub-buckets per power of two: values are placed within 2^(1/8) ≈ 9% (reported at the bucket's middle). */
const SUB = 8;
/** The smallest bucketed value is 2^MIN_EXP (about 1 µs when the unit is ms); below it goes to bucket 0. */
const MIN_EXP = -10;
/** The largest bucketed value is 2^MAX_EXP (about 12 days in ms, or 1 TiB); above it goes to the last bucket. */
const MAX_EXP = 40;
const BUCKETS = (MAX_EXP - MIN_EXP) * SUB;

/**
 * A summary of a distribution, from a fixed-bucket log histogram: `p50` and
 * `p99` are within about 5% of the exact values, `max` and `mean` are exact.
 * All zero when nothing was recorded.
 */
export interface Distribution {
  /** How many values were recorded. */
  count: number;
  /** Their mean. */
  mean: number;
  /** The median. */
  p50: number;
  /** The 99th percentile. */
  p99: number;
  /** The largest value. */
  max: number;
}

/**
 * A histogram with fixed logarithmic buckets: recording is a `Math.log2` and
 * an array increment; memory does not grow with the number of values.
 *
 * @internal
 */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  /** Adds one value (negative values count as 0). */
  record(v: number): void {
    this.count++;
    if (!(v > 0)) return;
    this.sum += v;
    if (v > this.max) this.max = v;
    let i = Math.floor((Math.log2(v) - MIN_EXP) * SUB);
    if (i < 0) i = 0;
    else if (i >= BUCKETS) i = BUCKETS - 1;
    this.#counts[i]++;
  }

  /** The value below which a fraction `q` of the values lie (the middle of its bucket, at most `max`). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    // Values of 0 (or below) are not in the buckets; they rank first.
    const zeros = this.count - this.#bucketed();
    let rank = Math.ceil(q * this.count);
    if (rank <= zeros) return 0;
    rank -= zeros;
    for (let i = 0; i < BUCKETS; i++) {
      rank -= this.#counts[i];
      if (rank <= 0) return Math.min(this.max, 2 ** (MIN_EXP + (i + 0.5) / SUB));
    }
    return this.max;
  }

  #bucketed(): number {
    let n = 0;
    for (let i = 0; i < BUCKETS; i++) n += this.#counts[i];
    return n;
  }

  /** The summary. */
  summary(): Distribution {
    return {
      count: this.count,
      mean: this.count === 0 ? 0 : this.sum / this.count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      max: this.max,
    };
  }
}

const SLOT_MS = 1000;
const SLOTS = 10;

/**
 * A total and its rate per second over the last ~10 s, kept in a fixed ring of
 * one-second slots.
 *
 * @internal
 */
export class Meter {
  total = 0;
  readonly #slots = new Float64Array(SLOTS);
  readonly #created = performance.now();
  #slotStart = this.#created;
  #cur = 0;

  /** Adds `n` at `now` (`performance.now()`, which a caller that has it passes). */
  add(n: number, now: number = performance.now()): void {
    this.total += n;
    if (now - this.#slotStart >= SLOT_MS) this.#advance(now);
    this.#slots[this.#cur] += n;
  }

  #advance(now: number): void {
    const steps = Math.floor((now - this.#slotStart) / SLOT_MS);
    for (let i = 0; i < Math.min(steps, SLOTS); i++) {
      this.#cur = (this.#cur + 1) % SLOTS;
      this.#slots[this.#cur] = 0;
    }
    this.#slotStart += steps * SLOT_MS;
  }

  /** The rate per second over the window (or since creation, when younger). */
  rate(): number {
    const now = performance.now();
    this.#advance(now);
    let sum = 0;
    for (let i = 0; i < SLOTS; i++) sum += this.#slots[i];
    const span = Math.min((SLOTS - 1) * SLOT_MS + (now - this.#slotStart), now - this.#created);
    return span <= 0 ? 0 : (sum * 1000) / span;
  }
}

/**
 * Counts errors by type: a {@linkcode BrokerError}'s Kafka name
 * ("NOT_LEADER_OR_FOLLOWER"), else the error class's name ("ConnectionError").
 *
 * @internal
 */
export class ErrorCounts {
  readonly #counts = new Map<string, number>();

  /** Counts one error. */
  add(err: unknown): void {
    const key = errorType(err);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** The counts as a plain object. */
  toRecord(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** The name an error is counted under. */
export function errorType(err: unknown): string {
  if (err instanceof BrokerError) return err.type;
  if (err instanceof Error) return err.name;
  return typeof err;
}

// ---------------------------------------------------------------------------
// Requests, per broker and API (the connection layer)

/** Requests of one API to one broker. */
export interface RequestMetrics {
  /** The broker, host:port. */
  broker: string;
  /** The API, e.g. "Produce", "Fetch". */
  api: string;
  /** Requests answered. */
  responses: number;
  /** Requests that failed without an answer (connection lost, timed out). */
  failures: number;
  /** Requests awaiting an answer now. */
  inFlight: number;
  /** From writing the request to reading its answer, in milliseconds (a Fetch includes its long poll). */
  latencyMs: Distribution;
}

/** One broker's connections together. */
export interface BrokerMetrics {
  /** The broker, host:port. */
  broker: string;
  /** Requests written (including those without an answer, such as Produce with acks 0). */
  requests: number;
  /** Requests awaiting an answer now. */
  inFlight: number;
  /** Bytes written (request frames). */
  bytesSent: number;
  /** Bytes written per second, over the last ~10 s. */
  bytesSentPerSecond: number;
  /** Bytes read (response frames). */
  bytesReceived: number;
  /** Bytes read per second, over the last ~10 s. */
  bytesReceivedPerSecond: number;
}

/** A snapshot of a client's connections: `client.metrics()`. */
export interface ClientMetrics {
  /** Requests written, all brokers. */
  requests: number;
  /** Requests awaiting an answer now, all brokers. */
  inFlight: number;
  /** Bytes written, all brokers. */
  bytesSent: number;
  /** Bytes read, all brokers. */
  bytesReceived: number;
  /** Connections opened. */
  connects: number;
  /** Connection attempts that failed. */
  connectFailures: number;
  /** Per broker. */
  brokers: BrokerMetrics[];
  /** Per broker and API: counts and latency percentiles. */
  requestsByApi: RequestMetrics[];
  /** Requests that failed, by error type ("TimeoutError", "ConnectionError", ...). */
  errors: Record<string, number>;
}

interface ApiStats {
  readonly api: string;
  responses: number;
  failures: number;
  inFlight: number;
  readonly latency: Histogram;
}

/**
 * What a connection reports: one per broker address, shared by that broker's
 * connections.
 *
 * @internal
 */
export class BrokerRecorder {
  readonly broker: string;
  readonly #apis: (ApiStats | undefined)[] = [];
  readonly #client: ClientRecorder;
  requests = 0;
  inFlight = 0;
  readonly sent: Meter = new Meter();
  readonly received: Meter = new Meter();

  constructor(broker: string, client: ClientRecorder) {
    this.broker = broker;
    this.#client = client;
  }

  #stats(apiKey: number, api: string): ApiStats {
    let s = this.#apis[apiKey];
    if (s === undefined) {
      s = { api, responses: 0, failures: 0, inFlight: 0, latency: new Histogram() };
      this.#apis[apiKey] = s;
    }
    return s;
  }

  /** A request was written at `now`; `answered` when a response is awaited. */
  request(apiKey: number, api: string, bytes: number, answered: boolean, now: number): void {
    this.requests++;
    this.sent.add(bytes, now);
    if (answered) {
      this.inFlight++;
      this.#stats(apiKey, api).inFlight++;
    }
  }

  /** The response to a request written at `start` arrived. */
  response(apiKey: number, api: string, start: number, bytes: number): void {
    const now = performance.now();
    this.inFlight--;
    this.received.add(bytes, now);
    const s = this.#stats(apiKey, api);
    s.inFlight--;
    s.responses++;
    s.latency.record(now - start);
  }

  /** A request in flight failed with `err` (its connection closed or timed out). */
  failed(apiKey: number, api: string, err: unknown): void {
    this.inFlight--;
    const s = this.#stats(apiKey, api);
    s.inFlight--;
    s.failures++;
    this.#client.errors.add(err);
  }

  /** A connection attempt ended. */
  connected(ok: boolean): void {
    if (ok) this.#client.connects++;
    else this.#client.connectFailures++;
  }

  /** Per-API snapshots. */
  apis(): RequestMetrics[] {
    const out: RequestMetrics[] = [];
    for (const s of this.#apis) {
      if (s === undefined) continue;
      out.push({
        broker: this.broker,
        api: s.api,
        responses: s.responses,
        failures: s.failures,
        inFlight: s.inFlight,
        latencyMs: s.latency.summary(),
      });
    }
    return out;
  }
}

/**
 * A client's recorders: one {@linkcode BrokerRecorder} per broker address.
 *
 * @internal
 */
export class ClientRecorder {
  readonly #brokers = new Map<string, BrokerRecorder>();
  readonly errors: ErrorCounts = new ErrorCounts();
  connects = 0;
  connectFailures = 0;

  /** The recorder of a broker address, created on first use. */
  broker(address: string): BrokerRecorder {
    let b = this.#brokers.get(address);
    if (!b) this.#brokers.set(address, b = new BrokerRecorder(address, this));
    return b;
  }

  /** The snapshot. */
  snapshot(): ClientMetrics {
    const brokers: BrokerMetrics[] = [];
    const requestsByApi: RequestMetrics[] = [];
    let requests = 0, inFlight = 0, bytesSent = 0, bytesReceived = 0;
    for (const b of this.#brokers.values()) {
      requests += b.requests;
      inFlight += b.inFlight;
      bytesSent += b.sent.total;
      bytesReceived += b.received.total;
      brokers.push({
        broker: b.broker,
        requests: b.requests,
        inFlight: b.inFlight,
        bytesSent: b.sent.total,
        bytesSentPerSecond: b.sent.rate(),
        bytesReceived: b.received.total,
        bytesReceivedPerSecond: b.received.rate(),
      });
      requestsByApi.push(...b.apis());
    }
    return {
      requests,
      inFlight,
      bytesSent,
      bytesReceived,
      connects: this.connects,
      connectFailures: this.connectFailures,
      brokers,
      requestsByApi,
      errors: this.errors.toRecord(),
    };
  }
}

// ---------------------------------------------------------------------------
// Producer

/** A snapshot of a producer: `producer.metrics()`. */
export interface ProducerMetrics {
  /** Records acknowledged by the brokers (or written, with acks 0). */
  recordsSent: number;
  /** Records acknowledged per second, over the last ~10 s. */
  recordsSentPerSecond: number;
  /** Bytes of record batches acknowledged, as written (compressed). */
  bytesSent: number;
  /** Those bytes per second, over the last ~10 s. */
  bytesSentPerSecond: number;
  /**
   * The same records' uncompressed size, as counted for batching and the buffer
   * (keys, values, headers and a per-record allowance).
   */
  uncompressedBytes: number;
  /** `bytesSent / uncompressedBytes` (below 1 when compression helps); 1 before any batch. */
  compressionRatio: number;
  /** Batches acknowledged. */
  batches: number;
  /** Records per batch. */
  batchRecords: Distribution;
  /** Bytes per batch, as written. */
  batchBytes: Distribution;
  /** Produce requests: from sending to the broker's answer, in milliseconds. */
  requestLatencyMs: Distribution;
  /** Produce requests awaiting an answer now. */
  inFlight: number;
  /** Bytes of records accepted by `send()` and not yet acknowledged or failed. */
  bufferUsedBytes: number;
  /** The buffer's size (`bufferBytes`). */
  bufferBytes: number;
  /** Batches sent again after a failed attempt. */
  retries: number;
  /** Records whose `send()` failed (after retries, or at once for errors that are not retried). */
  recordsFailed: number;
  /** Failed attempts and failures, by error type ("NOT_LEADER_OR_FOLLOWER", "TimeoutError", ...). */
  errors: Record<string, number>;
}

/**
 * What the producer's sender reports.
 *
 * @internal
 */
export class ProducerRecorder {
  readonly records: Meter = new Meter();
  readonly bytes: Meter = new Meter();
  uncompressed = 0;
  readonly batchRecords: Histogram = new Histogram();
  readonly batchBytes: Histogram = new Histogram();
  readonly latency: Histogram = new Histogram();
  retries = 0;
  recordsFailed = 0;
  readonly errors: ErrorCounts = new ErrorCounts();

  /** A batch was acknowledged. */
  batch(records: number, encodedBytes: number, uncompressedBytes: number): void {
    const now = performance.now();
    this.records.add(records, now);
    this.bytes.add(encodedBytes, now);
    this.uncompressed += uncompressedBytes;
    this.batchRecords.record(records);
    this.batchBytes.record(encodedBytes);
  }

  /** A batch of `records` failed for good; `err` is counted when it is not the last attempt's (already counted). */
  failed(records: number, err: unknown): void {
    this.recordsFailed += records;
    if (err !== undefined) this.errors.add(err);
  }

  /** The snapshot, with the sender's and the buffer's current state. */
  snapshot(inFlight: number, bufferUsedBytes: number, bufferBytes: number): ProducerMetrics {
    return {
      recordsSent: this.records.total,
      recordsSentPerSecond: this.records.rate(),
      bytesSent: this.bytes.total,
      bytesSentPerSecond: this.bytes.rate(),
      uncompressedBytes: this.uncompressed,
      compressionRatio: this.uncompressed === 0 ? 1 : this.bytes.total / this.uncompressed,
      batches: this.batchRecords.count,
      batchRecords: this.batchRecords.summary(),
      batchBytes: this.batchBytes.summary(),
      requestLatencyMs: this.latency.summary(),
      inFlight,
      bufferUsedBytes,
      bufferBytes,
      retries: this.retries,
      recordsFailed: this.recordsFailed,
      errors: this.errors.toRecord(),
    };
  }
}

// ---------------------------------------------------------------------------
// Consumer

/** How far a consumer is behind on one partition. */
export interface PartitionLagMetrics {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The next offset the consumer hands to the application. */
  position: bigint;
  /** The partition's high watermark from the last Fetch response (-1 before one). */
  highWatermark: bigint;
  /** `highWatermark - position` (records not yet handed out); -1 while either is unknown. */
  lag: number;
}

/** A snapshot of a consumer: `consumer.metrics()`. */
export interface ConsumerMetrics {
  /** Records fetched (decoded into the prefetch buffer). */
  recordsReceived: number;
  /** Records fetched per second, over the last ~10 s. */
  recordsReceivedPerSecond: number;
  /** Bytes of record batches fetched. */
  bytesReceived: number;
  /** Those bytes per second, over the last ~10 s. */
  bytesReceivedPerSecond: number;
  /** Fetch responses. */
  fetches: number;
  /** Fetch requests: from sending to the answer, in milliseconds (including the broker's long poll). */
  fetchLatencyMs: Distribution;
  /** Records per Fetch response. */
  recordsPerFetch: Distribution;
  /** Per assigned partition: position, high watermark and lag, from the Fetch responses. */
  lag: PartitionLagMetrics[];
  /** The sum of the known lags. */
  totalLag: number;
  /** Assignments taken from the group (each completed rebalance). */
  rebalances: number;
  /** Time spent in rebalances, milliseconds. */
  rebalanceTotalMs: number;
  /** The last rebalance's duration, milliseconds (0 before one). */
  lastRebalanceMs: number;
  /** Fetch failures, by error type. */
  errors: Record<string, number>;
}

/** The part of a fetched partition the lag is computed from. */
export interface LagSource {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The next offset to hand out. */
  readonly position: bigint;
  /** The high watermark of the last fetch. */
  readonly highWatermark: bigint;
}

/**
 * The per-fetch figures both consumers report: records and bytes per response, its latency and
 * its record count.
 *
 * @internal
 */
export class FetchRecorder {
  readonly records: Meter = new Meter();
  readonly bytes: Meter = new Meter();
  readonly latency: Histogram = new Histogram();
  readonly perFetch: Histogram = new Histogram();
  #fetchRecords = 0;
  #fetchBytes = 0;

  /** Records of one partition arrived in the current response. */
  partition(records: number, bytes: number): void {
    this.#fetchRecords += records;
    this.#fetchBytes += bytes;
  }

  /** A response (its partitions reported) took `ms`. */
  fetched(ms: number): void {
    const now = performance.now();
    this.records.add(this.#fetchRecords, now);
    this.bytes.add(this.#fetchBytes, now);
    this.latency.record(ms);
    this.perFetch.record(this.#fetchRecords);
    this.#fetchRecords = 0;
    this.#fetchBytes = 0;
  }
}

/**
 * What the fetcher and the group report.
 *
 * @internal
 */
export class ConsumerRecorder extends FetchRecorder {
  rebalances = 0;
  rebalanceTotalMs = 0;
  lastRebalanceMs = 0;
  readonly errors: ErrorCounts = new ErrorCounts();

  /** A rebalance took `ms`. */
  rebalanced(ms: number): void {
    this.rebalances++;
    this.rebalanceTotalMs += ms;
    this.lastRebalanceMs = ms;
  }

  /** The snapshot, with the assigned partitions' positions. */
  snapshot(parts: Iterable<LagSource>): ConsumerMetrics {
    const lag: PartitionLagMetrics[] = [];
    let totalLag = 0;
    for (const tp of parts) {
      const known = tp.highWatermark >= 0n && tp.position >= 0n;
      const n = known ? Number(tp.highWatermark - tp.position) : -1;
      if (known) totalLag += n;
      lag.push({
        topic: tp.topic,
        partition: tp.partition,
        position: tp.position,
        highWatermark: tp.highWatermark,
        lag: n,
      });
    }
    lag.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
    return {
      recordsReceived: this.records.total,
      recordsReceivedPerSecond: this.records.rate(),
      bytesReceived: this.bytes.total,
      bytesReceivedPerSecond: this.bytes.rate(),
      fetches: this.latency.count,
      fetchLatencyMs: this.latency.summary(),
      recordsPerFetch: this.perFetch.summary(),
      lag,
      totalLag,
      rebalances: this.rebalances,
      rebalanceTotalMs: this.rebalanceTotalMs,
      lastRebalanceMs: this.lastRebalanceMs,
      errors: this.errors.toRecord(),
    };
  }
}

// ---------------------------------------------------------------------------
// Share consumer

/** A snapshot of a share consumer: `shareConsumer.metrics()`. */
export interface ShareConsumerMetrics {
  /** Records acquired (decoded into the prefetch buffer), redeliveries included. */
  recordsReceived: number;
  /** Records acquired per second, over the last ~10 s. */
  recordsReceivedPerSecond: number;
  /** Bytes of record batches received. */
  bytesReceived: number;
  /** Those bytes per second, over the last ~10 s. */
  bytesReceivedPerSecond: number;
  /** Records received with a delivery count above 1 (delivered before, to this member or another). */
  redeliveries: number;
  /** ShareFetch responses. */
  fetches: number;
  /** ShareFetch requests: from sending to the answer, in milliseconds (including the broker's long poll). */
  fetchLatencyMs: Distribution;
  /** Records per ShareFetch response. */
  recordsPerFetch: Distribution;
  /** ShareFetch requests that failed (no answer, or an error for the whole request). */
  fetchErrors: number;
  /** Records whose acceptance the broker confirmed (on a ShareFetch or a ShareAcknowledge). */
  recordsAccepted: number;
  /** Records whose release the broker confirmed (they are delivered again). */
  recordsReleased: number;
  /** Records whose rejection the broker confirmed (never delivered again). */
  recordsRejected: number;
  /** Acquisition locks renewed (`record.renew()`). */
  recordsRenewed: number;
  /** ShareAcknowledge requests answered (`commit()`, `close()`, renewals, acknowledgements for partitions no longer fetched). */
  acknowledgeRequests: number;
  /** ShareAcknowledge requests: from sending to the answer, in milliseconds. */
  acknowledgeLatencyMs: Distribution;
  /**
   * Acknowledgements that failed: a ShareAcknowledge request without an answer or refused
   * (for the request or a partition), or a partition's acknowledgements refused on a ShareFetch.
   */
  acknowledgeErrors: number;
  /**
   * Acquisition locks found expired: a buffered record skipped because its lock ran out, an
   * `accept()`/`release()`/`reject()`/`renew()` refused locally, or the broker's refusal of a
   * partition's acknowledgements because the records were no longer acquired.
   */
  locksExpired: number;
  /** ShareFetch and ShareAcknowledge requests awaiting an answer now. */
  inFlight: number;
  /** Records in the prefetch buffer now (each holds a broker lock). */
  buffered: number;
  /** Failures, by error type ("INVALID_RECORD_STATE", "TimeoutError", ...). */
  errors: Record<string, number>;
}

/** Acknowledge wire types counted: index 1 accept, 2 release, 3 reject, 4 renew (0 is a gap). */
const SHARE_ACK_TYPES = 5;

/**
 * What the share consumer reports.
 *
 * @internal
 */
export class ShareConsumerRecorder extends FetchRecorder {
  readonly ackLatency: Histogram = new Histogram();
  /** Records acknowledged per wire type (confirmed by the broker). */
  readonly acked: Float64Array = new Float64Array(SHARE_ACK_TYPES);
  redeliveries = 0;
  fetchErrors = 0;
  ackErrors = 0;
  locksExpired = 0;
  inFlight = 0;
  readonly errors: ErrorCounts = new ErrorCounts();

  /** Records of one partition arrived in the current ShareFetch response (`redelivered` of them delivered before). */
  override partition(records: number, bytes: number, redelivered = 0): void {
    super.partition(records, bytes);
    this.redeliveries += redelivered;
  }

  /** A ShareFetch request failed. */
  fetchFailed(err: unknown): void {
    this.fetchErrors++;
    this.errors.add(err);
  }

  /** Acknowledgements failed (a request, or one partition's). */
  ackFailed(err: unknown): void {
    this.ackErrors++;
    this.errors.add(err);
  }

  /** Adds the broker-confirmed acknowledgement counts of one partition (indexed by wire type). */
  confirmed(counts: ArrayLike<number>): void {
    for (let i = 1; i < SHARE_ACK_TYPES && i < counts.length; i++) this.acked[i] += counts[i];
  }

  /** The snapshot, with the buffer's current size. */
  snapshot(buffered: number): ShareConsumerMetrics {
    return {
      recordsReceived: this.records.total,
      recordsReceivedPerSecond: this.records.rate(),
      bytesReceived: this.bytes.total,
      bytesReceivedPerSecond: this.bytes.rate(),
      redeliveries: this.redeliveries,
      fetches: this.latency.count,
      fetchLatencyMs: this.latency.summary(),
      recordsPerFetch: this.perFetch.summary(),
      fetchErrors: this.fetchErrors,
      recordsAccepted: this.acked[1],
      recordsReleased: this.acked[2],
      recordsRejected: this.acked[3],
      recordsRenewed: this.acked[4],
      acknowledgeRequests: this.ackLatency.count,
      acknowledgeLatencyMs: this.ackLatency.summary(),
      acknowledgeErrors: this.ackErrors,
      locksExpired: this.locksExpired,
      inFlight: this.inFlight,
      buffered,
      errors: this.errors.toRecord(),
    };
  }
}
