/**
 * SASL authentication of a broker connection: SaslHandshake v1 followed by
 * SaslAuthenticate requests (KIP-152), with the mechanisms PLAIN (RFC 4616)
 * and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) on Web Crypto.
 *
 * The v0 flow (raw tokens after SaslHandshake v0) is not implemented: every
 * broker since Kafka 1.0 speaks v1, and Kafka 4 removed v0.
 *
 * Credentials never appear in errors: messages name the mechanism and the
 * broker, and a broker message that echoes the user name or password is
 * masked.
 *
 * @module
 */

import { saslAuthenticate, type SaslAuthenticateResponse } from "../protocol/apis/sasl_authenticate.ts";
import { saslHandshake, type SaslHandshakeResponse } from "../protocol/apis/sasl_handshake.ts";
import type { ApiCodec } from "../protocol/framing.ts";
import { AuthenticationError, BrokerError } from "./errors.ts";
import { checkOptions } from "./options.ts";

/** The SASL mechanisms kafka-deno speaks. */
export const SaslMechanism = {
  PLAIN: "PLAIN",
  SCRAM_SHA_256: "SCRAM-SHA-256",
  SCRAM_SHA_512: "SCRAM-SHA-512",
} as const;

/** A SASL mechanism name. */
export type SaslMechanism = typeof SaslMechanism[keyof typeof SaslMechanism];

/** SASL settings. */
export interface SaslOptions {
  /** "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512". */
  mechanism: SaslMechanism;
  /** The user name (for managed clusters often an API key). */
  username: string;
  /**
   * The password, or a function that returns it; the function is called at
   * every (re-)authentication, so it can fetch a rotated secret.
   */
  password: string | (() => string | Promise<string>);
}

const SASL_KEYS_RECORD: Record<keyof SaslOptions, true> = { mechanism: true, username: true, password: true };
/** Every key of {@linkcode SaslOptions}, for strict option checks. */
export const SASL_OPTION_KEYS: readonly string[] = Object.keys(SASL_KEYS_RECORD);

/** What a successful authentication tells the client. */
export interface SaslResult {
  /** The session lifetime the broker reported (KIP-368), in ms; 0 when the session does not expire. */
  sessionLifetimeMs: number;
}

/** Sends one request on the connection being authenticated and resolves with its response. */
export type SaslExchange = <Req, Res>(
  codec: ApiCodec<Req, Res>,
  request: Req,
  version: number,
) => Promise<Res>;

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

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const MECHANISMS: readonly string[] = Object.values(SaslMechanism);
const UNSUPPORTED_SASL_MECHANISM = 33;
const ILLEGAL_SASL_STATE = 34;
/** Kafka's lowest SCRAM iteration count; fewer would be a downgrade. */
const MIN_ITERATIONS = 4096;
/** A bound against a hostile server making us spin for minutes. */
const MAX_ITERATIONS = 1_000_000;

/**
 * Checks SASL options.
 *
 * @example
 * ```ts
 * import { checkSasl } from "./sasl.ts";
 * checkSasl({ mechanism: "SCRAM-SHA-256", username: "alice", password: "alice-secret" });
 * ```
 *
 * @param sasl The `sasl` option.
 * @throws {TypeError} for an unknown mechanism, an empty user name or a missing password (never echoed).
 */
export function checkSasl(sasl: SaslOptions): void {
  if (typeof sasl !== "object" || sasl === null) {
    throw new TypeError("Invalid sasl option: expected an object");
  }
  checkOptions(sasl, SASL_OPTION_KEYS, "sasl option");
  if (!MECHANISMS.includes(sasl.mechanism)) {
    throw new TypeError(
      `Unknown SASL mechanism ${JSON.stringify(sasl.mechanism)}: expected one of ${MECHANISMS.join(", ")}`,
    );
  }
  if (typeof sasl.username !== "string" || sasl.username === "") {
    throw new TypeError("Invalid sasl.username: expected a non-empty string");
  }
  if (typeof sasl.password !== "string" && typeof sasl.password !== "function") {
    throw new TypeError("Invalid sasl.password: expected a string or a function that returns one");
  }
}

async function passwordOf(sasl: SaslOptions): Promise<string> {
  const p = typeof sasl.password === "function" ? await sasl.password() : sasl.password;
  if (typeof p !== "string") throw new TypeError("The sasl.password function did not return a string");
  return p;
}

