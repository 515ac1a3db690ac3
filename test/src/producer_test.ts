// Failure modes of the producer, against a scripted fake broker on 127.0.0.1.
import assert from "node:assert/strict";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { produce } from "../../protocol/apis/produce.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { BrokerError, connect, TimeoutError } from "../../mod.ts";
import { apiVersionsReply, fakeBroker, metadataReply, reply } from "../_fake_broker.ts";

// Old, non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [[18, 0, 2], [3, 0, 8], [0, 3, 8], [22, 0, 1]];

interface ProduceCall {
  partition: number;
  producerEpoch: number;
  baseSequence: number;
  count: number;
}

/**
 * A one-node cluster that answers Produce with whatever `onProduce` says (null: never answers).
 * With `answerInit` false, InitProducerId is never answered.
 */
function cluster(
  onProduce: (call: ProduceCall, n: number) => number | null | Promise<number>,
  answerInit = true,
) {
  let epoch = 0;
  let produced = 0;
  const calls: ProduceCall[] = [];
  const broker = fakeBroker((h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, RANGES);
      case 3:
        return metadataReply(h, broker.port);
      case 22: {
        if (!answerInit) return null;
        const res = { throttleTimeMs: 0, errorCode: 0, producerId: 7n, producerEpoch: epoch++ };
        return reply(initProducerId, h, res);
      }
      case 0: {
        const req = produce.decodeRequest(body, h.apiVersion);
        const p = req.topicData[0].partitionData[0];
        const [batch] = decodeRecordBatches(p.records!);
        const call = {
          partition: p.index,
          producerEpoch: batch.producerEpoch,
          baseSequence: batch.baseSequence,
          count: batch.records.length,
        };
        calls.push(call);
        const answer = onProduce(call, calls.length - 1);
        if (answer === null) return null;
        return Promise.resolve(answer).then((errorCode) => {
          const baseOffset = errorCode === 0 ? BigInt(produced) : -1n;
          if (errorCode === 0) produced += call.count;
          return reply(produce, h, {
            responses: [{
              name: "t",
              topicId: "AAAAAAAAAAAAAAAAAAAAAA",
              partitionResponses: [{
                index: p.index,
                errorCode,
                baseOffset,
                logAppendTimeMs: -1n,
                logStartOffset: 0n,
                recordErrors: [],
                errorMessage: null,
                currentLeader: { leaderId: -1, leaderEpoch: -1 },
              }],
            }],
            throttleTimeMs: 0,
            nodeEndpoints: [],
          });
        });
      }
    }
    return null;
  });
  return { broker, calls };
}

Deno.test("a retriable error is retried until deliveryTimeoutMs, then send() names the partition and the cause", async () => {
  const { broker, calls } = cluster(() => 6); // NOT_LEADER_OR_FOLLOWER, forever
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  const producer = client.producer({ deliveryTimeoutMs: 1500, retryBackoffMs: 20 });
  const err = await producer.send({ topic: "t", messages: [{ value: "v" }] }).catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /t\[0\]/);
  assert.match(err.message, /NOT_LEADER_OR_FOLLOWER/);
  assert.ok(calls.length >= 3, `retried ${calls.length} times`);
  // Every retry resends the same sequence under the same epoch: no duplicates possible.
  assert.ok(calls.every((c) => c.baseSequence === 0 && c.producerEpoch === 0));
  await producer.close({ timeoutMs: 1000 });
});

Deno.test("a non-retriable error fails that send() at once with a BrokerError", async () => {
  const { broker, calls } = cluster(() => 87); // INVALID_RECORD
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({ retryBackoffMs: 20 });
  const err = await producer.send({ topic: "t", messages: [{ value: "v" }] }).catch((e) => e);
  assert.ok(err instanceof BrokerError);
  assert.equal(err.type, "INVALID_RECORD");
  assert.equal(err.context.partition, 0);
  assert.equal(calls.length, 1);
});

Deno.test("a transient error is retried with the same sequence and then succeeds", async () => {
  const { broker, calls } = cluster((_c, n) => n < 2 ? 7 : 0); // REQUEST_TIMED_OUT twice
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({ retryBackoffMs: 10 });
  const res = await producer.send({ topic: "t", messages: [{ value: "a" }, { value: "b" }] });
  assert.deepEqual(res.map((r) => r.offset), [0n, 1n]);
  assert.deepEqual(calls.map((c) => c.baseSequence), [0, 0, 0]);
});

