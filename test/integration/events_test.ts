// Events against the real broker: a two-member rebalance in order, commits, and a broker restart
// (disconnected, reconnecting, connected), with the log lines that go with them.
import assert from "node:assert/strict";
import type { KafkaEvent, Logger, TopicPartition } from "../../mod.ts";
import { deviates, requires, testClient, uniqueName } from "../_broker.ts";
import * as kafka from "../../scripts/kafka.ts";
import { until, within } from "./_member.ts";

/** Keeps every event of a subscriber until it ends. */
function collect(it: AsyncIterable<KafkaEvent>, into: KafkaEvent[]): Promise<void> {
  return (async () => {
    for await (const e of it) into.push(e);
  })();
}

const tps = (ps: readonly TopicPartition[]) => ps.map((p) => p.partition).join(",");

/** The group events of a consumer, in words. */
function story(events: KafkaEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type === "group.joined") out.push(`joined ${e.generationId}`);
    else if (e.type === "group.assigned") out.push(`assigned ${tps(e.partitions)}`);
    else if (e.type === "group.revoked") out.push(`revoked ${tps(e.partitions)}`);
    else if (e.type === "group.lost") out.push(`lost ${tps(e.partitions)}`);
    else if (e.type === "group.rebalancing") out.push("rebalancing");
  }
  return out;
}

