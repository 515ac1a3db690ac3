/**
 * TLS and SASL against a real broker that requires them: the secured broker
 * of scripts/kafka_secure.ts, started here (or reused) before the tests run
 * and stopped by scripts/test.ts at the end of the run.
 */

import assert from "node:assert/strict";
import { authenticate } from "../../src/sasl.ts";
import { Connection } from "../../src/connection.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { AuthenticationError, type Client, type ClientOptions, connect, ConnectionError } from "../../mod.ts";
import {
  REAUTH_MS,
  SECURE_HOST,
  SECURE_PORTS as P,
  SECURE_USER,
  secureCertificates,
  securePaths,
  startSecure,
} from "../../scripts/kafka_secure.ts";
import { requires, uniqueName } from "../_broker.ts";

// Started outside any test: the broker process is not a resource of a test.
/** Every test here needs the project's TLS/SASL broker: skipped elsewhere, saying why. */
const SKIP = requires("secure-broker");
if (!SKIP) await startSecure({ quiet: true });
const certs = SKIP ? null! : await secureCertificates();
const at = (port: number) => `${SECURE_HOST}:${port}`;
const { username, password } = SECURE_USER;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Produces `n` records over `client`, reads them back from the start, and checks they match. */
async function roundTrip(client: Client, n = 5, opts: { group?: boolean } = {}): Promise<void> {
  const topic = uniqueName("secure");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const sent = Array.from({ length: n }, (_, i) => `record ${i} over ${topic}`);
  await using producer = client.producer({ lingerMs: 0 });
  const meta = await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i}`, value })) });
  assert.equal(meta.length, n);
  const consumer = opts.group
    ? client.consumer({ groupId: uniqueName("secure-group"), topics: [topic], fromBeginning: true })
    : client.consumer({ assign: [{ topic, from: "earliest" }] });
  const got: string[] = [];
  // Bounded: the consumer is closed (ending the loop) if the records do not come.
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

/** connect() that resolves to the error it rejects with (and closes the client if it did connect). */
async function connectError(opts: ClientOptions): Promise<Error> {
  const client = await connect({ connectTimeoutMs: 10_000, ...opts }).catch((e: Error) => e);
  if (client instanceof Error) return client;
  await client.close();
  throw new Error("connect() succeeded but should have failed");
}

/** Neither the message, the stack nor any cause mentions the user or the password. */
function assertNoCredentials(err: Error): void {
  const all = Deno.inspect(err, { depth: 10 });
  assert.ok(!all.includes(password), `the password leaked into the error: ${all}`);
  assert.ok(!all.includes(username), `the user name leaked into the error: ${all}`);
}

async function failedAuthentications(): Promise<number> {
  const log = await Deno.readTextFile(securePaths().serverLog);
  return log.split("\n").filter((l) => l.includes("Failed authentication with")).length;
}

Deno.test("TLS: produce and consume over an SSL listener; brokers from metadata use TLS too", {
  ignore: SKIP,
}, async () => {
  await using client = await connect({ brokers: [at(P.ssl)], tls: { ca: certs.ca } });
  // The only broker address the cluster knows is the TLS port, so the produce
  // and fetch connections (opened to the address from metadata) are TLS.
  assert.deepEqual(client.cluster.brokers.map((b) => b.port), [P.ssl]);
  await roundTrip(client);
});

Deno.test("mutual TLS: produce and consume with a client certificate; none is refused naming the check", {
  ignore: SKIP,
}, async () => {
  {
    await using client = await connect({
      brokers: [at(P.mtls)],
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    await roundTrip(client);
  }
  const err = await connectError({ brokers: [at(P.mtls)], tls: { ca: certs.ca } });
  assert.ok(err instanceof AuthenticationError, String(err));
  assert.match(err.message, /requires a client certificate/);
  assert.match(err.message, new RegExp(at(P.mtls)));
});

Deno.test("SASL PLAIN: produce and consume over SASL_PLAINTEXT", { ignore: SKIP }, async () => {
  await using client = await connect({
    brokers: [at(P.saslPlaintext)],
    sasl: { mechanism: "PLAIN", username, password },
  });
  await roundTrip(client);
});

Deno.test("SASL PLAIN over TLS: produce and consume over SASL_SSL", { ignore: SKIP }, async () => {
  await using client = await connect({
    brokers: [at(P.saslSsl)],
    tls: { ca: certs.ca },
    sasl: { mechanism: "PLAIN", username, password },
  });
  await roundTrip(client);
});

Deno.test("SCRAM-SHA-256 over TLS: produce and consume, the password from an async function", {
  ignore: SKIP,
}, async () => {
  let calls = 0;
  await using client = await connect({
    brokers: [at(P.saslSsl)],
    tls: { ca: certs.ca },
    sasl: {
      mechanism: "SCRAM-SHA-256",
      username,
      password: async () => {
        calls++;
        await sleep(1);
        return password;
      },
    },
  });
  await roundTrip(client);
  // Asked once per connection (bootstrap, produce, fetch...), never cached by the client.
  assert.ok(calls >= 2, `password function called ${calls} times`);
});

Deno.test("SCRAM-SHA-512 over TLS: produce and consume in a consumer group", { ignore: SKIP }, async () => {
  await using client = await connect({
    brokers: [at(P.saslSsl)],
    tls: { ca: certs.ca },
    sasl: { mechanism: "SCRAM-SHA-512", username, password },
  });
  await roundTrip(client, 5, { group: true });
});

Deno.test("a wrong password fails connect() at once with an AuthenticationError, tried once", {
  ignore: SKIP,
}, async (t) => {
  for (
    const [mechanism, port, tls] of [
      ["PLAIN", P.saslPlaintext, undefined],
      ["SCRAM-SHA-256", P.saslSsl, { ca: certs.ca }],
      ["SCRAM-SHA-512", P.saslSsl, { ca: certs.ca }],
    ] as const
  ) {
    await t.step(mechanism, async () => {
      const before = await failedAuthentications();
      const started = Date.now();
      // Two bootstrap addresses: the second is not tried with the same credentials.
      const err = await connectError({
        brokers: [at(port), `localhost:${port}`],
        tls,
        sasl: { mechanism, username, password: "wrong-" + password },
      });
      const took = Date.now() - started;
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.match(
        err.message,
        new RegExp(`SASL ${mechanism} authentication with broker ${at(port)} failed`),
      );
      // At once, not after retries until a 30 s timeout (generous for a cold broker on a loaded machine).
      assert.ok(took < 15_000, `took ${took} ms`);
      assert.ok(!Deno.inspect(err, { depth: 10 }).includes("wrong-"), "the wrong password leaked");
      assertNoCredentials(err);
      // The broker saw exactly one attempt (its log line may trail the response a little).
      let after = await failedAuthentications();
      for (let i = 0; i < 20 && after === before; i++) {
        await sleep(100);
        after = await failedAuthentications();
      }
      assert.equal(after - before, 1);
    });
  }
});

Deno.test("a mechanism the listener does not enable fails with an AuthenticationError naming it", {
  ignore: SKIP,
}, async () => {
  const err = await connectError({
    brokers: [at(P.saslPlaintext)],
    sasl: { mechanism: "SCRAM-SHA-256", username, password },
  });
  assert.ok(err instanceof AuthenticationError, String(err));
  assert.match(err.message, new RegExp(`SCRAM-SHA-256 authentication with broker ${at(P.saslPlaintext)}`));
  assert.match(err.message, /does not enable SCRAM-SHA-256 \(it offers PLAIN, SCRAM-SHA-512\)/);
  assertNoCredentials(err);
});

Deno.test(
  "a mechanism the client does not know is a TypeError before any connection",
  { ignore: SKIP },
  async () => {
    await assert.rejects(
      () =>
        connect({
          brokers: [at(P.saslPlaintext)],
          sasl: { mechanism: "GSSAPI" as "PLAIN", username, password },
        }),
      (e: Error) => e instanceof TypeError && /Unknown SASL mechanism "GSSAPI"/.test(e.message),
    );
  },
);

Deno.test(
  "certificate verification is on by default and says which check failed",
  { ignore: SKIP },
  async (t) => {
    await t.step("the default roots do not trust the test CA", async () => {
      const err = await connectError({ brokers: [at(P.ssl)], tls: true });
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.match(err.message, /not signed by a trusted CA/);
    });
    await t.step("a wrong CA, on SSL and on SASL_SSL", async () => {
      for (const port of [P.ssl, P.saslSsl]) {
        const err = await connectError({
          brokers: [at(port)],
          tls: { ca: certs.otherCa },
          sasl: port === P.saslSsl ? { mechanism: "SCRAM-SHA-512", username, password } : undefined,
        });
        assert.ok(err instanceof AuthenticationError, String(err));
        assert.match(
          err.message,
          new RegExp(`TLS with ${at(port)} failed: the broker's certificate is not signed`),
        );
        assertNoCredentials(err);
      }
    });
    await t.step("a host name the certificate does not list", async () => {
      const err = await connectError({
        brokers: [at(P.ssl)],
        tls: { ca: certs.ca, serverName: "kafka.example.com" },
      });
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.match(err.message, /hostname verification failed/);
    });
    await t.step("serverName verifies another name the certificate lists", async () => {
      await using client = await connect({
        brokers: [at(P.ssl)],
        tls: { ca: certs.ca, serverName: "localhost" },
      });
      assert.equal(client.cluster.brokers.length, 1);
    });
    await t.step("unsafelyDisableHostnameVerification skips the name check, not the chain", async () => {
      const opts = { serverName: "kafka.example.com", unsafelyDisableHostnameVerification: true };
      await using client = await connect({ brokers: [at(P.ssl)], tls: { ca: certs.ca, ...opts } });
      assert.equal(client.cluster.brokers.length, 1);
      const err = await connectError({ brokers: [at(P.ssl)], tls: { ca: certs.otherCa, ...opts } });
      assert.match(err.message, /not signed by a trusted CA/);
    });
  },
);

