// The producer's pooled batch memory: the pool itself, and a fake broker that delays, loses and
// refuses Produce requests while batches are retried, split, expired and re-encoded, checking
// that every batch it received is intact and holds only records of its own partition.
import assert from "node:assert/strict";
import { produce } from "../../protocol/apis/produce.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import { BufferPool, Lease } from "../../src/producer/pool.ts";
import { connect, type Producer, TimeoutError } from "../../mod.ts";
import { apiVersionsReply, fakeBroker, initProducerIdReply, metadataReply, reply } from "../_fake_broker.ts";
import { prng } from "../_prng.ts";

Deno.test("BufferPool hands out power-of-two memory, takes back only its own classes, up to its idle cap", () => {
  const pool = new BufferPool({ maxIdleBytes: 4096, largestClass: 3000 });
  assert.equal(pool.largestClass, 4096);
  const a = pool.take(100);
  assert.equal(a.length, 512, "the smallest class");
  const b = pool.take(513);
  assert.equal(b.length, 1024);
  const big = pool.take(5000);
  assert.equal(big.length, 5000, "beyond the largest class: plain memory of the exact size");
  pool.give(a);
  pool.give(b);
  assert.equal(pool.idleBytes, 1536);
  assert.equal(pool.take(400), a, "reused");
  assert.equal(pool.take(1000), b, "reused");
  assert.equal(pool.idleBytes, 0);
  pool.give(big);
  pool.give(new Uint8Array(1000));
  pool.give(new Uint8Array(2048).subarray(0, 1024));
  assert.equal(pool.idleBytes, 0, "plain memory, odd sizes and views are left to the GC");
  pool.give(pool.take(4096));
  pool.give(new Uint8Array(512));
  assert.equal(pool.idleBytes, 4096, "nothing beyond the idle cap");
});

Deno.test("Lease gives its memory back once, when the last holder drops it", () => {
  const pool = new BufferPool({ maxIdleBytes: 1 << 20, largestClass: 1 << 16 });
  const lease = new Lease(pool, pool.take(600));
  lease.hold(); // a request in flight
  lease.drop(); // the batch is done
  assert.equal(pool.idleBytes, 0, "the request still reads it");
  assert.equal(lease.holders, 1);
  lease.drop(); // the request ended
  assert.equal(pool.idleBytes, 1024);
  lease.drop();
  assert.equal(pool.idleBytes, 1024, "a second drop does not give it back twice");
  assert.throws(() => lease.hold(), /released batch buffer/);
  const first = pool.take(1000);
  assert.equal(first, lease.memory);
  assert.notEqual(pool.take(1000), first, "handed out once only");
});

// Old, non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [[18, 0, 2], [3, 0, 8], [0, 3, 8], [22, 0, 1]];
const PARTITIONS = 4;
const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const td = new TextDecoder();

/** A value that names its partition and place, padded so that batches pass 4 KiB (referenced, not copied). */
function value(p: number, send: number, i: number): string {
  return `${p}:${send}:${i}:`.padEnd(120, String.fromCharCode(97 + ((send + i) % 26)));
}

interface Received {
  /** Every record value the broker received, per partition (with duplicates from retries). */
  seen: Set<string>[];
  /** Values in batches the broker acknowledged. */
  acked: Set<string>;
  /** Problems found in received batches. */
  bad: string[];
  produceRequests: number;
}

/** Checks one received batch: CRC (decodeRecordBatches verifies it), partition and shape of every value. */
function check(rx: Received, partition: number, records: Uint8Array): string[] {
  const values: string[] = [];
  try {
    const batches = decodeRecordBatches(records, { topic: "t", partition });
    if (batches.length !== 1) rx.bad.push(`p${partition}: ${batches.length} batches in one partition's data`);
    for (const b of batches) {
      for (const r of b.records) {
        const v = td.decode(r.value!);
        const [p, send, i] = v.split(":").map(Number);
        if (p !== partition || v !== value(p, send, i)) rx.bad.push(`p${partition} got ${v.slice(0, 24)}`);
        rx.seen[partition].add(v);
        values.push(v);
      }
    }
  } catch (err) {
    rx.bad.push(`p${partition}: ${(err as Error).message}`);
  }
  return values;
}