Deno.test("OUT_OF_ORDER_SEQUENCE_NUMBER with nothing earlier pending bumps the epoch and renumbers from 0", async () => {
  const { broker, calls } = cluster((_c, n) => n === 1 ? 45 : 0);
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({ retryBackoffMs: 10 });
  await producer.send({ topic: "t", messages: [{ value: "a" }] });
  const res = await producer.send({ topic: "t", messages: [{ value: "b" }] });
  assert.ok(res[0].offset >= 0n);
  assert.deepEqual(calls.map((c) => [c.producerEpoch, c.baseSequence]), [[0, 0], [0, 1], [1, 0]]);
  assert.equal(producer.producerIdentity.producerEpoch, 1);
});

Deno.test("DUPLICATE_SEQUENCE_NUMBER means the broker already has the batch: success", async () => {
  const { broker } = cluster(() => 46);
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer();
  const [r] = await producer.send({ topic: "t", messages: [{ value: "a" }] });
  assert.equal(r.offset, -1n);
});

Deno.test("deliveryTimeoutMs fails a send() whose Produce is never answered; the next batch restarts its sequence under a bumped epoch (KIP-360)", async () => {
  const { broker, calls } = cluster((_c, n) => n === 0 ? null : 0); // the first Produce is black-holed
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({
    deliveryTimeoutMs: 800,
    requestTimeoutMs: 1000,
    retryBackoffMs: 20,
  });
  const t0 = Date.now();
  const err = await producer.send({ topic: "t", messages: [{ value: "lost?" }] }).catch((e) => e);
  const waited = Date.now() - t0;
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /t\[0\]/);
  assert.match(err.message, /deliveryTimeoutMs \(800 ms\)/);
  // Fired by its timer, long before the request's own timeout (1 s + 5 s of slack).
  assert.ok(waited < 5_000, `rejected after ${waited} ms`);
  // Whether the expired batch was written is unknown: the next one goes out under a new epoch
  // from sequence 0, once the unanswered request has been resolved (it times out after 1 s + 5 s).
  for (let i = 0; i < 300 && producer.producerIdentity.producerEpoch === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const [r] = await producer.send({ topic: "t", messages: [{ value: "next" }] });
  assert.ok(r.offset >= 0n);
  assert.deepEqual(calls.map((c) => [c.producerEpoch, c.baseSequence]), [[0, 0], [1, 0]]);
  assert.equal(producer.producerIdentity.producerEpoch, 1);
});

Deno.test("deliveryTimeoutMs fails records still waiting in the accumulator (no producer id yet), without a last error", async () => {
  const { broker, calls } = cluster(() => 0, false); // InitProducerId never answered
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address], requestTimeoutMs: 60_000 });
  const producer = client.producer({ deliveryTimeoutMs: 500 });
  const err = await producer.send({ topic: "t", messages: [{ value: "a" }, { value: "b" }] }).catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /t\[0\]/);
  assert.doesNotMatch(err.message, /last error/);
  assert.equal(calls.length, 0);
  assert.equal(producer.bufferedBytes, 0);
  await producer.close({ timeoutMs: 1000 });
});

Deno.test("deliveryTimeoutMs fails a retried batch between attempts, naming the last error", async () => {
  const { broker } = cluster(() => 7); // REQUEST_TIMED_OUT, forever
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  // The retry backoff (1 s at most) outlasts the deadline: the timer, not a response, fails it.
  await using producer = client.producer({ deliveryTimeoutMs: 300, retryBackoffMs: 5_000 });
  const t0 = Date.now();
  const err = await producer.send({ topic: "t", messages: [{ value: "a" }] }).catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /last error: .*REQUEST_TIMED_OUT/);
  assert.ok(Date.now() - t0 < 5_000);
});

Deno.test("a send() waiting for buffer room counts that wait against deliveryTimeoutMs", async () => {
  const { broker } = cluster(() => null); // Produce never answered
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  const producer = client.producer({ deliveryTimeoutMs: 600, requestTimeoutMs: 60_000, bufferBytes: 400 });
  const first = producer.send({ topic: "t", messages: [{ value: "x".repeat(300) }] }).catch((e) => e);
  const second = producer.send({ topic: "t", messages: [{ value: "y".repeat(300) }] }).catch((e) => e);
  const [a, b] = await Promise.all([first, second]);
  assert.ok(a instanceof TimeoutError, String(a));
  // The second waited for the first's room, then joined a batch that expires at its own deadline.
  assert.ok(b instanceof TimeoutError, String(b));
  await producer.close({ timeoutMs: 500 });
});

