/**
 * OpenTelemetry: spans for produce and consume following the messaging
 * semantic conventions, W3C trace context carried in record headers, and the
 * metrics snapshots exported as observable instruments.
 *
 * The API package (`npm:@opentelemetry/api`) is imported lazily, only when
 * telemetry is on, so the library needs neither the package nor the network
 * otherwise. With Deno's built-in OpenTelemetry (`OTEL_DENO=true`), Deno
 * registers its tracer, meter and propagator with that package, and exports
 * what is recorded over OTLP.
 *
 * Only the few API members used here are typed (structurally), so that type
 * checking the library never needs the package either.
 *
 * @module
 */

import type { RecordHeader, RecordInput } from "../../protocol/record_batch.ts";
import { KafkaError } from "../errors.ts";
import { VERSION } from "../version.ts";
import type {
  ClientMetrics,
  ConsumerMetrics,
  Distribution,
  ProducerMetrics,
  ShareConsumerMetrics,
} from "./metrics.ts";
import { errorType } from "./metrics.ts";

/** The pinned API package, imported only when telemetry is on. */
const OTEL_API = "npm:@opentelemetry/api@1.9.0";

type Attrs = Record<string, string | number | boolean>;

interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

interface OtelSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(err: unknown): unknown;
  spanContext(): OtelSpanContext;
  end(): void;
}

interface OtelContext {
  readonly __brand?: "context";
}

interface OtelTracer {
  startSpan(
    name: string,
    opts: { kind: number; attributes?: Attrs; links?: { context: OtelSpanContext }[] },
    ctx?: OtelContext,
  ): OtelSpan;
}

interface OtelObservable {
  addCallback(cb: (r: { observe(value: number, attrs?: Attrs): void }) => void): void;
}

interface OtelMeter {
  createObservableGauge(name: string, opts?: { description?: string; unit?: string }): OtelObservable;
  createObservableCounter(name: string, opts?: { description?: string; unit?: string }): OtelObservable;
}

interface TextMapGetter {
  get(carrier: unknown, key: string): string | undefined;
  keys(carrier: unknown): string[];
}

interface TextMapSetter {
  set(carrier: unknown, key: string, value: string): void;
}

/** The members of `@opentelemetry/api` this module uses. */
interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(ctx: OtelContext, span: OtelSpan): OtelContext;
    getSpanContext(ctx: OtelContext): OtelSpanContext | undefined;
  };
  context: { active(): OtelContext };
  propagation: {
    inject(ctx: OtelContext, carrier: unknown, setter?: TextMapSetter): void;
    extract(ctx: OtelContext, carrier: unknown, getter?: TextMapGetter): OtelContext;
  };
  metrics: { getMeter(name: string, version?: string): OtelMeter };
}

/** Span kinds and status codes of the API (numeric enums, stable since 1.0). */
const SpanKind = { PRODUCER: 3, CONSUMER: 4 } as const;
const StatusError = 2;

/**
 * Whether telemetry is on: `telemetry` when the application says so, else
 * whether `OTEL_DENO` is "true" (read only when the program may read it, so
 * that no permission prompt appears).
 */
export function telemetryWanted(setting: boolean | undefined): boolean {
  if (setting !== undefined) return setting;
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: "OTEL_DENO" }).state;
    return state === "granted" && Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false;
  }
}

/**
 * Loads the OpenTelemetry API when telemetry is wanted; null when it is not.
 *
 * @throws {KafkaError} when `telemetry: true` was asked for and the package cannot be loaded.
 */
export async function loadTelemetry(
  setting: boolean | undefined,
  clientId: string,
): Promise<Telemetry | null> {
  if (setting !== undefined && typeof setting !== "boolean") {
    throw new TypeError(`Invalid telemetry ${JSON.stringify(setting)}: expected true or false`);
  }
  if (!telemetryWanted(setting)) return null;
  let api: OtelApi;
  try {
    // A variable specifier: the package is not part of the module graph, so nothing fetches it
    // unless telemetry is on.
    const spec = OTEL_API;
    api = await import(spec) as OtelApi;
  } catch (cause) {
    const msg = `OpenTelemetry is on but ${OTEL_API} could not be loaded: ${(cause as Error).message}`;
    if (setting === true) throw new KafkaError(msg, { cause });
    console.warn(`kafka-deno: ${msg}; continuing without telemetry`);
    return null;
  }
  return new Telemetry(api, clientId);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Setter that collects injected fields into a plain object. */
const objectSetter: TextMapSetter = {
  set(carrier, key, value) {
    (carrier as Record<string, string>)[key] = value;
  },
};

/** Getter that reads trace context straight from a record's headers (no copy). */
const headerGetter: TextMapGetter = {
  get(carrier, key) {
    const headers = carrier as readonly RecordHeader[];
    for (let i = headers.length - 1; i >= 0; i--) {
      const h = headers[i];
      if (h.key === key && h.value !== null) return decoder.decode(h.value);
    }
    return undefined;
  },
  keys(carrier) {
    return (carrier as readonly RecordHeader[]).map((h) => h.key);
  },
};

/** The record fields a process span reads. */
export interface TracedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeader[];
}