interface ChaosOptions {
  seed: number;
  /** Answer Produce requests with random errors, delays and dropped connections. */
  chaos: boolean;
  /** Which Produce request (by number) is never answered (its connection is dropped 2 s later), if any. */
  lose?: number;
}

/** A fake one-node cluster whose topic "t" has PARTITIONS partitions, checking every batch it gets. */
function chaosCluster(opts: ChaosOptions) {
  const rand = prng(opts.seed);
  const stats = { lost: 0, closed: 0, codes: {} as Record<number, number>, epochs: new Set<number>() };
  const rx: Received = {
    seen: Array.from({ length: PARTITIONS }, () => new Set()),
    acked: new Set(),
    bad: [],
    produceRequests: 0,
  };
  let epoch = 0;
  const broker = fakeBroker(async (h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, RANGES);
      case 3:
        return metadataReply(h, broker.port, { topicId: TOPIC_ID, partitions: PARTITIONS });
      case 22:
        return initProducerIdReply(h, 7n, epoch++);
      case 0: {
        const n = rx.produceRequests++;
        const req = produce.decodeRequest(body, h.apiVersion);
        if (n === opts.lose) {
          for (const t of req.topicData) for (const p of t.partitionData) check(rx, p.index, p.records!);
          await sleep(2_000);
          stats.lost++;
          return "close";
        }
        const roll = opts.chaos ? rand() : 0.5;
        // Slow reading (the fake broker reads the next frame only after this one) keeps writes pending.
        if (roll < 0.3) await sleep(Math.floor(rand() * 40));
        if (n > 5 && roll > 0.98) {
          stats.closed++;
          return "close";
        }
        const partitionResponses = [];
        for (const t of req.topicData) {
          for (const p of t.partitionData) {
            const values = check(rx, p.index, p.records!);
            const r = opts.chaos && n >= 3 ? rand() : 1;
            const errorCode = r < 0.08
              ? 6 // NOT_LEADER_OR_FOLLOWER: retried after a metadata refresh
              : r < 0.12
              ? 45 // OUT_OF_ORDER_SEQUENCE_NUMBER: a retry, or an epoch bump and re-encoding
              : r < 0.15 && values.length > 1
              ? 10 // MESSAGE_TOO_LARGE: split into one batch per record
              : 0;
            if (errorCode === 0) { for (const v of values) rx.acked.add(v); }
            stats.codes[errorCode] = (stats.codes[errorCode] ?? 0) + 1;
            stats.epochs.add(decodeRecordBatches(p.records!)[0]?.producerEpoch ?? -9);
            partitionResponses.push({
              index: p.index,
              errorCode,
              baseOffset: errorCode === 0 ? 0n : -1n,
              logAppendTimeMs: -1n,
              logStartOffset: 0n,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
            });
          }
        }
        return reply(produce, h, {
          responses: [{ name: "t", topicId: TOPIC_ID, partitionResponses }],
          throttleTimeMs: 0,
          nodeEndpoints: [],
        });
      }
    }
    return null;
  });
  return { broker, rx, stats };
}

/** Sends `count` calls of 40 records, round-robin over the partitions, from number `from` on. */
function sendMany(producer: Producer, from: number, count: number) {
  const sent: string[][] = [];
  const sends: Promise<unknown>[] = [];
  for (let s = from; s < from + count; s++) {
    const p = s % PARTITIONS;
    const values = Array.from({ length: 40 }, (_, i) => value(p, s, i));
    sent.push(values);
    sends.push(producer.send({ topic: "t", messages: values.map((v) => ({ value: v, partition: p })) }));
  }
  return { sent, results: Promise.allSettled(sends) };
}

/** Every record of a fulfilled send() was in a batch the broker acknowledged; returns how many sends succeeded. */
function checkAcked(rx: Received, sent: string[][], results: PromiseSettledResult<unknown>[]): number {
  let ok = 0;
  for (let s = 0; s < results.length; s++) {
    if (results[s].status !== "fulfilled") continue;
    ok++;
    for (const v of sent[s]) {
      assert.ok(rx.acked.has(v), `acknowledged ${v.slice(0, 16)} was in an acknowledged batch`);
    }
  }
  return ok;
}

