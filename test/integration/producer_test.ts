import assert from "node:assert/strict";
import { BrokerError, ClosedError, type RecordMetadata, TimeoutError } from "../../mod.ts";
import { fnv1aPartition, murmur2Partition } from "../../protocol/partitioners.ts";
import { fetch as fetchApi } from "../../protocol/apis/fetch.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import { deviates, requires, testClient, uniqueName } from "../_broker.ts";
import { endOffsets, readAll } from "../_read.ts";
import { javaTool, ok } from "../_tools.ts";
import { BROKERS } from "../_broker.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("100,000 keyed records land exactly once, in per-key order, where Java's partitioner puts them", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient();
  const ours = uniqueName("keyed");
  const java = uniqueName("keyed-java");
  await client.admin().createTopics([
    { topic: ours, partitions: 6, replicationFactor: 1 },
    { topic: java, partitions: 6, replicationFactor: 1 },
  ]);
  await using producer = client.producer();
  const KEYS = 2000;
  const N = 100_000;
  const sends: Promise<RecordMetadata[]>[] = [];
  for (let start = 0; start < N; start += 500) {
    const messages = [];
    for (let i = start; i < start + 500; i++) {
      messages.push({ key: `key-${i % KEYS}`, value: `${Math.floor(i / KEYS)}` });
    }
    sends.push(producer.send({ topic: ours, messages }));
  }
  const results = (await Promise.all(sends)).flat();
  assert.equal(results.length, N);
  const seen = new Set<string>();
  for (let i = 0; i < N; i++) {
    const r = results[i];
    assert.equal(r.partition, murmur2Partition(te.encode(`key-${i % KEYS}`), 6), `record ${i}`);
    assert.ok(r.offset >= 0n);
    const id = `${r.partition}/${r.offset}`;
    assert.ok(!seen.has(id), `offset ${id} reported twice`);
    seen.add(id);
  }

  // What the broker stored: every record once, each key's values in order.
  const stored = await readAll(client, ours);
  let total = 0;
  const keyPartition = new Map<string, number>();
  for (const [partition, records] of stored) {
    const last = new Map<string, number>();
    for (const r of records) {
      const key = td.decode(r.key!);
      const seq = Number(td.decode(r.value!));
      assert.equal(seq, (last.get(key) ?? -1) + 1, `${key} out of order in partition ${partition}`);
      last.set(key, seq);
      keyPartition.set(key, partition);
      total++;
    }
  }
  assert.equal(total, N);

  // Kafka's Java console producer places the same keys in the same partitions.
  const lines = Array.from({ length: KEYS }, (_, i) => `key-${i}:x`).join("\n") + "\n";
  ok(
    await javaTool("org.apache.kafka.tools.ConsoleProducer", [
      "--bootstrap-server",
      BROKERS.join(","),
      "--topic",
      java,
      "--property",
      "parse.key=true",
      "--property",
      "key.separator=:",
    ], { stdin: lines }),
    "ConsoleProducer",
  );
  const javaStored = await readAll(client, java);
  let javaTotal = 0;
  for (const [partition, records] of javaStored) {
    for (const r of records) {
      assert.equal(keyPartition.get(td.decode(r.key!)), partition, `Java put ${td.decode(r.key!)} elsewhere`);
      javaTotal++;
    }
  }
  assert.equal(javaTotal, KEYS);
  await client.admin().deleteTopics([ours, java]);
});

Deno.test("the sarama partitioner places keys by FNV-1a like the Go services", async () => {
  await using client = await testClient();
  const topic = uniqueName("sarama");
  await client.admin().createTopics([{ topic, partitions: 4, replicationFactor: 1 }]);
  await using producer = client.producer({ partitioner: "sarama" });
  const messages = Array.from({ length: 200 }, (_, i) => ({ key: `${i}`, value: "v" }));
  const res = await producer.send({ topic, messages });
  for (let i = 0; i < 200; i++) assert.equal(res[i].partition, fnv1aPartition(te.encode(`${i}`), 4));
});

Deno.test("keyless records stick to one partition per batch and move on between batches", async () => {
  await using client = await testClient();
  const topic = uniqueName("sticky");
  await client.admin().createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
  await using producer = client.producer({ lingerMs: 1 });
  const used = new Set<number>();
  for (let round = 0; round < 30; round++) {
    const res = await producer.send({ topic, messages: Array.from({ length: 20 }, () => ({ value: "x" })) });
    assert.equal(new Set(res.map((r) => r.partition)).size, 1, "one send() of small records shares a batch");
    used.add(res[0].partition);
  }
  assert.ok(used.size > 1, `30 batches all went to partition ${[...used]}`);
});

