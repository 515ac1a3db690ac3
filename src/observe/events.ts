/**
 * Events: what the client, a producer or a consumer went through, as an async
 * iterable of a tagged union (`for await (const e of consumer.events())`).
 *
 * Each subscriber has its own bounded buffer: a slow reader (or one that never
 * reads) never holds the client up; what does not fit is counted and reported
 * to that reader as one `{ type: "dropped", count }` event, in place, once it
 * catches up. With nobody subscribed (and no logger at "info" or "debug"),
 * emitting is a field read: call sites check {@linkcode EventHub.active}
 * before building an event, so nothing is allocated.
 *
 * @module
 */

import type { Log } from "./log.ts";
import type { CommitOffset, TopicPartition } from "../consumer.ts";

/** Every event has its kind in `type` and when it happened in `timestamp` (ms since the epoch, `Date.now()`). */
export interface EventBase {
  /** When it happened, in ms since the epoch. */
  readonly timestamp: number;
}

/** Which broker connection an event is about. */
export interface ConnectionRef {
  /** The broker's node id; -1 for a bootstrap address not yet known by id. */
  readonly broker: number;
  /** "host:port". */
  readonly address: string;
  /** The connection's lane ("default", "produce", "fetch", "group", or a consumer's own "fetch/…"/"group/…"). */
  readonly lane: string;
}

/** A connection to a broker was made (TCP, TLS, ApiVersions and SASL done). */
export interface ConnectedEvent extends EventBase, ConnectionRef {
  /** The kind. */
  readonly type: "connected";
}

/** A connection to a broker closed other than by the client closing. */
export interface DisconnectedEvent extends EventBase, ConnectionRef {
  /** The kind. */
  readonly type: "disconnected";
  /** Why, in words (the error's message). */
  readonly reason: string;
}

/** The client is connecting again to a broker whose connection was lost or could not be made. */
export interface ReconnectingEvent extends EventBase, ConnectionRef {
  /** The kind. */
  readonly type: "reconnecting";
  /** The attempt number since the last good connection (1 = first attempt after losing it). */
  readonly attempt: number;
  /** How long the attempt waits first (reconnect backoff), in ms. */
  readonly delayMs: number;
  /** Why: how the previous connection ended or the previous attempt failed. */
  readonly reason: string;
}

/** The client's metadata cache was refreshed. */
export interface MetadataEvent extends EventBase {
  /** The kind. */
  readonly type: "metadata";
  /** How many brokers the cluster has. */
  readonly brokers: number;
  /** The controller's node id (-1 when unknown). */
  readonly controllerId: number;
  /** The topics the response described. */
  readonly topics: readonly string[];
}

/** The consumer joined its group (a new generation, or a new member epoch with KIP-848). */
export interface GroupJoinedEvent extends EventBase {
  /** The kind. */
  readonly type: "group.joined";
  /** The group. */
  readonly groupId: string;
  /** This member's id. */
  readonly memberId: string;
  /** The generation (classic) or member epoch (KIP-848). */
  readonly generationId: number;
  /** Whether this member leads the group and computed the assignment (classic). */
  readonly leader: boolean;
}

/** The group is rebalancing: this member will join again. */
export interface GroupRebalancingEvent extends EventBase {
  /** The kind. */
  readonly type: "group.rebalancing";
  /** The group. */
  readonly groupId: string;
  /** Why (the coordinator's error, or the topics' partitions changed). */
  readonly reason: string;
}

/** The consumer took an assignment (after `onAssigned` ran). */
export interface GroupAssignedEvent extends EventBase {
  /** The kind. */
  readonly type: "group.assigned";
  /** The group. */
  readonly groupId: string;
  /** The partitions new to this member, sorted. */
  readonly partitions: readonly TopicPartition[];
  /** Every partition this member reads now, sorted. */
  readonly assignment: readonly TopicPartition[];
}

/** The consumer gave partitions up in a rebalance or on close (after `onRevoked` ran). */
export interface GroupRevokedEvent extends EventBase {
  /** The kind. */
  readonly type: "group.revoked";
  /** The group. */
  readonly groupId: string;
  /** The partitions given up, sorted. */
  readonly partitions: readonly TopicPartition[];
}

