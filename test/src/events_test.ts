// Events and logging: the subscriber buffer on its own, then the client's and producer's events
// and log lines against a scripted fake broker (connection loss, retries, throttling, SASL secrets).
import assert from "node:assert/strict";
import { produce } from "../../protocol/apis/produce.ts";
import { saslAuthenticate } from "../../protocol/apis/sasl_authenticate.ts";
import { saslHandshake } from "../../protocol/apis/sasl_handshake.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { connect, type KafkaEvent, type Logger, type SaslOptions } from "../../mod.ts";
import { EventHub } from "../../src/observe/events.ts";
import { Log } from "../../src/observe/log.ts";
import { apiVersionsReply, fakeBroker, initProducerIdReply, metadataReply, reply } from "../_fake_broker.ts";

/** A logger that keeps every line. */
function recorder(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    lines.push({ level, msg, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The `next()` left waiting by the last drain of each subscriber: the next drain takes it over. */
const pending = new WeakMap<AsyncIterator<KafkaEvent>, Promise<IteratorResult<KafkaEvent>>>();

/** Reads what a subscriber has buffered now (never waits for more). */
async function drain(it: AsyncIterator<KafkaEvent>, max = 10_000): Promise<KafkaEvent[]> {
  const out: KafkaEvent[] = [];
  for (let i = 0; i < max; i++) {
    const p = pending.get(it) ?? it.next();
    pending.set(it, p);
    const r = await Promise.race([p, new Promise<null>((res) => setTimeout(() => res(null), 0))]);
    if (r === null) break;
    pending.delete(it);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const connected = (broker: number, lane = "default") => ({ type: "connected" as const, broker, lane });

Deno.test("EventHub: a slow reader gets what fits in its buffer, then one dropped event with the count, in place", async () => {
  const hub = new EventHub(new Log(recorder(), "warn"));
  assert.equal(hub.active, false, "nobody listens and nothing is logged: emitting is skipped");
  const it = hub.subscribe({ bufferSize: 3 });
  assert.equal(hub.active, true);
  for (let i = 0; i < 10; i++) hub.emit({ ...connected(i), address: "h:1" });
  // The reader catches up: 3 buffered, then 7 dropped; then new events arrive after the note.
  const first = await it.next();
  assert.equal(first.value?.type === "connected" && first.value.broker, 0);
  hub.emit({ ...connected(100), address: "h:1" });
  const rest = await drain(it);
  assert.deepEqual(
    rest.map((e) => e.type === "dropped" ? `dropped ${e.count}` : e.type === "connected" ? e.broker : e.type),
    [1, 2, "dropped 7", 100],
  );
  assert.ok(rest.every((e) => typeof e.timestamp === "number" && e.timestamp > 0));
  // A waiting reader takes the first event at once; 3 more fit; the last is dropped and reported
  // on the next read.
  for (let i = 0; i < 5; i++) hub.emit({ ...connected(i), address: "h:1" });
  const again = await drain(it);
  assert.deepEqual(again.map((e) => e.type), ["connected", "connected", "connected", "connected", "dropped"]);
  assert.equal((again[4] as { count: number }).count, 1);
  hub.close();
  assert.deepEqual(await it.next(), { done: true, value: undefined });
  assert.equal(hub.active, false);
});

Deno.test("EventHub: break unsubscribes, close ends the iteration after what is buffered, a child hears its parent", async () => {
  const parent = new EventHub(new Log(recorder(), "warn"));
  const child = new EventHub(new Log(recorder(), "warn"), parent);
  const it = child.subscribe();
  assert.ok(parent.active && child.active);
  parent.emit({ type: "metadata", brokers: 1, controllerId: 1, topics: [] });
  child.emit({ type: "group.rebalancing", groupId: "g", reason: "test" });
  const seen: string[] = [];
  const reading = (async () => {
    for await (const e of it) seen.push(e.type);
  })();
  await new Promise((r) => setTimeout(r, 10));
  child.close();
  await reading;
  assert.deepEqual(seen, ["metadata", "group.rebalancing"]);
  assert.equal(parent.active, false, "the child's subscriber left the parent too");
  // break unsubscribes.
  const other = parent.subscribe();
  parent.emit({ type: "metadata", brokers: 1, controllerId: 1, topics: [] });
  for await (const _ of other) break;
  assert.equal(parent.active, false);
  assert.deepEqual(
    await child.subscribe().next(),
    { done: true, value: undefined },
    "a closed hub ends at once",
  );
  assert.throws(() => parent.subscribe({ bufferSize: 0 }), RangeError);
  assert.throws(() => parent.subscribe({ size: 1 } as never), /Unknown events\(\) option "size"/);
});

Deno.test("EventHub: with a logger at info or debug every event is logged; at warn none is", () => {
  const rec = recorder();
  const hub = new EventHub(new Log(rec, "debug"));
  assert.equal(hub.active, true);
  hub.emit({ ...connected(1), address: "127.0.0.1:9092" });
  hub.emit({
    type: "group.assigned",
    groupId: "g",
    partitions: [{ topic: "t", partition: 0 }],
    assignment: [],
  });
  assert.deepEqual(rec.lines.map((l) => [l.level, l.msg]), [
    ["debug", "Connected to 127.0.0.1:9092 (broker 1, lane default)"],
    ["info", "Group g: assigned t[0]"],
  ]);
  assert.equal(rec.lines[1].fields?.groupId, "g");
  const quiet = recorder();
  const silent = new EventHub(new Log(quiet, "warn"));
  assert.equal(silent.active, false);
});

Deno.test("logger and logLevel options are checked", async () => {
  await assert.rejects(
    () => connect({ brokers: ["127.0.0.1:1"], logger: { info() {} } as unknown as Logger }),
    /Invalid logger: it has no debug\(\) method/,
  );
  await assert.rejects(
    () => connect({ brokers: ["127.0.0.1:1"], logLevel: "verbose" as never }),
    /Invalid logLevel "verbose"/,
  );
});

// Old, non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [[18, 0, 2], [3, 0, 8], [0, 3, 8], [22, 0, 1], [17, 1, 1], [
  36,
  0,
  1,
]];

interface Script {
  /** Answers the nth Produce: an error code, "close" to drop the connection, null to stay silent. */
  produce(n: number): number | "close" | null | Promise<number>;
  throttleMs?: number;
  /** Whether SaslAuthenticate succeeds. */
  sasl?: { ok: boolean; received: Uint8Array[] };
}

function cluster(script: Script) {
  let produces = 0;
  let epoch = 0;
  const broker = fakeBroker((h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, RANGES);
      case 17:
        return reply(saslHandshake, h, { errorCode: 0, mechanisms: ["PLAIN", "OAUTHBEARER"] });
      case 36: {
        const req = saslAuthenticate.decodeRequest(body, h.apiVersion);
        script.sasl?.received.push(req.authBytes);
        const ok = script.sasl?.ok ?? true;
        return reply(saslAuthenticate, h, {
          errorCode: ok ? 0 : 58, // SASL_AUTHENTICATION_FAILED
          errorMessage: ok ? null : "Authentication failed: invalid credentials",
          authBytes: new Uint8Array(),
          sessionLifetimeMs: 0n,
        });
      }
      case 3:
        return metadataReply(h, broker.port);
      case 22:
        return initProducerIdReply(h, 7n, epoch++);
      case 0: {
        const req = produce.decodeRequest(body, h.apiVersion);
        const p = req.topicData[0].partitionData[0];
        const answer = script.produce(produces++);
        if (answer === null || answer === "close") return answer;
        return Promise.resolve(answer).then((code) =>
          reply(produce, h, {
            responses: [{
              name: "t",
              topicId: "AAAAAAAAAAAAAAAAAAAAAA",
              partitionResponses: [{
                index: p.index,
                errorCode: code,
                baseOffset: code === 0 ? 0n : -1n,
                logAppendTimeMs: -1n,
                logStartOffset: 0n,
                recordErrors: [],
                errorMessage: null,
                currentLeader: { leaderId: -1, leaderEpoch: -1 },
              }],
            }],
            throttleTimeMs: script.throttleMs ?? 0,
            nodeEndpoints: [],
          })
        );
      }
    }
    return null;
  });
  return broker;
}

/** The events' kinds, with the lane for connection events. */
function kinds(events: KafkaEvent[]): string[] {
  return events.map((e) =>
    e.type === "connected" || e.type === "disconnected" || e.type === "reconnecting"
      ? `${e.type} ${e.lane}`
      : e.type === "producer.id"
      ? `producer.id ${e.reason} ${e.epoch}`
      : e.type
  );
}

Deno.test("a producer's events: producer id, a retried batch, a lost connection and the reconnect, throttling; debug lines for each", async () => {
  // Produce #0: NOT_LEADER_OR_FOLLOWER (retried); #1: the broker drops the connection; #2: ok, throttled.
  const broker = cluster({ produce: (n) => n === 0 ? 6 : n === 1 ? "close" : 0, throttleMs: 25 });
  await using _b = broker;
  const rec = recorder();
  await using client = await connect({ brokers: [broker.address], logger: rec, logLevel: "debug" });
  const producer = client.producer({ retryBackoffMs: 10 });
  const events = producer.events();
  const clientEvents = client.events();
  await producer.send({ topic: "t", messages: [{ value: "v" }] });
  await producer.close();
  const got = await drain(events);
  assert.deepEqual((await events.next()).done, true, "the producer's events end when it closes");
  // Metadata refreshes (after NOT_LEADER_OR_FOLLOWER, after the lost connection) and throttling (every
  // Produce answer) interleave; the rest comes in this order.
  assert.deepEqual(kinds(got).filter((k) => k !== "metadata" && k !== "throttled"), [
    "producer.id init 0",
    "connected produce",
    "batch.retried",
    "disconnected produce",
    "batch.retried",
    "reconnecting produce",
    "connected produce",
  ]);
  assert.ok(kinds(got).includes("metadata"));
  const retried = got.find((e) => e.type === "batch.retried")!;
  assert.ok(retried.type === "batch.retried");
  assert.deepEqual([retried.topic, retried.partition, retried.records, retried.attempt], ["t", 0, 1, 1]);
  assert.match(retried.error.message, /NOT_LEADER_OR_FOLLOWER/);
  const lost = got.find((e) => e.type === "disconnected")!;
  assert.ok(lost.type === "disconnected" && lost.broker === 0 && lost.address === broker.address);
  const again = got.find((e) => e.type === "reconnecting")!;
  assert.ok(again.type === "reconnecting" && again.attempt === 1 && again.reason === lost.reason);
  const throttled = got.find((e) => e.type === "throttled")!;
  assert.ok(throttled.type === "throttled" && throttled.api === "Produce" && throttled.throttleTimeMs === 25);
  for (let i = 1; i < got.length; i++) assert.ok(got[i].timestamp >= got[i - 1].timestamp);
  // The client's own events are there too (not the producer's).
  const fromClient = kinds(await drain(clientEvents));
  assert.ok(
    fromClient.includes("disconnected produce") && !fromClient.some((k) => k.startsWith("producer.id")),
  );
  // Every event was logged, at debug or info level.
  for (
    const k of [
      "Connected to",
      "Disconnected from",
      "Reconnecting to",
      "Producer id 7 epoch 0 (init)",
      "throttled",
    ]
  ) {
    assert.ok(
      rec.lines.some((l) => l.msg.includes(k)),
      `a line says "${k}": ${rec.lines.map((l) => l.msg).join("\n")}`,
    );
  }
  assert.ok(rec.lines.every((l) => l.level === "debug" || l.level === "info"));
});

Deno.test("a batch that expires is an event, and so is the epoch bump after it (KIP-360)", async () => {
  // The first Produce is answered after its batch's deliveryTimeoutMs: the batch expired in flight.
  const broker = cluster({ produce: (n) => n === 0 ? new Promise((r) => setTimeout(() => r(0), 600)) : 0 });
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  const producer = client.producer({ deliveryTimeoutMs: 300, retryBackoffMs: 10 });
  const events = producer.events();
  await assert.rejects(() => producer.send({ topic: "t", messages: [{ value: "a" }, { value: "b" }] }));
  await new Promise((r) => setTimeout(r, 500)); // the late answer is in: nothing is in flight
  await producer.send({ topic: "t", messages: [{ value: "c" }] });
  await producer.close();
  const got = await drain(events);
  const expired = got.find((e) => e.type === "batch.expired");
  assert.ok(expired?.type === "batch.expired" && expired.records === 2 && expired.topic === "t");
  assert.match(expired.error.message, /deliveryTimeoutMs/);
  assert.deepEqual(
    kinds(got).filter((k) => k.startsWith("producer.id")),
    ["producer.id init 0", "producer.id bump 1"],
  );
});

Deno.test("nothing is logged by default at the default level; a producer's own logger and level apply to its events only", async () => {
  const broker = cluster({ produce: () => 0, throttleMs: 5 });
  await using _b = broker;
  const rec = recorder();
  await using client = await connect({ brokers: [broker.address], logger: rec });
  await using producer = client.producer();
  await producer.send({ topic: "t", messages: [{ value: "v" }] });
  assert.deepEqual(rec.lines, []);
  // A producer-level logger at debug logs the producer's events, not the client's.
  const own = recorder();
  await using p2 = client.producer({ logger: own, logLevel: "debug" });
  await p2.send({ topic: "t", messages: [{ value: "v" }] });
  assert.deepEqual(own.lines.map((l) => l.msg), ["Producer id 7 epoch 1 (init)"]);
  assert.deepEqual(rec.lines, []);
});

for (
  const [name, sasl, secret] of [
    ["PLAIN", { mechanism: "PLAIN", username: "alice", password: "pw-PLAIN-s3cr3t" }, "pw-PLAIN-s3cr3t"],
    [
      "OAUTHBEARER",
      {
        mechanism: "OAUTHBEARER",
        token: () => ({ value: "tok.OAUTH-s3cr3t.sig", lifetimeMs: Date.now() + 600_000 }),
      },
      "OAUTH-s3cr3t",
    ],
  ] as [string, SaslOptions, string][]
) {
  Deno.test(`no ${name} secret in any log line (debug level) or event, on success and on refused credentials`, async () => {
    const received: Uint8Array[] = [];
    const ok = cluster({ produce: (n) => n === 0 ? "close" : 0, sasl: { ok: true, received } });
    await using _ok = ok;
    const rec = recorder();
    const seen: KafkaEvent[] = [];
    {
      await using client = await connect({ brokers: [ok.address], sasl, logger: rec, logLevel: "debug" });
      const producer = client.producer({ retryBackoffMs: 10 });
      const events = producer.events();
      await producer.send({ topic: "t", messages: [{ value: "v" }] });
      await producer.close();
      seen.push(...await drain(events));
    }
    // The secret did go to the broker (so the test would notice it anywhere else).
    assert.ok(received.some((b) => new TextDecoder().decode(b).includes(secret)));
    const refused = cluster({ produce: () => 0, sasl: { ok: false, received } });
    await using _refused = refused;
    const err = await connect({ brokers: [refused.address], sasl, logger: rec, logLevel: "debug" }).catch((
      e,
    ) => e);
    assert.ok(err instanceof Error);
    assert.ok(rec.lines.length > 0 && seen.length > 0);
    const everything = [
      ...rec.lines.map((l) => `${l.level} ${l.msg} ${Deno.inspect(l.fields, { depth: 10 })}`),
      ...seen.map((e) => Deno.inspect(e, { depth: 10 })),
      Deno.inspect(err, { depth: 10 }),
    ].join("\n");
    assert.ok(everything.includes("Disconnected from"), "the lines include the connection's story");
    assert.ok(!everything.includes(secret), `a secret leaked:\n${everything}`);
  });
}
