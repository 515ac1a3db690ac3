// Transactional failure modes a real broker cannot be made to show on demand, against scripted fake
// brokers: an unauthorized transactional id is fatal and typed, a coordinator that moves or is
// loading is found again and retried, the retries stop at deliveryTimeoutMs, a partition that
// refuses our epoch aborts the transaction while the coordinator decides whether we are fenced,
// and a group coordinator connection that died is not reused.
import assert from "node:assert/strict";
import {
  AuthorizationError,
  BrokerError,
  connect,
  ProducerFencedError,
  TimeoutError,
  TransactionAbortedError,
} from "../../mod.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { addPartitionsToTxn } from "../../protocol/messages/add_partitions_to_txn.ts";
import { addOffsetsToTxn } from "../../protocol/messages/add_offsets_to_txn.ts";
import { endTxn } from "../../protocol/messages/end_txn.ts";
import { txnOffsetCommit } from "../../protocol/messages/txn_offset_commit.ts";
import { findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { produce } from "../../protocol/apis/produce.ts";
import { type ApiCodec, isFlexible, type RequestHeader } from "../../protocol/framing.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import { apiVersionsReply, fakeBroker, metadataReply, reply } from "../_fake_broker.ts";
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from "../../protocol/messages/find_coordinator.ts";
import type {
  InitProducerIdRequest,
  InitProducerIdResponse,
} from "../../protocol/messages/init_producer_id.ts";
import { type FakeCluster, fakeCluster, type FakeClusterState } from "../_fake_cluster.ts";

/** A fake cluster whose FindCoordinator names `coordinator()` and whose InitProducerId answers `init(node)`. */
function txnCluster(coordinator: () => number, init: (node: number) => number): FakeCluster {
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  const c: FakeCluster = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey === 10) {
      const req = c.decode<FindCoordinatorRequest>(h, body);
      const id = coordinator();
      // v4+ answers in `coordinators` only: the encoder refuses the old fields with other than their defaults.
      const batched = h.apiVersion >= 4;
      return c.reply<FindCoordinatorResponse>(h, {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        nodeId: batched ? 0 : id,
        host: batched ? "" : "127.0.0.1",
        port: batched ? 0 : c.nodes[id].port,
        coordinators: (req.coordinatorKeys ?? []).map((key) => ({
          key,
          nodeId: id,
          host: "127.0.0.1",
          port: c.nodes[id].port,
          errorCode: 0,
          errorMessage: null,
        })),
      });
    }
    if (h.apiKey === 22) {
      const req = c.decode<InitProducerIdRequest>(h, body);
      assert.equal(req.transactionalId, "tx-fake");
      return c.reply<InitProducerIdResponse>(h, {
        throttleTimeMs: 0,
        errorCode: init(node),
        producerId: 7n,
        producerEpoch: 3,
        ongoingTxnProducerId: -1n,
        ongoingTxnProducerEpoch: -1,
      });
    }
    return undefined;
  });
  return c;
}