/** The consumer lost partitions it could no longer commit (fenced, session or poll interval missed). */
export interface GroupLostEvent extends EventBase {
  /** The kind. */
  readonly type: "group.lost";
  /** The group. */
  readonly groupId: string;
  /** The partitions lost, sorted. */
  readonly partitions: readonly TopicPartition[];
}

/** Offsets were committed (auto-commit, `commit()`, before a rebalance or on close). */
export interface CommitSucceededEvent extends EventBase {
  /** The kind. */
  readonly type: "commit.succeeded";
  /** The group. */
  readonly groupId: string;
  /** The offsets committed (the next offset to read per partition). */
  readonly offsets: readonly CommitOffset[];
}

/** A commit failed. */
export interface CommitFailedEvent extends EventBase {
  /** The kind. */
  readonly type: "commit.failed";
  /** The group. */
  readonly groupId: string;
  /** The offsets that were not committed. */
  readonly offsets: readonly CommitOffset[];
  /** Why. */
  readonly error: Error;
}

/**
 * A partition's position moved without the application asking: the log was
 * truncated under it (KIP-320), its offset left the log (OFFSET_OUT_OF_RANGE), or
 * the leader could not validate it.
 */
export interface OffsetsResetEvent extends EventBase {
  /** The kind. */
  readonly type: "offsets.reset";
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** Why. */
  readonly reason: "truncation" | "out-of-range" | "unvalidated";
  /** The position before. */
  readonly from: bigint;
  /** Where reading goes on: an offset, or the reset policy's end. */
  readonly to: bigint | "earliest" | "latest";
}

/** The producer got a producer id, or bumped its epoch (KIP-360, or a transaction's end). */
export interface ProducerIdEvent extends EventBase {
  /** The kind. */
  readonly type: "producer.id";
  /** The producer id. */
  readonly producerId: bigint;
  /** The producer epoch. */
  readonly epoch: number;
  /** "init" (InitProducerId), "bump" (the producer bumped its own epoch), "transaction" (the coordinator gave one). */
  readonly reason: "init" | "bump" | "transaction";
}

/** A batch of records will be sent again after a retriable failure. */
export interface BatchRetriedEvent extends EventBase {
  /** The kind. */
  readonly type: "batch.retried";
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** How many records it holds. */
  readonly records: number;
  /** The retry number (1 = first retry). */
  readonly attempt: number;
  /** The backoff before it, in ms. */
  readonly delayMs: number;
  /** The failure. */
  readonly error: Error;
}

/** A batch was not acknowledged within `deliveryTimeoutMs`: its records' `send()` rejected. */
export interface BatchExpiredEvent extends EventBase {
  /** The kind. */
  readonly type: "batch.expired";
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** How many records it held. */
  readonly records: number;
  /** The error the records failed with. */
  readonly error: Error;
}

/** A broker throttled the client (a quota, KIP-219): its response carried a throttle time. */
export interface ThrottledEvent extends EventBase, ConnectionRef {
  /** The kind. */
  readonly type: "throttled";
  /** The API whose response said so, e.g. "Produce" or "Fetch". */
  readonly api: string;
  /** How long the broker throttles this client, in ms. */
  readonly throttleTimeMs: number;
}

/**
 * This subscriber's buffer was full: `count` events were dropped at this place
 * in the sequence. Only this subscriber misses them.
 */
export interface DroppedEvent extends EventBase {
  /** The kind. */
  readonly type: "dropped";
  /** How many events were dropped. */
  readonly count: number;
}

/**
 * Everything `events()` yields: switch on `type`.
 *
 * Client-level events (`connected`, `disconnected`, `reconnecting`, `metadata`,
 * `throttled`) come from `client.events()` and also from every producer's and
 * consumer's `events()`; group, commit and offset events from a consumer's;
 * `producer.id` and batch events from a producer's.
 */
export type KafkaEvent =
  | ConnectedEvent
  | DisconnectedEvent
  | ReconnectingEvent
  | MetadataEvent
  | GroupJoinedEvent
  | GroupRebalancingEvent
  | GroupAssignedEvent
  | GroupRevokedEvent
  | GroupLostEvent
  | CommitSucceededEvent
  | CommitFailedEvent
  | OffsetsResetEvent
  | ProducerIdEvent
  | BatchRetriedEvent
  | BatchExpiredEvent
  | ThrottledEvent
  | DroppedEvent;

