/**
 * No secret in any log line or event: SCRAM passwords and OIDC client secrets
 * and tokens, against the secured broker (scripts/kafka_secure.ts), with the
 * logger at debug level and every event of the client, a producer and a group
 * consumer captured, on success and on refused credentials.
 */

import assert from "node:assert/strict";
import { type Client, connect, type KafkaEvent, type Logger, oidcTokenProvider } from "../../mod.ts";
import {
  SECURE_HOST,
  SECURE_PORTS as P,
  SECURE_USER,
  secureCertificates,
  startSecure,
} from "../../scripts/kafka_secure.ts";
import { startIdp } from "../_oidc.ts";
import { createTopic, requires, uniqueName } from "../_broker.ts";

// These run against the project's secured broker (deno task test starts it).
const SKIP = requires("secure-broker");

await startSecure({ quiet: true });
const certs = await secureCertificates();
const at = (port: number) => `${SECURE_HOST}:${port}`;

/** A logger that keeps every line with its fields, as text (the fields deeply inspected). */
function recorder(): Logger & { text: string[] } {
  const text: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    text.push(`${level} ${msg} ${fields === undefined ? "" : Deno.inspect(fields, { depth: 20 })}`);
  return { text, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function collect(it: AsyncIterable<KafkaEvent>, into: string[]): Promise<void> {
  return (async () => {
    for await (const e of it) into.push(Deno.inspect(e, { depth: 20 }));
  })();
}

/** Produces, then reads back in a group, with every event of the client, producer and consumer kept. */
async function roundTrip(client: Client, events: string[]): Promise<void> {
  const done = [collect(client.events(), events)];
  const topic = uniqueName("secret");
  await createTopic(client, topic, 1);
  const producer = client.producer();
  done.push(collect(producer.events(), events));
  await producer.send({ topic, messages: [{ value: "a" }, { value: "b" }] });
  await producer.close();
  const consumer = client.consumer({
    groupId: uniqueName("secret-group"),
    topics: [topic],
    fromBeginning: true,
  });
  done.push(collect(consumer.events(), events));
  let n = 0;
  const timer = setTimeout(() => consumer.close(), 30_000);
  try {
    for await (const _ of consumer) if (++n === 2) break;
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  assert.equal(n, 2);
  await client.close();
  await Promise.all(done);
}

function assertNoSecret(haystack: string[], secrets: string[]): void {
  const all = haystack.join("\n");
  for (const s of secrets) assert.ok(!all.includes(s), `a secret leaked into the logs or events:\n${all}`);
}

Deno.test({
  name: "SCRAM-SHA-512: no password in any debug log line or event, on success and on a wrong password",
  ignore: SKIP,
}, async () => {
  const { username, password } = SECURE_USER;
  const log = recorder();
  const events: string[] = [];
  const client = await connect({
    brokers: [at(P.saslSsl)],
    tls: { ca: certs.ca },
    sasl: { mechanism: "SCRAM-SHA-512", username, password },
    logger: log,
    logLevel: "debug",
  });
  await roundTrip(client, events);
  const wrong = `${password}-but-wrong`;
  const err = await connect({
    brokers: [at(P.saslSsl)],
    tls: { ca: certs.ca },
    sasl: { mechanism: "SCRAM-SHA-512", username, password: wrong },
    logger: log,
    logLevel: "debug",
  }).catch((e) => e);
  assert.ok(err instanceof Error);
  // The logs do tell the story (so the check below looks at something).
  assert.ok(
    log.text.some((l) => l.includes("Joined group")) && events.some((e) => e.includes("group.assigned")),
  );
  assertNoSecret([...log.text, ...events, Deno.inspect(err, { depth: 20 })], [password, wrong]);
});

Deno.test({
  name: "OAUTHBEARER with OIDC: no client secret and no token in any debug log line or event",
  ignore: SKIP,
}, async () => {
  const clientId = "kafka-deno-app";
  const clientSecret = "app-secret-4f2a9c";
  await using idp = await startIdp({ clients: { [clientId]: clientSecret }, lifetimeSeconds: 300 });
  const provider = oidcTokenProvider({ tokenUrl: idp.tokenUrl, clientId, clientSecret, scope: "kafka" });
  const tokens: string[] = [];
  const log = recorder();
  const events: string[] = [];
  const client = await connect({
    brokers: [at(P.oidc)],
    sasl: {
      mechanism: "OAUTHBEARER",
      token: async () => {
        const t = await provider();
        tokens.push(t.value);
        return t;
      },
    },
    logger: log,
    logLevel: "debug",
  });
  await roundTrip(client, events);
  const err = await connect({
    brokers: [at(P.oidc)],
    sasl: {
      mechanism: "OAUTHBEARER",
      token: oidcTokenProvider({ tokenUrl: idp.tokenUrl, clientId, clientSecret: `${clientSecret}-wrong` }),
    },
    logger: log,
    logLevel: "debug",
  }).catch((e) => e);
  assert.ok(err instanceof Error);
  assert.ok(tokens.length > 0 && log.text.length > 0 && events.length > 0);
  assertNoSecret([...log.text, ...events, Deno.inspect(err, { depth: 20 })], [
    clientSecret,
    ...tokens,
    // The JWT's signature alone is a secret too.
    ...tokens.map((t) => t.split(".")[2]).filter((s) => s.length > 8),
  ]);
});
