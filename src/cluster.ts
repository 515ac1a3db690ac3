/**
 * The cluster layer: bootstrap, the broker registry, a metadata cache that is
 * refreshed on demand and when older than `metadataMaxAgeMs`, leader and
 * controller routing, each partition's leader epoch (KIP-320), and connections per broker split by lane (so a long-polling Fetch never
 * blocks a Produce or a Metadata request), with exponential reconnect backoff
 * and jitter.
 *
 * @module
 */

import { sleepUnlessAborted } from "./abort.ts";
import { metadata as metadataApi, type MetadataResponse } from "../protocol/apis/metadata.ts";
import { ZERO_UUID } from "../protocol/primitives.ts";
import { Connection, type ConnectionOptions } from "./connection.ts";
import { ClientRecorder } from "./observe/metrics.ts";
import { AuthenticationError, BrokerError, ClosedError, ConnectionError, KafkaError } from "./errors.ts";
import { checkSasl, type SaslOptions } from "./sasl.ts";
import { resolveTls, type TlsSetting } from "./tls.ts";
import { EventHub, type EventInit, type EventsOptions, type KafkaEvent } from "./observe/events.ts";
import { Log, type Logger, type LogLevel } from "./observe/log.ts";

/** Options shared by everything that talks to the cluster. */
export interface ClusterOptions {
  /** Bootstrap brokers, "host:port". */
  brokers: string[];
  /** The client id sent with every request. Default "kafka-deno". */
  clientId?: string;
  /** TCP connect + handshake timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default request timeout. Default 30 s. */
  requestTimeoutMs?: number;
  /** Metadata older than this is refreshed before use. Default 5 min. */
  metadataMaxAgeMs?: number;
  /** First reconnect backoff after a failed connect. Default 50 ms. */
  reconnectBackoffMs?: number;
  /** Largest reconnect backoff. Default 1 s. */
  reconnectBackoffMaxMs?: number;
  /** Whether Metadata requests may auto-create topics (the broker decides too). Default true. */
  allowAutoTopicCreation?: boolean;
  /**
   * TLS for every connection, to bootstrap brokers and to brokers learned from
   * metadata: `true` (default roots, full verification) or TLS settings.
   */
  tls?: TlsSetting;
  /** SASL credentials for every connection. */
  sasl?: SaslOptions;
  /**
   * Where the client logs (`console` fits). Default: warnings and errors to `console`.
   * Producers and consumers use it too unless given their own.
   */
  logger?: Logger;
  /** The least severe level logged. Default "warn". */
  logLevel?: LogLevel;
  /**
   * Whether to keep metrics (`client.metrics()`, `producer.metrics()`, `consumer.metrics()`).
   * They are cheap (counters and fixed-size histograms, updated per request, batch or fetch);
   * `false` turns them off (the snapshots are then empty). Default true.
   */
  metrics?: boolean;
}

/** A broker in the cluster. */
export interface BrokerInfo {
  /** The broker's node id. */
  nodeId: number;
  /** Its advertised host. */
  host: string;
  /** Its advertised port. */
  port: number;
  /** Its rack, if configured. */
  rack: string | null;
}

/** One partition of a topic. */
export interface PartitionInfo {
  /** The partition number. */
  partition: number;
  /** The leader's node id, -1 when there is none. */
  leader: number;
  /** The leader epoch. */
  leaderEpoch: number;
  /** All replicas' node ids. */
  replicas: number[];
  /** In-sync replicas' node ids. */
  isr: number[];
  /** Offline replicas' node ids. */
  offlineReplicas: number[];
  /** The partition's error code (0 = none). */
  errorCode: number;
}

/** A topic as the cluster describes it. */
export interface TopicInfo {
  /** The topic's name. */
  name: string;
  /** The topic's id (Kafka base64url UUID). */
  topicId: string;
  /** Whether it is an internal topic. */
  isInternal: boolean;
  /** Its partitions, ordered by partition number. */
  partitions: PartitionInfo[];
  /** The topic's error code (0 = none). */
  errorCode: number;
}

/** A snapshot of cluster metadata. */
export interface ClusterMetadata {
  /** The cluster id. */
  clusterId: string | null;
  /** The controller's node id (-1 if unknown). */
  controllerId: number;
  /** The brokers. */
  brokers: BrokerInfo[];
  /** The topics asked for (or all topics). */
  topics: TopicInfo[];
}

/**
 * The separate connection classes per broker: four shared lanes, or a private
 * "fetch/<id>" / "group/<id>" lane that its owner (one consumer) closes itself,
 * so that one consumer's parked JoinGroup or long-polling Fetch never holds up
 * another's.
 */
