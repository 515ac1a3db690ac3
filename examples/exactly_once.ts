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
// default: run until killed), EOS_RECORDS_PER_TRANSACTION (default 500: a fetched batch is split
// into transactions of at most this many records), EOS_TRANSACTION_TIMEOUT_MS (default 60000),
// EOS_LOG=1 (write each transaction and each rebalance to stderr, for a test to show what happened).
import { connect, type ConsumerBatch, type ConsumerRecord, TransactionAbortedError } from "../mod.ts";

const [input, output] = Deno.args;
if (!input || !output) {
  console.error("usage: exactly_once.ts <input-topic> <output-topic>");
  Deno.exit(2);
}
const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
const groupId = Deno.env.get("EOS_GROUP") ?? `${input}-eos`;
const transactionalId = Deno.env.get("EOS_TRANSACTIONAL_ID") ?? `${input}-eos`;
const idleExitMs = Number(Deno.env.get("EOS_IDLE_EXIT_MS") ?? "0");
const perTransaction = Number(Deno.env.get("EOS_RECORDS_PER_TRANSACTION") ?? "500");
const log = Deno.env.get("EOS_LOG") === "1"
  ? (line: string) => console.error(`${new Date().toISOString()} ${line}`)
  : () => {};
const names = (parts: { topic: string; partition: number }[]) =>
  parts.map((p) => `${p.topic}[${p.partition}]`).join(" ");

await using client = await connect({ brokers, clientId: "exactly-once" });
// A transaction the coordinator times out is aborted by it. Keep this above the time a broker takes
// to restart: Kafka 4.4.0's coordinator, aborting a timed-out transaction right after a restart while
// the transaction's partitions had no leader yet, skipped their abort markers (its log: "likely
// deleted already and hence can be skipped"), and the records were made visible later by this
// producer's next commit on those partitions.
const transactionTimeoutMs = Number(Deno.env.get("EOS_TRANSACTION_TIMEOUT_MS") ?? "60000");
await using producer = client.producer({ transactionalId, transactionTimeoutMs });
// Fence any earlier instance and let its open transaction finish (or abort) before reading the
// group's committed offsets: they then include everything it committed.
await producer.initTransactions();

await using consumer = client.consumer({
  groupId,
  // Static membership: a restarted instance takes its predecessor's place (and partitions) at
  // once, instead of waiting for the session of the dead one to time out.
  groupInstanceId: transactionalId,
  topics: [input],
  fromBeginning: true,
  autoCommit: false, // offsets are committed in the transactions, never on their own
  isolationLevel: "read_committed", // the input may itself be transactional output
  onAssigned: (parts) =>
    log(
      `assigned ${names(parts)} from ${parts.map((p) => consumer.position(p.topic, p.partition)).join(" ")}`,
    ),
  onRevoked: (parts) => log(`revoked ${names(parts)}`),
  onLost: (parts) => log(`lost ${names(parts)}`),
});

const transform = (value: string | null) => (value ?? "").toUpperCase();
let processed = 0;

async function process(batch: ConsumerBatch, records: ConsumerRecord[]): Promise<boolean> {
  const last = records[records.length - 1];
  try {
    await producer.transaction(async (tx) => {
      await tx.send({
        topic: output,
        messages: records.map((r) => ({ key: r.key, value: transform(r.text()) })),
      });
      await tx.sendOffsets(consumer, [{
        topic: batch.topic,
        partition: batch.partition,
        offset: last.offset + 1n,
        leaderEpoch: last.leaderEpoch, // lets a later reader detect a truncated log (KIP-320)
      }]);
    });
    processed += records.length;
    log(
      `committed ${batch.topic}[${batch.partition}] ${
        records[0].offset
      }..${last.offset} (generation ${consumer.generationId})`,
    );
    return true;
  } catch (err) {
    if (!(err instanceof TransactionAbortedError)) throw err; // fenced or broken: stop
    // Nothing of these records counts: read them again from the first. Unless a rebalance took the
    // partition away meanwhile (the coordinator then refuses the offsets: they were handed out in an
    // older generation), when its new owner reads them from the group's committed offset.
    console.error(
      `aborted, retrying ${batch.topic}[${batch.partition}] from ${records[0].offset}:`,
      err.message,
    );
    const owned = consumer.assignment().some((p) =>
      p.topic === batch.topic && p.partition === batch.partition
    );
    if (owned) consumer.seek(batch.topic, batch.partition, records[0].offset);
    return false;
  }
}

const it = consumer.batches()[Symbol.asyncIterator]();
let next: Promise<IteratorResult<ConsumerBatch>> | null = null;
while (true) {
  // One next() at a time, kept across idle checks: never a batch fetched before an abort's seek.
  next ??= it.next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = idleExitMs > 0
    ? await Promise.race([next, new Promise<null>((r) => timer = setTimeout(() => r(null), idleExitMs))])
    : await next;
  clearTimeout(timer);
  if (result === null) {
    // Idle: exit, unless the group has not assigned us anything yet (keep waiting then).
    if (consumer.assignment().length === 0) continue;
    next.catch(() => {}); // the consumer's close() ends it
    break;
  }
  next = null;
  if (result.done) break;
  const batch = result.value;
  for (let i = 0; i < batch.records.length; i += perTransaction) {
    if (!await process(batch, batch.records.slice(i, i + perTransaction))) break;
  }
}
console.log(`exactly-once: processed ${processed} records`);
