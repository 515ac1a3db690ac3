import assert from "node:assert/strict";
import { endOffsets } from "../_read.ts";
import { BROKERS, newTopic, requires, testClient, uniqueName } from "../_broker.ts";
import { createTopic, javaMember, produceNumbered, runTool, take, TOOLS, until } from "./_member.ts";
import { rdkafkaProduce } from "../_tools.ts";

const LONG = "kafka-deno interop ".repeat(60).trim();
const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"];

/** What a consumed record looks like, for comparisons. */
function view(
  r: {
    keyText(): string | null;
    text(): string | null;
    headers: { key: string; value: Uint8Array | null }[];
  },
) {
  const dec = new TextDecoder();
  return {
    key: r.keyText(),
    value: r.text(),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : dec.decode(h.value)]),
  };
}

Deno.test(
  "records from librdkafka (every codec) and Kafka's console producer keep keys, values and headers",
  { ignore: requires("java-tools", "rdkafka") },
  async () => {
    await using client = await testClient();
    const topic = await newTopic(client, "c-interop", 1);
    const expected: ReturnType<typeof view>[] = [];
    for (const codec of CODECS) {
      const headers: [string, string | null][] = [["h1", "v1"], ["h2", null], ["codec", codec]];
      await rdkafkaProduce(topic, [
        { key: "k1", value: `value-1-${codec}`, headers },
        { key: "k2", value: null, headers },
        { key: "k3", value: LONG, headers },
      ], { partition: 0, compression: codec });
      expected.push(
        { key: "k1", value: `value-1-${codec}`, headers },
        { key: "k2", value: null, headers },
        { key: "k3", value: LONG, headers },
      );
    }
    for (const codec of CODECS) {
      await runTool(TOOLS.consoleProducer, [
        "--bootstrap-server",
        BROKERS[0],
        "--topic",
        topic,
        "--compression-codec",
        codec,
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
        "--property",
        "null.marker=NULL",
      ], {
        input: `h1:v1,h2:NULL\tk1\tjava-${codec}\th3:x\tk2\tNULL\nh4:y\tk3\t${LONG}\n`.replace(
          "\th3",
          "\nh3",
        ),
      });
      expected.push(
        { key: "k1", value: `java-${codec}`, headers: [["h1", "v1"], ["h2", null]] },
        { key: "k2", value: null, headers: [["h3", "x"]] },
        { key: "k3", value: LONG, headers: [["h4", "y"]] },
      );
    }
    // A librdkafka transaction: two records and the broker's COMMIT marker, a control batch that takes
    // an offset but is no record for the application.
    await rdkafkaProduce(topic, [{ key: "t1", value: "txn-1" }, { key: "t2", value: "txn-2" }], {
      partition: 0,
      transactionalId: topic,
    });
    expected.push({ key: "t1", value: "txn-1", headers: [] }, { key: "t2", value: "txn-2", headers: [] });
    // The coordinator writes the marker after EndTxn returns: wait (bounded, 60 s: a loaded machine
    // once took over 10 s) until it is in the log.
    for (let i = 0; i < 1200; i++) {
      if ((await endOffsets(client, topic)).get(0) === BigInt(expected.length + 1)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(
      (await endOffsets(client, topic)).get(0),
      BigInt(expected.length + 1),
      "the commit marker landed",
    );
    await rdkafkaProduce(topic, [{ key: "after", value: "marker" }], { partition: 0 });
    expected.push({ key: "after", value: "marker", headers: [] });
    await using consumer = client.consumer({ assign: [{ topic, from: "earliest" }] });
    const got = await take(consumer[Symbol.asyncIterator](), expected.length, 30_000);
    assert.deepEqual(got.map(view), expected);
    const n = expected.length;
    assert.deepEqual(
      got.slice(0, n - 1).map((r) => r.offset),
      expected.slice(0, n - 1).map((_, i) => BigInt(i)),
    );
    assert.equal(got[n - 1].offset, BigInt(n), "the commit marker took offset n-1");
    assert.ok(got.every((r) => r.timestamp > Date.now() - 600_000));
  },
);

Deno.test("a Deno member and Kafka's console consumer split a group's partitions", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient();
  const topic = uniqueName("c-java");
  const groupId = uniqueName("g-java");
  await createTopic(BROKERS, topic, 6);
  const java = javaMember(BROKERS, topic, groupId, ["session.timeout.ms=6000", "heartbeat.interval.ms=1000"]);
  const javaLines = java.lines;
  const consumer = client.consumer({
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 1000,
  });
  try {
    // The Java member joins once its JVM is up; then the group holds two members with 3 each.
    await until(() => consumer.assignment().length === 3, 60_000, "the group to split 3/3");
    const mine = consumer.assignment().map((tp) => tp.partition);
    await produceNumbered(client, topic, 600, { partitions: 6, prefix: "v" });
    const got = await take(consumer[Symbol.asyncIterator](), 300, 30_000);
    assert.ok(got.every((r) => mine.includes(r.partition)));
    await until(() => javaLines.length >= 300, 30_000, "the Java member's 300 records");
    const javaPartitions = new Set(javaLines.map((l) => Number(/^Partition:(\d+)/.exec(l)?.[1])));
    assert.deepEqual([...javaPartitions].sort(), [0, 1, 2, 3, 4, 5].filter((p) => !mine.includes(p)));
    assert.equal(javaLines.length, 300);
    assert.deepEqual(
      new Set([...got.map((r) => r.text()), ...javaLines.map((l) => l.split("\t")[1])]).size,
      600,
    );
  } finally {
    await consumer.close();
    await java.stop();
  }
});