Deno.test("a plaintext client on a TLS port fails fast with a clear error", { ignore: SKIP }, async () => {
  for (const port of [P.ssl, P.saslSsl]) {
    const started = Date.now();
    const err = await connectError({ brokers: [at(port)] });
    assert.ok(err instanceof ConnectionError, String(err));
    assert.match(err.message, new RegExp(`${at(port)} answered with TLS: .*connect with the tls option`));
    // Fast: not a hang until a 30 s timeout (generous for a cold broker on a loaded machine).
    const took = Date.now() - started;
    assert.ok(took < 15_000, `took ${took} ms`);
  }
});

Deno.test("a TLS client on a plaintext port, and a plaintext client on a SASL port, fail with a hint", {
  ignore: SKIP,
}, async () => {
  const tlsOnPlain = await connectError({ brokers: [at(P.internal)], tls: { ca: certs.ca } });
  assert.ok(tlsOnPlain instanceof ConnectionError, String(tlsOnPlain));
  assert.match(tlsOnPlain.message, /closed the connection during the TLS handshake/);
  const noSasl = await connectError({ brokers: [at(P.saslPlaintext)] });
  assert.match(noSasl.message, /if it is a SASL listener, set the sasl option/);
  const saslOnPlain = await connectError({
    brokers: [at(P.internal)],
    sasl: { mechanism: "PLAIN", username, password },
  });
  assert.ok(saslOnPlain instanceof AuthenticationError, String(saslOnPlain));
  assert.match(saslOnPlain.message, /ILLEGAL_SASL_STATE.*is SASL enabled on this listener/);
});

