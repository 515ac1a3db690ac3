// @platformatic/kafka contender of bench/run.ts: node platformatic.mjs produce|consume|latency '<job json>'.
// Configured per its README and types: producer.send() with many messages per call (each call is sent as
// it comes; send() has no linger or batch-size setting), Buffer values (the default
// no-op serialisers), and consumer.consume() in EARLIEST mode read through 'data' events.
// Idempotence stays off (its default): see producerFor().
// zstd uses node:zlib's zstd, which Node 20 lacks.
import { Consumer, MessagesStreamModes, Producer } from "@platformatic/kafka";
import zlib from "node:zlib";
import { awaitedLoop, latencyLoop, latencyState, loadPayloads, nowMs, run, windowed } from "./common.mjs";

function producerFor(job) {
  return new Producer({
    clientId: "bench-platformatic",
    bootstrapBrokers: job.brokers,
    acks: job.acks,
    // Its default, non-idempotent: with idempotent: true, concurrent send() calls fail with
    // OUT_OF_ORDER_SEQUENCE_NUMBER (seen with 1.35.0), and a throughput user sends concurrently.
    compression: job.codec,
    autocreateTopics: false,
  });
}

function unsupported(job) {
  if (job.codec === "zstd" && typeof zlib.zstdCompressSync !== "function") {
    return {
      ok: false,
      reason: `n/a (zstd needs node:zlib zstd; Node ${process.versions.node} lacks it)`,
    };
  }
  return null;
}

async function produce(job) {
  const na = unsupported(job);
  if (na) return na;
  const payloads = loadPayloads(job.payloadFile, job.valueSize);
  const producer = producerFor(job);
  try {
    const calls = Math.ceil(job.records / job.chunk);
    const t0 = performance.now();
    await windowed(calls, job.maxOutstanding, (c) => {
      const first = c * job.chunk;
      const n = Math.min(job.chunk, job.records - first);
      const messages = new Array(n);
      for (let i = 0; i < n; i++) {
        messages[i] = {
          topic: job.topic,
          value: payloads[(first + i) % payloads.length],
        };
      }
      return producer.send({ messages });
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      ok: true,
      records: job.records,
      bytes: job.records * job.valueSize,
      seconds,
    };
  } finally {
    await producer.close();
  }
}

async function awaited(job) {
  const payloads = loadPayloads(job.payloadFile, job.valueSize);
  const producer = producerFor(job);
  try {
    return await awaitedLoop(
      job,
      (i) => ({ topic: job.topic, value: payloads[i % payloads.length] }),
      (messages) => producer.send({ messages }),
    );
  } finally {
    await producer.close();
  }
}

async function consume(job) {
  const consumer = new Consumer({
    groupId: job.groupId,
    clientId: "bench-platformatic",
    bootstrapBrokers: job.brokers,
  });
  const stream = await consumer.consume({
    topics: [job.topic],
    mode: MessagesStreamModes.EARLIEST,
  });
  let count = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  stream.on("data", (message) => {
    if (count === 0) first = performance.now();
    bytes += message.value?.length ?? 0;
    count++;
    if (count === job.records) {
      last = performance.now();
      finish();
    }
  });
  stream.on("error", (e) => {
    console.error(e);
    finish();
  });
  const timer = setTimeout(finish, 600_000);
  await done;
  clearTimeout(timer);
  await stream.close();
  await consumer.close(true);
  if (count < job.records) {
    return {
      ok: false,
      reason: `timed out after ${count} of ${job.records} records`,
    };
  }
  return { ok: true, records: count, bytes, seconds: (last - first) / 1000 };
}

async function latency(job) {
  const na = unsupported(job);
  if (na) return na;
  const state = latencyState(job);
  const consumer = new Consumer({
    groupId: job.groupId,
    clientId: "bench-platformatic",
    bootstrapBrokers: job.brokers,
  });
  const stream = await consumer.consume({
    topics: [job.topic],
    mode: MessagesStreamModes.EARLIEST,
  });
  stream.on("data", (message) => state.onValue(message.value, nowMs()));
  const producer = producerFor(job);
  try {
    return await latencyLoop(
      job,
      (value) => producer.send({ messages: [{ topic: job.topic, value }] }),
      state,
    );
  } finally {
    await producer.close();
    await stream.close();
    await consumer.close(true);
  }
}

await run({ produce, awaited, consume, latency });
