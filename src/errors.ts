/**
 * The errors kafka-deno throws. Every one extends {@linkcode KafkaError} and
 * accepts `{ cause }`.
 *
 * @module
 */

import { KafkaError, type KafkaErrorOptions, ProtocolError } from "../protocol/errors.ts";
import { errorByCode } from "../protocol/error_codes.ts";

export { KafkaError, type KafkaErrorOptions, ProtocolError };

/** Where a broker error happened, when known. */
export interface BrokerErrorContext {
  /** The API that failed, e.g. "Produce". */
  api?: string;
  /** The broker's address. */
  broker?: string;
  /** The topic. */
  topic?: string;
  /** The partition. */
  partition?: number;
  /** The group. */
  groupId?: string;
  /** The transactional id. */
  transactionalId?: string;
  /** The broker's own error message, when it sent one. */
  brokerMessage?: string | null;
}

/**
 * An error code a broker answered with, with its name and whether a retry can
 * succeed, from Kafka's error table.
 *
 * @example
 * ```ts
 * import { BrokerError } from "./errors.ts";
 * const err = new BrokerError(6, { topic: "t", partition: 0 });
 * console.assert(err.name === "BrokerError" && err.type === "NOT_LEADER_OR_FOLLOWER" && err.retriable);
 * ```
 */
export class BrokerError extends KafkaError {
  /** The numeric error code. */
  readonly code: number;
  /** The error's name in Kafka's table, e.g. "NOT_LEADER_OR_FOLLOWER". */
  readonly type: string;
  /** Whether Kafka marks the error retriable. */
  readonly retriable: boolean;
  /** Whether metadata (or the coordinator) must be refreshed before a retry. */
  readonly refreshMetadata: boolean;
  /** Where it happened. */
  readonly context: BrokerErrorContext;

  /**
   * Creates a BrokerError from a code.
   *
   * @param code The error code.
   * @param context Where it happened.
   * @param options The cause.
   */
  constructor(code: number, context: BrokerErrorContext = {}, options?: KafkaErrorOptions) {
    const e = errorByCode(code);
    const where = [
      context.api,
      context.topic !== undefined
        ? `${context.topic}${context.partition !== undefined ? `[${context.partition}]` : ""}`
        : undefined,
      context.groupId !== undefined ? `group ${context.groupId}` : undefined,
      context.transactionalId !== undefined ? `transactional id ${context.transactionalId}` : undefined,
      context.broker !== undefined ? `broker ${context.broker}` : undefined,
    ].filter(Boolean).join(", ");
    const detail = context.brokerMessage ? `: ${context.brokerMessage}` : `: ${e.message}`;
    super(`${e.name} (${code})${where ? ` from ${where}` : ""}${detail}`, options);
    this.code = code;
    this.type = e.name;
    this.retriable = e.retriable;
    this.refreshMetadata = e.refreshMetadata;
    this.context = context;
    const resourceType = AUTHORIZATION_CODES[code];
    if (resourceType !== undefined && new.target === BrokerError) {
      // Every place that makes a BrokerError gets the typed subclass for the
      // *_AUTHORIZATION_FAILED codes without having to know about it. A more
      // specific subclass (a transactional producer's ProducerFencedError) stays.
      Object.setPrototypeOf(this, AuthorizationError.prototype);
      this.name = "AuthorizationError";
      const name = resourceType === "topic"
        ? context.topic
        : resourceType === "group"
        ? context.groupId
        : resourceType === "transactionalId"
        ? context.transactionalId
        : undefined;
      (this as unknown as { resource: AuthorizationResource }).resource = {
        type: resourceType,
        name: name ?? null,
      };
    }
  }
}

/** The kind of resource an ACL denied. */
export type AuthorizationResourceType = "topic" | "group" | "cluster" | "transactionalId" | "delegationToken";

/** The resource an ACL denied. */
export interface AuthorizationResource {
  /** Its kind. */
  type: AuthorizationResourceType;
  /** Its name (null for the cluster, or when the failing request did not say). */
  name: string | null;
}

/** The *_AUTHORIZATION_FAILED codes and the resource kind each names. */
const AUTHORIZATION_CODES: Record<number, AuthorizationResourceType> = {
  29: "topic",
  30: "group",
  31: "cluster",
  53: "transactionalId",
  65: "delegationToken",
};

