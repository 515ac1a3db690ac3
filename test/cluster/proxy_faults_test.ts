// Issue 11, item 7, third bullet: a producer (open loop, one record per send())
// and a group consumer work through the fault proxy while it injects one fault:
// connection resets every 3 s, a 20 s black hole, a half-close, +200 ms each
// way. No acknowledged record may be lost or stored twice (Kafka's Java console
// consumer checks the topic straight from the brokers), the consumer must see
// every one, no call may outlive its timeout, and the process's RSS stays
// bounded (sampled, reported).
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import type { FaultProxy } from "../../scripts/fault_proxy.ts";
import { uniqueName } from "../_broker.ts";
import {
  type AckedRecord,
  cluster,
  createTopic,
  directClient,
  ensureHealthy,
  errorType,
  javaReadAll,
  localCluster,
  result,
  sleep,
  verify,
} from "./_cluster.ts";

const PARTITIONS = 6;
/** Records offered per second, in ticks of 50 ms. */
const RATE = 200;
/** The producer's default delivery timeout: no send() may take longer (plus scheduling slack). */
const DELIVERY_TIMEOUT_MS = 120_000;
const CLOSE_TIMEOUT_MS = 30_000;
const SLACK_MS = 3_000;
/** The RSS bound asserted (the process holds a few thousand records; the bound catches runaway buffering). */
const RSS_BOUND_MIB = 1024;

function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : -1;
}

interface Scenario {
  name: string;
  /** How long the producer offers records. */
  produceMs: number;
  /** Applies the fault; runs while producing. */
  fault: (proxy: FaultProxy) => Promise<void>;
}

