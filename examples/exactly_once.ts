// Exactly-once consume-transform-produce: read an input topic, write a transformed record per input
// record to an output topic, and commit the input offsets IN the same transaction. A read_committed
// reader of the output sees every input record exactly once, whether this process is killed,
// restarted or fenced, and whether brokers fail. test/integration/transactions_test.ts and
// test/cluster/transactions_failover_test.ts run it as a child process and SIGKILL it mid-stream.
//
//   deno run --allow-net --allow-env examples/exactly_once.ts <input-topic> <output-topic>
//
// Environment: KAFKA_BROKERS (default 127.0.0.1:9092), EOS_GROUP (default "<input>-eos"),
// EOS_TRANSACTIONAL_ID (default "<input>-eos": one id per input partition set; a restarted instance
// with the same id fences the old one), EOS_IDLE_EXIT_MS (exit after this long without input;
// default: run until killed).
import { connect, type ConsumerBatch, TransactionAbortedError } from "../mod.ts";

const [input, output] = Deno.args;
if (!input || !output) {
  console.error("usage: exactly_once.ts <input-topic> <output-topic>");
  Deno.exit(2);
}
const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
const groupId = Deno.env.get("EOS_GROUP") ?? `${input}-eos`;
const transactionalId = Deno.env.get("EOS_TRANSACTIONAL_ID") ?? `${input}-eos`;
const idleExitMs = Number(Deno.env.get("EOS_IDLE_EXIT_MS") ?? "0");

await using client = await connect({ brokers, clientId: "exactly-once" });
await using producer = client.producer({ transactionalId, transactionTimeoutMs: 30_000 });
// Fence any earlier instance and let its open transaction finish (or abort) before reading the
// group's committed offsets: they then include everything it committed.
await producer.initTransactions();

await using consumer = client.consumer({
  groupId,
  topics: [input],
  fromBeginning: true,
  autoCommit: false, // offsets are committed in the transactions, never on their own
  isolationLevel: "read_committed", // the input may itself be transactional output
});

const transform = (value: string | null) => (value ?? "").toUpperCase();
let processed = 0;

async function process(batch: ConsumerBatch): Promise<void> {
  const last = batch.records[batch.records.length - 1];
  try {
    await producer.transaction(async (tx) => {
      await tx.send({
        topic: output,
        messages: batch.records.map((r) => ({ key: r.key, value: transform(r.text()) })),
      });
      await tx.sendOffsets(consumer, [{
        topic: batch.topic,
        partition: batch.partition,
        offset: last.offset + 1n,
      }]);
    });
    processed += batch.records.length;
  } catch (err) {
    if (!(err instanceof TransactionAbortedError)) throw err; // fenced or broken: stop
    // Nothing of the batch counts: read it again from its first record.
    console.error(
      `aborted, retrying ${batch.topic}[${batch.partition}] from ${batch.records[0].offset}:`,
      err.message,
    );
    consumer.seek(batch.topic, batch.partition, batch.records[0].offset);
  }
}

const it = consumer.batches()[Symbol.asyncIterator]();
while (true) {
  const next = it.next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = idleExitMs > 0
    ? await Promise.race([next, new Promise<null>((r) => timer = setTimeout(() => r(null), idleExitMs))])
    : await next;
  clearTimeout(timer);
  if (result === null) {
    next.catch(() => {}); // the consumer's close() ends it
    break;
  }
  if (result.done) break;
  await process(result.value);
}
console.log(`exactly-once: processed ${processed} records`);
