/**
 * The producer over a slow network (issue 11, item 2, last target): through
 * the fault proxy with +200 ms each way in front of the local 3-node cluster,
 * 1,000 records/s offered for 20 s, one record per `send()`, open loop (sends
 * are scheduled at the offered rate, never waiting for acknowledgements).
 *
 *     deno task bench:proxy
 *     BENCH_RATE=1000 BENCH_SECONDS=20 BENCH_LATENCY_MS=200 deno task bench:proxy
 *
 * Reports the offered and achieved rates, p50/p99/max send-to-acknowledgement
 * latency, and the records per batch the producer made (read back from the
 * topic with the project's own Fetch and record-batch decoding). Starts (or
 * reuses) the cluster (`KAFKA_DENO_CLUSTER_PORT`); a background proxy left by
 * `deno task kafka start --nodes 3` is stopped, since this runs its own.
 * Producer options can be given as JSON in `BENCH_PRODUCER` (e.g.
 * `{"lingerMs":0}`). Not part of the test suite.
 *
 * @module
 */

import { connect } from "../mod.ts";
import { fetch as fetchApi } from "../protocol/apis/fetch.ts";
import { listOffsets } from "../protocol/apis/list_offsets.ts";
import { decodeRecordBatches } from "../protocol/record_batch.ts";
import * as cluster from "../scripts/kafka_cluster.ts";

const RATE = Number(Deno.env.get("BENCH_RATE") ?? 1000);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 20);
const LATENCY_MS = Number(Deno.env.get("BENCH_LATENCY_MS") ?? 200);
const PARTITIONS = 6;
const VALUE_BYTES = 100;
/** The longest the bench waits for the last acknowledgement after the offered window. */
const DRAIN_LIMIT_MS = 600_000;
const producerOptions = JSON.parse(Deno.env.get("BENCH_PRODUCER") ?? "{}");

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await cluster.startCluster({ quiet: true });
if (await cluster.stopBackgroundProxy()) {
  console.error("bench: stopped the background proxy (this runs its own)");
}
const proxy = await cluster.startClusterProxy();
const direct = await connect({ brokers: cluster.directBootstrap(), clientId: "bench-proxy-direct" });
const topic = `bench-proxy-${crypto.randomUUID().slice(0, 8)}`;
await direct.admin().createTopics([{ topic, partitions: PARTITIONS }]);
await direct.metadata({ topics: [topic] });

const client = await connect({ brokers: cluster.proxyBootstrap(), clientId: "bench-proxy" });
const producer = client.producer(producerOptions);
// Warm up before the latency goes on: connections, metadata, producer id.
await producer.send({ topic, messages: [{ key: "warm-up", value: "x" }] });
proxy.setFaults({ latencyMs: LATENCY_MS });

const value = "v".repeat(VALUE_BYTES);
const total = Math.round(RATE * SECONDS);
const latencies: number[] = [];
let rejected = 0;
let ackedInWindow = 0;
const sends: Promise<void>[] = [];
const began = performance.now();
const windowEnd = began + SECONDS * 1000;
let lastAck = began;
const TICK_MS = 10;
for (let sent = 0, tick = 0; sent < total; tick++) {
  const due = began + tick * TICK_MS;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const target = Math.min(total, Math.round(((performance.now() - began) / 1000) * RATE) + 1);
  for (; sent < target; sent++) {
    const t0 = performance.now();
    sends.push(
      producer.send({ topic, messages: [{ key: `k${sent % 1000}`, value }] }).then(() => {
        const now = performance.now();
        latencies.push(now - t0);
        if (now <= windowEnd) ackedInWindow++;
        lastAck = now;
      }, () => {
        rejected++;
      }),
    );
  }
}
const offeredMs = performance.now() - began;
const drained = await Promise.race([
  Promise.all(sends).then(() => true),
  sleep(DRAIN_LIMIT_MS).then(() => false),
]);
proxy.setFaults({ latencyMs: 0 });
await producer.close();
await client.close();
await proxy.close();

// Read the batches back straight from the brokers.
let batches = 0;
let records = 0;
const perBatch: number[] = [];
await direct.cluster.refreshMetadata([topic]);
const info = await direct.cluster.readyTopic(topic);
for (const p of info.partitions) {
  const conn = await direct.cluster.connectionTo(p.leader);
  const lo = await conn.request(listOffsets, {
    topics: [{ name: topic, partitions: [{ partitionIndex: p.partition, timestamp: -1n }] }],
    timeoutMs: 10_000,
  });
  const end = lo.topics[0].partitions[0].offset;
  let offset = 0n;
  for (let rounds = 0; offset < end && rounds < 100_000; rounds++) {
    const res = await conn.request(fetchApi, {
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 8 << 20,
      isolationLevel: 0,
      topics: [{
        topic,
        topicId: info.topicId,
        partitions: [{ partition: p.partition, fetchOffset: offset, partitionMaxBytes: 4 << 20 }],
      }],
    });
    const pd = res.responses[0]?.partitions[0];
    if (!pd || pd.errorCode) throw new Error(`Fetch ${topic}[${p.partition}] failed (${pd?.errorCode})`);
    const decoded = pd.records ? decodeRecordBatches(pd.records, { topic, partition: p.partition }) : [];
    for (const b of decoded) {
      if (b.lastOffset < offset) continue;
      batches++;
      records += b.records.length;
      perBatch.push(b.records.length);
      offset = b.lastOffset + 1n;
    }
    if (decoded.length === 0) await sleep(50);
  }
}
await direct.admin().deleteTopics([topic]);
await direct.close();

latencies.sort((a, b) => a - b);
perBatch.sort((a, b) => a - b);
const summary = {
  bench: "proxy_latency",
  latencyEachWayMs: LATENCY_MS,
  producerOptions,
  offeredRecords: total,
  offeredPerSec: Math.round(total / (offeredMs / 1000)),
  achievedInWindowPerSec: Math.round(ackedInWindow / SECONDS),
  achievedOverallPerSec: Math.round(latencies.length / ((lastAck - began) / 1000)),
  acked: latencies.length,
  rejected,
  drained,
  p50Ms: Math.round(quantile(latencies, 0.5)),
  p99Ms: Math.round(quantile(latencies, 0.99)),
  maxMs: Math.round(latencies[latencies.length - 1] ?? NaN),
  batches,
  recordsPerBatchAvg: Number((records / Math.max(1, batches)).toFixed(1)),
  recordsPerBatchP50: quantile(perBatch, 0.5),
  recordsPerBatchMax: perBatch[perBatch.length - 1] ?? 0,
  // The warm-up record is one batch of one.
  recordsRead: records,
};
console.log(
  `offered ${summary.offeredPerSec} records/s for ${SECONDS} s through +${LATENCY_MS} ms each way; ` +
    `achieved ${summary.achievedInWindowPerSec}/s within the window, ${summary.achievedOverallPerSec}/s until the last ack; ` +
    `send-to-ack p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms, max ${summary.maxMs} ms; ` +
    `${batches} batches, ${summary.recordsPerBatchAvg} records per batch on average (p50 ${summary.recordsPerBatchP50}, max ${summary.recordsPerBatchMax})`,
);
console.log(`BENCH ${JSON.stringify(summary)}`);
Deno.exit(drained && rejected === 0 ? 0 : 1);