/** Every event's `type`. */
export type KafkaEventType = KafkaEvent["type"];

/** Options for `events()`. */
export interface EventsOptions {
  /**
   * How many events this subscriber's buffer holds before further ones are dropped (and
   * counted, see {@linkcode DroppedEvent}). Default 1,000.
   */
  bufferSize?: number;
}

type Init<E> = E extends KafkaEvent ? Omit<E, "timestamp"> : never;
/** @internal An event as a call site builds it: without its timestamp. */
export type EventInit = Init<Exclude<KafkaEvent, DroppedEvent>>;

/** The log level each event is written at when a logger is configured. */
const DEBUG_EVENTS: ReadonlySet<string> = new Set([
  "connected",
  "reconnecting",
  "metadata",
  "commit.succeeded",
  "batch.retried",
  "throttled",
]);

const DONE: IteratorResult<KafkaEvent> = { done: true, value: undefined };

function tps(list: readonly TopicPartition[]): string {
  return list.length === 0 ? "none" : list.map((p) => `${p.topic}[${p.partition}]`).join(", ");
}

/** One line that says what an event is, for logs. */
export function describeEvent(e: KafkaEvent): string {
  switch (e.type) {
    case "connected":
      return `Connected to ${e.address} (broker ${e.broker}, lane ${e.lane})`;
    case "disconnected":
      return `Disconnected from ${e.address} (broker ${e.broker}, lane ${e.lane}): ${e.reason}`;
    case "reconnecting":
      return `Reconnecting to ${e.address} (broker ${e.broker}, lane ${e.lane}), attempt ${e.attempt} in ${
        Math.round(e.delayMs)
      } ms: ${e.reason}`;
    case "metadata":
      return `Metadata refreshed: ${e.brokers} broker(s), controller ${e.controllerId}, ${e.topics.length} topic(s)`;
    case "group.joined":
      return `Joined group ${e.groupId} as ${e.memberId} (generation ${e.generationId}${
        e.leader ? ", leader" : ""
      })`;
    case "group.rebalancing":
      return `Group ${e.groupId} is rebalancing: ${e.reason}`;
    case "group.assigned":
      return `Group ${e.groupId}: assigned ${tps(e.partitions)}`;
    case "group.revoked":
      return `Group ${e.groupId}: revoked ${tps(e.partitions)}`;
    case "group.lost":
      return `Group ${e.groupId}: lost ${tps(e.partitions)}`;
    case "commit.succeeded":
      return `Group ${e.groupId}: committed ${e.offsets.length} offset(s)`;
    case "commit.failed":
      return `Group ${e.groupId}: commit of ${e.offsets.length} offset(s) failed: ${e.error.message}`;
    case "offsets.reset":
      return `${e.topic}[${e.partition}] reset (${e.reason}) from ${e.from} to ${e.to}`;
    case "producer.id":
      return `Producer id ${e.producerId} epoch ${e.epoch} (${e.reason})`;
    case "batch.retried":
      return `Retrying a batch of ${e.records} record(s) to ${e.topic}[${e.partition}] (retry ${e.attempt}) in ${e.delayMs} ms: ${e.error.message}`;
    case "batch.expired":
      return `A batch of ${e.records} record(s) to ${e.topic}[${e.partition}] expired: ${e.error.message}`;
    case "throttled":
      return `Broker ${e.broker} (${e.address}) throttled ${e.api} for ${e.throttleTimeMs} ms`;
    case "dropped":
      return `${e.count} event(s) dropped`;
  }
}

/** One reader of events: a bounded queue and at most a few pending `next()` calls. */
class Subscription implements AsyncIterableIterator<KafkaEvent> {
  readonly #cap: number;
  #queue: KafkaEvent[] = [];
  #head = 0;
  #dropped = 0;
  #done = false;
  readonly #waiters: ((r: IteratorResult<KafkaEvent>) => void)[] = [];
  readonly #hubs: EventHub[] = [];

  constructor(cap: number) {
    this.#cap = cap;
  }

  attach(hub: EventHub): void {
    this.#hubs.push(hub);
  }

