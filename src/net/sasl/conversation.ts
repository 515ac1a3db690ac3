/**
 * The client side of one SASL conversation, shared by the mechanisms.
 *
 * @module
 */

/**
 * One SASL conversation on the client side: the first message, then one
 * answer per server challenge until it returns null.
 */
export interface SaslConversation {
  /** The client's first message. */
  start(): Promise<Uint8Array>;
  /** Answers a server message; null when the conversation is complete. */
  next(challenge: Uint8Array): Promise<Uint8Array | null>;
}
