import assert from "node:assert/strict";
import type { CreateTopicsRequest, CreateTopicsResponse } from "../../protocol/apis/create_topics.ts";
import type { DeleteTopicsRequest, DeleteTopicsResponse } from "../../protocol/apis/delete_topics.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { connect } from "../../src/client.ts";
import { BrokerError, TimeoutError } from "../../src/errors.ts";
import { type FakeCluster, fakeCluster, type FakeClusterState } from "../_fake_cluster.ts";

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";

/** A fake cluster whose non-controller nodes answer NOT_CONTROLLER, as ZooKeeper-mode Kafka does. */
function cluster(state: FakeClusterState, onCreate: (node: number) => void = () => {}): FakeCluster {
  const c: FakeCluster = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey === 19) {
      onCreate(node);
      const req = c.decode<CreateTopicsRequest>(h, body);
      const ok = node === state.controllerId;
      if (ok) {
        for (const t of req.topics) {
          state.topics.set(t.name, { topicId: TOPIC_ID, partitions: [{ leader: 1, epoch: 0 }] });
        }
      }
      return c.reply<CreateTopicsResponse>(h, {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          topicId: ok ? TOPIC_ID : "AAAAAAAAAAAAAAAAAAAAAA",
          errorCode: ok ? 0 : ErrorCode.NOT_CONTROLLER,
          errorMessage: null,
          topicConfigErrorCode: 0,
          numPartitions: 1,
          replicationFactor: 1,
          configs: [],
        })),
      });
    }
    if (h.apiKey === 20) {
      const req = c.decode<DeleteTopicsRequest>(h, body);
      const ok = node === state.controllerId;
      const names = req.topics?.map((t) => t.name ?? "") ?? req.topicNames ?? [];
      if (ok) { for (const n of names) state.topics.delete(n); }
      return c.reply<DeleteTopicsResponse>(h, {
        throttleTimeMs: 0,
        responses: names.map((name) => ({
          name,
          topicId: TOPIC_ID,
          errorCode: ok ? 0 : ErrorCode.NOT_CONTROLLER,
          errorMessage: null,
        })),
      });
    }
    return undefined;
  });
  return c;
}

Deno.test("createTopics and deleteTopics go to the controller the metadata names, not to any broker", async () => {
  const state: FakeClusterState = { controllerId: 2, topics: new Map() };
  await using fake = cluster(state);
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const [r] = await client.admin().createTopics([{ topic: "t1", partitions: 1 }]);
  assert.equal(r.created, true);
  await client.admin().deleteTopics(["t1"]);
  assert.deepStrictEqual(fake.log.filter(([, k]) => k === 19 || k === 20), [[2, 19], [2, 20]]);
});

Deno.test("NOT_CONTROLLER refreshes metadata and retries on the new controller", async () => {
  // Bootstrap metadata names node 0; when asked, node 0 has just lost the role to node 1 (it answers
  // NOT_CONTROLLER, and metadata names node 1 from then on).
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  await using fake = cluster(state, (node) => {
    if (node === 0) state.controllerId = 1;
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const [r] = await client.admin().createTopics([{ topic: "t2" }]);
  assert.equal(r.created, true);
  const creates = fake.log.filter(([, k]) => k === 19).map(([n]) => n);
  assert.deepStrictEqual(creates, [0, 1]);
});

Deno.test("a controller that never turns up fails createTopics with a TimeoutError within its timeout", async () => {
  // Metadata keeps naming node 0, which keeps answering NOT_CONTROLLER.
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  await using fake = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey !== 19) return undefined;
    const req = fake.decode<CreateTopicsRequest>(h, body);
    return fake.reply<CreateTopicsResponse>(h, {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        topicId: "AAAAAAAAAAAAAAAAAAAAAA",
        errorCode: node === 99 ? 0 : ErrorCode.NOT_CONTROLLER,
        errorMessage: null,
        topicConfigErrorCode: 0,
        numPartitions: 1,
        replicationFactor: 1,
        configs: [],
      })),
    });
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const started = Date.now();
  // Long enough for a few retries however slow the machine; far below the 30 s default.
  const err = await client.admin().createTopics([{ topic: "t3" }], { timeoutMs: 2_000 }).then(
    () => assert.fail("createTopics resolved"),
    (e) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /CreateTopics of t3/);
  assert.ok(err.cause instanceof BrokerError && err.cause.code === ErrorCode.NOT_CONTROLLER);
  // Bounded by the timeout (plus one request): it did not keep trying for the client's 30 s default.
  assert.ok(Date.now() - started < 20_000);
  assert.ok(fake.log.filter(([, k]) => k === 19).length >= 2, "it retried");
});

Deno.test("a controller connection lost mid-request is retried after a metadata refresh", async () => {
  const state: FakeClusterState = { controllerId: 2, topics: new Map() };
  let dropped = false;
  // Node 2 drops the connection on its first CreateTopics (the controller restarting, say).
  await using fake = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey === 19 && !dropped) {
      dropped = true;
      return "close";
    }
    if (h.apiKey !== 19) return undefined;
    const req = fake.decode<CreateTopicsRequest>(h, body);
    for (const t of req.topics) {
      state.topics.set(t.name, { topicId: TOPIC_ID, partitions: [{ leader: node, epoch: 0 }] });
    }
    return fake.reply<CreateTopicsResponse>(h, {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        topicId: TOPIC_ID,
        errorCode: 0,
        errorMessage: null,
        topicConfigErrorCode: 0,
        numPartitions: 1,
        replicationFactor: 1,
        configs: [],
      })),
    });
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const [r] = await client.admin().createTopics([{ topic: "t4" }], { timeoutMs: 10_000 });
  assert.equal(r.created, true);
  assert.deepStrictEqual(fake.log.filter(([, k]) => k === 19), [[2, 19], [2, 19]]);
});