/** What a result of `send()` carries back to its span. */
interface SentRecord {
  partition: number;
  offset: bigint;
}

/**
 * The trace of one `send()` call: one PRODUCER span, whose context goes into
 * every record's headers.
 *
 * @internal
 */
export class SendTrace {
  readonly span: OtelSpan;
  readonly #headers: RecordHeader[];

  constructor(span: OtelSpan, headers: RecordHeader[]) {
    this.span = span;
    this.#headers = headers;
  }

  /** Adds the trace context headers to a record, unless it carries its own. */
  inject(input: RecordInput): void {
    const own = input.headers ?? [];
    for (const h of own) if (h.key === "traceparent") return;
    input.headers = own.length === 0 ? this.#headers : [...own, ...this.#headers];
  }
}

type AnyMetrics = ClientMetrics | ProducerMetrics | ConsumerMetrics | ShareConsumerMetrics;

interface Source {
  kind: "client" | "producer" | "consumer" | "share-consumer";
  attrs: Attrs;
  read(): AnyMetrics;
  cached?: { at: number; value: AnyMetrics };
}

type Point = [number, Attrs];
type Reader<T> = (m: T, base: Attrs) => Point[];

const QUANTILES = ["p50", "p99", "max"] as const;
const BOTH_CONSUMERS = ["consumer", "share-consumer"] as const;

/** Numbers the sources of the process, so that two clients' producers never share attributes. */
let instances = 0;
/** The metrics sources of every client of the process (their instruments are created once). */
const sources = new Set<Source>();
let instrumented = false;

function quantiles(d: Distribution, base: Attrs, extra: Attrs = {}): Point[] {
  return QUANTILES.map((q) => [d[q], { ...base, ...extra, "kafka.quantile": q }]);
}

function byError(errors: Record<string, number>, base: Attrs): Point[] {
  return Object.entries(errors).map(([type, n]) => [n, { ...base, "error.type": type }]);
}

/**
 * The client's OpenTelemetry side: the tracer and meter, spans for sends and
 * processed records, and the observable instruments that read the metrics
 * snapshots of the client, its producers and its consumers.
 *
 * @internal
 */
export class Telemetry {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #clientId: string;

  constructor(api: OtelApi, clientId: string) {
    this.#api = api;
    this.#clientId = clientId;
    this.#tracer = api.trace.getTracer("kafka-deno", VERSION);
    // One set of instruments per process, reading every client's sources.
    if (!instrumented) {
      instrumented = true;
      this.#instruments(api.metrics.getMeter("kafka-deno", VERSION));
    }
  }

  /**
   * Starts the span of a `send()` call of `count` records to `topic`, a child of
   * the active context, with the headers that carry it.
   */
  startSend(topic: string, count: number, key: Uint8Array | null | undefined): SendTrace {
    const attributes: Attrs = {
      "messaging.system": "kafka",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.destination.name": topic,
      "messaging.client.id": this.#clientId,
    };
    if (count > 1) attributes["messaging.batch.message_count"] = count;
    else if (key) attributes["messaging.kafka.message.key"] = decoder.decode(key);
    const api = this.#api;
    const parent = api.context.active();
    const span = this.#tracer.startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes }, parent);
    const carrier: Record<string, string> = {};
    api.propagation.inject(api.trace.setSpan(parent, span), carrier, objectSetter);
    const headers: RecordHeader[] = [];
    for (const k of ["traceparent", "tracestate"]) {
      if (carrier[k] !== undefined) headers.push({ key: k, value: encoder.encode(carrier[k]) });
    }
    return new SendTrace(span, headers);
  }