/**
 * The broker's authorizer denied an operation (an ACL): a
 * {@linkcode BrokerError} with one of the *_AUTHORIZATION_FAILED codes, never
 * retriable, naming the resource.
 *
 * @example
 * ```ts
 * import { AuthorizationError, BrokerError } from "./errors.ts";
 * const err = new BrokerError(29, { api: "Produce", topic: "payments" });
 * console.assert(err instanceof AuthorizationError && err.resource.name === "payments");
 * ```
 */
export class AuthorizationError extends BrokerError {
  /** The resource that was denied. */
  declare readonly resource: AuthorizationResource;
}

/**
 * A socket could not be opened, or broke; or the endpoint is not a Kafka listener.
 *
 * @example
 * ```ts
 * import { connect, ConnectionError, KafkaError } from "../mod.ts";
 * try {
 *   await connect({ brokers: ["127.0.0.1:1"], connectTimeoutMs: 2000 }); // nothing listens there
 * } catch (err) {
 *   console.assert(err instanceof ConnectionError && err instanceof KafkaError);
 *   console.log((err as ConnectionError).message); // names every address it tried
 * }
 * ```
 */
export class ConnectionError extends KafkaError {
  /** The broker address, host:port. */
  readonly broker: string | undefined;

  /**
   * Creates a ConnectionError.
   *
   * @param message What happened.
   * @param options The broker address and cause.
   */
  constructor(message: string, options: KafkaErrorOptions & { broker?: string } = {}) {
    super(message, options);
    this.broker = options.broker;
  }
}

/** A request or operation did not finish in time. */
export class TimeoutError extends KafkaError {}

/** The client, producer, consumer or connection was closed. */
export class ClosedError extends KafkaError {}

/** The broker does not speak any version of an API that we speak. */
export class UnsupportedVersionError extends KafkaError {}

/** SASL or TLS authentication failed. */
export class AuthenticationError extends KafkaError {}

/**
 * A commit could not be done because this member no longer owns the
 * partitions: it overran `maxPollIntervalMs`, a rebalance moved them, or it was
 * fenced. The records since the last commit will be delivered again (to this
 * member or another); process them idempotently.
 */
export class CommitFailedError extends KafkaError {}

/**
 * The log the consumer was reading was truncated under it (an unclean leader
 * election, KIP-320): records past the divergence point that were already
 * delivered no longer exist on the new leader.
 */
export class LogTruncationError extends KafkaError {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The position the consumer had reached. */
  readonly position: bigint;
  /** The end offset of the diverging epoch on the new leader: the first offset that no longer matches. */
  readonly divergingOffset: bigint;

  /**
   * Creates a LogTruncationError.
   *
   * @param topic The topic.
   * @param partition The partition.
   * @param position The consumer's position.
   * @param divergingOffset Where the logs diverge.
   * @param options The cause.
   */
  constructor(
    topic: string,
    partition: number,
    position: bigint,
    divergingOffset: bigint,
    options?: KafkaErrorOptions,
  ) {
    super(
      `Log truncation detected on ${topic}[${partition}]: position ${position} is past offset ${divergingOffset}, where the new leader's log diverges`,
      options,
    );
    this.topic = topic;
    this.partition = partition;
    this.position = position;
    this.divergingOffset = divergingOffset;
  }
}

/**
 * A `send()` was aborted (its `signal` fired, or the producer was closed with
 * an aborted signal) after some of its records had already been handed to the
 * broker: they cannot be taken back, so they may be written. `send()` rejects
 * with the signal's reason itself when none of its records had left (then
 * none is ever sent). `cause` is the signal's reason.
 *
 * @example
 * ```ts
 * import { SendAbortedError } from "./errors.ts";
 * const err = new SendAbortedError("aborted in flight", { cause: new DOMException("stop", "AbortError") });
 * console.assert(err.mayHaveBeenDelivered && err.name === "SendAbortedError");
 * ```
 */
export class SendAbortedError extends KafkaError {
  /** Always true: records of the aborted call were in flight (or already written). */
  readonly mayHaveBeenDelivered: true = true;
}
