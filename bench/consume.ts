/**
 * kafka-deno consumer throughput:
 *
 *     deno task bench:consume            # 1,000,000 records per case
 *     BENCH_RECORDS=100000 deno task bench:consume
 *
 * Pre-produces `BENCH_RECORDS` records of 100 B and of 1 KiB (no compression) into a fresh
 * 6-partition topic each, then, per case, starts a fresh child process that reads them all
 * in a new consumer group from the beginning, once with the record iterator
 * (`for await (const r of consumer)`) and once with `consumer.batches()`. The rate runs from
 * the first record received to the last (group join excluded); MB/s counts value bytes
 * (10^6 bytes); peak RSS is the child's high-water mark (`VmHWM`), so it includes Deno itself
 * (about 40-50 MiB) and nothing from the producing phase. Topics are deleted afterwards.
 *
 * Uses `KAFKA_BROKERS` when set, else starts (or reuses) the project's broker.
 *
 * @module
 */

import { connect } from "../mod.ts";
import * as kafka from "../scripts/kafka.ts";

const RECORDS = Number(Deno.env.get("BENCH_RECORDS") ?? 1_000_000);
if (!Number.isInteger(RECORDS) || RECORDS < 1) throw new Error(`BENCH_RECORDS must be a positive integer`);

interface ChildResult {
  records: number;
  bytes: number;
  seconds: number;
  peakRssBytes: number;
}

/** The child: drains `records` records of `topic` and prints one JSON line. */
async function child(brokers: string[], topic: string, records: number, mode: string): Promise<void> {
  const client = await connect({ brokers, clientId: "bench-consume" });
  const consumer = client.consumer({
    groupId: `bench-${crypto.randomUUID()}`,
    topics: [topic],
    fromBeginning: true,
  });
  let count = 0;
  let bytes = 0;
  let first = 0;
  const timer = setTimeout(() => consumer.close().catch(() => {}), 600_000);
  try {
    if (mode === "records") {
      for await (const r of consumer) {
        if (count === 0) first = performance.now();
        bytes += r.value?.length ?? 0;
        if (++count >= records) break;
      }
    } else {
      for await (const batch of consumer.batches()) {
        if (count === 0) first = performance.now();
        for (const r of batch.records) bytes += r.value?.length ?? 0;
        count += batch.records.length;
        if (count >= records) break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - first) / 1000;
  await client.close();
  const status = await Deno.readTextFile("/proc/self/status");
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  const result: ChildResult = { records: count, bytes, seconds, peakRssBytes: hwm };
  console.log(JSON.stringify(result));
}

async function runChild(brokers: string[], topic: string, mode: string): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--child",
      brokers.join(","),
      topic,
      String(RECORDS),
      mode,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`The consume child failed with code ${out.code}`);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  return JSON.parse(text);
}

async function produce(brokers: string[], topic: string, size: number): Promise<void> {
  await using client = await connect({ brokers, clientId: "bench-consume-producer" });
  await using producer = client.producer({ acks: 1, lingerMs: 5, batchBytes: 256 * 1024 });
  const values = Array.from(
    { length: 1000 },
    (_, i) => new TextEncoder().encode(String(i).padEnd(size, "x")),
  );
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS; i += 1000) {
    const n = Math.min(1000, RECORDS - i);
    pending.push(producer.send({ topic, messages: values.slice(0, n).map((value) => ({ value })) }));
    if (pending.length >= 16) await pending.shift();
  }
  await Promise.all(pending);
}

async function main(): Promise<void> {
  const external = kafka.brokersFromEnv();
  const startedBroker = external ? false : await kafka.start({ quiet: true });
  const brokers = external
    ? external.split(",").map((s) => s.trim())
    : [`${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`];
  const client = await connect({ brokers, clientId: "bench-consume" });
  const admin = client.admin();
  const runId = Date.now().toString(36);
  console.log(
    `kafka-deno consumer, ${RECORDS.toLocaleString("en-US")} records per case, 6 partitions, brokers ${
      brokers.join(",")
    }`,
  );
  console.log(
    ["value", "iterator", "records/s", "MB/s", "peak RSS MiB"].map((h, i) =>
      i < 2 ? h.padEnd(8) : h.padStart(12)
    )
      .join(" "),
  );
  try {
    for (const size of [100, 1024]) {
      const topic = `bench-consume-${runId}-${size}`;
      await admin.createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
      try {
        await produce(brokers, topic, size);
        for (const mode of ["records", "batches"]) {
          const r = await runChild(brokers, topic, mode);
          const rps = r.records / r.seconds;
          console.log(
            [size === 100 ? "100 B" : "1 KiB", mode].map((s) => s.padEnd(8)).join(" ") + " " + [
              Math.round(rps).toLocaleString("en-US"),
              (r.bytes / r.seconds / 1e6).toFixed(1),
              (r.peakRssBytes / 2 ** 20).toFixed(0),
            ].map((s) => s.padStart(12)).join(" "),
          );
        }
      } finally {
        await admin.deleteTopics([topic], { ifExists: true, timeoutMs: 60_000 }).catch(() => {});
      }
    }
  } finally {
    await client.close();
    if (startedBroker) await kafka.stop();
  }
}

if (Deno.args[0] === "--child") {
  await child(Deno.args[1].split(","), Deno.args[2], Number(Deno.args[3]), Deno.args[4]);
} else {
  await main();
}