/**
 * Authenticates a connection: SaslHandshake v1 with the mechanism, then the
 * mechanism's messages in SaslAuthenticate requests.
 *
 * @param exchange Sends a request on the connection.
 * @param sasl The credentials.
 * @param ctx The broker's address and the versions it speaks.
 * @throws {AuthenticationError} when the broker rejects the mechanism or the credentials, or a SCRAM server cannot prove it knows them.
 */
export async function authenticate(
  exchange: SaslExchange,
  sasl: SaslOptions,
  ctx: { broker: string; versionFor(codec: ApiCodec<never, unknown>): number },
): Promise<SaslResult> {
  checkSasl(sasl);
  const { mechanism } = sasl;
  const where = `SASL ${mechanism} authentication with broker ${ctx.broker}`;
  let hsVersion: number;
  let authVersion: number;
  try {
    hsVersion = ctx.versionFor(saslHandshake as ApiCodec<never, unknown>);
    authVersion = ctx.versionFor(saslAuthenticate as ApiCodec<never, unknown>);
  } catch (cause) {
    throw new AuthenticationError(`${where} failed: ${(cause as Error).message}`, { cause });
  }
  if (hsVersion < 1) {
    throw new AuthenticationError(`${where} failed: the broker only speaks SaslHandshake v0 (Kafka < 1.0)`);
  }
  const hs: SaslHandshakeResponse = await exchange(saslHandshake, { mechanism }, hsVersion);
  if (hs.errorCode === UNSUPPORTED_SASL_MECHANISM) {
    throw new AuthenticationError(
      `${where} failed: the broker does not enable ${mechanism} (it offers ${
        hs.mechanisms.join(", ") || "none"
      })`,
      { cause: new BrokerError(hs.errorCode, { api: "SaslHandshake", broker: ctx.broker }) },
    );
  }
  if (hs.errorCode !== 0) {
    const cause = new BrokerError(hs.errorCode, { api: "SaslHandshake", broker: ctx.broker });
    // A listener without SASL answers ILLEGAL_SASL_STATE.
    const hint = hs.errorCode === ILLEGAL_SASL_STATE ? " (is SASL enabled on this listener?)" : "";
    throw new AuthenticationError(`${where} failed: ${cause.message}${hint}`, { cause });
  }
  const password = await passwordOf(sasl);
  const mask = (s: string | null) => maskSecrets(s ?? "", [password, sasl.username]);
  const conversation = mechanism === "PLAIN"
    ? plain(sasl.username, password)
    : scram(mechanism === "SCRAM-SHA-256" ? "SHA-256" : "SHA-512", sasl.username, password);
  let token: Uint8Array | null = await conversation.start();
  // PLAIN takes one round, SCRAM two; a bound keeps a confused server from looping us.
  for (let round = 0; round < 4 && token !== null; round++) {
    const res: SaslAuthenticateResponse = await exchange(saslAuthenticate, { authBytes: token }, authVersion);
    if (res.errorCode !== 0) {
      const brokerMessage = res.errorMessage ? mask(res.errorMessage) : null;
      const cause = new BrokerError(res.errorCode, {
        api: "SaslAuthenticate",
        broker: ctx.broker,
        brokerMessage,
      });
      throw new AuthenticationError(`${where} failed: ${brokerMessage ?? cause.message}`, { cause });
    }
    try {
      token = await conversation.next(res.authBytes);
    } catch (err) {
      throw new AuthenticationError(`${where} failed: ${mask((err as Error).message)}`);
    }
    if (token === null) return { sessionLifetimeMs: Number(res.sessionLifetimeMs) };
  }
  throw new AuthenticationError(`${where} failed: the conversation did not end`);
}

/** Replaces every occurrence of the secrets in a message. */
function maskSecrets(message: string, secrets: string[]): string {
  let out = message;
  for (const s of secrets) if (s.length >= 3) out = out.replaceAll(s, "***");
  return out;
}

/**
 * PLAIN (RFC 4616): one message, "authzid NUL authcid NUL passwd", with an
 * empty authorization id.
 *
 * @example
 * ```ts
 * import { plain } from "./sasl.ts";
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

/** The hash of a SCRAM mechanism. */
export type ScramHash = "SHA-256" | "SHA-512";

/**
 * SCRAM (RFC 5802) client without channel binding ("n,,"). The password is
 * used as UTF-8 without SASLprep, as Kafka's own client and broker do.
 *
 * @example
 * ```ts ignore
 * import { scram } from "./sasl.ts";
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
