// Admin routing against scripted fake brokers: a group call follows NOT_COORDINATOR to the new
// coordinator; a coordinator that never turns up, and a leader that keeps refusing, end at the
// call's timeoutMs (a TimeoutError, or that partition's own error while the others succeed).
import assert from "node:assert/strict";
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from "../../protocol/apis/find_coordinator.ts";
import type { ListOffsetsRequest, ListOffsetsResponse } from "../../protocol/apis/list_offsets.ts";
import type { OffsetFetchResponse } from "../../protocol/apis/offset_fetch.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { connect } from "../../src/client.ts";
import { BrokerError, TimeoutError } from "../../src/errors.ts";
import { type FakeCluster, fakeCluster, type FakeClusterState } from "../_fake_cluster.ts";

const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";

function coordinatorReply(
  c: FakeCluster,
  h: Parameters<FakeCluster["reply"]>[0],
  req: FindCoordinatorRequest,
  nodeId: number,
  errorCode: number,
) {
  const port = Number(c.nodes[Math.max(0, nodeId)].address.split(":")[1]);
  const one = { nodeId, host: "127.0.0.1", port, errorCode, errorMessage: null };
  // v4+ batches keys (KIP-699); the generated encoder refuses fields of the other shape.
  return c.reply<FindCoordinatorResponse>(
    h,
    h.apiVersion >= 4
      ? {
        throttleTimeMs: 0,
        coordinators: (req.coordinatorKeys ?? []).map((key) => ({ key, ...one })),
      } as unknown as FindCoordinatorResponse
      : { throttleTimeMs: 0, ...one, coordinators: [] },
  );
}

function offsetFetchReply(c: FakeCluster, h: Parameters<FakeCluster["reply"]>[0], groupCode: number) {
  const partitions = groupCode === 0
    ? [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, metadata: "m", errorCode: 0 }]
    : [];
  const topics = partitions.length ? [{ name: "t", topicId: TOPIC_ID, partitions }] : [];
  return c.reply<OffsetFetchResponse>(
    h,
    (h.apiVersion >= 8
      ? { throttleTimeMs: 0, groups: [{ groupId: "g", topics, errorCode: groupCode }] }
      : { throttleTimeMs: 0, topics, errorCode: groupCode }) as unknown as OffsetFetchResponse,
  );
}

Deno.test("a group call answered NOT_COORDINATOR finds the new coordinator and asks it", async () => {
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  let finds = 0;
  await using fake: FakeCluster = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey === 10) {
      const req = fake.decode<FindCoordinatorRequest>(h, body);
      return coordinatorReply(fake, h, req, ++finds === 1 ? 1 : 2, 0);
    }
    if (h.apiKey === 9) return offsetFetchReply(fake, h, node === 1 ? ErrorCode.NOT_COORDINATOR : 0);
    return undefined;
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const offsets = await client.admin().listGroupOffsets("g", { timeoutMs: 5_000 });
  assert.deepEqual(offsets.map((o) => [o.topic, o.partition, o.offset, o.metadata]), [["t", 0, 42n, "m"]]);
  assert.deepEqual(fake.log.filter(([, k]) => k === 9).map(([n]) => n), [1, 2]);
});

Deno.test("a coordinator that never becomes available fails the call with a TimeoutError at timeoutMs", async () => {
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  await using fake: FakeCluster = fakeCluster(2, state, (_node, h, body) => {
    if (h.apiKey !== 10) return undefined;
    return coordinatorReply(
      fake,
      h,
      fake.decode<FindCoordinatorRequest>(h, body),
      -1,
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    );
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const started = Date.now();
  // Long enough for a few retries however slow the machine; far below the 30 s default.
  const err = await client.admin().groupLag("g", { timeoutMs: 2_000 }).then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.ok(err.cause instanceof BrokerError && err.cause.code === ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.ok(Date.now() - started < 20_000, "bounded by the timeout, not the client's 30 s default");
  assert.ok(fake.log.filter(([, k]) => k === 10).length >= 2, "it retried");
});

Deno.test("a leader that keeps refusing gives that partition its error at timeoutMs; the other partition succeeds", async () => {
  const state: FakeClusterState = {
    controllerId: 0,
    topics: new Map([["t", {
      topicId: TOPIC_ID,
      partitions: [{ leader: 1, epoch: 0 }, { leader: 2, epoch: 0 }],
    }]]),
  };
  await using fake: FakeCluster = fakeCluster(3, state, (node, h, body) => {
    if (h.apiKey !== 2) return undefined;
    const req = fake.decode<ListOffsetsRequest>(h, body);
    return fake.reply<ListOffsetsResponse>(h, {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: node === 1 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : 0,
          timestamp: -1n,
          offset: node === 1 ? -1n : 7n,
          leaderEpoch: 0,
        })),
      })),
    });
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const started = Date.now();
  const res = await client.admin().listOffsets(["t"], { timeoutMs: 2_000 }); // a few retries, however slow

  assert.deepEqual(res.map((r) => [r.partition, r.offset, r.error?.type ?? null]), [
    [0, -1n, "NOT_LEADER_OR_FOLLOWER"],
    [1, 7n, null],
  ]);
  assert.ok(Date.now() - started < 20_000);
  assert.ok(fake.log.filter(([n, k]) => n === 1 && k === 2).length >= 2, "it retried the refused partition");
});

Deno.test("a coordinator that never answers fails describeGroups with a TimeoutError at timeoutMs", async () => {
  const state: FakeClusterState = { controllerId: 0, topics: new Map() };
  await using fake: FakeCluster = fakeCluster(2, state, (_node, h, body) => {
    if (h.apiKey === 10) return coordinatorReply(fake, h, fake.decode<FindCoordinatorRequest>(h, body), 1, 0);
    return null; // DescribeGroups: silence
  });
  await using client = await connect({ brokers: [fake.nodes[0].address] });
  const started = Date.now();
  const err = await client.admin().describeGroups(["g"], { timeoutMs: 500 }).then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(fake.log.filter(([, k]) => k === 15).map(([n]) => n), [1]);
});
