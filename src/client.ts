/**
 * The client: one per application, owning the cluster connections that its
 * producers, consumers and admin share.
 *
 * @module
 */

import { Cluster, type ClusterMetadata, type ClusterOptions } from "./cluster.ts";
import { ClosedError } from "./errors.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import { Producer, type ProducerOptions } from "./producer/producer.ts";
import { Admin } from "./admin.ts";
import { ShareConsumer, type ShareConsumerOptions } from "./share/consumer.ts";
import type { ClientContext } from "./context.ts";
import { checkOptions } from "./options.ts";
import type { EventsOptions, KafkaEvent } from "./observe/events.ts";
import type { ClientMetrics } from "./observe/metrics.ts";
import { ClientRecorder } from "./observe/metrics.ts";
import { loadTelemetry, type Telemetry } from "./observe/otel.ts";
import { checkSignal, closeWith, Linked, onAbort } from "./abort.ts";

/** Options for {@linkcode connect}. */
export interface ClientOptions extends ClusterOptions {
  /**
   * OpenTelemetry: spans for `send()` and for records handed to the application (messaging
   * semantic conventions, trace context in the `traceparent` and `tracestate` record headers),
   * and the metrics as observable instruments, through `npm:@opentelemetry/api` (loaded only
   * then). Default: on when the environment variable `OTEL_DENO` is "true" (Deno's built-in
   * OpenTelemetry; read only when the program may read it, e.g. `--allow-env`), else off.
   * `true` fails `connect()` when the package cannot be loaded.
   */
  telemetry?: boolean;
  /**
   * Cancels connecting: `connect()` rejects with `signal.reason` and closes
   * whatever it had opened. It only bounds `connect()`, not the client's life.
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode Client.close}. */
export interface CloseOptions {
  /**
   * Stops waiting for the graceful close: producers fail what they still hold,
   * consumers stop without their final commit, connections close at once;
   * then `close()` rejects with `signal.reason`.
   */
  signal?: AbortSignal;
}

const CLIENT_KEYS_RECORD: Record<keyof ClientOptions, true> = {
  brokers: true,
  clientId: true,
  connectTimeoutMs: true,
  requestTimeoutMs: true,
  metadataMaxAgeMs: true,
  reconnectBackoffMs: true,
  reconnectBackoffMaxMs: true,
  allowAutoTopicCreation: true,
  tls: true,
  sasl: true,
  logger: true,
  logLevel: true,
  metrics: true,
  telemetry: true,
  signal: true,
};
const CLIENT_KEYS: readonly string[] = Object.keys(CLIENT_KEYS_RECORD);
const CLOSE_KEYS_RECORD: Record<keyof CloseOptions, true> = { signal: true };
const CLOSE_KEYS: readonly string[] = Object.keys(CLOSE_KEYS_RECORD);
const HOW = 'pass the bootstrap brokers as an array, e.g. connect({ brokers: ["127.0.0.1:9092"] })';

/**
 * Checks what was passed to {@linkcode connect} before anything connects:
 * the options object, `brokers` as an array of "host:port", and no unknown
 * key (the nested `tls` and `sasl` objects are checked where they are resolved).
 */
function checkClientOptions(opts: unknown): asserts opts is ClientOptions {
  if (opts === undefined || opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    const got = opts === undefined
      ? "no options"
      : opts === null
      ? "null"
      : Array.isArray(opts)
      ? "an array"
      : typeof opts;
    throw new TypeError(`connect() needs an options object, got ${got}: ${HOW}`);
  }
  checkOptions(opts, CLIENT_KEYS, "client option");
  const brokers = (opts as { brokers?: unknown }).brokers;
  if (typeof brokers === "string") {
    const list = brokers.split(",").map((b) => b.trim()).filter(Boolean);
    throw new TypeError(
      `brokers must be an array of "host:port" strings, not a string: write brokers: ${JSON.stringify(list)}`,
    );
  }
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new TypeError(`brokers is ${brokers === undefined ? "missing" : "empty or not an array"}: ${HOW}`);
  }
  for (const [i, b] of brokers.entries()) {
    if (typeof b !== "string") {
      throw new TypeError(
        `brokers[${i}] must be a "host:port" string, got ${b === null ? "null" : typeof b}`,
      );
    }
  }
}

