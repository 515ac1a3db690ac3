import assert from "node:assert/strict";
import { connect, type RecordMetadata } from "../../mod.ts";
import { BROKERS, deviates, testClient, uniqueName } from "../_broker.ts";
import { until } from "./_member.ts";

const N = 6000;
const PARTITIONS = 3;

/**
 * Each partition's end offset: ListOffsets latest, or on tansu (whose answer is the last batch's base offset + 1,
 * scripts/compat_deviations.ts) one past the highest offset the broker acknowledged.
 */
async function endOffsets(
  admin: ReturnType<Awaited<ReturnType<typeof testClient>>["admin"]>,
  topic: string,
  acked: RecordMetadata[],
): Promise<Map<number, bigint>> {
  if (!deviates("tansuListOffsetsLatest")) {
    return new Map((await admin.listOffsets([topic], { at: "latest" })).map((o) => [o.partition, o.offset]));
  }
  const ends = new Map<number, bigint>();
  for (const r of acked) {
    if (r.offset + 1n > (ends.get(r.partition) ?? 0n)) ends.set(r.partition, r.offset + 1n);
  }
  return ends;
}

function messages(from: number, count: number) {
  const out = [];
  for (let i = from; i < from + count; i++) {
    out.push({ key: `k${i % 97}`, value: `value ${i} `.repeat(8) });
  }
  return out;
}

Deno.test("producer.metrics() counts what the broker stored; in-flight and buffer return to 0", async () => {
  await using client = await testClient();
  const topic = uniqueName("metrics-produce");
  const admin = client.admin();
  await admin.createTopics([{ topic, partitions: PARTITIONS, replicationFactor: 1 }]);
  try {
    await using producer = client.producer({ compression: "lz4" });
    const sends: Promise<RecordMetadata[]>[] = [];
    for (let i = 0; i < N; i += 500) sends.push(producer.send({ topic, messages: messages(i, 500) }));
    const acked = (await Promise.all(sends)).flat();
    const m = producer.metrics();
    const ends = await endOffsets(admin, topic, acked);
    const stored = [...ends.values()].reduce((s, o) => s + Number(o), 0);
    assert.equal(stored, N);
    assert.equal(m.recordsSent, stored);
    assert.equal(m.recordsFailed, 0);
    assert.ok(m.batches >= PARTITIONS, `batches ${m.batches}`);
    assert.equal(m.batchRecords.count, m.batches);
    assert.ok(m.batchRecords.max <= N && m.batchRecords.p50 >= 1);
    assert.ok(m.bytesSent > 0 && m.uncompressedBytes > m.bytesSent, "lz4 shrinks repetitive values");
    assert.ok(m.compressionRatio > 0 && m.compressionRatio < 1, `ratio ${m.compressionRatio}`);
    assert.ok(m.recordsSentPerSecond > 0);
    assert.equal(m.inFlight, 0);
    assert.equal(m.bufferUsedBytes, 0);
    assert.equal(m.bufferBytes, 32 * 1024 * 1024);
    // Latency sanity: every Produce request answered was timed; p50 <= p99 <= max.
    const lat = m.requestLatencyMs;
    assert.ok(lat.count >= 1 && lat.count <= m.batches);
    assert.ok(lat.p50 > 0 && lat.p50 <= lat.p99 && lat.p99 <= lat.max, JSON.stringify(lat));

    const c = client.metrics();
    assert.equal(c.inFlight, 0);
    const produce = c.requestsByApi.filter((r) => r.api === "Produce");
    assert.ok(produce.length >= 1);
    assert.equal(produce.reduce((s, r) => s + r.responses, 0), lat.count);
    for (const r of c.requestsByApi) {
      assert.equal(r.inFlight, 0, `${r.api} in flight`);
      assert.ok(r.latencyMs.p50 <= r.latencyMs.max + 1e-9, JSON.stringify(r));
    }
    assert.ok(c.requestsByApi.some((r) => r.api === "Metadata" && r.responses >= 1));
    assert.ok(c.bytesSent > m.bytesSent && c.bytesReceived > 0);
    assert.ok(c.connects >= 1);
    assert.ok(c.brokers.every((b) => b.inFlight === 0));
  } finally {
    await admin.deleteTopics([topic]).catch(() => {});
  }
});