Deno.test("one send() of keyless records fills a batch per partition, each in a partition of its own", async () => {
  await using client = await testClient();
  const topic = uniqueName("sticky-fill");
  await client.admin().createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
  // 100 B values count 124 bytes each against batchBytes: 8 records fill a batch of 1,000.
  await using producer = client.producer({ batchBytes: 1000 });
  const value = new Uint8Array(100);
  for (let round = 0; round < 5; round++) {
    const res = await producer.send({ topic, messages: Array.from({ length: 40 }, () => ({ value })) });
    const runs: { partition: number; n: number }[] = [];
    for (const r of res) {
      const last = runs[runs.length - 1];
      if (last?.partition === r.partition) last.n++;
      else runs.push({ partition: r.partition, n: 1 });
    }
    // The record that overflows a batch starts the next partition's batch (not a batch of its
    // own in the full one), and no partition gets two batches of one send().
    assert.deepEqual(runs.map((x) => x.n), [8, 8, 8, 8, 8], JSON.stringify(runs));
    assert.equal(new Set(runs.map((x) => x.partition)).size, 5, JSON.stringify(runs));
  }
});

Deno.test("acks 0, 1 and all each deliver; flush() waits for everything sent before it", async (t) => {
  await using client = await testClient();
  for (const acks of [0, 1, "all"] as const) {
    await t.step(`acks=${acks}`, async () => {
      const topic = uniqueName(`acks${acks}`);
      await client.admin().createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
      await using producer = client.producer({ acks, lingerMs: 20 });
      // A new topic's partitions can still be loading on the broker for a moment after metadata
      // names their leaders; acks=0 gets no error back (the broker drops the connection), so warm
      // each partition up with an acknowledged write first.
      await using warm = client.producer({ acks: 1 });
      await warm.send({ topic, messages: [0, 1, 2].map((partition) => ({ value: "warm-up", partition })) });
      let settled = 0;
      const sends = Array.from(
        { length: 1000 },
        (_, i) =>
          producer.send({ topic, messages: [{ key: `${i}`, value: `${i}` }] }).then((r) => {
            settled++;
            return r;
          }),
      );
      await producer.flush();
      assert.equal(settled, 1000, "flush() resolved before every earlier send() settled");
      const res = (await Promise.all(sends)).flat();
      if (acks === 0) assert.ok(res.every((r) => r.offset === -1n));
      else assert.ok(res.every((r) => r.offset >= 0n));
      // acks=0 gets no answer: wait (bounded) for the broker to have appended everything.
      let count = 0n;
      for (let i = 0; i < 100; i++) {
        count = [...(await endOffsets(client, topic)).values()].reduce((a, b) => a + b, 0n);
        if (count >= 1003n) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(count, 1003n);
    });
  }
});

Deno.test("headers, null keys, null values and explicit partitions and timestamps are stored as sent", async () => {
  await using client = await testClient();
  const topic = uniqueName("fields");
  await client.admin().createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
  await using producer = client.producer();
  const ts = Date.UTC(2024, 0, 2, 3, 4, 5);
  await producer.send({
    topic,
    messages: [
      { key: null, value: "no key", partition: 1, timestamp: ts },
      {
        key: "k",
        value: null,
        partition: 1,
        headers: [["a", "1"], ["a", new Uint8Array([0, 255])], ["n", null]],
      },
      { key: new Uint8Array(0), value: new Uint8Array(0), partition: 1, timestamp: new Date(ts + 1) },
    ],
  });
  const [a, b, c] = (await readAll(client, topic)).get(1)!;
  assert.equal(a.key, null);
  assert.equal(td.decode(a.value!), "no key");
  assert.equal(a.timestamp, ts);
  assert.equal(b.value, null);
  assert.deepEqual(b.headers.map((h) => [h.key, h.value && [...h.value]]), [["a", [49]], ["a", [0, 255]], [
    "n",
    null,
  ]]);
  assert.deepEqual([c.key?.length, c.value?.length], [0, 0]);
  assert.equal(c.timestamp, ts + 1);
});

Deno.test("bad input gets a clear error and poisons nothing else", async (t) => {
  await using client = await testClient();
  const topic = uniqueName("bad");
  await client.admin().createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
  const producer = client.producer();
  const good = producer.send({ topic, messages: [{ value: "fine" }] });
  await t.step("invalid topic names", async () => {
    for (const name of ["", "a b", "x".repeat(250), ".", "..", "naïve"]) {
      await assert.rejects(() => producer.send({ topic: name, messages: [{ value: "v" }] }), TypeError);
    }
  });
  await t.step("a record larger than the maximum request size fails alone", async () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    const err = await producer.send({ topic, messages: [{ value: "ok" }, { value: big }] }).catch((e) => e);
    assert.ok(err instanceof BrokerError);
    assert.equal(err.type, "MESSAGE_TOO_LARGE");
    assert.match(err.message, /messages\[1\]/);
  });
  await t.step("a partition out of range", async () => {
    await assert.rejects(
      () => producer.send({ topic, messages: [{ value: "v", partition: 2 }] }),
      /out of range.*2 partitions/,
    );
    await assert.rejects(
      () => producer.send({ topic, messages: [{ value: "v", partition: -1 }] }),
      RangeError,
    );
  });
  await t.step(
    "a partitioner that throws or answers out of range fails that send() before anything is queued",
    async () => {
      await using bad = client.producer({
        partitioner: (key) => {
          if (key && td.decode(key) === "boom") throw new Error("no partition for boom");
          return key && td.decode(key) === "far" ? 9 : 0;
        },
      });
      await assert.rejects(
        () => bad.send({ topic, messages: [{ key: "ok", value: "a" }, { key: "boom", value: "b" }] }),
        /no partition for boom/,
      );
      await assert.rejects(() => bad.send({ topic, messages: [{ key: "far", value: "c" }] }), /returned 9/);
      assert.equal(bad.bufferedBytes, 0, "nothing of the failed calls is buffered");
      const [r] = await bad.send({ topic, messages: [{ key: "ok", value: "d" }] });
      assert.equal(r.partition, 0);
    },
  );
  await t.step("values of the wrong type", async () => {
    // deno-lint-ignore no-explicit-any
    await assert.rejects(() => producer.send({ topic, messages: [{ value: 42 as any }] }), TypeError);
  });
  await t.step("the producer still works and earlier sends succeed", async () => {
    assert.equal((await good)[0].offset >= 0n, true);
    const [r] = await producer.send({ topic, messages: [{ value: "after" }] });
    assert.ok(r.offset >= 0n);
  });
  await t.step("send() after close() is a ClosedError; close() is idempotent", async () => {
    await producer.close();
    await producer.close();
    await assert.rejects(() => producer.send({ topic, messages: [{ value: "late" }] }), ClosedError);
  });
  await t.step("invalid options are refused", () => {
    assert.throws(() => client.producer({ acks: 1, idempotent: true }), /Idempotence needs acks "all"/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => client.producer({ compression: "brotli" as any }), /Unknown compression/);
    assert.throws(() => client.producer({ lingerMs: -1 }), RangeError);
  });
});