Deno.test("a second member joining: the first sees joined, assigned, rebalancing, revoked, joined, assigned; the second joined, assigned; commits are events", async () => {
  await using client = await testClient();
  const topic = uniqueName("ev-rebalance");
  const groupId = uniqueName("ev-group");
  await client.admin().createTopics([{ topic, partitions: 2 }]);
  await client.producer().send({
    topic,
    messages: [{ value: "a", partition: 0 }, { value: "b", partition: 1 }],
  });
  const base = {
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 300,
    autoCommit: false,
  };
  const a = client.consumer(base);
  const aEvents: KafkaEvent[] = [];
  const aDone = collect(a.events(), aEvents);
  try {
    await until(() => story(aEvents).includes("assigned 0,1"), 60_000, "A's first assignment");
    // A commits a record: a commit.succeeded event with the offset.
    const it = a[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    await a.commit(first.value);
    const commit = aEvents.find((e) => e.type === "commit.succeeded");
    assert.ok(commit?.type === "commit.succeeded" && commit.groupId === groupId);
    assert.deepEqual(commit.offsets.map((o) => [o.topic, o.partition, o.offset]), [
      [topic, first.value.partition, first.value.offset + 1n],
    ]);
    const b = client.consumer(base);
    const bEvents: KafkaEvent[] = [];
    const bDone = collect(b.events(), bEvents);
    try {
      await until(
        () => story(bEvents).some((s) => s.startsWith("assigned ")) && story(aEvents).length >= 6,
        60_000,
        "the rebalance",
      );
      const joins = aEvents.filter((e) => e.type === "group.joined").map((e) => e.generationId);
      const [gen1, gen2] = joins;
      assert.ok(gen2 > gen1, `generations ${joins}`);
      const aStory = story(aEvents);
      const bStory = story(bEvents);
      const aSecond = aStory[5];
      const bFirst = bStory[1];
      assert.deepEqual(aStory.slice(0, 6), [
        `joined ${gen1}`,
        "assigned 0,1",
        "rebalancing",
        "revoked 0,1",
        `joined ${gen2}`,
        aSecond,
      ]);
      assert.deepEqual(bStory.slice(0, 2), [`joined ${gen2}`, bFirst]);
      // Range assigns one partition to each.
      assert.deepEqual([aSecond, bFirst].sort(), ["assigned 0", "assigned 1"]);
      const assigned = aEvents.findLast((e) => e.type === "group.assigned");
      assert.ok(assigned?.type === "group.assigned" && assigned.assignment.length === 1);
      // Each event carries its time, in order.
      for (let i = 1; i < aEvents.length; i++) assert.ok(aEvents[i].timestamp >= aEvents[i - 1].timestamp);
      // A failed commit is an event too: a consumer outside the group cannot commit to it while it has members.
      const outsider = client.consumer({ groupId, assign: [{ topic, from: "earliest" }], autoCommit: false });
      const oEvents: KafkaEvent[] = [];
      const oDone = collect(outsider.events(), oEvents);
      try {
        const err = await outsider.commit([{ topic, partition: 0, offset: 1n }]).catch((e) => e);
        if (deviates("tansuCommitOutsideGroup")) {
          // tansu takes the commit: a commit.succeeded event.
          assert.equal(err, undefined);
          assert.ok(
            oEvents.some((e) => e.type === "commit.succeeded"),
            oEvents.map((e) => e.type).join(", "),
          );
        } else {
          assert.ok(err instanceof Error, "the coordinator refused the commit");
          const failed = oEvents.find((e) => e.type === "commit.failed");
          assert.ok(failed?.type === "commit.failed", oEvents.map((e) => e.type).join(", "));
          assert.equal(failed.error, err);
          assert.deepEqual(failed.offsets.map((o) => [o.partition, o.offset]), [[0, 1n]]);
        }
      } finally {
        await outsider.close();
        await oDone;
      }
    } finally {
      await b.close();
      await bDone;
    }
  } finally {
    await a.close();
    await aDone;
  }
  // Closing gave A's partition up: a revoked event, then the iteration ended.
  assert.ok(story(aEvents).at(-1)?.startsWith("revoked "), story(aEvents).join("; "));
});

const KIP848_EVENTS = "KIP-848 (groupProtocol consumer): joined with the member epoch, then assigned";
Deno.test(KIP848_EVENTS, { ignore: requires("kip848") }, async () => {
  await using client = await testClient();
  const topic = uniqueName("ev-848");
  await client.admin().createTopics([{ topic, partitions: 2 }]);
  const consumer = client.consumer({
    groupId: uniqueName("ev-848-group"),
    topics: [topic],
    groupProtocol: "consumer",
  });
  const events: KafkaEvent[] = [];
  const done = collect(consumer.events(), events);
  try {
    await until(() => story(events).includes("assigned 0,1"), 60_000, "the assignment");
  } finally {
    await consumer.close();
    await done;
  }
  const s = story(events);
  assert.match(s[0], /^joined [1-9]\d*$/, s.join("; "));
  assert.ok(s.indexOf("assigned 0,1") > 0, s.join("; "));
  assert.equal(s.at(-1), "revoked 0,1", "close gives the partitions up");
});

Deno.test("an offset out of range: an offsets.reset event, and a warning to the consumer's logger (none at the client's)", async () => {
  const clientLines: string[] = [];
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const keep = (into: string[]) => (m: string) => into.push(m);
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    lines.push({ level, msg, fields });
  const clientLogger: Logger = {
    debug: keep(clientLines),
    info: keep(clientLines),
    warn: keep(clientLines),
    error: keep(clientLines),
  };
  await using client = await testClient({ logger: clientLogger });
  const topic = uniqueName("ev-reset");
  await client.admin().createTopics([{ topic, partitions: 1 }]);
  await client.producer().send({ topic, messages: [{ value: "only" }] });
  const consumer = client.consumer({
    assign: [{ topic, from: { offset: 100n } }],
    fromBeginning: true,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  });
  const events: KafkaEvent[] = [];
  const done = collect(consumer.events(), events);
  if (deviates("tansuNoOffsetOutOfRange")) {
    // No OFFSET_OUT_OF_RANGE from tansu: the consumer waits at offset 100 as at the log end; no event, no line.
    const next = consumer[Symbol.asyncIterator]().next();
    await assert.rejects(within(next, 3000, "a record past the end"), /no result/);
    await consumer.close();
    await next.catch(() => {});
    await done;
    assert.ok(!events.some((e) => e.type === "offsets.reset"), events.map((e) => e.type).join(", "));
    assert.deepEqual(lines, []);
    return;
  }
  try {
    const it = consumer[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value?.offset, 0n, "read again from the earliest offset");
  } finally {
    await consumer.close();
    await done;
  }
  const reset = events.find((e) => e.type === "offsets.reset");
  assert.ok(reset?.type === "offsets.reset", events.map((e) => e.type).join(", "));
  assert.deepEqual([reset.topic, reset.partition, reset.reason, reset.from, reset.to], [
    topic,
    0,
    "out-of-range",
    100n,
    "earliest",
  ]);
  // The default level is warn: the reset is the only line, and it is a warning with the error in its fields.
  assert.deepEqual(lines.map((l) => l.level), ["warn"]);
  assert.match(lines[0].msg, /kafka-deno consumer: fetch: Offset 100 of .* is out of range/);
  assert.ok(lines[0].fields?.error instanceof Error);
  assert.deepEqual(clientLines, []);
});

Deno.test({
  name:
    "a broker restart: the client's events say disconnected, reconnecting, connected, and a debug logger says so too",
  ignore: requires("broker-control"), // restarts the broker that scripts/kafka.ts manages (deno task test)
  fn: async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (m) => lines.push(`debug ${m}`),
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    };
    await using client = await testClient({ logger, logLevel: "debug", reconnectBackoffMaxMs: 500 });
    const events: KafkaEvent[] = [];
    const done = collect(client.events(), events);
    const topic = uniqueName("ev-restart");
    await client.admin().createTopics([{ topic, partitions: 1 }]);
    await using producer = client.producer();
    await producer.send({ topic, messages: [{ value: "before" }] });
    assert.ok(await kafka.kill(), "the broker was running");
    try {
      await until(() => events.some((e) => e.type === "disconnected"), 30_000, "a disconnected event");
      // Asking for metadata while the broker is down makes the client try (and fail) to reconnect.
      await client.metadata().catch(() => {});
    } finally {
      await kafka.start({ quiet: true });
    }
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (await client.metadata().then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await producer.send({ topic, messages: [{ value: "after" }] });
    await client.close();
    await done;
    // The producer's connection (lane "produce" to the partition's leader) was lost, retried, and made again.
    const lost = events.findIndex((e) => e.type === "disconnected" && e.lane === "produce");
    assert.ok(lost >= 0, events.map((e) => e.type).join(", "));
    const ref = events[lost] as { broker: number; lane: string };
    const same = (e: KafkaEvent) =>
      (e.type === "reconnecting" || e.type === "connected") && e.broker === ref.broker && e.lane === ref.lane;
    const retry = events.findIndex((e, i) => i > lost && e.type === "reconnecting" && same(e));
    const back = events.findIndex((e, i) => i > retry && e.type === "connected" && same(e));
    assert.ok(retry > lost && back > retry, events.map((e) => e.type).join(", "));
    const r = events[retry];
    assert.ok(r.type === "reconnecting" && r.attempt >= 1 && r.reason.length > 0);
    for (const k of ["Disconnected from", "Reconnecting to", "Connected to"]) {
      assert.ok(lines.some((l) => l.includes(k)), `a log line says "${k}"`);
    }
  },
});
