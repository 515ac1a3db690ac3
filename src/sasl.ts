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
import type { SaslConversation } from "./net/sasl/conversation.ts";
import { plain } from "./net/sasl/plain.ts";
import { scram } from "./net/sasl/scram.ts";

export type { SaslConversation } from "./net/sasl/conversation.ts";
export { plain } from "./net/sasl/plain.ts";
export { scram, type ScramHash } from "./net/sasl/scram.ts";
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

const MECHANISMS: readonly string[] = Object.values(SaslMechanism);
const UNSUPPORTED_SASL_MECHANISM = 33;
const ILLEGAL_SASL_STATE = 34;

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
