/**
 * kafka-deno end-to-end latency contender: one process produces at a fixed
 * rate (one record per `send()` call, the call time carried in the value as a
 * float64 of epoch milliseconds) and consumes the same topic in a group; the
 * latency of a record is its delivery time minus the carried time.
 *
 * Before the timed part, warm-up records (marked in byte 8) are sent every
 * 100 ms until one comes back, so the group has joined and connections exist.
 *
 * @module
 */

import { type Client, connect } from "../../mod.ts";
import { type Job, main, nowMs, percentiles, type Result } from "./common.ts";
import { NO_CONSUMER, openConsumer } from "./deno_consume.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the fixed-rate latency test with an existing client.
 *
 * @param client A connected client.
 * @param job Topic, rate, duration, value size, acks, codec, linger.
 */
export async function latencyWith(client: Client, job: Job): Promise<Result> {
  const rate = job.rate ?? 5000;
  const total = Math.round(rate * (job.durationS ?? 30));
  const consumer = openConsumer(client, job.groupId ?? `bench-lat-${Date.now()}`, job.topic);
  if (!consumer) return { ok: false, reason: NO_CONSUMER };
  const producer = client.producer({
    acks: job.acks === -1 ? "all" : 1,
    lingerMs: job.lingerMs,
    batchBytes: job.batchBytes,
    compression: job.codec as "none",
  });
  const lat = new Float64Array(total);
  let received = 0;
  let warmedUp = false;
  let stop = false;
  const reader = (async () => {
    for await (const batch of consumer.batches()) {
      const t = nowMs();
      for (const r of batch) {
        const v = r.value;
        if (!v || v.length < 9) continue;
        if (v[8] === 1) {
          warmedUp = true;
          continue;
        }
        if (received < total) lat[received++] = t - new DataView(v.buffer, v.byteOffset, 8).getFloat64(0);
      }
      if (received >= total || stop) break;
    }
  })();
  const value = (warm: boolean) => {
    const v = new Uint8Array(Math.max(9, job.valueSize)).fill(120);
    new DataView(v.buffer).setFloat64(0, nowMs());
    v[8] = warm ? 1 : 0;
    return v;
  };
  let failure: unknown = null;
  try {
    for (let i = 0; i < 300 && !warmedUp; i++) {
      producer.send({ topic: job.topic, messages: [{ value: value(true) }] }).catch((e) => failure ??= e);
      await sleep(100);
    }
    if (!warmedUp) return { ok: false, reason: "no warm-up record came back within 30 s" };
    let sent = 0;
    const t0 = performance.now();
    while (sent < total && failure === null) {
      const due = Math.min(total, Math.floor((performance.now() - t0) * rate / 1000));
      while (sent < due) {
        producer.send({ topic: job.topic, messages: [{ value: value(false) }] }).catch((e) => failure ??= e);
        sent++;
      }
      await sleep(1);
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    const deadline = Date.now() + 30_000;
    while (received < total && Date.now() < deadline && failure === null) await sleep(10);
    stop = true;
    if (failure !== null) throw failure;
    if (received < total) return { ok: false, reason: `only ${received} of ${total} records came back` };
    return {
      ok: true,
      records: total,
      bytes: total * job.valueSize,
      seconds: sendSeconds,
      achievedRate: sent / sendSeconds,
      latency: percentiles(lat, received),
    };
  } finally {
    stop = true;
    await producer.close().catch(() => {});
    await consumer.close().catch(() => {});
    await Promise.race([reader.catch(() => {}), sleep(5_000)]);
  }
}

if (import.meta.main) {
  await main(async (job) => {
    await using client = await connect({ brokers: job.brokers, clientId: "bench-deno" });
    return await latencyWith(client, job);
  });
}