  /** Ends a send span when its `send()` settles: partition and offset on success, the error otherwise. */
  endSend<T extends SentRecord[]>(trace: SendTrace, result: Promise<T>): Promise<T> {
    const span = trace.span;
    return result.then((res) => {
      const first = res[0];
      if (first !== undefined && res.every((r) => r.partition === first.partition)) {
        span.setAttribute("messaging.destination.partition.id", String(first.partition));
        if (res.length === 1 && first.offset >= 0n) {
          span.setAttribute("messaging.kafka.offset", Number(first.offset));
        }
      }
      span.end();
      return res;
    }, (err) => {
      endWithError(span, err);
      throw err;
    });
  }

  /** A tracer of records handed to the application by one consumer. */
  consumer(groupId: string | null): ProcessTrace {
    return new ProcessTrace(this.#api, this.#tracer, this.#clientId, groupId);
  }

  /**
   * Registers a metrics source read by the instruments at each export;
   * returns the function that unregisters it.
   */
  observe(
    kind: Source["kind"],
    read: () => AnyMetrics,
    attrs: Attrs = {},
  ): () => void {
    const source: Source = {
      kind,
      read,
      attrs: {
        "messaging.system": "kafka",
        "messaging.client.id": this.#clientId,
        "kafka.instance": `${kind}-${++instances}`,
        ...attrs,
      },
    };
    sources.add(source);
    return () => sources.delete(source);
  }

  #instruments(meter: OtelMeter): void {
    const def = <T>(
      kind: Source["kind"] | readonly Source["kind"][],
      type: "gauge" | "counter",
      name: string,
      unit: string,
      description: string,
      read: Reader<T>,
    ) => {
      const inst = type === "gauge"
        ? meter.createObservableGauge(name, { unit, description })
        : meter.createObservableCounter(name, { unit, description });
      inst.addCallback((r) => {
        for (const s of sources) {
          if (typeof kind === "string" ? s.kind !== kind : !kind.includes(s.kind)) continue;
          // One snapshot serves every instrument of an export.
          const now = performance.now();
          if (!s.cached || now - s.cached.at > 100) s.cached = { at: now, value: s.read() };
          for (const [v, a] of read(s.cached.value as T, s.attrs)) r.observe(v, a);
        }
      });
    };
    // The client's connections.
    def<ClientMetrics>(
      "client",
      "counter",
      "kafka.client.requests",
      "{request}",
      "Requests written",
      (m, b) => m.brokers.map((x) => [x.requests, { ...b, "server.address": x.broker }]),
    );
    def<ClientMetrics>(
      "client",
      "gauge",
      "kafka.client.requests.in_flight",
      "{request}",
      "Requests awaiting an answer",
      (m, b) => m.brokers.map((x) => [x.inFlight, { ...b, "server.address": x.broker }]),
    );
    def<ClientMetrics>(
      "client",
      "counter",
      "kafka.client.bytes.sent",
      "By",
      "Bytes written",
      (m, b) => m.brokers.map((x) => [x.bytesSent, { ...b, "server.address": x.broker }]),
    );
    def<ClientMetrics>(
      "client",
      "counter",
      "kafka.client.bytes.received",
      "By",
      "Bytes read",
      (m, b) => m.brokers.map((x) => [x.bytesReceived, { ...b, "server.address": x.broker }]),
    );
    def<ClientMetrics>(
      "client",
      "gauge",
      "kafka.client.request.duration",
      "ms",
      "Request latency per broker and API (p50, p99, max)",
      (m, b) =>
        m.requestsByApi.flatMap((x) =>
          quantiles(x.latencyMs, b, { "server.address": x.broker, "messaging.operation.name": x.api })
        ),
    );
    def<ClientMetrics>(
      "client",
      "counter",
      "kafka.client.errors",
      "{error}",
      "Failed requests",
      (m, b) => byError(m.errors, b),
    );
    // Producers.
    def<ProducerMetrics>(
      "producer",
      "counter",
      "messaging.client.sent.messages",
      "{message}",
      "Records acknowledged",
      (m, b) => [[m.recordsSent, b]],
    );
    def<ProducerMetrics>("producer", "counter", "kafka.producer.bytes.sent", "By", "Batch bytes", (m, b) => [[
      m.bytesSent,
      b,
    ]]);
    def<ProducerMetrics>(
      "producer",
      "gauge",
      "kafka.producer.compression.ratio",
      "1",
      "Compressed / uncompressed bytes",
      (m, b) => [[m.compressionRatio, b]],
    );
    def<ProducerMetrics>(
      "producer",
      "gauge",
      "kafka.producer.batch.records",
      "{message}",
      "Records per batch (p50, p99, max)",
      (m, b) => quantiles(m.batchRecords, b),
    );
    def<ProducerMetrics>(
      "producer",
      "gauge",
      "kafka.producer.request.duration",
      "ms",
      "Produce latency (p50, p99, max)",
      (m, b) => quantiles(m.requestLatencyMs, b),
    );
    def<ProducerMetrics>(
      "producer",
      "gauge",
      "kafka.producer.requests.in_flight",
      "{request}",
      "Produce requests in flight",
      (m, b) => [[m.inFlight, b]],
    );
    def<ProducerMetrics>(
      "producer",
      "gauge",
      "kafka.producer.buffer.used",
      "By",
      "Buffer in use",
      (m, b) => [[
        m.bufferUsedBytes,
        b,
      ]],
    );
    def<ProducerMetrics>(
      "producer",
      "counter",
      "kafka.producer.retries",
      "{batch}",
      "Batches retried",
      (m, b) => [[
        m.retries,
        b,
      ]],
    );
    def<ProducerMetrics>(
      "producer",
      "counter",
      "kafka.producer.records.failed",
      "{message}",
      "Records that failed",
      (m, b) => [[m.recordsFailed, b]],
    );
    def<ProducerMetrics>(
      "producer",
      "counter",
      "kafka.producer.errors",
      "{error}",
      "Errors by type",
      (m, b) => byError(m.errors, b),
    );
    // Consumers.
    def<ConsumerMetrics | ShareConsumerMetrics>(
      BOTH_CONSUMERS,
      "counter",
      "messaging.client.consumed.messages",
      "{message}",
      "Records fetched",
      (m, b) => [[m.recordsReceived, b]],
    );
    def<ConsumerMetrics | ShareConsumerMetrics>(
      BOTH_CONSUMERS,
      "counter",
      "kafka.consumer.bytes.received",
      "By",
      "Batch bytes",
      (m, b) => [[
        m.bytesReceived,
        b,
      ]],
    );
    def<ConsumerMetrics | ShareConsumerMetrics>(
      BOTH_CONSUMERS,
      "gauge",
      "kafka.consumer.fetch.duration",
      "ms",
      "Fetch latency (p50, p99, max)",
      (m, b) => quantiles(m.fetchLatencyMs, b),
    );
    def<ConsumerMetrics | ShareConsumerMetrics>(
      BOTH_CONSUMERS,
      "gauge",
      "kafka.consumer.records.per_fetch",
      "{message}",
      "Records per Fetch response (p50, p99, max)",
      (m, b) => quantiles(m.recordsPerFetch, b),
    );
    def<ConsumerMetrics>(
      "consumer",
      "gauge",
      "kafka.consumer.lag",
      "{message}",
      "High watermark minus position, per partition",
      (m, b) =>
        m.lag.filter((p) => p.lag >= 0).map((p) => [p.lag, {
          ...b,
          "messaging.destination.name": p.topic,
          "messaging.destination.partition.id": String(p.partition),
        }]),
    );
    def<ConsumerMetrics>(
      "consumer",
      "counter",
      "kafka.consumer.rebalances",
      "{rebalance}",
      "Rebalances",
      (m, b) => [
        [m.rebalances, b],
      ],
    );
    def<ConsumerMetrics>(
      "consumer",
      "counter",
      "kafka.consumer.rebalance.time",
      "ms",
      "Time spent in rebalances",
      (m, b) => [[m.rebalanceTotalMs, b]],
    );
    def<ConsumerMetrics | ShareConsumerMetrics>(
      BOTH_CONSUMERS,
      "counter",
      "kafka.consumer.errors",
      "{error}",
      "Errors by type",
      (m, b) => byError(m.errors, b),
    );
    // Share consumers (also in the consumer instruments above, with their own kafka.instance).
    def<ShareConsumerMetrics>(
      "share-consumer",
      "counter",
      "kafka.share_consumer.acknowledged",
      "{message}",
      "Records acknowledged, by type (accept, release, reject, renew)",
      (m, b) => [
        [m.recordsAccepted, { ...b, "messaging.kafka.acknowledgement.type": "accept" }],
        [m.recordsReleased, { ...b, "messaging.kafka.acknowledgement.type": "release" }],
        [m.recordsRejected, { ...b, "messaging.kafka.acknowledgement.type": "reject" }],
        [m.recordsRenewed, { ...b, "messaging.kafka.acknowledgement.type": "renew" }],
      ],
    );
    def<ShareConsumerMetrics>(
      "share-consumer",
      "gauge",
      "kafka.share_consumer.acknowledge.duration",
      "ms",
      "ShareAcknowledge latency (p50, p99, max)",
      (m, b) => quantiles(m.acknowledgeLatencyMs, b),
    );
    def<ShareConsumerMetrics>(
      "share-consumer",
      "counter",
      "kafka.share_consumer.redeliveries",
      "{message}",
      "Records received with a delivery count above 1",
      (m, b) => [[m.redeliveries, b]],
    );
    def<ShareConsumerMetrics>(
      "share-consumer",
      "counter",
      "kafka.share_consumer.locks_expired",
      "{lock}",
      "Acquisition locks found expired",
      (m, b) => [[m.locksExpired, b]],
    );
    def<ShareConsumerMetrics>(
      "share-consumer",
      "gauge",
      "kafka.share_consumer.buffered",
      "{message}",
      "Records in the prefetch buffer (each holds a lock)",
      (m, b) => [[m.buffered, b]],
    );
  }
}

