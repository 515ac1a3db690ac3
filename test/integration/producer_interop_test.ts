import assert from "node:assert/strict";
import type { CompressionName } from "../../mod.ts";
import { BROKERS, requires, testClient, uniqueName } from "../_broker.ts";
import { javaTool, ok, rdkafkaConsume } from "../_tools.ts";

const CODECS: CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

Deno.test(
  "records we produce with every codec read back identically in librdkafka and Kafka's Java console consumer",
  { ignore: requires("java-tools", "rdkafka") },
  async () => {
    await using client = await testClient();
    const topic = uniqueName("interop");
    await client.admin().createTopics([{ topic, partitions: CODECS.length, replicationFactor: 1 }]);
    for (const [partition, compression] of CODECS.entries()) {
      await using producer = client.producer({ compression });
      await producer.send({
        topic,
        messages: [
          { key: "k1", value: `v1-${compression}`, headers: { a: "1", n: null }, partition },
          { key: null, value: null, partition },
          {
            key: "k3",
            value: "héllo ".repeat(200) + "!",
            headers: [["b", new Uint8Array([104, 105])]],
            partition,
          },
        ],
      });
    }

    // librdkafka (confluent-kafka): every record with nulls kept as null.
    const got = await rdkafkaConsume(topic);
    const line = (r: { partition: number; offset: number; key: unknown; value: unknown; headers: unknown }) =>
      JSON.stringify([r.partition, r.offset, r.key, r.value, r.headers]);
    const long = "héllo ".repeat(200) + "!";
    assert.deepEqual(
      got.map(line).sort(),
      CODECS.flatMap((c, p) => [
        { partition: p, offset: 0, key: "k1", value: `v1-${c}`, headers: [["a", "1"], ["n", null]] },
        { partition: p, offset: 1, key: null, value: null, headers: [] },
        { partition: p, offset: 2, key: "k3", value: long, headers: [["b", "hi"]] },
      ]).map(line).sort(),
    );
    const expected = (p: number, c: string) => [
      `${p}|0|k1|v1-${c}|a:1,n:null`,
      `${p}|1|null|null|NO_HEADERS`,
      `${p}|2|k3|${long}|b:hi`,
    ];

    const j = ok(
      await javaTool("org.apache.kafka.tools.consumer.ConsoleConsumer", [
        "--bootstrap-server",
        BROKERS.join(","),
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        String(CODECS.length * 3),
        "--timeout-ms",
        "30000",
        "--formatter-property",
        "print.partition=true",
        "--formatter-property",
        "print.offset=true",
        "--formatter-property",
        "print.key=true",
        "--formatter-property",
        "print.headers=true",
        "--formatter-property",
        "key.separator=|",
        "--formatter-property",
        "headers.separator=,",
      ]),
      "ConsoleConsumer",
    );
    // Java prints: Partition:P|Offset:O|headers|key|value
    const jLines = j.stdout.trim().split("\n").map((l) => {
      const m = /^Partition:(\d+)\|Offset:(\d+)\|(.*?)\|(.*?)\|(.*)$/.exec(l);
      assert.ok(m, `unexpected line ${l}`);
      return `${m[1]}|${m[2]}|${m[4]}|${m[5]}|${m[3]}`;
    }).sort();
    assert.deepEqual(jLines, CODECS.flatMap((c, p) => expected(p, c)).sort());
  },
);