Deno.test(
  "re-authentication (KIP-368): a connection outlives its SASL session",
  { ignore: SKIP },
  async (t) => {
    const sasl = { mechanism: "SCRAM-SHA-512", username, password } as const;
    await t.step(
      "without re-authentication the broker drops the connection when the session ends",
      async () => {
        const conn = await Connection.connect({ host: SECURE_HOST, port: P.saslPlaintext });
        try {
          const res = await authenticate(
            (codec, req, version) => conn.request(codec, req, { version }),
            sasl,
            {
              broker: conn.address,
              versionFor: (c) => conn.versionFor(c),
            },
          );
          assert.ok(
            res.sessionLifetimeMs > 0 && res.sessionLifetimeMs <= REAUTH_MS,
            `${res.sessionLifetimeMs}`,
          );
          await conn.request(metadata, { topics: [] });
          await sleep(res.sessionLifetimeMs + 300);
          await assert.rejects(() => conn.request(metadata, { topics: [] }), ConnectionError);
        } finally {
          conn.close();
        }
      },
    );
    await t.step("with the sasl option the connection re-authenticates and keeps working", async () => {
      const conn = await Connection.connect({ host: SECURE_HOST, port: P.saslPlaintext, sasl });
      try {
        const until = Date.now() + REAUTH_MS * 2.5;
        let requests = 0;
        while (Date.now() < until) {
          // Several in flight at once, so re-authentication has to wait for them.
          await Promise.all(Array.from({ length: 4 }, () => conn.request(metadata, { topics: [] })));
          requests += 4;
          await sleep(100);
        }
        assert.equal(conn.isClosed, false);
        assert.ok(requests > 20);
      } finally {
        conn.close();
      }
    });
  },
);
