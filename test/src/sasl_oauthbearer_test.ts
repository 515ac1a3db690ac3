import assert from "node:assert/strict";
import {
  cachedToken,
  checkToken,
  jwtClaims,
  oauthBearer,
  oauthBearerMessage,
  type OAuthBearerToken,
} from "../../src/net/sasl/oauthbearer.ts";
import { checkSasl } from "../../src/sasl.ts";
import { oidcTokenProvider } from "../../mod.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("oauthBearerMessage() is RFC 7628's client response with KIP-342 extensions", () => {
  const t = {
    value: "eyJ.abc.def",
    lifetimeMs: Date.now() + 60_000,
    extensions: { logicalCluster: "lkc-1", b: "2" },
  };
  assert.equal(
    text(oauthBearerMessage(t)),
    "n,,\x01auth=Bearer eyJ.abc.def\x01logicalCluster=lkc-1\x01b=2\x01\x01",
  );
});

Deno.test("the OAUTHBEARER conversation answers an error challenge with %x01 and keeps the error", async () => {
  const c = oauthBearer({ value: "t", lifetimeMs: Date.now() + 1000 });
  await c.start();
  assert.equal(await c.next(new Uint8Array()), null);
  const d = oauthBearer({ value: "t", lifetimeMs: Date.now() + 1000 });
  assert.deepEqual(await d.next(new TextEncoder().encode('{"status":"invalid_token"}')), new Uint8Array([1]));
  assert.equal(d.serverError, '{"status":"invalid_token"}');
  await assert.rejects(() => d.next(new TextEncoder().encode("{}")));
});

Deno.test("checkToken() refuses expired tokens, non-bearer values and bad extensions, never echoing the token", () => {
  const now = 1_000_000;
  assert.throws(
    () => checkToken({ value: "abc", lifetimeMs: now - 1 }, now),
    /expired token.*ms since the epoch/,
  );
  assert.throws(
    () => checkToken({ value: "has space", lifetimeMs: now + 1 }, now),
    (e: Error) => e instanceof TypeError && !e.message.includes("has space"),
  );
  assert.throws(
    () => checkToken({ value: "a", lifetimeMs: now + 1, extensions: { auth: "x" } }, now),
    /"auth"/,
  );
  assert.throws(
    () => checkToken({ value: "a", lifetimeMs: now + 1, extensions: { k1: "x" } }, now),
    /letters only/,
  );
  assert.throws(
    () => checkToken({ value: "a", lifetimeMs: now + 1, extensions: { k: "\x01" } }, now),
    /printable/,
  );
  checkToken({ value: "a.b.", lifetimeMs: now + 1, extensions: { k: "v" } }, now);
});

Deno.test("cachedToken() shares one fetch, keeps a token until 80% of its lifetime, and does not cache failures", async () => {
  let calls = 0;
  let lifetime = 60_000;
  const provider = (): Promise<OAuthBearerToken> => {
    calls++;
    return Promise.resolve({ value: `t${calls}`, lifetimeMs: Date.now() + lifetime });
  };
  const [a, b] = await Promise.all([cachedToken(provider), cachedToken(provider)]);
  assert.equal(a.value, "t1");
  assert.equal(b.value, "t1");
  assert.equal(calls, 1);
  // A provider whose tokens are nearly spent is asked again each time.
  let n = 0;
  const short = () => Promise.resolve({ value: `s${++n}`, lifetimeMs: Date.now() + 1_000 });
  await cachedToken(short);
  await new Promise((r) => setTimeout(r, 850));
  assert.equal((await cachedToken(short)).value, "s2");
  let fail = true;
  const flaky = () => fail ? Promise.reject(new Error("idp down")) : provider();
  await assert.rejects(() => cachedToken(flaky), /idp down/);
  fail = false;
  lifetime = 60_000;
  assert.match((await cachedToken(flaky)).value, /^t\d$/);
});

Deno.test("jwtClaims() reads a JWT's payload and returns null for anything else", () => {
  const payload = btoa(JSON.stringify({ sub: "app", exp: 2 })).replaceAll("=", "");
  assert.deepEqual(jwtClaims(`e30.${payload}.sig`), { sub: "app", exp: 2 });
  assert.equal(jwtClaims("opaque-token"), null);
  assert.equal(jwtClaims("a.!!!.c"), null);
});

Deno.test("checkSasl() knows OAUTHBEARER and AWS_MSK_IAM and checks their keys", () => {
  checkSasl({ mechanism: "OAUTHBEARER", token: () => Promise.resolve({ value: "a", lifetimeMs: 1 }) });
  checkSasl({ mechanism: "AWS_MSK_IAM", region: "us-east-1" });
  assert.throws(() => checkSasl({ mechanism: "OAUTHBEARER" } as never), /sasl.token/);
  assert.throws(
    () => checkSasl({ mechanism: "OAUTHBEARER", token: () => Promise.reject(), username: "x" } as never),
    /Unknown sasl option \(OAUTHBEARER\) key "username"/,
  );
  assert.throws(() => checkSasl({ mechanism: "AWS_MSK_IAM", region: "US East" }), /Invalid sasl.region/);
});

Deno.test("oidcTokenProvider() checks its options at once, without echoing the secret", () => {
  const base = { tokenUrl: "https://idp.example.com/token", clientId: "app", clientSecret: "s3cr3t-value" };
  oidcTokenProvider(base);
  oidcTokenProvider({ ...base, tokenUrl: "http://127.0.0.1:8080/token" });
  assert.throws(
    () => oidcTokenProvider({ ...base, tokenUrl: "http://idp.example.com/token" }),
    /https is required/,
  );
  assert.throws(() => oidcTokenProvider({ ...base, tokenUrl: "not a url" }), /not a URL/);
  assert.throws(() => oidcTokenProvider({ ...base, clientId: "" }), /clientId/);
  assert.throws(() => oidcTokenProvider({ ...base, timeoutMs: 0 }), RangeError);
  assert.throws(
    () => oidcTokenProvider({ ...base, scopes: "x" } as never),
    (e: Error) => /did you mean "scope"/.test(e.message) && !e.message.includes("s3cr3t"),
  );
});

Deno.test("oidcTokenProvider() posts client credentials and takes the earlier of expires_in and exp", async () => {
  const exp = Math.floor(Date.now() / 1000) + 30;
  const jwt = `e30.${btoa(JSON.stringify({ sub: "app", exp })).replaceAll("=", "")}.sig`;
  let seen: { auth: string | null; body: string } | null = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen = { auth: req.headers.get("authorization"), body: await req.text() };
    return Response.json({ access_token: jwt, expires_in: 3600, token_type: "Bearer" });
  });
  try {
    const t = await oidcTokenProvider({
      tokenUrl: `http://127.0.0.1:${server.addr.port}/token`,
      clientId: "app id",
      clientSecret: () => "p:w",
      scope: "kafka",
      audience: "aud-1",
      extensions: { logicalCluster: "lkc-1" },
    })();
    assert.equal(t.value, jwt);
    assert.equal(t.lifetimeMs, exp * 1000);
    assert.equal(t.principal, "app");
    assert.deepEqual(t.extensions, { logicalCluster: "lkc-1" });
    assert.equal(seen!.auth, `Basic ${btoa("app%20id:p%3Aw")}`);
    assert.equal(seen!.body, "grant_type=client_credentials&scope=kafka&audience=aud-1");
  } finally {
    await server.shutdown();
  }
});