Deno.test("initTransactions(): TRANSACTIONAL_ID_AUTHORIZATION_FAILED is a fatal AuthorizationError naming the id", async () => {
  await using fake = txnCluster(() => 1, () => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  await using producer = client.producer({ transactionalId: "tx-fake" });
  await assert.rejects(producer.initTransactions(), (err) => {
    assert.ok(err instanceof AuthorizationError, `expected AuthorizationError, got ${err}`);
    assert.equal(err.type, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED");
    assert.deepEqual(err.resource, { type: "transactionalId", name: "tx-fake" });
    return true;
  });
  assert.equal(producer.transactionState, "fatal");
  await assert.rejects(producer.beginTransaction(), AuthorizationError);
});

Deno.test("initTransactions(): a coordinator that moved or is loading is found again and retried", async () => {
  let coordinator = 1;
  const answers: number[] = [];
  await using fake = txnCluster(() => coordinator, (node) => {
    answers.push(node);
    if (node === 1) {
      coordinator = 2; // moved: node 1 says so, FindCoordinator now names node 2
      return ErrorCode.NOT_COORDINATOR;
    }
    if (answers.length < 4) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (answers.length < 5) return ErrorCode.CONCURRENT_TRANSACTIONS;
    return 0;
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  await using producer = client.producer({ transactionalId: "tx-fake", retryBackoffMs: 10 });
  await producer.initTransactions();
  assert.deepEqual(answers, [1, 2, 2, 2, 2]);
  assert.equal(producer.transactionState, "ready");
  assert.deepEqual(producer.producerIdentity, { producerId: 7n, producerEpoch: 3 });
});

Deno.test("initTransactions(): retries stop at deliveryTimeoutMs with a TimeoutError naming the last error", async () => {
  await using fake = txnCluster(() => 1, () => ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  await using producer = client.producer({
    transactionalId: "tx-fake",
    deliveryTimeoutMs: 500,
    retryBackoffMs: 20,
  });
  await assert.rejects(producer.initTransactions(), (err) => {
    assert.ok(err instanceof TimeoutError, `expected TimeoutError, got ${err}`);
    assert.match(err.message, /InitProducerId.*500 ms.*COORDINATOR_LOAD_IN_PROGRESS/);
    return true;
  });
  // Not fatal: the coordinator may come back.
  assert.equal(producer.transactionState, "uninitialized");
});

/** How the fake transactional broker answers. */
interface TxnScript {
  /** The error code of a Produce of this epoch. */
  produce(epoch: number): number;
  /** The answer to the InitProducerId that asks for a new epoch (with our identity). */
  bump(): number;
  /** The error code of the n-th TxnOffsetCommit (0-based), or "close" to drop the connection. */
  offsetCommit(n: number): number | "close";
}

/**
 * A one-node fake cluster with topic "t", coordinator of the transactions and of the group, in
 * transaction protocol v1. InitProducerId gives producer id 7 epoch 3, a bump epoch 4.
 */
function txnBroker(script: Partial<TxnScript>) {
  const { produce: produceCode = () => 0, bump = () => 0, offsetCommit = () => 0 } = script;
  const offsetCommits: number[] = [];
  const inits: { producerId: bigint; producerEpoch: number }[] = [];
  const ends: { committed: boolean; producerEpoch: number }[] = [];
  const produced: number[] = [];
  const codecs = new Map<number, ApiCodec<unknown, unknown>>(
    [
      metadata,
      produce,
      findCoordinator,
      initProducerId,
      addPartitionsToTxn,
      addOffsetsToTxn,
      endTxn,
      txnOffsetCommit,
    ]
      .map((
        c,
      ) => [c.apiKey, c as ApiCodec<unknown, unknown>]),
  );
  const flexible = (k: number, v: number) => k === 18 ? v >= 3 : isFlexible(codecs.get(k)!, v);
  // Transaction protocol v1 (no transaction.version feature): AddPartitionsToTxn, Produce v8.
  const ranges: [number, number, number][] = [
    [18, 0, 4],
    [3, 0, 8],
    [0, 3, 8],
    [10, 0, 3],
    [22, 3, 4],
    [24, 0, 3],
    [25, 0, 3],
    [26, 0, 3],
    [28, 0, 3],
  ];
  const broker = fakeBroker((h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(h, ranges);
      case 3:
        return metadataReply(h, broker.port);
      case 10:
        return reply(findCoordinator, h, {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          nodeId: 0,
          host: "127.0.0.1",
          port: broker.port,
          coordinators: [],
        });
      case 22: {
        const req = initProducerId.decodeRequest(body, h.apiVersion);
        const producerId = req.producerId ?? -1n;
        inits.push({ producerId, producerEpoch: req.producerEpoch ?? -1 });
        const first = producerId < 0n;
        return reply(initProducerId, h, {
          throttleTimeMs: 0,
          errorCode: first ? 0 : bump(),
          producerId: 7n,
          producerEpoch: first ? 3 : 4,
          ongoingTxnProducerId: -1n,
          ongoingTxnProducerEpoch: -1,
        });
      }
      case 24: {
        const req = addPartitionsToTxn.decodeRequest(body, h.apiVersion);
        return reply(addPartitionsToTxn, h, {
          throttleTimeMs: 0,
          errorCode: 0,
          resultsByTransaction: [],
          resultsByTopicV3AndBelow: (req.v3AndBelowTopics ?? []).map((t) => ({
            name: t.name,
            resultsByPartition: t.partitions.map((partitionIndex) => ({
              partitionIndex,
              partitionErrorCode: 0,
            })),
          })),
        });
      }
      case 25:
        return reply(addOffsetsToTxn, h, { throttleTimeMs: 0, errorCode: 0 });
      case 28: {
        const req = txnOffsetCommit.decodeRequest(body, h.apiVersion);
        const answer = offsetCommit(offsetCommits.length);
        offsetCommits.push(req.topics[0].partitions[0].partitionIndex);
        if (answer === "close") return "close";
        return reply(txnOffsetCommit, h, {
          throttleTimeMs: 0,
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: answer })),
          })),
        });
      }
      case 26: {
        const req = endTxn.decodeRequest(body, h.apiVersion);
        ends.push({ committed: req.committed, producerEpoch: req.producerEpoch });
        return reply(endTxn, h, { throttleTimeMs: 0, errorCode: 0, producerId: -1n, producerEpoch: -1 });
      }
      case 0: {
        const req = produce.decodeRequest(body, h.apiVersion);
        const p = req.topicData[0].partitionData[0];
        const [batch] = decodeRecordBatches(p.records!);
        produced.push(batch.producerEpoch);
        const errorCode = produceCode(batch.producerEpoch);
        return reply(produce, h, {
          responses: [{
            name: "t",
            topicId: "AAAAAAAAAAAAAAAAAAAAAA",
            partitionResponses: [{
              index: p.index,
              errorCode,
              baseOffset: errorCode ? -1n : 0n,
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
  }, flexible);
  return { broker, inits, ends, produced, offsetCommits };
}

Deno.test("a partition that refuses our epoch (INVALID_PRODUCER_EPOCH: the coordinator timed the transaction out) aborts the transaction, not the producer; the abort gets a new epoch and the producer goes on", async () => {
  // Every Produce of epoch 3 is refused, as a partition does once the coordinator aborted a
  // transaction that outlived transactionTimeoutMs (it writes the abort with a new epoch).
  const fake = txnBroker({ produce: (epoch) => epoch === 3 ? ErrorCode.INVALID_PRODUCER_EPOCH : 0 });
  await using _ = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  await using producer = client.producer({ transactionalId: "tx-fake", retryBackoffMs: 10 });
  await assert.rejects(
    producer.transaction(async (tx) => {
      await tx.send({ topic: "t", messages: [{ value: "late" }] });
    }),
    (err) => {
      assert.ok(err instanceof TransactionAbortedError, `expected TransactionAbortedError, got ${err}`);
      assert.ok(err.cause instanceof BrokerError && !(err.cause instanceof ProducerFencedError));
      assert.equal(err.cause.type, "INVALID_PRODUCER_EPOCH");
      return true;
    },
  );
  // The abort (EndTxn), then InitProducerId with our identity (KIP-360/588): the coordinator's answer decides.
  assert.deepEqual(fake.ends, [{ committed: false, producerEpoch: 3 }]);
  assert.deepEqual(fake.inits, [{ producerId: -1n, producerEpoch: -1 }, {
    producerId: 7n,
    producerEpoch: 3,
  }]);
  assert.equal(producer.transactionState, "ready");
  assert.deepEqual(producer.producerIdentity, { producerId: 7n, producerEpoch: 4 });
  await producer.transaction(async (tx) => {
    await tx.send({ topic: "t", messages: [{ value: "next" }] });
  });
  assert.deepEqual(fake.produced, [3, 4]);
  assert.deepEqual(fake.ends[1], { committed: true, producerEpoch: 4 });
});

Deno.test("a partition that refuses our epoch, then a coordinator that says PRODUCER_FENCED: ProducerFencedError, fatal", async () => {
  const fake = txnBroker({
    produce: (epoch) => epoch === 3 ? ErrorCode.INVALID_PRODUCER_EPOCH : 0,
    bump: () => ErrorCode.PRODUCER_FENCED,
  });
  await using _ = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  await using producer = client.producer({ transactionalId: "tx-fake", retryBackoffMs: 10 });
  await assert.rejects(
    producer.transaction(async (tx) => {
      await tx.send({ topic: "t", messages: [{ value: "zombie" }] });
    }),
    ProducerFencedError,
  );
  assert.equal(producer.transactionState, "fatal");
  await assert.rejects(producer.beginTransaction(), ProducerFencedError);
});

Deno.test("sendOffsets(): a group coordinator connection that died mid-TxnOffsetCommit (a broker restart) is not asked again: the retry reconnects and the transaction commits", async () => {
  const fake = txnBroker({ offsetCommit: (n) => n === 0 ? "close" : 0 });
  await using _ = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  // Before the fix every retry failed at once on the dead connection, until deliveryTimeoutMs.
  await using producer = client.producer({
    transactionalId: "tx-fake",
    retryBackoffMs: 10,
    deliveryTimeoutMs: 5000,
  });
  const group = { groupId: "g", generationId: -1, memberId: "", groupInstanceId: null };
  await producer.transaction(async (tx) => {
    await tx.send({ topic: "t", messages: [{ value: "v" }] });
    await tx.sendOffsets(group, [{ topic: "t", partition: 0, offset: 1n }]);
  });
  assert.deepEqual(fake.offsetCommits, [0, 0]);
  assert.deepEqual(fake.ends, [{ committed: true, producerEpoch: 3 }]);
  assert.equal(producer.transactionState, "ready");
});