Deno.test("a record over the topic's max.message.bytes fails alone; records batched with it land", async () => {
  await using client = await testClient();
  const topic = uniqueName("toolarge");
  await client.admin().createTopics([{
    topic,
    partitions: 1,
    replicationFactor: 1,
    configs: { "max.message.bytes": "3000" },
  }]);
  await using producer = client.producer({ lingerMs: 50 });
  // Three send() calls that share one batch; the middle record is larger than the topic allows.
  const [a, big, c] = await Promise.allSettled([
    producer.send({ topic, messages: [{ value: "small-1" }] }),
    producer.send({ topic, messages: [{ value: new Uint8Array(5000) }] }),
    producer.send({ topic, messages: [{ value: "small-2" }] }),
  ]);
  assert.equal(a.status, "fulfilled");
  assert.equal(c.status, "fulfilled");
  if (deviates("tansuTopicLimits")) {
    assert.equal(big.status, "fulfilled", "the broker stores the record over max.message.bytes");
    return;
  }
  assert.equal(big.status, "rejected");
  const err = (big as PromiseRejectedResult).reason;
  assert.ok(err instanceof BrokerError, String(err));
  assert.match(err.type, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
  assert.equal(err.context.topic, topic);
  const stored = (await readAll(client, topic)).get(0)!.map((r) => td.decode(r.value!));
  assert.deepEqual(stored, ["small-1", "small-2"]);
  // The producer goes on working afterwards.
  const [after] = await producer.send({ topic, messages: [{ value: "small-3" }] });
  assert.ok(after.offset >= 0n);
});

Deno.test("with compression, batchBytes bounds the compressed batch: well-compressing data fills larger batches", async () => {
  await using client = await testClient();
  const topic = uniqueName("ratio");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const info = await client.cluster.readyTopic(topic);
  await using producer = client.producer({ compression: "lz4", batchBytes: 16 * 1024, lingerMs: 50 });
  const value = te.encode("notification ".repeat(80)); // ~1 KiB that compresses well
  // Teach the producer the ratio with a few batches, then send a burst.
  for (let i = 0; i < 8; i++) {
    await producer.send({ topic, messages: Array.from({ length: 5 }, () => ({ value })) });
  }
  await producer.send({ topic, messages: Array.from({ length: 2000 }, () => ({ value })) });
  const conn = await client.cluster.connectionTo(info.partitions[0].leader);
  const res = await conn.request(fetchApi, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 8 << 20,
    topics: [{
      topic,
      topicId: info.topicId,
      partitions: [{ partition: 0, fetchOffset: 40n, partitionMaxBytes: 8 << 20 }],
    }],
  });
  const batches = decodeRecordBatches(res.responses[0].partitions[0].records!);
  // The ratio is learned over a few batches; the largest batch holds many times batchBytes of
  // uncompressed records while its compressed size stays near batchBytes.
  const largest = batches.reduce((a, b) => b.records.length > a.records.length ? b : a);
  assert.ok(
    largest.records.length * value.length > 4 * 16 * 1024,
    `largest batch: ${largest.records.length} records`,
  );
  for (const b of batches) {
    assert.ok(b.batchLength < 3 * 16 * 1024, `compressed batch of ${b.batchLength} bytes`);
  }
  assert.equal(batches.reduce((n, b) => n + b.records.length, 0), 2000);
});

