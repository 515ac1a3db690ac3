/**
 * kafka-deno producer throughput, in one process:
 *
 *     deno task bench:produce            # 1,000,000 records per case
 *     BENCH_RECORDS=100000 deno task bench:produce
 *
 * Cases: 100 B and 1 KiB values × acks=1 and all × none and lz4, driven as a
 * throughput application would (1,000 records per `send()` call, at most 16
 * calls outstanding), plus single-record `send()` calls (100 B, acks=1 and
 * all, none; at most 10,000 calls outstanding). Each case writes a fresh
 * 6-partition topic, deleted afterwards. The rate runs from the first
 * `send()` until every record is acknowledged; MB/s counts value bytes
 * (10^6 bytes); peak RSS is the largest `Deno.memoryUsage().rss` sampled every
 * 20 ms during the case (the process is shared by all cases, so a case's peak
 * includes what earlier cases left behind).
 *
 * The producer runs with its defaults (`BENCH_LINGER_MS` sets lingerMs).
 *
 * Uses `KAFKA_BROKERS` when set, else starts (or reuses) the project's broker.
 *
 * @module
 */

import { connect } from "../mod.ts";
import * as kafka from "../scripts/kafka.ts";
import { type Job, payloadText } from "./contenders/common.ts";
import { produceWith } from "./contenders/deno_produce.ts";

const RECORDS = Number(Deno.env.get("BENCH_RECORDS") ?? 1_000_000);
// The producer's default unless BENCH_LINGER_MS is set.
const LINGER_MS = Deno.env.get("BENCH_LINGER_MS") === undefined
  ? undefined
  : Number(Deno.env.get("BENCH_LINGER_MS"));
if (!Number.isInteger(RECORDS) || RECORDS < 1) throw new Error(`BENCH_RECORDS must be a positive integer`);

interface ProduceCase {
  valueSize: number;
  acks: 1 | -1;
  codec: "none" | "lz4";
  chunk: number;
  maxOutstanding: number;
}

const cases: ProduceCase[] = [];
for (const valueSize of [100, 1024]) {
  for (const acks of [1, -1] as const) {
    for (const codec of ["none", "lz4"] as const) {
      cases.push({ valueSize, acks, codec, chunk: 1000, maxOutstanding: 16 });
    }
  }
}
for (const acks of [1, -1] as const) {
  cases.push({ valueSize: 100, acks, codec: "none", chunk: 1, maxOutstanding: 10_000 });
}

const external = kafka.brokersFromEnv();
const startedBroker = external ? false : await kafka.start({ quiet: true });
const brokers = external
  ? external.split(",").map((s) => s.trim())
  : [`${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`];
const enc = new TextEncoder();
const values = new Map<number, Uint8Array[]>();
for (const size of [100, 1024]) {
  values.set(
    size,
    Array.from({ length: 1000 }, (_, i) => enc.encode(payloadText(size, i))),
  );
}

const client = await connect({ brokers, clientId: "bench-produce" });
const admin = client.admin();
const runId = Date.now().toString(36);
console.log(
  `kafka-deno producer, ${RECORDS.toLocaleString("en-US")} records per case, brokers ${brokers.join(",")}`,
);
console.log(
  ["value", "acks", "codec", "records/send()", "records/s", "MB/s", "peak RSS MiB"].map((h, i) =>
    i < 3 ? h.padEnd(6) : h.padStart(14)
  ).join(" "),
);
try {
  let n = 0;
  for (const c of cases) {
    const topic = `bench-produce-${runId}-${++n}`;
    await admin.createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
    let peak = Deno.memoryUsage().rss;
    const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
    try {
      const job: Job = {
        brokers,
        topic,
        records: RECORDS,
        valueSize: c.valueSize,
        acks: c.acks,
        codec: c.codec,
        lingerMs: LINGER_MS,
        batchBytes: 64 * 1024,
        chunk: c.chunk,
        maxOutstanding: c.maxOutstanding,
      };
      const r = await produceWith(client, job, values.get(c.valueSize));
      peak = Math.max(peak, Deno.memoryUsage().rss);
      const rps = RECORDS / r.seconds!;
      console.log(
        [
          c.valueSize === 100 ? "100 B" : "1 KiB",
          c.acks === -1 ? "all" : "1",
          c.codec,
        ].map((s) => s.padEnd(6)).join(" ") + " " + [
          String(c.chunk),
          Math.round(rps).toLocaleString("en-US"),
          ((rps * c.valueSize) / 1e6).toFixed(1),
          (peak / 2 ** 20).toFixed(0),
        ].map((s) => s.padStart(14)).join(" "),
      );
    } finally {
      clearInterval(sampler);
      await admin.deleteTopics([topic], { ifExists: true, timeoutMs: 60_000 }).catch(() => {});
    }
  }
} finally {
  await client.close();
  if (startedBroker) await kafka.stop();
}
