/**
 * SASL OAUTHBEARER (RFC 7628, KIP-255): the client's message carrying a
 * bearer token, a token cache that refreshes before expiry, and an OIDC
 * client-credentials token provider (RFC 6749 section 4.4, as KIP-768's
 * client side does it) on `fetch`.
 *
 * Tokens and client secrets never appear in an error: messages name the
 * mechanism, the broker and the token endpoint.
 *
 * @module
 */

import { AuthenticationError } from "../../errors.ts";
import { checkOptions } from "../../options.ts";

/** What a token provider returns. */
export interface OAuthBearerToken {
  /** The token (for OIDC, the compact JWT). Never logged. */
  value: string;
  /**
   * When the token expires, in ms since the epoch (the meaning of
   * `lifetimeMs` in Kafka's Java `OAuthBearerToken`). The client asks for a
   * new token once 80% of the time between fetching and expiry has passed.
   */
  lifetimeMs: number;
  /** The principal the token is for (informational). */
  principal?: string;
  /** SASL extensions sent with the token (KIP-342), e.g. Confluent Cloud's `logicalCluster` and `identityPoolId`. */
  extensions?: Record<string, string>;
}

/** An async function that returns a token; called when no cached token is fresh enough. */
export type OAuthBearerTokenProvider = () => Promise<OAuthBearerToken>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** RFC 7628 extension keys: letters only; "auth" is the token itself. */
const EXTENSION_KEY = /^[A-Za-z]+$/;
/** RFC 7628 extension values: VCHAR, space, tab, CR, LF. */
const EXTENSION_VALUE = /^[\x21-\x7E \t\r\n]*$/;
/** RFC 6750 b64token: the characters a bearer token may hold. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Checks a token a provider returned.
 *
 * @throws {TypeError} naming what is wrong (never the token).
 */
export function checkToken(token: OAuthBearerToken, now = Date.now()): void {
  if (typeof token !== "object" || token === null) {
    throw new TypeError("The OAUTHBEARER token provider did not return an object");
  }
  if (typeof token.value !== "string" || !B64TOKEN.test(token.value)) {
    throw new TypeError("The OAUTHBEARER token provider returned a token value that is not a bearer token");
  }
  if (typeof token.lifetimeMs !== "number" || !Number.isFinite(token.lifetimeMs)) {
    throw new TypeError("The OAUTHBEARER token provider returned no numeric lifetimeMs");
  }
  if (token.lifetimeMs <= now) {
    throw new TypeError(
      `The OAUTHBEARER token provider returned an expired token: lifetimeMs ${token.lifetimeMs} is not after now ` +
        `(${now}); it is the expiry time in ms since the epoch`,
    );
  }
  for (const [k, v] of Object.entries(token.extensions ?? {})) {
    if (!EXTENSION_KEY.test(k) || k === "auth") {
      throw new TypeError(`Invalid OAUTHBEARER extension key ${JSON.stringify(k)}: letters only, not "auth"`);
    }
    if (typeof v !== "string" || !EXTENSION_VALUE.test(v)) {
      throw new TypeError(`Invalid value of OAUTHBEARER extension ${k}: printable ASCII only`);
    }
  }
}

/**
 * The client's first OAUTHBEARER message (RFC 7628 section 3.1):
 * `n,,\x01auth=Bearer <token>\x01[key=value\x01]...\x01`.
 *
 * @example
 * ```ts
 * import { oauthBearerMessage } from "./oauthbearer.ts";
 * const m = oauthBearerMessage({ value: "abc", lifetimeMs: Date.now() + 60_000 });
 * console.assert(new TextDecoder().decode(m) === "n,,\x01auth=Bearer abc\x01\x01");
 * ```
 */
export function oauthBearerMessage(token: OAuthBearerToken): Uint8Array {
  let ext = "";
  for (const [k, v] of Object.entries(token.extensions ?? {})) ext += `${k}=${v}\x01`;
  return encoder.encode(`n,,\x01auth=Bearer ${token.value}\x01${ext}\x01`);
}

