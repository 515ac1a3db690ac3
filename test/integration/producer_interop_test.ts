import assert from "node:assert/strict";
import type { CompressionName } from "../../mod.ts";
import { BROKERS, testClient, uniqueName } from "../_broker.ts";
import { javaTool, kcat, ok } from "../_tools.ts";

const CODECS: CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

Deno.test("records we produce with every codec read back identically in kcat and Kafka's Java console consumer", async () => {
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

  const k = ok(await kcat(["-C", "-t", topic, "-e", "-Z", "-q", "-f", "%p|%o|%k|%s|%h\n"]), "kcat");
  const kLines = k.stdout.trim().split("\n").sort();
  const expected = (p: number, c: string, style: "kcat" | "java") => {
    const nul = style === "kcat" ? "NULL" : "null";
    const sep = style === "kcat" ? "=" : ":";
    return [
      `${p}|0|k1|v1-${c}|a${sep}1,n${sep}${nul}`,
      `${p}|1|${nul}|${nul}|${style === "kcat" ? "" : "NO_HEADERS"}`,
      `${p}|2|k3|${"héllo ".repeat(200) + "!"}|b${sep}hi`,
    ];
  };
  assert.deepEqual(kLines, CODECS.flatMap((c, p) => expected(p, c, "kcat")).sort());

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
      "--property",
      "print.partition=true",
      "--property",
      "print.offset=true",
      "--property",
      "print.key=true",
      "--property",
      "print.headers=true",
      "--property",
      "key.separator=|",
      "--property",
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
  assert.deepEqual(jLines, CODECS.flatMap((c, p) => expected(p, c, "java")).sort());
});
