import assert from "node:assert/strict";
import type { ConsumerRecord } from "../../mod.ts";
import { BROKERS, requires, testClient, uniqueName } from "../_broker.ts";
import { javaTool, ok } from "../_tools.ts";

Deno.test("partitions added to a subscribed topic are produced to and consumed without a restart", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient({ metadataMaxAgeMs: 1000 });
  const topic = uniqueName("grow");
  await client.admin().createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
  await using producer = client.producer();
  await using consumer = client.consumer({
    groupId: uniqueName("grow-group"),
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
  });
  const it = consumer[Symbol.asyncIterator]();
  const seen = new Set<string>();
  // One pending next() at a time: a record handed to a next() we stopped waiting for would be lost.
  let pending: Promise<IteratorResult<ConsumerRecord>> | null = null;
  const readUntil = async (want: number) => {
    const deadline = Date.now() + 30_000;
    while (seen.size < want && Date.now() < deadline) {
      pending ??= it.next();
      const next = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
      if (next === null) continue;
      pending = null;
      if (!next.done) seen.add(`${next.value.partition}:${next.value.text()}`);
    }
  };
  await producer.send({ topic, messages: [0, 1].map((partition) => ({ value: "before", partition })) });
  await readUntil(2);
  assert.equal(seen.size, 2);

  ok(
    await javaTool("org.apache.kafka.tools.TopicCommand", [
      "--bootstrap-server",
      BROKERS.join(","),
      "--alter",
      "--topic",
      topic,
      "--partitions",
      "4",
    ]),
    "TopicCommand --alter",
  );
  // The controller answered once the change was committed; the broker takes it from the metadata log a
  // moment later. Wait (bounded) until it shows, through another client (ours keeps its stale cache).
  {
    await using other = await testClient();
    const deadline = Date.now() + 30_000;
    while ((await other.admin().describeTopics([topic]))[0].partitions.length < 4) {
      assert.ok(Date.now() < deadline, "the broker never showed 4 partitions");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // An explicit partition beyond what the producer has cached makes it look again before refusing.
  await producer.send({ topic, messages: [2, 3].map((partition) => ({ value: "after", partition })) });
  await readUntil(4);
  assert.deepEqual([...seen].sort(), ["0:before", "1:before", "2:after", "3:after"]);
  assert.deepEqual(consumer.assignment().map((tp) => tp.partition).sort(), [0, 1, 2, 3]);
});