/** The conversation: the token, then (on failure) the RFC 7628 dummy response so the broker reports its error. */
export function oauthBearer(token: OAuthBearerToken): {
  start(): Promise<Uint8Array>;
  next(challenge: Uint8Array): Promise<Uint8Array | null>;
  readonly serverError: string | null;
} {
  let serverError: string | null = null;
  return {
    start: () => Promise.resolve(oauthBearerMessage(token)),
    next(challenge) {
      if (challenge.length === 0) return Promise.resolve(null);
      if (serverError !== null) return Promise.reject(new Error("the broker sent a second error challenge"));
      // An error challenge: JSON such as {"status":"invalid_token"}. The broker
      // ends the exchange with an error once it gets a lone %x01.
      serverError = decoder.decode(challenge.subarray(0, 512));
      return Promise.resolve(new Uint8Array([1]));
    },
    get serverError() {
      return serverError;
    },
  };
}

interface Cached {
  token: Promise<OAuthBearerToken>;
  refreshAt: number;
}

const caches = new WeakMap<OAuthBearerTokenProvider, Cached>();

/**
 * A fresh token from `provider`, cached per provider until 80% of the time
 * between fetching and expiry has passed (Kafka's default
 * `sasl.login.refresh.window.factor`). Concurrent callers share one fetch; a
 * failed fetch is not cached.
 */
export async function cachedToken(provider: OAuthBearerTokenProvider): Promise<OAuthBearerToken> {
  const now = Date.now();
  const hit = caches.get(provider);
  if (hit && now < hit.refreshAt) {
    const t = await hit.token;
    if (Date.now() < t.lifetimeMs) return t;
  }
  const fetchedAt = now;
  const entry: Cached = { token: Promise.resolve().then(provider), refreshAt: Infinity };
  caches.set(provider, entry);
  try {
    const t = await entry.token;
    checkToken(t);
    entry.refreshAt = fetchedAt + 0.8 * (t.lifetimeMs - fetchedAt);
    return t;
  } catch (err) {
    if (caches.get(provider) === entry) caches.delete(provider);
    throw err;
  }
}

/** Options of {@linkcode oidcTokenProvider}. */
export interface OidcClientCredentialsOptions {
  /** The identity provider's token endpoint (https; http only for 127.0.0.1/localhost). */
  tokenUrl: string;
  /** The client id. */
  clientId: string;
  /** The client secret; a function is called at every token request (for rotated secrets). Never logged. */
  clientSecret: string | (() => string | Promise<string>);
  /** The `scope` parameter, if the provider needs one. */
  scope?: string;
  /** The `audience` parameter (Auth0, Okta and others). */
  audience?: string;
  /** SASL extensions to send with each token (e.g. Confluent Cloud's `logicalCluster`, `identityPoolId`). */
  extensions?: Record<string, string>;
  /** How long one token request may take; default 10 000 ms. */
  timeoutMs?: number;
}

const OIDC_KEYS_RECORD: Record<keyof OidcClientCredentialsOptions, true> = {
  tokenUrl: true,
  clientId: true,
  clientSecret: true,
  scope: true,
  audience: true,
  extensions: true,
  timeoutMs: true,
};

/** The endpoint as shown in errors: no user info, query or fragment. */
function endpointName(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Decodes a JWT's claims without verifying them (the broker verifies); null if it is not a JWT. */
export function jwtClaims(jwt: string): Record<string, unknown> | null {
  const parts = jwt.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(
      parts[1].replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "="),
    );
    const claims = JSON.parse(json);
    return typeof claims === "object" && claims !== null ? claims : null;
  } catch {
    return null;
  }
}

/**
 * A token provider for the OIDC client-credentials grant: POSTs to the token
 * endpoint with HTTP Basic client authentication and returns the access
 * token with its expiry (`expires_in`, else the JWT's `exp`).
 *
 * @example
 * ```ts ignore
 * import { connect, oidcTokenProvider } from "../../../mod.ts";
 * const client = await connect({
 *   brokers: ["broker:9093"],
 *   tls: true,
 *   sasl: {
 *     mechanism: "OAUTHBEARER",
 *     token: oidcTokenProvider({ tokenUrl: "https://idp.example.com/oauth2/token", clientId: "app", clientSecret: "s3cr3t" }),
 *   },
 * });
 * ```
 *
 * @throws {TypeError} for invalid options (checked at once, never echoing the secret).
 */