  push(e: KafkaEvent): void {
    if (this.#done) return;
    const w = this.#waiters.shift();
    if (w !== undefined) {
      // A reader waits: the queue is empty and nothing was dropped.
      w({ value: e, done: false });
      return;
    }
    if (this.#queue.length - this.#head >= this.#cap) {
      this.#dropped++;
      return;
    }
    if (this.#dropped > 0) {
      // The reader caught up: say, in place, how many it missed (one slot over the bound).
      this.#queue.push({ type: "dropped", count: this.#dropped, timestamp: Date.now() });
      this.#dropped = 0;
    }
    this.#queue.push(e);
  }

  next(): Promise<IteratorResult<KafkaEvent>> {
    if (this.#head < this.#queue.length) {
      const e = this.#queue[this.#head++];
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value: e, done: false });
    }
    if (this.#dropped > 0) {
      const count = this.#dropped;
      this.#dropped = 0;
      return Promise.resolve({ value: { type: "dropped", count, timestamp: Date.now() }, done: false });
    }
    if (this.#done) return Promise.resolve(DONE);
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Leaving the loop (`break`): unsubscribe and forget what is buffered. */
  return(): Promise<IteratorResult<KafkaEvent>> {
    this.#queue = [];
    this.#head = 0;
    this.#dropped = 0;
    this.end();
    return Promise.resolve(DONE);
  }

  /** The source closed: what is buffered is still read, then iteration ends. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    for (const h of this.#hubs) h.remove(this);
    this.#hubs.length = 0;
    for (const w of this.#waiters.splice(0)) w(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<KafkaEvent> {
    return this;
  }
}

/**
 * @internal Where a client, producer or consumer emits events. A producer's or
 * consumer's hub has the client's as parent: its subscribers hear the client's
 * events too.
 */
export class EventHub {
  /** Whether an emitted event goes anywhere: check it before building one. */
  active = false;
  readonly #subs = new Set<Subscription>();
  readonly #log: Log;
  readonly #logs: boolean;
  readonly #parent: EventHub | null;
  #closed = false;

  /**
   * @param log Where events are logged (at debug or info level).
   * @param parent The client's hub, for a producer's or consumer's.
   */
  constructor(log: Log, parent: EventHub | null = null) {
    this.#log = log;
    this.#logs = log.infoOn;
    this.#parent = parent;
    this.active = this.#logs;
  }

  /** The log this hub writes events to. */
  get log(): Log {
    return this.#log;
  }

  /** Stamps and delivers an event. Call only when {@linkcode EventHub.active}. */
  emit(init: EventInit): void {
    const e = init as { timestamp?: number } & KafkaEvent;
    e.timestamp = Date.now();
    for (const s of this.#subs) s.push(e);
    if (this.#logs) {
      if (DEBUG_EVENTS.has(e.type)) {
        this.#log.debug(describeEvent(e), e as unknown as Record<string, unknown>);
      } else this.#log.info(describeEvent(e), e as unknown as Record<string, unknown>);
    }
  }

  /** A new subscriber: an async iterable iterator of what this hub (and its parent) emits from now on. */
  subscribe(opts: EventsOptions = {}): AsyncIterableIterator<KafkaEvent> {
    if (opts === null || typeof opts !== "object") {
      throw new TypeError(
        `The events() options must be an object, got ${opts === null ? "null" : typeof opts}`,
      );
    }
    for (const k of Object.keys(opts)) {
      if (k !== "bufferSize") throw new TypeError(`Unknown events() option "${k}"; known: bufferSize`);
    }
    const cap = opts.bufferSize ?? 1000;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`Invalid bufferSize ${cap}: expected an integer >= 1`);
    }
    const s = new Subscription(cap);
    if (this.#closed) {
      s.end();
      return s;
    }
    this.add(s);
    this.#parent?.add(s);
    return s;
  }

  /** @internal */
  add(s: Subscription): void {
    if (this.#closed) return;
    this.#subs.add(s);
    s.attach(this);
    this.active = true;
  }

  /** @internal */
  remove(s: Subscription): void {
    this.#subs.delete(s);
    this.active = this.#logs || this.#subs.size > 0;
  }

  /** Ends every subscriber's iteration (after what is buffered) and refuses new ones. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#subs]) s.end();
  }
}
