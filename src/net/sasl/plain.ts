/**
 * SASL PLAIN (RFC 4616).
 *
 * @module
 */

import type { SaslConversation } from "./conversation.ts";

const encoder = new TextEncoder();

/**
 * PLAIN (RFC 4616): one message, "authzid NUL authcid NUL passwd", with an
 * empty authorization id.
 *
 * @example
 * ```ts
 * import { plain } from "./plain.ts";
 * const c = plain("alice", "alice-secret");
 * const first = new TextDecoder().decode(await c.start());
 * console.assert(first === "\0alice\0alice-secret");
 * ```
 *
 * @param username The user.
 * @param password The password.
 */
export function plain(username: string, password: string): SaslConversation {
  return {
    start: () => Promise.resolve(encoder.encode(`\0${username}\0${password}`)),
    next: () => Promise.resolve(null),
  };
}
