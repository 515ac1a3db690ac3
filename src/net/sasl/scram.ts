/**
 * SASL SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) on Web Crypto.
 *
 * @module
 */

import type { SaslConversation } from "./conversation.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** Kafka's lowest SCRAM iteration count; fewer would be a downgrade. */
const MIN_ITERATIONS = 4096;
/** A bound against a hostile server making us spin for minutes. */
const MAX_ITERATIONS = 1_000_000;

/** The hash of a SCRAM mechanism. */
export type ScramHash = "SHA-256" | "SHA-512";

/**
 * SCRAM (RFC 5802) client without channel binding ("n,,"). The password is
 * used as UTF-8 without SASLprep, as Kafka's own client and broker do.
 *
 * @example
 * ```ts ignore
 * import { scram } from "./scram.ts";
 * const c = scram("SHA-256", "alice", "alice-secret");
 * const clientFirst = await c.start(); // "n,,n=alice,r=<nonce>"
 * ```
 *
 * @param hash SHA-256 or SHA-512.
 * @param username The user.
 * @param password The password.
 * @param clientNonce A fixed nonce, for test vectors only; a random one by default.
 */
export function scram(
  hash: ScramHash,
  username: string,
  password: string,
  clientNonce?: string,
): SaslConversation {
  const nonce = clientNonce ?? base64(crypto.getRandomValues(new Uint8Array(24)));
  const clientFirstBare = `n=${saslName(username)},r=${nonce}`;
  const gs2Header = "n,,";
  let step = 0;
  let expectedServerSignature: Uint8Array | null = null;
  return {
    start() {
      step = 1;
      return Promise.resolve(encoder.encode(gs2Header + clientFirstBare));
    },
    async next(challenge) {
      const text = decoder.decode(challenge);
      if (step === 1) {
        step = 2;
        const attrs = parseAttributes(text);
        if (attrs.has("m")) throw new Error("the server requires a SCRAM extension we do not know");
        const serverNonce = attrs.get("r");
        const salt = attrs.get("s");
        const iterations = Number(attrs.get("i"));
        if (!serverNonce || !salt || !attrs.has("i")) throw new Error("malformed server-first-message");
        if (!serverNonce.startsWith(nonce) || serverNonce.length <= nonce.length) {
          throw new Error("the server's nonce does not extend ours");
        }
        if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
          throw new Error(
            `the server asked for ${attrs.get("i")} iterations (allowed ${MIN_ITERATIONS}-${MAX_ITERATIONS})`,
          );
        }
        const bits = hash === "SHA-256" ? 256 : 512;
        const saltedPassword = await pbkdf2(hash, encoder.encode(password), unbase64(salt), iterations, bits);
        const clientKey = await hmac(hash, saltedPassword, encoder.encode("Client Key"));
        const storedKey = new Uint8Array(await crypto.subtle.digest(hash, clientKey));
        const clientFinalWithoutProof = `c=${base64(encoder.encode(gs2Header))},r=${serverNonce}`;
        const authMessage = encoder.encode(`${clientFirstBare},${text},${clientFinalWithoutProof}`);
        const clientSignature = await hmac(hash, storedKey, authMessage);
        const proof = clientKey.map((b, i) => b ^ clientSignature[i]);
        const serverKey = await hmac(hash, saltedPassword, encoder.encode("Server Key"));
        expectedServerSignature = await hmac(hash, serverKey, authMessage);
        return encoder.encode(`${clientFinalWithoutProof},p=${base64(proof)}`);
      }
      if (step === 2) {
        step = 3;
        const attrs = parseAttributes(text);
        const e = attrs.get("e");
        if (e !== undefined) throw new Error(`the server reported "${e}"`);
        const v = attrs.get("v");
        if (v === undefined) throw new Error("malformed server-final-message");
        if (!equalBytes(unbase64(v), expectedServerSignature!)) {
          throw new Error(
            "the server's signature is wrong: it does not know the password (or a proxy interfered)",
          );
        }
        return null;
      }
      throw new Error("unexpected message after the SCRAM exchange ended");
    },
  };
}

/** RFC 5802 saslname: "=" and "," escaped. */
function saslName(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq !== 1) throw new Error("malformed SCRAM message");
    out.set(part[0], part.slice(2));
  }
  return out;
}

async function pbkdf2(
  hash: ScramHash,
  password: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  bits: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash, salt, iterations }, key, bits),
  );
}

async function hmac(
  hash: ScramHash,
  key: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** Compares without an early exit, so timing does not tell how much matched. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function base64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function unbase64(s: string): Uint8Array<ArrayBuffer> {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new Error("malformed base64 in a SCRAM message");
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