Deno.test("a full buffer makes send() wait instead of growing memory", async () => {
  await using client = await testClient();
  const topic = uniqueName("buffer");
  await client.admin().createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
  const bufferBytes = 256 * 1024;
  await using producer = client.producer({ bufferBytes, batchBytes: 32 * 1024 });
  const value = new Uint8Array(1000);
  let peak = 0;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < 3000; i++) {
    sends.push(producer.send({ topic, messages: [{ value }] }));
    peak = Math.max(peak, producer.bufferedBytes);
  }
  const sampler = setInterval(() => peak = Math.max(peak, producer.bufferedBytes), 1);
  try {
    await Promise.all(sends);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(peak <= bufferBytes, `buffered ${peak} bytes with bufferBytes ${bufferBytes}`);
  const total = [...(await endOffsets(client, topic)).values()].reduce((a, b) => a + b, 0n);
  assert.equal(total, 3000n);
});

Deno.test("admin createTopics reports existing topics when asked and deleteTopics removes them", async () => {
  await using client = await testClient();
  const topic = uniqueName("admin");
  const admin = client.admin();
  const [created] = await admin.createTopics([{
    topic,
    partitions: 3,
    replicationFactor: 1,
    configs: { "retention.ms": "3600000" },
  }]);
  assert.equal(created.created, true);
  const md = await client.metadata({ topics: [topic] });
  assert.equal(md.topics[0].partitions.length, 3);
  const [again] = await admin.createTopics([{ topic, partitions: 3 }], { ifNotExists: true });
  assert.deepEqual([again.created, again.topicId], [false, created.topicId]);
  await assert.rejects(() => admin.createTopics([{ topic, partitions: 3 }]), {
    type: "TOPIC_ALREADY_EXISTS",
  });
  // More replicas than the cluster has brokers.
  const replicationFactor = md.brokers.length + 1;
  if (deviates("tansuTopicLimits")) {
    const name = uniqueName("x");
    const [made] = await admin.createTopics([{ topic: name, partitions: 1, replicationFactor }]);
    assert.equal(made.created, true, "the broker creates it with more replicas than brokers");
    await admin.deleteTopics([name, topic]);
    return;
  }
  await assert.rejects(
    () => admin.createTopics([{ topic: uniqueName("x"), partitions: 1, replicationFactor }]),
    {
      type: "INVALID_REPLICATION_FACTOR",
    },
  );
  await admin.deleteTopics([topic]);
  const after = await client.cluster.fetchMetadata([topic], false);
  assert.equal(after.topics[0].errorCode, 3, "UNKNOWN_TOPIC_OR_PARTITION after deletion");
  await admin.deleteTopics([topic], { ifExists: true });
  await assert.rejects(() => admin.deleteTopics([topic]), { type: "UNKNOWN_TOPIC_OR_PARTITION" });
});

Deno.test("send() to a missing topic that the broker does not create rejects within deliveryTimeoutMs, naming the topic", async () => {
  // A client that asks the broker not to create topics (allowAutoTopicCreation false in Metadata) sees
  // the topic stay missing, whatever the broker's auto.create.topics.enable says.
  await using client = await testClient({ allowAutoTopicCreation: false });
  const topic = uniqueName("missing");
  await using producer = client.producer({ deliveryTimeoutMs: 2_000 });
  const t0 = Date.now();
  const err = await producer.send({ topic, messages: [{ value: "v" }] }).catch((e) => e);
  const waited = Date.now() - t0;
  assert.ok(err instanceof TimeoutError, String(err));
  assert.ok(err.message.includes(`"${topic}"`), err.message);
  assert.match(err.message, /does not exist/);
  assert.ok(err.cause instanceof BrokerError && err.cause.type === "UNKNOWN_TOPIC_OR_PARTITION");
  // Bounded by deliveryTimeoutMs (2 s), not the fixed 30 s of before; generous for a loaded machine.
  assert.ok(waited < 20_000, `rejected after ${waited} ms`);
  // And it was not created behind our back.
  const md = await client.cluster.fetchMetadata([topic], false);
  assert.notEqual(md.topics[0].errorCode, 0);
});
