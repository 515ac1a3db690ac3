/**
 * kafka-deno producer contender: sends `records` values of `valueSize` bytes
 * to a topic, `chunk` records per `send()` call with at most `maxOutstanding`
 * calls outstanding, and reports the rate from the first `send()` until every
 * record is acknowledged. Run by `bench/run.ts` as a child process, and used
 * in-process by `bench/produce.ts`.
 *
 * @module
 */

import { type Client, connect, type ProducerMessage } from "../../mod.ts";
import { type Job, loadPayloads, main, percentiles, type Result, windowed } from "./common.ts";

/**
 * Produces `job.records` records with an existing client and measures the rate.
 *
 * @param client A connected client.
 * @param job What to send and how.
 * @param values Values to cycle through; read from `job.payloadFile` when omitted.
 */
export async function produceWith(client: Client, job: Job, values?: Uint8Array[]): Promise<Result> {
  const payloads = values ?? await loadPayloads(job.payloadFile, job.valueSize);
  const producer = client.producer({
    acks: job.acks === -1 ? "all" : 1,
    lingerMs: job.lingerMs,
    batchBytes: job.batchBytes,
    compression: job.codec as "none",
  });
  try {
    const chunk = Math.max(1, job.chunk);
    const calls = Math.ceil(job.records / chunk);
    // Messages are built per call, as an application would; payload bytes are shared.
    const t0 = performance.now();
    await windowed(calls, job.maxOutstanding, (c) => {
      const first = c * chunk;
      const n = Math.min(chunk, job.records - first);
      const messages: ProducerMessage[] = new Array(n);
      for (let i = 0; i < n; i++) messages[i] = { value: payloads[(first + i) % payloads.length] };
      return producer.send({ topic: job.topic, messages });
    });
    const seconds = (performance.now() - t0) / 1000;
    return { ok: true, records: job.records, bytes: job.records * job.valueSize, seconds };
  } finally {
    await producer.close();
  }
}

/**
 * Awaited mode: one `send()` call of `job.chunk` records at a time, each
 * awaited before the next, as an application without concurrency writes it.
 * Reports the rate and the latency of each call.
 *
 * @param client A connected client.
 * @param job Topic, records, chunk, acks, codec, linger (undefined: the default).
 * @param values Payloads to cycle through (else loaded from `job.payloadFile`).
 */
export async function awaitedWith(client: Client, job: Job, values?: Uint8Array[]): Promise<Result> {
  const payloads = values ?? await loadPayloads(job.payloadFile, job.valueSize);
  const producer = client.producer({
    acks: job.acks === -1 ? "all" : 1,
    lingerMs: job.lingerMs,
    batchBytes: job.batchBytes,
    compression: job.codec as "none",
  });
  try {
    const chunk = Math.max(1, job.chunk);
    const calls = Math.ceil(job.records / chunk);
    const lat = new Float64Array(calls);
    // A short warm-up (connections, metadata, producer id), not counted.
    for (let i = 0; i < 20; i++) {
      await producer.send({ topic: job.topic, messages: [{ value: payloads[i] }] });
    }
    const t0 = performance.now();
    for (let c = 0; c < calls; c++) {
      const first = c * chunk;
      const n = Math.min(chunk, job.records - first);
      const messages: ProducerMessage[] = new Array(n);
      for (let i = 0; i < n; i++) messages[i] = { value: payloads[(first + i) % payloads.length] };
      const t = performance.now();
      await producer.send({ topic: job.topic, messages });
      lat[c] = performance.now() - t;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      ok: true,
      records: job.records,
      bytes: job.records * job.valueSize,
      seconds,
      latency: percentiles(lat, calls),
    };
  } finally {
    await producer.close();
  }
}

if (import.meta.main) {
  await main(async (job) => {
    await using client = await connect({ brokers: job.brokers, clientId: "bench-deno" });
    return job.awaited ? await awaitedWith(client, job) : await produceWith(client, job);
  });
}