Deno.test("consumer.metrics(): lag is the end offset minus the records consumed, with no extra request", async () => {
  await using client = await testClient();
  const topic = uniqueName("metrics-consume");
  const group = uniqueName("metrics-group");
  const admin = client.admin();
  await admin.createTopics([{ topic, partitions: PARTITIONS, replicationFactor: 1 }]);
  try {
    let acked: RecordMetadata[];
    {
      await using producer = client.producer();
      acked = await producer.send({ topic, messages: messages(0, N) });
    }
    const ends = await endOffsets(admin, topic, acked);
    await using consumer = client.consumer({ groupId: group, topics: [topic], fromBeginning: true });
    const TAKE = 2500;
    let taken = 0;
    const it = consumer[Symbol.asyncIterator]();
    assert.ok(!(await it.next()).done);
    taken++;
    while (taken < TAKE) {
      const r = await it.next();
      assert.ok(!r.done);
      taken++;
    }
    // The records taken may all come from some partitions: wait (bounded) until each has had a Fetch response.
    await until(
      () =>
        consumer.metrics().lag.length === PARTITIONS &&
        consumer.metrics().lag.every((p) => p.highWatermark >= 0n),
      30_000,
      "a Fetch response for every partition",
    );
    // The offset resets before the first fetches may use ListOffsets; the lag must not.
    const listOffsetsBefore = countApi(client.metrics(), "ListOffsets");
    const m = consumer.metrics();
    assert.equal(m.lag.length, PARTITIONS);
    let expectedLag = 0;
    for (const p of m.lag) {
      const end = ends.get(p.partition)!;
      assert.equal(p.highWatermark, end, `partition ${p.partition} high watermark`);
      assert.equal(p.position, consumer.position(topic, p.partition));
      assert.equal(p.lag, Number(end - p.position));
      expectedLag += Number(end - p.position);
    }
    assert.equal(m.totalLag, expectedLag);
    assert.equal(m.totalLag, N - taken);
    assert.ok(m.recordsReceived >= taken && m.recordsReceived <= N, `received ${m.recordsReceived}`);
    assert.ok(m.bytesReceived > 0);
    assert.ok(m.fetches >= 1);
    assert.equal(m.fetchLatencyMs.count, m.fetches);
    assert.ok(m.fetchLatencyMs.p50 <= m.fetchLatencyMs.max);
    assert.ok(m.recordsPerFetch.max >= 1 && m.recordsPerFetch.max <= N);
    assert.ok(m.rebalances >= 1, "joining the group is a rebalance");
    assert.ok(m.lastRebalanceMs > 0 && m.rebalanceTotalMs >= m.lastRebalanceMs);
    // Lag came from the Fetch responses: no ListOffsets was sent for it.
    assert.equal(countApi(client.metrics(), "ListOffsets"), listOffsetsBefore);
    const fetchApi = client.metrics().requestsByApi.filter((r) => r.api === "Fetch");
    assert.ok(fetchApi.reduce((s, r) => s + r.responses, 0) >= m.fetches);
  } finally {
    await admin.deleteTopics([topic]).catch(() => {});
  }
});

function countApi(m: { requestsByApi: { api: string; responses: number }[] }, api: string): number {
  return m.requestsByApi.filter((r) => r.api === api).reduce((s, r) => s + r.responses, 0);
}

Deno.test("metrics: false keeps no metrics and the client works as before", async () => {
  await using client = await testClient({ metrics: false });
  const topic = uniqueName("metrics-off");
  const admin = client.admin();
  await admin.createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  try {
    await using producer = client.producer();
    await producer.send({ topic, messages: messages(0, 10) });
    assert.equal(producer.metrics().recordsSent, 0);
    assert.deepEqual(client.metrics().requestsByApi, []);
    await assert.rejects(
      connect({ brokers: BROKERS, metrics: "yes" as unknown as boolean }),
      /Invalid metrics "yes": expected true or false/,
    );
  } finally {
    await admin.deleteTopics([topic]).catch(() => {});
  }
});