async function underFault(s: Scenario): Promise<void> {
  const env = localCluster();
  await ensureHealthy(env);
  const topic = uniqueName("proxy-faults");
  const groupId = uniqueName("proxy-faults-group");
  await createTopic(env, topic, PARTITIONS);
  await using proxy = await cluster.startClusterProxy();

  let peakRss = rssMiB();
  const sampler = setInterval(() => peakRss = Math.max(peakRss, rssMiB()), 250);
  const producerClient = await connect({ brokers: env.proxy, clientId: "proxy-faults-producer" });
  const consumerClient = await connect({ brokers: env.proxy, clientId: "proxy-faults-consumer" });
  const producer = producerClient.producer();
  const consumer = consumerClient.consumer({ groupId, topics: [topic], fromBeginning: true });
  const acked: AckedRecord[] = [];
  const rejected: Record<string, number> = {};
  const seen = new Map<string, number>();
  const sends: Promise<void>[] = [];
  let maxSendMs = 0;
  let lastAck = performance.now();
  let maxAckGapMs = 0;
  let outstanding = 0;
  const consumerErrors: string[] = [];
  const consuming = (async () => {
    try {
      for await (const r of consumer) {
        const v = r.value === null ? "" : new TextDecoder().decode(r.value);
        seen.set(v, (seen.get(v) ?? 0) + 1);
      }
    } catch (err) {
      consumerErrors.push(`${errorType(err)}: ${(err as Error).message}`);
    }
  })();
  let closeMs = 0;
  try {
    const seqs = new Int32Array(50);
    const faulting = s.fault(proxy);
    const began = performance.now();
    let n = 0;
    for (let tick = 0; performance.now() - began < s.produceMs && tick < 100_000; tick++) {
      const due = began + tick * 50;
      if (due > performance.now()) await sleep(due - performance.now());
      for (let j = 0; j < RATE / 20; j++, n++) {
        const key = `k${n % 50}`;
        const seq = seqs[n % 50]++;
        const value = `${key}:${seq}`;
        const sentAt = performance.now();
        outstanding++;
        sends.push(
          producer.send({ topic, messages: [{ key, value }] }).then(([m]) => {
            acked.push({ key, value, seq, partition: m.partition, offset: m.offset });
          }, (err) => {
            const t = errorType(err);
            rejected[t] = (rejected[t] ?? 0) + 1;
          }).finally(() => {
            const now = performance.now();
            outstanding--;
            maxSendMs = Math.max(maxSendMs, now - sentAt);
            maxAckGapMs = Math.max(maxAckGapMs, now - lastAck);
            lastAck = now;
          }),
        );
      }
      // While nothing is outstanding, time without acks is not a stall.
      if (outstanding === 0) lastAck = performance.now();
    }
    await faulting;
    proxy.clear();
    await Promise.all(sends);
    await producer.close();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && acked.some((a) => !seen.has(a.value))) await sleep(250);
  } finally {
    proxy.clear();
    const t0 = performance.now();
    await consumer.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch((err) =>
      consumerErrors.push(`close: ${errorType(err)}`)
    );
    closeMs = performance.now() - t0;
    await consuming;
    await Promise.allSettled(sends);
    await producerClient.close();
    await consumerClient.close();
    clearInterval(sampler);
  }
  const stored = await javaReadAll(env, topic);
  const verdict = verify(acked, stored);
  const planted = verify(
    [...acked, { key: "k0", value: "k0:planted", seq: 1e9, partition: 0, offset: 0n }],
    stored,
  );
  const missed = acked.filter((a) => !seen.has(a.value)).length;
  const plantedMissed = [...acked, { value: "k0:planted" }].filter((a) => !seen.has(a.value)).length;
  const stats = proxy.stats();
  result({
    scenario: `proxy: ${s.name}`,
    sent: sends.length,
    acked: acked.length,
    lost: verdict.lost,
    duplicated: verdict.duplicated,
    reordered: verdict.reordered,
    misplaced: verdict.misplaced,
    rejected,
    consumed: seen.size,
    missedByConsumer: missed,
    redelivered: [...seen.values()].reduce((a, c) => a + c - 1, 0),
    resumeMs: Math.round(maxAckGapMs),
    maxSendMs: Math.round(maxSendMs),
    consumerCloseMs: Math.round(closeMs),
    proxyResets: stats.resets,
    proxyConnections: stats.accepted,
    peakRssMiB: Math.round(peakRss),
  });
  assert.equal(planted.lost, verdict.lost + 1, "the topic verifier reports a planted missing record");
  assert.equal(plantedMissed, missed + 1, "the consumed-set check reports a planted missing record");
  assert.deepEqual(rejected, {}, "no send() rejected (every fault is shorter than the delivery timeout)");
  assert.equal(acked.length, sends.length);
  assert.deepEqual(
    {
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      reordered: verdict.reordered,
      misplaced: verdict.misplaced,
    },
    { lost: 0, duplicated: 0, reordered: 0, misplaced: 0 },
    verdict.examples.join("\n"),
  );
  assert.equal(stored.length, acked.length, "the topic holds each acknowledged record once");
  assert.equal(missed, 0, "the consumer saw every acknowledged record");
  assert.deepEqual(consumerErrors, []);
  assert.ok(maxSendMs <= DELIVERY_TIMEOUT_MS + SLACK_MS, `a send() took ${maxSendMs} ms`);
  assert.ok(closeMs <= CLOSE_TIMEOUT_MS + SLACK_MS, `consumer.close() took ${closeMs} ms`);
  assert.ok(peakRss < RSS_BOUND_MIB, `peak RSS ${peakRss} MiB`);

  const admin = await directClient(env);
  try {
    await admin.admin().deleteTopics([topic]);
  } finally {
    await admin.close();
  }
}

const opts = { sanitizeOps: false }; // cut connections close on their own schedule

Deno.test("cluster proxy: connections reset every 3 s: no loss, no duplicate", opts, () =>
  underFault({
    name: "reset every 3 s",
    produceMs: 10_000,
    fault: (proxy) => {
      proxy.setFaults({ resetEveryMs: 3000 });
      return Promise.resolve();
    },
  }));

Deno.test("cluster proxy: a 20 s black hole: no loss, no duplicate", opts, () =>
  underFault({
    name: "20 s black hole",
    produceMs: 26_000,
    fault: async (proxy) => {
      await sleep(3000);
      proxy.blackHole(20_000);
      await sleep(20_000);
    },
  }));

Deno.test("cluster proxy: half-closed connections: no loss, no duplicate", opts, () =>
  underFault({
    name: "half-close (to client, then to broker)",
    produceMs: 12_000,
    fault: async (proxy) => {
      await sleep(3000);
      proxy.halfClose("toClient");
      await sleep(5000);
      proxy.halfClose("toBroker");
    },
  }));

Deno.test("cluster proxy: +200 ms each way: no loss, no duplicate", opts, () =>
  underFault({
    name: "+200 ms latency each way",
    produceMs: 10_000,
    fault: (proxy) => {
      proxy.setFaults({ latencyMs: 200 });
      return Promise.resolve();
    },
  }));