export function oidcTokenProvider(opts: OidcClientCredentialsOptions): OAuthBearerTokenProvider {
  checkOptions(opts, Object.keys(OIDC_KEYS_RECORD), "oidcTokenProvider option");
  let url: URL;
  try {
    url = new URL(opts.tokenUrl);
  } catch {
    throw new TypeError(`Invalid tokenUrl ${JSON.stringify(String(opts.tokenUrl))}: not a URL`);
  }
  const local = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw new TypeError(`Invalid tokenUrl ${endpointName(url)}: https is required (http only for localhost)`);
  }
  if (typeof opts.clientId !== "string" || opts.clientId === "") {
    throw new TypeError("Invalid clientId: expected a non-empty string");
  }
  if (typeof opts.clientSecret !== "string" && typeof opts.clientSecret !== "function") {
    throw new TypeError("Invalid clientSecret: expected a string or a function that returns one");
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`Invalid timeoutMs ${timeoutMs}: expected a positive integer`);
  }
  const endpoint = endpointName(url);
  return async () => {
    const secret = typeof opts.clientSecret === "function" ? await opts.clientSecret() : opts.clientSecret;
    if (typeof secret !== "string") throw new TypeError("The clientSecret function did not return a string");
    const fail = (what: string, cause?: unknown) => {
      const msg = secret.length >= 3 ? what.replaceAll(secret, "***") : what;
      return new AuthenticationError(
        `OIDC token request to ${endpoint} failed: ${msg}`,
        cause ? { cause } : {},
      );
    };
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (opts.scope) form.set("scope", opts.scope);
    if (opts.audience) form.set("audience", opts.audience);
    const basic = btoa(
      String.fromCharCode(
        ...encoder.encode(`${encodeURIComponent(opts.clientId)}:${encodeURIComponent(secret)}`),
      ),
    );
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          authorization: `Basic ${basic}`,
        },
        body: form,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      // The cause is left out: fetch's errors can carry the request, and with it the secret.
      throw fail(
        e.name === "TimeoutError"
          ? `no answer within ${timeoutMs} ms`
          : `the endpoint could not be reached (${e.name}: ${e.message})`,
      );
    }
    let body: Record<string, unknown> = {};
    let text = "";
    try {
      text = (await res.text()).slice(0, 4096);
      body = JSON.parse(text);
    } catch {
      // Reported below with the status.
    }
    if (!res.ok) {
      const code = typeof body.error === "string" ? body.error : "";
      const desc = typeof body.error_description === "string" ? body.error_description.slice(0, 200) : "";
      const detail = code ? `: ${code}${desc ? ` (${desc})` : ""}` : "";
      const hint = res.status === 401 || code === "invalid_client" ? "; check the client id and secret" : "";
      throw fail(`HTTP ${res.status}${detail}${hint}`);
    }
    const value = body.access_token;
    if (typeof value !== "string" || value === "") {
      throw fail(`HTTP ${res.status} without an access_token in a JSON body`);
    }
    const now = Date.now();
    const claims = jwtClaims(value);
    // The earlier of expires_in and the JWT's exp: the broker goes by exp.
    const ends: number[] = [];
    if (typeof body.expires_in === "number" && body.expires_in > 0) ends.push(now + body.expires_in * 1000);
    if (claims && typeof claims.exp === "number") ends.push(claims.exp * 1000);
    if (ends.length === 0) throw fail("the token has neither expires_in nor a JWT exp claim");
    const lifetimeMs = Math.min(...ends);
    const principal = claims && typeof claims.sub === "string" ? claims.sub : undefined;
    return { value, lifetimeMs, principal, extensions: opts.extensions };
  };
}
