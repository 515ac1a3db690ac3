/**
 * The error classes the protocol layer raises. `src/` builds its richer errors on
 * {@linkcode KafkaError}, so every error the library throws is an instance of it.
 *
 * @module
 */

/** Options accepted by every kafka-deno error. */
export interface KafkaErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error kafka-deno throws.
 *
 * @example
 * ```ts
 * import { KafkaError } from "./errors.ts";
 * try {
 *   throw new KafkaError("Something failed");
 * } catch (err) {
 *   if (err instanceof KafkaError) console.error(err.message);
 * }
 * ```
 */
export class KafkaError extends Error {
  /**
   * Creates a KafkaError.
   *
   * @param message What went wrong, in a sentence.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: KafkaErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Bytes that do not follow Kafka's wire protocol: a truncated frame, a negative or
 * oversized length, a bad CRC, an unknown version. Decoders throw only this.
 *
 * @example
 * ```ts
 * import { ProtocolError, Reader } from "./mod.ts";
 * try {
 *   new Reader(new Uint8Array(2)).int32();
 * } catch (err) {
 *   console.assert(err instanceof ProtocolError);
 * }
 * ```
 */
export class ProtocolError extends KafkaError {}
