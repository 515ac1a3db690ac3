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

/** Options for {@linkcode connect}. */
export interface ClientOptions extends ClusterOptions {}

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
};
const CLIENT_KEYS: readonly string[] = Object.keys(CLIENT_KEYS_RECORD);
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
  readonly #closers = new Set<() => Promise<void>>();
  /** What producers, consumers and admins get instead of the client itself. */
  readonly #context: ClientContext;

  /**
   * Wraps a bootstrapped cluster; use {@linkcode connect} instead.
   *
   * @param cluster The cluster.
   */
  constructor(cluster: Cluster) {
    this.#cluster = cluster;
    this.#context = {
      cluster,
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

  /** Closes producers and consumers made by this client, then every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closers = [...this.#closers];
      this.#closers.clear();
      await Promise.allSettled(closers.map((c) => c()));
      await this.#cluster.close();
    })();
    return this.#closing;
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
 * @param opts Bootstrap brokers, client id and timeouts.
 * @throws {TypeError} for missing options, `brokers` that is not an array of "host:port", or an unknown option key.
 */
export async function connect(opts: ClientOptions): Promise<Client> {
  checkClientOptions(opts);
  const cluster = new Cluster(opts);
  try {
    await cluster.bootstrap();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return new Client(cluster);
}
