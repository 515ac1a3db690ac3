/**
 * A small local OIDC identity provider for tests: a client-credentials token
 * endpoint on 127.0.0.1 that issues RS256 JWTs signed with the key whose
 * public half the secured broker's OIDC listener trusts (its JWKS file, see
 * scripts/kafka_secure.ts). Also makes unsecured (`alg: none`) JWTs for the
 * OAUTH listener.
 */

import { OIDC_AUDIENCE, OIDC_ISSUER, OIDC_KID, oidcSigningKey } from "../scripts/kafka_secure.ts";

const encoder = new TextEncoder();

function b64url(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** An unsecured JWT (RFC 7519 section 6) for `sub`, valid for `lifetimeSeconds`. */
export function unsecuredJwt(sub: string, lifetimeSeconds: number): { value: string; lifetimeMs: number } {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + lifetimeSeconds;
  const value = `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify({ sub, iat, exp }))}.`;
  return { value, lifetimeMs: exp * 1000 };
}

/** A running local identity provider. */
export interface LocalIdp extends AsyncDisposable {
  /** The token endpoint. */
  tokenUrl: string;
  /** Tokens issued so far. */
  issued: number;
  /** Requests refused (bad client credentials). */
  refused: number;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts the identity provider.
 *
 * @param opts The known clients (id to secret) and the lifetime of the tokens it issues.
 */
export async function startIdp(
  opts: { clients: Record<string, string>; lifetimeSeconds: number },
): Promise<LocalIdp> {
  const key = await crypto.subtle.importKey(
    "jwk",
    await oidcSigningKey(),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sign = async (claims: Record<string, unknown>) => {
    const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: OIDC_KID }))}.${
      b64url(JSON.stringify(claims))
    }`;
    const sig = new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, encoder.encode(input)));
    return `${input}.${b64url(sig)}`;
  };
  const state = { issued: 0, refused: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/token") return new Response("not found", { status: 404 });
    const form = new URLSearchParams(await req.text());
    const auth = req.headers.get("authorization") ?? "";
    let id = "", secret = "";
    if (auth.startsWith("Basic ")) {
      const [a, b] = atob(auth.slice(6)).split(":");
      id = decodeURIComponent(a ?? "");
      secret = decodeURIComponent(b ?? "");
    }
    if (form.get("grant_type") !== "client_credentials") {
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    }
    if (!id || opts.clients[id] !== secret) {
      state.refused++;
      return Response.json({ error: "invalid_client", error_description: "Client authentication failed" }, {
        status: 401,
      });
    }
    const iat = Math.floor(Date.now() / 1000);
    const access = await sign({
      iss: OIDC_ISSUER,
      aud: form.get("audience") ?? OIDC_AUDIENCE,
      sub: id,
      iat,
      exp: iat + opts.lifetimeSeconds,
      scope: form.get("scope") ?? "kafka",
    });
    state.issued++;
    return Response.json({ access_token: access, token_type: "Bearer", expires_in: opts.lifetimeSeconds });
  });
  const close = () => server.shutdown();
  return {
    tokenUrl: `http://127.0.0.1:${server.addr.port}/token`,
    get issued() {
      return state.issued;
    },
    get refused() {
      return state.refused;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