function endWithError(span: OtelSpan, err: unknown): void {
  span.setAttribute("error.type", errorType(err));
  span.recordException(err);
  span.setStatus({ code: StatusError, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/**
 * The spans of records handed to the application: one CONSUMER span per
 * record (`process <topic>`), from handing it out to the next `next()`, a child
 * of the producer's context found in the record's headers (and linked to it);
 * or one per batch, linked to each record's producer context.
 *
 * @internal
 */
export class ProcessTrace {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #clientId: string;
  readonly #groupId: string | null;
  #current: OtelSpan | null = null;

  constructor(api: OtelApi, tracer: OtelTracer, clientId: string, groupId: string | null) {
    this.#api = api;
    this.#tracer = tracer;
    this.#clientId = clientId;
    this.#groupId = groupId;
  }

  #attributes(topic: string, partition: number): Attrs {
    const a: Attrs = {
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": topic,
      "messaging.destination.partition.id": String(partition),
      "messaging.client.id": this.#clientId,
    };
    if (this.#groupId !== null) a["messaging.consumer.group.name"] = this.#groupId;
    return a;
  }

  /** Ends the span of the record (or batch) handed out before, and starts the one of `r` (with `extra` attributes). */
  record(r: TracedRecord, extra?: Attrs): void {
    this.end();
    const api = this.#api;
    const attributes = this.#attributes(r.topic, r.partition);
    if (extra !== undefined) Object.assign(attributes, extra);
    attributes["messaging.kafka.offset"] = Number(r.offset);
    if (r.key !== null) attributes["messaging.kafka.message.key"] = decoder.decode(r.key);
    if (r.value !== null) attributes["messaging.message.body.size"] = r.value.length;
    const active = api.context.active();
    const ctx = r.headers.length ? api.propagation.extract(active, r.headers, headerGetter) : active;
    const producer = api.trace.getSpanContext(ctx);
    this.#current = this.#tracer.startSpan(
      `process ${r.topic}`,
      { kind: SpanKind.CONSUMER, attributes, links: producer ? [{ context: producer }] : undefined },
      ctx,
    );
  }

  /** Ends the previous span and starts one for a batch of records of one partition. */
  batch(topic: string, partition: number, records: readonly TracedRecord[]): void {
    this.end();
    const api = this.#api;
    const attributes = this.#attributes(topic, partition);
    attributes["messaging.batch.message_count"] = records.length;
    const links: { context: OtelSpanContext }[] = [];
    const active = api.context.active();
    // Bounded: a link per record up to 128 (OpenTelemetry's default span link limit).
    for (let i = 0; i < records.length && links.length < 128; i++) {
      const h = records[i].headers;
      if (h.length === 0) continue;
      const sc = api.trace.getSpanContext(api.propagation.extract(active, h, headerGetter));
      if (sc) links.push({ context: sc });
    }
    this.#current = this.#tracer.startSpan(
      `process ${topic}`,
      { kind: SpanKind.CONSUMER, attributes, links },
      active,
    );
  }

  /** Ends the current span, if any (with `attrs` added). */
  end(attrs?: Attrs): void {
    const s = this.#current;
    if (s !== null) {
      this.#current = null;
      if (attrs !== undefined) { for (const k in attrs) s.setAttribute(k, attrs[k]); }
      s.end();
    }
  }
}
