// Failure modes of the producer, against a scripted fake broker on 127.0.0.1.
import assert from "node:assert/strict";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { produce } from "../../protocol/apis/produce.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { BrokerError, connect, TimeoutError } from "../../mod.ts";
import { apiVersionsReply, fakeBroker, reply } from "../_fake_broker.ts";

// Old, non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [[18, 0, 2], [3, 0, 8], [0, 3, 8], [22, 0, 1]];

interface ProduceCall {
  partition: number;
  producerEpoch: number;
  baseSequence: number;
  count: number;
}

/** A one-node cluster that answers Produce with whatever `onProduce` says. */
function cluster(onProduce: (call: ProduceCall, n: number) => number) {
  let epoch = 0;
  let produced = 0;
  const calls: ProduceCall[] = [];
  const broker = fakeBroker((h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, RANGES);
      case 3:
        return reply(metadata, h, {
          throttleTimeMs: 0,
          brokers: [{ nodeId: 0, host: "127.0.0.1", port: broker.port, rack: null }],
          clusterId: "fake",
          controllerId: 0,
          topics: [{
            errorCode: 0,
            name: "t",
            topicId: "AAAAAAAAAAAAAAAAAAAAAA",
            isInternal: false,
            partitions: [{
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 0,
              leaderEpoch: 0,
              replicaNodes: [0],
              isrNodes: [0],
              offlineReplicas: [],
            }],
            topicAuthorizedOperations: -2147483648,
          }],
          clusterAuthorizedOperations: -2147483648,
          errorCode: 0,
        });
      case 22: {
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
        const errorCode = onProduce(call, calls.length - 1);
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
