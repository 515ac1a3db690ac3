import assert from "node:assert/strict";
import { BROKERS, requires, testClient, uniqueName } from "../_broker.ts";
import { javaTool, ok } from "../_tools.ts";
import type { Client, ConsumerRecord } from "../../mod.ts";
import { transactionsSettled } from "../_read.ts";

async function drain(client: Client, topic: string, isolationLevel: "read_committed" | "read_uncommitted") {
  // The copier's last commit markers may land after it exited: wait (bounded) for them first.
  if (isolationLevel === "read_committed") await transactionsSettled(client, topic);
  await using consumer = client.consumer({ assign: [{ topic, from: "earliest" }], isolationLevel });
  const values: string[] = [];
  const it = consumer[Symbol.asyncIterator]();
  // Read until nothing more arrives for a second (bounded overall); one pending next() at a time.
  const deadline = Date.now() + 30_000;
  let pending: Promise<IteratorResult<ConsumerRecord>> | null = null;
  while (Date.now() < deadline) {
    pending ??= it.next();
    const next = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    if (next === null || next.done) break;
    pending = null;
    values.push(next.value.text()!);
  }
  return values;
}

Deno.test("read_committed skips aborted transactions that read_uncommitted delivers", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient();
  const input = uniqueName("txn-in");
  const output = uniqueName("txn-out");
  await client.admin().createTopics([
    { topic: input, partitions: 1, replicationFactor: 1 },
    { topic: output, partitions: 1, replicationFactor: 1 },
  ]);
  const N = 600;
  await using producer = client.producer();
  await producer.send({ topic: input, messages: Array.from({ length: N }, (_, i) => ({ value: `m-${i}` })) });
  // Kafka's own transactional copier: 60 transactions of 10 records, some aborted at random
  // (and then copied again), so the output holds aborted and committed transactional batches.
  ok(
    await javaTool("org.apache.kafka.tools.TransactionalMessageCopier", [
      "--broker-list",
      BROKERS.join(","),
      "--input-topic",
      input,
      "--input-partition",
      "0",
      "--output-topic",
      output,
      "--transactional-id",
      output,
      "--consumer-group",
      output,
      "--transaction-size",
      "10",
      "--max-messages",
      String(N),
      "--enable-random-aborts",
    ], { timeoutMs: 120_000 }),
    "TransactionalMessageCopier",
  );
  const committed = await drain(client, output, "read_committed");
  const everything = await drain(client, output, "read_uncommitted");
  const expected = Array.from({ length: N }, (_, i) => `m-${i}`);
  assert.deepEqual(committed, expected, "read_committed: every input record exactly once, in order");
  // With 60 transactions, the chance that the copier aborted none is far below 1%.
  assert.ok(everything.length > N, "the copier aborted no transaction, so nothing was tested");
  console.log(`transactions: ${everything.length - N} aborted records seen by read_uncommitted`);
  assert.throws(
    () =>
      client.consumer({ assign: [{ topic: output }], isolationLevel: "serializable" as "read_committed" }),
    TypeError,
  );
});