Deno.test("pooled batch memory: with answers delayed and refused, connections dropped, batches retried, split and re-encoded, every batch the broker gets is intact and in its partition", async (t) => {
  for (const compression of ["none", "lz4"] as const) {
    await t.step(compression, async () => {
      const { broker, rx, stats } = chaosCluster({ seed: 17, chaos: true });
      await using _b = broker;
      await using client = await connect({ brokers: [broker.address] });
      const producer = client.producer({
        batchBytes: 8 * 1024,
        retryBackoffMs: 5,
        deliveryTimeoutMs: 30_000,
        compression,
      });
      const { sent, results } = sendMany(producer, 0, 200);
      const settled = await results;
      await producer.close({ timeoutMs: 10_000 });
      assert.deepEqual(rx.bad, [], "every received batch is intact and in its own partition");
      const ok = checkAcked(rx, sent, settled);
      assert.ok(ok > 150, `${ok} of 200 sends succeed`);
      const { closed, codes, epochs } = stats;
      assert.ok(
        closed > 0 && codes[6] > 0 && codes[10] > 0 && codes[45] > 0,
        JSON.stringify({ closed, codes }),
      );
      assert.ok(epochs.size > 1, "the epoch was bumped at least once (batches re-encoded)");
    });
  }
});

Deno.test("pooled batch memory: a batch that expires while its request is in flight keeps its memory until the request ends; later batches arrive intact", async () => {
  const { broker, rx, stats } = chaosCluster({ seed: 3, chaos: false, lose: 0 });
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  // The lost request ends when the broker drops its connection (2 s), after the expiry (1 s).
  const producer = client.producer({ batchBytes: 8 * 1024, retryBackoffMs: 5, deliveryTimeoutMs: 1_000 });
  const first = sendMany(producer, 0, 1);
  const [lost] = await first.results;
  assert.equal(lost.status, "rejected");
  assert.ok((lost as PromiseRejectedResult).reason instanceof TimeoutError);
  assert.equal(stats.lost, 0, "expired while its request was in flight");
  for (let i = 0; i < 500 && stats.lost === 0; i++) await sleep(10);
  await sleep(300); // the producer sees the connection drop
  // Sent once the request ended: they go under a bumped epoch (the expired batch's sequence may
  // or may not have been written).
  const later = sendMany(producer, 1, 40);
  const settled = await later.results;
  await producer.close({ timeoutMs: 10_000 });
  assert.equal(stats.lost, 1);
  assert.deepEqual(rx.bad, [], "every received batch is intact and in its own partition");
  assert.equal(checkAcked(rx, later.sent, settled), 40, "every later send succeeds");
  assert.ok(stats.epochs.has(1), "later batches went under the bumped epoch");
});

Deno.test("pooled batch memory with acks=0: memory is reused once written, and every batch arrives intact", async () => {
  const rand = prng(5);
  const rx: Received = {
    seen: Array.from({ length: PARTITIONS }, () => new Set()),
    acked: new Set(),
    bad: [],
    produceRequests: 0,
  };
  const broker = fakeBroker(async (h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, RANGES);
      case 3:
        return metadataReply(h, broker.port, { topicId: TOPIC_ID, partitions: PARTITIONS });
      case 0: {
        rx.produceRequests++;
        const req = produce.decodeRequest(body, h.apiVersion);
        // A slow reader: the producer's writes wait on the socket.
        if (rand() < 0.3) await sleep(Math.floor(rand() * 20));
        for (const t of req.topicData) for (const p of t.partitionData) check(rx, p.index, p.records!);
        return null;
      }
    }
    return null;
  });
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  const producer = client.producer({ acks: 0, batchBytes: 8 * 1024 });
  const sends: Promise<unknown>[] = [];
  for (let s = 0; s < 80; s++) {
    const p = s % PARTITIONS;
    sends.push(
      producer.send({
        topic: "t",
        messages: Array.from({ length: 40 }, (_, i) => ({ value: value(p, s, i), partition: p })),
      }),
    );
  }
  await Promise.all(sends);
  await producer.close({ timeoutMs: 10_000 });
  // Everything written was read by the fake broker before close() ended its connections?
  // Not necessarily: give it a bounded while to read what is in the socket.
  const total = () => rx.seen.reduce((n, s) => n + s.size, 0);
  for (let i = 0; i < 200 && total() < 80 * 40; i++) await sleep(20);
  assert.deepEqual(rx.bad, []);
  assert.equal(total(), 80 * 40, "every record arrived once");
});
