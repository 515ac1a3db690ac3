// Transactional failure modes a real broker cannot be made to show on demand, against scripted fake
// brokers: an unauthorized transactional id is fatal and typed, a coordinator that moves or is
// loading is found again and retried, and the retries stop at deliveryTimeoutMs.
import assert from "node:assert/strict";
import { AuthorizationError, connect, TimeoutError } from "../../mod.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
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