Deno.test("unknown producer options are a TypeError naming the key and the close match", async () => {
  const { broker } = cluster(() => 0);
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  // deno-lint-ignore no-explicit-any
  assert.throws(() => client.producer({ lingerMS: 100 } as any), /"lingerMS".*did you mean "lingerMs"/);
  assert.throws(
    () => client.producer({ transactionalID: "x" } as never),
    /"transactionalID".*did you mean "transactionalId"/,
  );
  // deno-lint-ignore no-explicit-any
  assert.throws(() => client.producer("fast" as any), TypeError);
});

Deno.test("a message without value, or with an unknown key, is a TypeError; value: null is a tombstone", async () => {
  const { broker, calls } = cluster(() => 0);
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer();
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => producer.send({ topic: "t", messages: [{ key: "k" } as any] }),
    (e: unknown) => e instanceof TypeError && /messages\[0\] has no value.*value: null/.test(e.message),
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => producer.send({ topic: "t", messages: [{ value: "v" }, { value: "v", valeu: 1 } as any] }),
    (e: unknown) => e instanceof TypeError && /"valeu"/.test(e.message) && /messages\[1\]/.test(e.message),
  );
  await assert.rejects(
    () => producer.send({ topic: "t", messages: [{ value: undefined as unknown as null }] }),
    TypeError,
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => producer.send({ topic: "t", messages: [{ value: "v" }], acks: 1 } as any),
    (e: unknown) => e instanceof TypeError && /"acks"/.test(e.message),
  );
  assert.equal(calls.length, 0); // nothing of a rejected call was sent
  const [r] = await producer.send({ topic: "t", messages: [{ key: "k", value: null }] });
  assert.ok(r.offset >= 0n);
  assert.equal(calls.length, 1);
});

Deno.test("a send() that fills one batch of a partition and starts another sends both at once, not a round trip apart", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  // One partition: the second batch cannot move elsewhere. Answers wait for the gate.
  const { broker, calls } = cluster(() => gate.then(() => 0));
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({ batchBytes: 1000 }); // 8 records of 100 B fill a batch
  const value = new Uint8Array(100);
  const sent = producer.send({ topic: "t", messages: Array.from({ length: 12 }, () => ({ value })) });
  // The fake broker, like Kafka, reads a connection's next request only after answering the one
  // before: the client's in-flight count shows both requests were sent.
  for (let i = 0; i < 2000 && producer.metrics().inFlight < 2; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const inFlight = producer.metrics().inFlight;
  release();
  assert.equal(inFlight, 2, "both batches are in flight before any answer");
  const res = await sent;
  assert.deepEqual(calls.map((c) => c.count), [8, 4]);
  assert.deepEqual(calls.map((c) => c.baseSequence), [0, 8]);
  assert.deepEqual(res.map((r) => r.offset), Array.from({ length: 12 }, (_, i) => BigInt(i)));
});

Deno.test("natural batching: while the only request slot is busy, records gather in one batch that goes when it frees", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const { broker, calls } = cluster((_c, n) => n === 0 ? gate.then(() => 0) : 0);
  await using _b = broker;
  await using client = await connect({ brokers: [broker.address] });
  await using producer = client.producer({ maxInFlight: 1 }); // lingerMs 0, the default
  const first = producer.send({ topic: "t", messages: [{ value: "first" }] });
  for (let i = 0; i < 2000 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(calls.length, 1); // sent at once: a slot was free, no linger
  const rest = Array.from(
    { length: 50 },
    (_, i) => producer.send({ topic: "t", messages: [{ value: `r${i}` }] }),
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls.length, 1, "nothing more is sent while the slot is busy");
  release();
  const results = await Promise.all([first, ...rest]);
  assert.deepEqual(calls.map((c) => c.count), [1, 50]);
  assert.deepEqual(results.map(([r]) => r.offset), Array.from({ length: 51 }, (_, i) => BigInt(i)));
});