/** Options for {@linkcode Client.metadata}. */
export interface MetadataOptions {
  /** Topics to describe; all topics when omitted. */
  topics?: string[];
  /**
   * Wait until each named topic is usable (a leader for every partition),
   * which lets a topic that the broker auto-creates settle. Default true.
   */
  waitForLeaders?: boolean;
}

/**
 * A connection to a Kafka cluster.
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers, clientId: "my-app" });
 * await client.admin().createTopics([{ topic: "doc-client", partitions: 3 }], { ifNotExists: true });
 * const md = await client.metadata({ topics: ["doc-client"] });
 * console.log(md.brokers, md.topics[0].partitions);
 * ```
 */
export class Client implements AsyncDisposable {
  readonly #cluster: Cluster;
  #closing: Promise<void> | null = null;
  /** Aborts when a `close({ signal })` signal does: the close turns hard. */
  readonly #hard = new Linked();
  readonly #closers = new Set<(signal?: AbortSignal) => Promise<void>>();
  /** What producers, consumers and admins get instead of the client itself. */
  readonly #context: ClientContext;
  readonly #unobserve: () => void;

  /**
   * Wraps a bootstrapped cluster; use {@linkcode connect} instead.
   *
   * @param cluster The cluster.
   * @param telemetry @internal OpenTelemetry, when on.
   */
  constructor(cluster: Cluster, telemetry: Telemetry | null = null) {
    this.#cluster = cluster;
    this.#unobserve = telemetry?.observe("client", () => this.metrics()) ?? (() => {});
    this.#context = {
      cluster,
      telemetry,
      assertOpen: () => this.#assertOpen(),
      track: (close) => {
        this.#closers.add(close);
        return () => this.#closers.delete(close);
      },
    };
  }

  /** The cluster layer (advanced use). */
  get cluster(): Cluster {
    return this.#cluster;
  }

  /**
   * A snapshot of the client's connection metrics: requests, bytes, requests in
   * flight and latency percentiles per broker and per API, and failed requests
   * by error type. Empty when the client was made with `metrics: false`.
   *
   * @example
   * ```ts
   * import { connect } from "./client.ts";
   * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
   * await using client = await connect({ brokers });
   * await client.metadata();
   * for (const r of client.metrics().requestsByApi) {
   *   console.log(r.broker, r.api, r.responses, r.latencyMs.p99);
   * }
   * ```
   */
  metrics(): ClientMetrics {
    return (this.#cluster.recorder ?? new ClientRecorder()).snapshot();
  }

  #assertOpen(): void {
    if (this.#closing) throw new ClosedError("The client is closed");
  }

  /**
   * Describes the cluster: brokers, controller, cluster id and topics with
   * their partitions (leader, replicas, in-sync replicas).
   *
   * @param opts Which topics.
   */
  async metadata(opts: MetadataOptions = {}): Promise<ClusterMetadata> {
    this.#assertOpen();
    if (!opts.topics) {
      const res = await this.#cluster.fetchMetadata(null);
      return {
        clusterId: res.clusterId,
        controllerId: res.controllerId,
        brokers: res.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
        topics: res.topics.filter((t) => t.name !== null).map((t) => ({
          name: t.name!,
          topicId: t.topicId,
          isInternal: t.isInternal,
          errorCode: t.errorCode,
          partitions: t.partitions.map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            errorCode: p.errorCode,
          })).sort((a, b) => a.partition - b.partition),
        })),
      };
    }
    if (opts.waitForLeaders ?? true) {
      await Promise.all(opts.topics.map((t) => this.#cluster.readyTopic(t)));
    } else {
      await Promise.all(opts.topics.map((t) => this.#cluster.topic(t, { force: true })));
    }
    return this.#cluster.snapshot(opts.topics);
  }

  /**
   * The client's events, as an async iterable: `connected`, `disconnected` and
   * `reconnecting` (per broker connection), `metadata` (a refresh), `throttled`
   * (a broker's quota). Producers' and consumers' `events()` include these too.
   * Each call is a new subscriber with its own bounded buffer (`bufferSize`,
   * default 1,000; what overflows is counted in a `dropped` event, the client never
   * waits for a reader); iteration ends when the client closes, and `break` unsubscribes.
   *
   * @example
   * ```ts ignore
   * (async () => {
   *   for await (const e of client.events()) {
   *     if (e.type === "disconnected") console.warn(`lost ${e.address}: ${e.reason}`);
   *   }
   * })();
   * ```
   *
   * @param opts The subscriber's buffer size.
   */
  events(opts?: EventsOptions): AsyncIterableIterator<KafkaEvent> {
    return this.#cluster.events(opts);
  }

  /**
   * Creates a producer that shares this client's connections.
   *
   * @param opts Producer options.
   */
  producer(opts: ProducerOptions = {}): Producer {
    this.#assertOpen();
    return new Producer(this.#context, opts);
  }

  /** Topic administration: create and delete topics. */
  admin(): Admin {
    this.#assertOpen();
    return new Admin(this.#context);
  }

  /**
   * Creates a consumer that shares this client's connections: a group member
   * (`groupId` + `topics`) or a standalone reader (`assign`).
   *
   * @param opts Consumer options.
   */
  consumer(opts: ConsumerOptions): Consumer {
    this.#assertOpen();
    return new Consumer(this.#context, opts);
  }

  /**
   * Creates a share-group member (KIP-932, queues): records of the subscribed topics are
   * shared among the group's members one by one, each acknowledged on its own.
   *
   * @param opts Share group, topics and limits.
   */
  shareConsumer(opts: ShareConsumerOptions): ShareConsumer {
    this.#assertOpen();
    return new ShareConsumer(this.#context, opts);
  }

  /**
   * Closes producers and consumers made by this client, then every connection.
   * Idempotent. With `signal`, an abort (even during a close that an earlier
   * call started) turns the close hard, see {@linkcode CloseOptions}; the
   * call then rejects with `signal.reason` once everything is closed.
   *
   * @param opts The signal that cuts the graceful close short.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    // Rejects with the reason once the (then hard) close is done, if the signal aborted.
    return closeWith(opts, CLOSE_KEYS, this.#hard, () =>
      this.#closing ??= (async () => {
        const closers = [...this.#closers];
        this.#closers.clear();
        await Promise.allSettled(closers.map((c) => c(this.#hard.signal)));
        await this.#cluster.close();
        this.#unobserve();
        this.#hard.dispose();
      })(), false);
  }

  /** Same as {@linkcode Client.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to a Kafka cluster: tries the bootstrap brokers in turn and fails
 * with every address it could not reach.
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * const client = await connect({ brokers });
 * console.log((await client.metadata()).brokers);
 * await client.close();
 * ```
 *
 * @param opts Bootstrap brokers, client id, timeouts and the `signal` that cancels connecting.
 * @throws {TypeError} for missing options, `brokers` that is not an array of "host:port", or an unknown option key.
 */
export async function connect(opts: ClientOptions): Promise<Client> {
  checkClientOptions(opts);
  const signal = opts.signal;
  checkSignal(signal, "connect()");
  const cluster = new Cluster(opts);
  let telemetry: Telemetry | null;
  // An abort closes the cluster, which stops the dial, handshake or request in progress.
  const unlisten = onAbort(signal, () => void cluster.close());
  try {
    telemetry = await loadTelemetry(opts.telemetry, cluster.options.clientId);
    await cluster.bootstrap();
    signal?.throwIfAborted();
  } catch (err) {
    await cluster.close();
    throw signal?.aborted ? signal.reason : err;
  } finally {
    unlisten();
  }
  return new Client(cluster, telemetry);
}
