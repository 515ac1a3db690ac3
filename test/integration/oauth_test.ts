/**
 * SASL OAUTHBEARER against the secured broker (scripts/kafka_secure.ts):
 * unsecured JWTs on its OAUTH listener, and OIDC-validated RS256 JWTs (Kafka's
 * own OAuthBearerValidatorCallbackHandler with a JWKS) on its OIDC listener,
 * with tokens from a local client-credentials endpoint (test/_oidc.ts).
 */

import assert from "node:assert/strict";
import {
  AuthenticationError,
  type Client,
  type ClientOptions,
  connect,
  oidcTokenProvider,
} from "../../mod.ts";
import { SECURE_HOST, SECURE_PORTS as P, startSecure } from "../../scripts/kafka_secure.ts";
import { startIdp, unsecuredJwt } from "../_oidc.ts";
import { requires, uniqueName } from "../_broker.ts";
import { authenticate } from "../../src/sasl.ts";
import { Connection } from "../../src/connection.ts";

/** Every test here needs the project's TLS/SASL broker: skipped elsewhere, saying why. */
const SKIP = requires("secure-broker");
if (!SKIP) await startSecure({ quiet: true });
const at = (port: number) => `${SECURE_HOST}:${port}`;
const CLIENT_ID = "kafka-deno-app";
const CLIENT_SECRET = "app-secret-4f2a9c";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Produces `n` records, reads them back from the start, and checks they match. */
async function roundTrip(client: Client, n = 5, opts: { group?: boolean } = {}): Promise<void> {
  const topic = uniqueName("oauth");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const sent = Array.from({ length: n }, (_, i) => `record ${i} over ${topic}`);
  await using producer = client.producer({ lingerMs: 0 });
  await producer.send({ topic, messages: sent.map((value) => ({ value })) });
  const consumer = opts.group
    ? client.consumer({ groupId: uniqueName("oauth-group"), topics: [topic], fromBeginning: true })
    : client.consumer({ assign: [{ topic, from: "earliest" }] });
  const got: string[] = [];
  const timer = setTimeout(() => consumer.close(), 30_000);
  try {
    for await (const r of consumer) {
      got.push(r.text()!);
      if (got.length === n) break;
    }
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  assert.deepEqual(got, sent);
}

async function connectError(opts: ClientOptions): Promise<Error> {
  const client = await connect({ connectTimeoutMs: 10_000, ...opts }).catch((e: Error) => e);
  if (client instanceof Error) return client;
  await client.close();
  throw new Error("connect() succeeded but should have failed");
}

Deno.test("OAUTHBEARER with an unsecured JWT: produce and consume; the provider is asked once per token", {
  ignore: SKIP,
}, async () => {
  let calls = 0;
  await using client = await connect({
    brokers: [at(P.oauth)],
    sasl: {
      mechanism: "OAUTHBEARER",
      token: () => {
        calls++;
        return Promise.resolve(unsecuredJwt("alice", 300));
      },
    },
  });
  await roundTrip(client);
  // Several connections (bootstrap, produce, fetch), one token: it is cached until 80% of its lifetime.
  assert.equal(calls, 1);
});

Deno.test(
  "OAUTHBEARER with OIDC client credentials: produce and consume in a group, JWTs checked by Kafka's validator",
  { ignore: SKIP },
  async () => {
    await using idp = await startIdp({ clients: { [CLIENT_ID]: CLIENT_SECRET }, lifetimeSeconds: 300 });
    await using client = await connect({
      brokers: [at(P.oidc)],
      sasl: {
        mechanism: "OAUTHBEARER",
        token: oidcTokenProvider({
          tokenUrl: idp.tokenUrl,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          scope: "kafka",
        }),
      },
    });
    await roundTrip(client, 5, { group: true });
    assert.equal(idp.issued, 1);
  },
);

Deno.test(
  "OAUTHBEARER: tokens expire mid-stream, connections re-authenticate (KIP-368) and nothing is lost",
  { ignore: SKIP },
  async () => {
    const LIFETIME_S = 4;
    await using idp = await startIdp({
      clients: { [CLIENT_ID]: CLIENT_SECRET },
      lifetimeSeconds: LIFETIME_S,
    });
    await using client = await connect({
      brokers: [at(P.oidc)],
      sasl: {
        mechanism: "OAUTHBEARER",
        token: oidcTokenProvider({
          tokenUrl: idp.tokenUrl,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
        }),
      },
    });
    {
      // The broker ends an OIDC session when its token expires (so the client must re-authenticate).
      const conn = await Connection.connect({ host: SECURE_HOST, port: P.oidc });
      try {
        const sasl = {
          mechanism: "OAUTHBEARER",
          token: oidcTokenProvider({
            tokenUrl: idp.tokenUrl,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
          }),
        } as const;
        const res = await authenticate((codec, req, version) => conn.request(codec, req, { version }), sasl, {
          broker: conn.address,
          versionFor: (c) => conn.versionFor(c),
        });
        assert.ok(
          res.sessionLifetimeMs > 0 && res.sessionLifetimeMs <= LIFETIME_S * 1000,
          `session ${res.sessionLifetimeMs} ms`,
        );
      } finally {
        conn.close();
      }
    }
    const topic = uniqueName("oauth-expiry");
    await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
    const issuedBefore = idp.issued;
    await using producer = client.producer({ lingerMs: 0 });
    const consumer = client.consumer({ assign: [{ topic, from: "earliest" }], maxWaitMs: 100 });
    const sent: string[] = [];
    const got: string[] = [];
    let done = false;
    const reading = (async () => {
      for await (const r of consumer) {
        got.push(r.text()!);
        if (got.length === sent.length && done) break;
      }
    })();
    const timer = setTimeout(() => consumer.close(), 60_000);
    try {
      // About 2.5 token lifetimes of steady traffic on the same connections.
      const until = Date.now() + LIFETIME_S * 2_500;
      for (let i = 0; Date.now() < until && i < 10_000; i++) {
        const value = `record ${i}`;
        await producer.send({ topic, messages: [{ value }] });
        sent.push(value);
        await sleep(50);
      }
      done = true;
      const waitUntil = Date.now() + 30_000;
      while (got.length < sent.length && Date.now() < waitUntil) await sleep(50);
      await consumer.close();
      await reading;
    } finally {
      clearTimeout(timer);
      await consumer.close();
    }
    assert.deepEqual(got, sent);
    // Fresh tokens were fetched as the old ones neared expiry, and connections kept working.
    assert.ok(idp.issued - issuedBefore >= 2, `issued ${idp.issued - issuedBefore} tokens`);
  },
);

Deno.test(
  "OAUTHBEARER: a wrong client secret fails connect() fast, naming the mechanism and the endpoint, not the secret",
  { ignore: SKIP },
  async () => {
    await using idp = await startIdp({ clients: { [CLIENT_ID]: CLIENT_SECRET }, lifetimeSeconds: 300 });
    const wrong = "wrong-secret-77c1";
    const started = Date.now();
    const err = await connectError({
      brokers: [at(P.oidc)],
      sasl: {
        mechanism: "OAUTHBEARER",
        token: oidcTokenProvider({ tokenUrl: idp.tokenUrl, clientId: CLIENT_ID, clientSecret: wrong }),
      },
    });
    assert.ok(err instanceof AuthenticationError, String(err));
    assert.match(err.message, new RegExp(`SASL OAUTHBEARER authentication with broker ${at(P.oidc)} failed`));
    assert.match(
      err.message,
      new RegExp(`OIDC token request to ${idp.tokenUrl} failed: HTTP 401: invalid_client`),
    );
    // At once, not after retries until a 30 s timeout (generous for a loaded machine).
    const took = Date.now() - started;
    assert.ok(took < 20_000, `took ${took} ms`);
    assert.ok(!Deno.inspect(err, { depth: 10 }).includes(wrong), "the secret leaked");
    assert.equal(idp.refused, 1);
  },
);

Deno.test(
  "OAUTHBEARER: an unreachable token endpoint fails connect() fast with an AuthenticationError naming it",
  { ignore: SKIP },
  async () => {
    // A port that was free a moment ago: nothing listens there.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const tokenUrl = `http://127.0.0.1:${port}/oauth2/token`;
    const err = await connectError({
      brokers: [at(P.oidc)],
      sasl: {
        mechanism: "OAUTHBEARER",
        token: oidcTokenProvider({
          tokenUrl,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          timeoutMs: 5_000,
        }),
      },
    });
    assert.ok(err instanceof AuthenticationError, String(err));
    assert.match(err.message, /SASL OAUTHBEARER authentication with broker .* failed: OIDC token request to/);
    assert.ok(err.message.includes(tokenUrl), err.message);
    assert.match(err.message, /could not be reached/);
    assert.ok(!Deno.inspect(err, { depth: 10 }).includes(CLIENT_SECRET), "the secret leaked");
  },
);

Deno.test("OAUTHBEARER: a token the broker's validator refuses is an AuthenticationError without the token", {
  ignore: SKIP,
}, async () => {
  // An unsecured JWT on the OIDC listener: no signature, so Kafka's validator refuses it.
  const token = unsecuredJwt("mallory", 300);
  const err = await connectError({
    brokers: [at(P.oidc)],
    sasl: { mechanism: "OAUTHBEARER", token: () => Promise.resolve(token) },
  });
  assert.ok(err instanceof AuthenticationError, String(err));
  assert.match(err.message, new RegExp(`SASL OAUTHBEARER authentication with broker ${at(P.oidc)} failed`));
  assert.match(err.message, /invalid_token.*the broker refused the token/);
  assert.ok(!Deno.inspect(err, { depth: 10 }).includes(token.value), "the token leaked");
});
