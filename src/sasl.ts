/**
 * SASL authentication of a broker connection: SaslHandshake v1 followed by
 * SaslAuthenticate requests (KIP-152), with the mechanisms PLAIN (RFC 4616),
 * SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) on Web Crypto,
 * OAUTHBEARER (RFC 7628, KIP-255; src/net/sasl/oauthbearer.ts) and
 * AWS_MSK_IAM (src/net/sasl/aws_msk_iam.ts).
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
import { cachedToken, oauthBearer, type OAuthBearerTokenProvider } from "./net/sasl/oauthbearer.ts";
import {
  awsCredentials,
  type AwsIamOptions,
  awsRegion,
  mskIam,
  mskIamPayload,
} from "./net/sasl/aws_msk_iam.ts";

export {
  type OAuthBearerToken,
  type OAuthBearerTokenProvider,
  type OidcClientCredentialsOptions,
  oidcTokenProvider,
} from "./net/sasl/oauthbearer.ts";
export {
  type AwsCredentials,
  type AwsCredentialsProvider,
  type AwsIamOptions,
  mskIamTokenProvider,
} from "./net/sasl/aws_msk_iam.ts";

/** The SASL mechanisms kafka-deno speaks. */
export const SaslMechanism = {
  PLAIN: "PLAIN",
  SCRAM_SHA_256: "SCRAM-SHA-256",
  SCRAM_SHA_512: "SCRAM-SHA-512",
  OAUTHBEARER: "OAUTHBEARER",
  AWS_MSK_IAM: "AWS_MSK_IAM",
} as const;

/** A SASL mechanism name. */
export type SaslMechanism = typeof SaslMechanism[keyof typeof SaslMechanism];

/** SASL settings for a user name and password (PLAIN, SCRAM). */
export interface PasswordSaslOptions {
  /** "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512". */
  mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
  /** The user name (for managed clusters often an API key). */
  username: string;
  /**
   * The password, or a function that returns it; the function is called at
   * every (re-)authentication, so it can fetch a rotated secret.
   */
  password: string | (() => string | Promise<string>);
}

/** SASL OAUTHBEARER settings (KIP-255): a token provider. */
export interface OAuthBearerSaslOptions {
  /** "OAUTHBEARER". */
  mechanism: "OAUTHBEARER";
  /**
   * Returns a token: your own function, {@linkcode oidcTokenProvider} (OIDC
   * client credentials) or {@linkcode mskIamTokenProvider} (Amazon MSK). Its
   * token is cached until 80% of its lifetime has passed, then fetched anew;
   * connections re-authenticate (KIP-368) when the broker says their session ends.
   */
  token: OAuthBearerTokenProvider;
}

/** SASL AWS_MSK_IAM settings: Amazon MSK IAM access control with a SigV4-signed payload. */
export interface AwsMskIamSaslOptions extends AwsIamOptions {
  /** "AWS_MSK_IAM". */
  mechanism: "AWS_MSK_IAM";
}

/** SASL settings. */
export type SaslOptions = PasswordSaslOptions | OAuthBearerSaslOptions | AwsMskIamSaslOptions;

const PASSWORD_KEYS_RECORD: Record<keyof PasswordSaslOptions, true> = {
  mechanism: true,
  username: true,
  password: true,
};
const OAUTH_KEYS_RECORD: Record<keyof OAuthBearerSaslOptions, true> = { mechanism: true, token: true };
const AWS_KEYS_RECORD: Record<keyof AwsMskIamSaslOptions, true> = {
  mechanism: true,
  region: true,
  credentials: true,
};
/** Every key of {@linkcode PasswordSaslOptions}, for strict option checks. */
export const SASL_OPTION_KEYS: readonly string[] = Object.keys(PASSWORD_KEYS_RECORD);

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
 * @throws {TypeError} for an unknown mechanism, an empty user name or a missing password or token provider (never echoed).
 */
