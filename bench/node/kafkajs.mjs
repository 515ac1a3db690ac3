// kafkajs contender of bench/run.ts: node kafkajs.mjs produce|consume|latency '<job json>'.
// Configured per the kafkajs docs: producer.send() with many messages per call (kafkajs batches per call;
// it has no linger or batch-size setting), consumer.run({ eachBatch }) for throughput.
// kafkajs ships only the GZIP codec; LZ4/Snappy/ZSTD need codec plugins, which are not installed here.
import kafkajs from "kafkajs";
import process from "node:process";
import { awaitedLoop, latencyLoop, latencyState, loadPayloads, nowMs, run, windowed } from "./common.mjs";

const { Kafka, CompressionTypes, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };

function client(job) {
  return new Kafka({
    clientId: "bench-kafkajs",
    brokers: job.brokers,
    logLevel: logLevel.ERROR,
  });
}

function codecOf(job) {
  const c = CODECS[job.codec];
  if (c === undefined) return null;
  return c;
}

async function produce(job) {
  const compression = codecOf(job);
  if (compression === null) {
    return { ok: false, reason: "n/a (codec plugin not bundled)" };
  }
  const payloads = loadPayloads(job.payloadFile, job.valueSize);
  const producer = client(job).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const calls = Math.ceil(job.records / job.chunk);
    const t0 = performance.now();
    await windowed(calls, job.maxOutstanding, (c) => {
      const first = c * job.chunk;
      const n = Math.min(job.chunk, job.records - first);
      const messages = new Array(n);
      for (let i = 0; i < n; i++) {
        messages[i] = { value: payloads[(first + i) % payloads.length] };
      }
      return producer.send({
        topic: job.topic,
        messages,
        acks: job.acks,
        compression,
      });
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      ok: true,
      records: job.records,
      bytes: job.records * job.valueSize,
      seconds,
    };
  } finally {
    await producer.disconnect();
  }
}

async function awaited(job) {
  const compression = codecOf(job);
  if (compression === null) return { ok: false, reason: "n/a (codec plugin not bundled)" };
  const payloads = loadPayloads(job.payloadFile, job.valueSize);
  const producer = client(job).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    return await awaitedLoop(
      job,
      (i) => ({ value: payloads[i % payloads.length] }),
      (messages) => producer.send({ topic: job.topic, messages, acks: job.acks, compression }),
    );
  } finally {
    await producer.disconnect();
  }
}

async function consume(job) {
  const consumer = client(job).consumer({ groupId: job.groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: job.topic, fromBeginning: true });
  let count = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  // Per record: eachMessage (awaited by kafkajs one message at a time); per batch: eachBatch.
  await consumer.run(
    job.perRecord
      ? {
        eachMessage: ({ message }) => {
          if (count === 0) first = performance.now();
          bytes += message.value?.length ?? 0;
          count++;
          if (count >= job.records && last === 0) {
            last = performance.now();
            finish();
          }
        },
      }
      : {
        eachBatch: ({ batch }) => {
          if (count === 0) first = performance.now();
          for (const m of batch.messages) bytes += m.value?.length ?? 0;
          count += batch.messages.length;
          if (count >= job.records && last === 0) {
            last = performance.now();
            finish();
          }
        },
      },
  );
  const timer = setTimeout(finish, 600_000);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  if (count < job.records) {
    return {
      ok: false,
      reason: `timed out after ${count} of ${job.records} records`,
    };
  }
  return { ok: true, records: count, bytes, seconds: (last - first) / 1000 };
}

async function latency(job) {
  const compression = codecOf(job);
  if (compression === null) {
    return { ok: false, reason: "n/a (codec plugin not bundled)" };
  }
  const kafka = client(job);
  const state = latencyState(job);
  const consumer = kafka.consumer({ groupId: job.groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: job.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => state.onValue(message.value, nowMs()),
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    return await latencyLoop(
      job,
      (value) =>
        producer.send({
          topic: job.topic,
          messages: [{ value }],
          acks: job.acks,
          compression,
        }),
      state,
    );
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
  }
}

await run({ produce, awaited, consume, latency });