export type Lane = "default" | "produce" | "fetch" | "group" | `${"fetch" | "group"}/${string}`;

function parseAddress(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s.trim());
  if (!m) throw new TypeError(`Invalid broker address "${s}": expected host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new TypeError(`Invalid port in broker address "${s}"`);
  return { host: m[1], port };
}

/**
 * The cluster: brokers, topics, leaders and the connections to reach them.
 */
export class Cluster {
  readonly #opts: Required<
    Omit<ClusterOptions, "brokers" | "tls" | "sasl" | "logger" | "logLevel" | "metrics">
  >;
  readonly #metrics: ClientRecorder | null;
  readonly #bootstrap: { host: string; port: number }[];
  readonly #conns = new Map<string, Promise<Connection>>();
  readonly #backoff = new Map<string, { failures: number; notBefore: number }>();
  readonly #brokers = new Map<number, BrokerInfo>();
  readonly #topics = new Map<string, { info: TopicInfo; at: number }>();
  readonly #topicNames = new Map<string, string>();
  readonly #interesting = new Set<string>();
  #clusterId: string | null = null;
  #controllerId = -1;
  #refreshing: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Aborted by close(): dials and handshakes in progress stop at once. */
  readonly #closeCtl = new AbortController();
  /** Kept apart from `options`, which may be logged: it holds credentials. */
  readonly #security: Pick<ClusterOptions, "tls" | "sasl">;
  readonly #events: EventHub;
  /** Keys of connections lost or failed, with why: the next attempt is a reconnect. */
  readonly #lostWhy = new Map<string, string>();

  /**
   * Creates a cluster handle; nothing is connected until used.
   *
   * @param opts Bootstrap brokers and timeouts.
   */
  constructor(opts: ClusterOptions) {
    if (!Array.isArray(opts.brokers) || opts.brokers.length === 0) {
      throw new TypeError('At least one bootstrap broker is required (brokers: ["host:port"])');
    }
    this.#bootstrap = opts.brokers.map(parseAddress);
    resolveTls(opts.tls);
    if (opts.sasl !== undefined) checkSasl(opts.sasl);
    this.#security = { tls: opts.tls, sasl: opts.sasl };
    this.#events = new EventHub(new Log(opts.logger, opts.logLevel));
    if (opts.metrics !== undefined && typeof opts.metrics !== "boolean") {
      throw new TypeError(`Invalid metrics ${JSON.stringify(opts.metrics)}: expected true or false`);
    }
    this.#metrics = opts.metrics === false ? null : new ClientRecorder();
    this.#opts = {
      clientId: opts.clientId ?? "kafka-deno",
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      metadataMaxAgeMs: opts.metadataMaxAgeMs ?? 300_000,
      reconnectBackoffMs: opts.reconnectBackoffMs ?? 50,
      reconnectBackoffMaxMs: opts.reconnectBackoffMaxMs ?? 1_000,
      allowAutoTopicCreation: opts.allowAutoTopicCreation ?? true,
    };
  }

  /** The options in effect. */
  get options(): Readonly<
    Required<Omit<ClusterOptions, "brokers" | "tls" | "sasl" | "logger" | "logLevel" | "metrics">>
  > {
    return this.#opts;
  }

  /**
   * The cluster's events: connections made, lost and retried, metadata
   * refreshes, quota throttling. Ends when the cluster closes.
   *
   * @param opts The subscriber's buffer size.
   */
  events(opts?: EventsOptions): AsyncIterableIterator<KafkaEvent> {
    return this.#events.subscribe(opts);
  }

  /** @internal The event hub, for the roles that share this cluster. */
  get hub(): EventHub {
    return this.#events;
  }

  /** @internal The metrics recorder of this client's connections; null when `metrics: false`. */
  get recorder(): ClientRecorder | null {
    return this.#metrics;
  }

  /** Whether {@linkcode Cluster.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Known brokers. */
  get brokers(): BrokerInfo[] {
    return [...this.#brokers.values()];
  }

  /** The cluster id from the latest metadata. */
  get clusterId(): string | null {
    return this.#clusterId;
  }

  /** The controller id from the latest metadata. */
  get controllerId(): number {
    return this.#controllerId;
  }

  /**
   * Connects to the first reachable bootstrap broker and loads the broker list.
   * Fails with every address it could not reach.
   */
  async bootstrap(): Promise<void> {
    const errors: string[] = [];
    for (const addr of this.#bootstrap) {
      try {
        await this.#connection(`${addr.host}:${addr.port}`, addr, "default");
        await this.refreshMetadata();
        return;
      } catch (err) {
        // Wrong credentials or certificates fail the same way everywhere: fail fast.
        if (err instanceof AuthenticationError) throw err;
        errors.push(`${addr.host}:${addr.port}: ${(err as Error).message}`);
      }
    }
    throw new ConnectionError(`Could not reach any bootstrap broker:\n  ${errors.join("\n  ")}`, {
      broker: this.#bootstrap.map((a) => `${a.host}:${a.port}`).join(","),
    });
  }

  #connOptions(addr: { host: string; port: number }): ConnectionOptions {
    return {
      host: addr.host,
      port: addr.port,
      clientId: this.#opts.clientId,
      connectTimeoutMs: this.#opts.connectTimeoutMs,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      ...this.#security,
      metrics: this.#metrics?.broker(`${addr.host}:${addr.port}`),
      signal: this.#closeCtl.signal,
    };
  }

  #connection(id: string, addr: { host: string; port: number }, lane: Lane): Promise<Connection> {
    if (this.#closed) return Promise.reject(new ClosedError("The client is closed"));
    const key = `${id}/${lane}`;
    const existing = this.#conns.get(key);
    if (existing) return existing;
    const self: { p?: Promise<Connection> } = {};
    const p = self.p = (async () => {
      const b = this.#backoff.get(id);
      const why = this.#lostWhy.get(key);
      if (why !== undefined && this.#events.active) {
        const delayMs = b ? Math.max(0, b.notBefore - Date.now()) : 0;
        this.#events.emit({
          type: "reconnecting",
          ...ref(id, addr, lane),
          attempt: (b?.failures ?? 0) + 1,
          delayMs,
          reason: why,
        });
      }
      if (b && b.notBefore > Date.now()) {
        await sleepUnlessAborted(b.notBefore - Date.now(), this.#closeCtl.signal);
      }
      try {
        const conn = await Connection.connect(this.#connOptions(addr));
        this.#backoff.delete(id);
        this.#lostWhy.delete(key);
        if (this.#events.active) this.#events.emit({ type: "connected", ...ref(id, addr, lane) });
        this.#watch(conn, key, id, addr, lane, self);
        if (this.#closed) conn.close();
        return conn;
      } catch (err) {
        this.#remember(key, (err as Error)?.message ?? String(err));
        const failures = (b?.failures ?? 0) + 1;
        const base = Math.min(
          this.#opts.reconnectBackoffMs * 2 ** (failures - 1),
          this.#opts.reconnectBackoffMaxMs,
        );
        // +-20% jitter so that many clients do not reconnect in lockstep.
        this.#backoff.set(id, { failures, notBefore: Date.now() + base * (0.8 + Math.random() * 0.4) });
        if (this.#conns.get(key) === self.p) this.#conns.delete(key);
        throw err;
      }
    })();
    this.#conns.set(key, p);
    return p;
  }

  /** Forgets a connection once it closes; says so, and remembers why, when the client did not close it. */
  #watch(
    conn: Connection,
    key: string,
    id: string,
    addr: { host: string; port: number },
    lane: Lane,
    self: { p?: Promise<Connection> },
  ): void {
    const events = this.#events;
    conn.onThrottle = (api, throttleTimeMs) => {
      if (events.active) events.emit({ type: "throttled", ...ref(id, addr, lane), api, throttleTimeMs });
    };
    conn.closed.then(() => {
      if (this.#conns.get(key) === self.p) this.#conns.delete(key);
      const err = conn.closeReason;
      if (this.#closed || err instanceof ClosedError) return;
      const reason = err?.message ?? "closed";
      this.#remember(key, reason);
      if (events.active) events.emit({ type: "disconnected", ...ref(id, addr, lane), reason });
    });
  }

  /** Remembers why a connection was lost, for the next attempt's event; bounded (consumers' own lanes come and go). */
  #remember(key: string, reason: string): void {
    this.#lostWhy.delete(key);
    this.#lostWhy.set(key, reason);
    if (this.#lostWhy.size > 256) this.#lostWhy.delete(this.#lostWhy.keys().next().value!);
  }

  /**
   * A connection to a broker by node id, on the given lane.
   *
   * @param nodeId The broker's node id.
   * @param lane Which of the broker's connections.
   */
  async connectionTo(nodeId: number, lane: Lane = "default"): Promise<Connection> {
    let b = this.#brokers.get(nodeId);
    if (!b) {
      await this.refreshMetadata();
      b = this.#brokers.get(nodeId);
      if (!b) throw new ConnectionError(`Broker ${nodeId} is not in the cluster metadata`);
    }
    return await this.#connection(`node-${nodeId}`, b, lane);
  }

  /**
   * A connection to the controller that the latest metadata names (refreshed
   * when it names none). Requests that only the controller serves go there;
   * when it answers NOT_CONTROLLER the caller refreshes metadata and asks again.
   *
   * @param lane Which of the controller's connections.
   */
  async controllerConnection(lane: Lane = "default"): Promise<Connection> {
    if (this.#controllerId < 0) await this.refreshMetadata();
    if (this.#controllerId < 0) {
      throw new KafkaError("The cluster metadata names no controller (controller id -1)");
    }
    return await this.connectionTo(this.#controllerId, lane);
  }

  /** Some live connection: a known broker's, else a bootstrap broker's. */
  async anyConnection(): Promise<Connection> {
    const errors: string[] = [];
    // Prefer connections that are already open.
    for (const [key, p] of this.#conns) {
      if (!key.endsWith("/default")) continue;
      try {
        const c = await p;
        if (!c.isClosed) return c;
      } catch {
        // try the next one
      }
    }
    const candidates: [string, { host: string; port: number }][] = [
      ...[...this.#brokers.values()].map((b) => [`node-${b.nodeId}`, b] as [string, BrokerInfo]),
      ...this.#bootstrap.map((a) => [`${a.host}:${a.port}`, a] as [string, { host: string; port: number }]),
    ];
    for (const [id, addr] of candidates) {
      try {
        return await this.#connection(id, addr, "default");
      } catch (err) {
        errors.push(`${addr.host}:${addr.port}: ${(err as Error).message}`);
      }
    }
    throw new ConnectionError(`No broker is reachable:\n  ${errors.join("\n  ")}`);
  }

  /**
   * Refreshes metadata for every topic in use plus `topics`. Concurrent calls
   * share one request.
   */
  refreshMetadata(topics: readonly string[] = []): Promise<void> {
    let added = false;
    for (const t of topics) {
      if (!this.#interesting.has(t)) {
        this.#interesting.add(t);
        added = true;
      }
    }
    if (this.#refreshing) {
      return added ? this.#refreshing.catch(() => {}).then(() => this.refreshMetadata()) : this.#refreshing;
    }
    const p = this.#doRefresh().finally(() => {
      if (this.#refreshing === p) this.#refreshing = null;
    });
    this.#refreshing = p;
    return p;
  }

  async #doRefresh(): Promise<void> {
    const names = [...this.#interesting];
    const res = await this.fetchMetadata(names.length ? names : [], this.#opts.allowAutoTopicCreation);
    this.#apply(res);
  }

  /**
   * Sends one Metadata request (no caching): `null` asks for all topics.
   *
   * @param topics Topic names, or null for all.
   * @param allowAutoTopicCreation Whether the broker may create missing topics.
   */
  async fetchMetadata(
    topics: readonly string[] | null,
    allowAutoTopicCreation = false,
  ): Promise<MetadataResponse> {
    const conn = await this.anyConnection();
    return await conn.request(metadataApi, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  }

  #apply(res: MetadataResponse): void {
    if (res.errorCode) throw new BrokerError(res.errorCode, { api: "Metadata" });
    this.#clusterId = res.clusterId;
    this.#controllerId = res.controllerId;
    if (this.#events.active) this.#events.emit(metadataEvent(res));
    if (res.brokers.length) {
      const seen = new Set<number>();
      for (const b of res.brokers) {
        seen.add(b.nodeId);
        const old = this.#brokers.get(b.nodeId);
        if (old && (old.host !== b.host || old.port !== b.port)) {
          // The broker moved: drop connections to the old address.
          for (const lane of ["default", "produce", "fetch", "group"]) {
            this.#conns.get(`node-${b.nodeId}/${lane}`)?.then((c) => c.close(), () => {});
          }
        }
        this.#brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
      }
      for (const id of [...this.#brokers.keys()]) if (!seen.has(id)) this.#brokers.delete(id);
    }
    const now = Date.now();
    for (const t of res.topics) {
      if (t.name === null) continue;
      const info = toTopicInfo(t);
      const old = this.#topics.get(t.name)?.info;
      if (old && old.topicId === info.topicId) {
        // KIP-320: a broker that lags may describe a partition with an older leader epoch than we know;
        // keep the newer view of that partition.
        info.partitions = info.partitions.map((p) => {
          const o = old.partitions[p.partition];
          return o && o.partition === p.partition && o.leaderEpoch > p.leaderEpoch ? o : p;
        });
      }
      this.#topics.set(t.name, { info, at: now });
      if (info.topicId !== ZERO_UUID) this.#topicNames.set(info.topicId, t.name);
    }
  }

  /** The cached description of a topic, if any (possibly stale). */
  cachedTopic(name: string): TopicInfo | undefined {
    return this.#topics.get(name)?.info;
  }

  /** The cached description of a topic when it is usable and younger than `metadataMaxAgeMs`; else undefined. */
  freshTopic(name: string): TopicInfo | undefined {
    const t = this.#topics.get(name);
    if (!t || t.info.errorCode !== 0 || t.info.partitions.length === 0) return undefined;
    return Date.now() - t.at < this.#opts.metadataMaxAgeMs ? t.info : undefined;
  }

  /** The name of a topic by id, from the metadata cache. */
  topicName(topicId: string): string | undefined {
    return this.#topicNames.get(topicId);
  }

  /**
   * A topic's metadata, refreshed when missing, older than `metadataMaxAgeMs`,
   * or when `force` is set.
   */
  async topic(name: string, opts: { force?: boolean } = {}): Promise<TopicInfo> {
    const cached = this.#topics.get(name);
    if (
      !opts.force && cached && Date.now() - cached.at < this.#opts.metadataMaxAgeMs &&
      cached.info.errorCode === 0
    ) {
      return cached.info;
    }
    await this.refreshMetadata([name]);
    const t = this.#topics.get(name);
    if (!t) throw new KafkaError(`Metadata did not describe topic "${name}"`);
    return t.info;
  }

  /**
   * A topic's metadata once it is usable: no topic error and a leader for
   * every partition. Retriable errors (a topic being created, a leader
   * election) are waited out up to `timeoutMs`.
   */
  async readyTopic(
    name: string,
    timeoutMs: number = this.#opts.requestTimeoutMs,
    signal?: AbortSignal,
  ): Promise<TopicInfo> {
    const deadline = Date.now() + timeoutMs;
    let delay = 20;
    let force = false;
    while (true) {
      signal?.throwIfAborted();
      const t = await this.topic(name, { force });
      if (t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)) return t;
      const err = t.errorCode ? new BrokerError(t.errorCode, { api: "Metadata", topic: name }) : null;
      if (err && !err.retriable) throw err;
      if (Date.now() + delay > deadline) {
        throw err ?? new KafkaError(`Topic "${name}" has partitions without a leader after ${timeoutMs} ms`);
      }
      await sleepUnlessAborted(delay, signal);
      delay = Math.min(delay * 2, 500);
      force = true;
    }
  }

  /** A snapshot of what the cache knows. */
  snapshot(topics?: readonly string[]): ClusterMetadata {
    const list = topics ? topics.map((t) => this.#topics.get(t)?.info).filter((t): t is TopicInfo => !!t) : [
      ...this.#topics.values(),
    ].map((t) => t.info);
    return {
      clusterId: this.#clusterId,
      controllerId: this.#controllerId,
      brokers: this.brokers,
      topics: list,
    };
  }

  /** Stops using a topic (it is no longer refreshed). */
  forget(topic: string): void {
    this.#interesting.delete(topic);
    const t = this.#topics.get(topic);
    if (t) this.#topicNames.delete(t.info.topicId);
    this.#topics.delete(topic);
  }

  /** Closes every connection. Idempotent. */
  close(): Promise<void> {
    // A second call waits for the same closing (a dial being aborted settles first).
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#events.close();
      this.#closeCtl.abort(new ClosedError("The client is closed"));
      const all = [...this.#conns.values()];
      this.#conns.clear();
      await Promise.all(all.map((p) => p.then((c) => c.close(), () => {})));
    })();
    return this.#closing;
  }
}

/** The broker an internal connection id names: "node-<id>", else a bootstrap address (-1). */
function ref(id: string, addr: { host: string; port: number }, lane: Lane) {
  return {
    broker: id.startsWith("node-") ? Number(id.slice(5)) : -1,
    address: `${addr.host}:${addr.port}`,
    lane,
  };
}

function metadataEvent(res: MetadataResponse): EventInit {
  const topics: string[] = [];
  for (const t of res.topics) if (t.name !== null) topics.push(t.name);
  return { type: "metadata", brokers: res.brokers.length, controllerId: res.controllerId, topics };
}

function toTopicInfo(t: MetadataResponse["topics"][number]): TopicInfo {
  return {
    name: t.name ?? "",
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
  };
}