export function checkSasl(sasl: SaslOptions): void {
  if (typeof sasl !== "object" || sasl === null) {
    throw new TypeError("Invalid sasl option: expected an object");
  }
  if (!MECHANISMS.includes(sasl.mechanism)) {
    throw new TypeError(
      `Unknown SASL mechanism ${JSON.stringify(sasl.mechanism)}: expected one of ${MECHANISMS.join(", ")}`,
    );
  }
  if (sasl.mechanism === "OAUTHBEARER") {
    checkOptions(sasl, Object.keys(OAUTH_KEYS_RECORD), "sasl option (OAUTHBEARER)");
    if (typeof sasl.token !== "function") {
      throw new TypeError(
        "Invalid sasl.token: expected an async function that returns { value, lifetimeMs }",
      );
    }
    return;
  }
  if (sasl.mechanism === "AWS_MSK_IAM") {
    checkOptions(sasl, Object.keys(AWS_KEYS_RECORD), "sasl option (AWS_MSK_IAM)");
    if (sasl.region !== undefined && (typeof sasl.region !== "string" || !/^[a-z0-9-]+$/.test(sasl.region))) {
      throw new TypeError(`Invalid sasl.region ${JSON.stringify(sasl.region)}`);
    }
    const c = sasl.credentials;
    if (c !== undefined && typeof c !== "function" && (typeof c !== "object" || c === null)) {
      throw new TypeError("Invalid sasl.credentials: expected an object or an async function");
    }
    return;
  }
  checkOptions(sasl, SASL_OPTION_KEYS, "sasl option");
  if (typeof sasl.username !== "string" || sasl.username === "") {
    throw new TypeError("Invalid sasl.username: expected a non-empty string");
  }
  if (typeof sasl.password !== "string" && typeof sasl.password !== "function") {
    throw new TypeError("Invalid sasl.password: expected a string or a function that returns one");
  }
}

async function passwordOf(sasl: PasswordSaslOptions): Promise<string> {
  const p = typeof sasl.password === "function" ? await sasl.password() : sasl.password;
  if (typeof p !== "string") throw new TypeError("The sasl.password function did not return a string");
  return p;
}

/** The broker's host name from "host:port" or "[v6]:port". */
function hostOf(broker: string): string {
  const i = broker.lastIndexOf(":");
  const h = i > 0 ? broker.slice(0, i) : broker;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

/** The mechanism's conversation and the secrets that must not appear in an error. */
async function conversationFor(
  sasl: SaslOptions,
  broker: string,
): Promise<{ conversation: SaslConversation; secrets: string[]; detail?: () => string | null }> {
  switch (sasl.mechanism) {
    case "OAUTHBEARER": {
      const token = await cachedToken(sasl.token);
      const c = oauthBearer(token);
      return {
        conversation: c,
        secrets: [token.value],
        detail: () => c.serverError,
      };
    }
    case "AWS_MSK_IAM": {
      const creds = await awsCredentials(sasl);
      const payload = await mskIamPayload(hostOf(broker), awsRegion(sasl), creds);
      return {
        conversation: mskIam(payload),
        secrets: [creds.secretAccessKey, creds.sessionToken ?? "", payload["x-amz-signature"]],
      };
    }
    default: {
      const password = await passwordOf(sasl);
      return {
        conversation: sasl.mechanism === "PLAIN"
          ? plain(sasl.username, password)
          : scram(sasl.mechanism === "SCRAM-SHA-256" ? "SHA-256" : "SHA-512", sasl.username, password),
        secrets: [password, sasl.username],
      };
    }
  }
}

/**
 * Authenticates a connection: SaslHandshake v1 with the mechanism, then the
 * mechanism's messages in SaslAuthenticate requests.
 *
 * @param exchange Sends a request on the connection.
 * @param sasl The credentials.
 * @param ctx The broker's address and the versions it speaks.
 * @throws {AuthenticationError} when the broker rejects the mechanism or the credentials, a SCRAM server cannot prove it knows them, or a token or credentials cannot be had.
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
  let mech: Awaited<ReturnType<typeof conversationFor>>;
  try {
    mech = await conversationFor(sasl, ctx.broker);
  } catch (err) {
    // A token endpoint or credential provider failed: its message names the endpoint, never a secret.
    const e = err as Error;
    throw new AuthenticationError(
      `${where} failed: ${e.message}`,
      e instanceof AuthenticationError ? {} : {
        cause: err,
      },
    );
  }
  const mask = (s: string | null) => maskSecrets(s ?? "", mech.secrets);
  const conversation = mech.conversation;
  let token: Uint8Array | null = await conversation.start();
  // PLAIN and OAUTHBEARER take one round (two on an OAUTHBEARER error), SCRAM two; a bound keeps a confused server from looping us.
  for (let round = 0; round < 4 && token !== null; round++) {
    const res: SaslAuthenticateResponse = await exchange(saslAuthenticate, { authBytes: token }, authVersion);
    if (res.errorCode !== 0) {
      const brokerMessage = res.errorMessage ? mask(res.errorMessage) : null;
      const detail = mech.detail?.();
      const cause = new BrokerError(res.errorCode, {
        api: "SaslAuthenticate",
        broker: ctx.broker,
        brokerMessage,
      });
      const text = brokerMessage ?? cause.message;
      const extra = detail && !text.includes(detail) ? ` (${mask(detail)})` : "";
      const hint = mechanism === "OAUTHBEARER" && /invalid_token/.test(text + extra)
        ? "; the broker refused the token: check its signature key, issuer, audience, scope and expiry"
        : "";
      throw new AuthenticationError(`${where} failed: ${text}${extra}${hint}`, { cause });
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
