import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster.ts";
import { fakeCluster, type FakeClusterState } from "../_fake_cluster.ts";

Deno.test("metadata naming an older leader epoch than already seen (from a lagging broker) is ignored", async () => {
  const state: FakeClusterState = {
    controllerId: 0,
    topics: new Map([["t", { topicId: "AAAAAAAAAAAAAAAAAAAAAQ", partitions: [{ leader: 0, epoch: 5 }] }]]),
  };
  await using fake = fakeCluster(2, state, () => undefined);
  const cluster = new Cluster({ brokers: [fake.nodes[0].address] });
  try {
    await cluster.bootstrap();
    const at = async () => {
      await cluster.refreshMetadata(["t"]);
      const p = cluster.cachedTopic("t")!.partitions[0];
      return [p.leader, p.leaderEpoch];
    };
    assert.deepStrictEqual(await at(), [0, 5]);
    state.topics.get("t")!.partitions[0] = { leader: 1, epoch: 4 };
    assert.deepStrictEqual(await at(), [0, 5], "the older view is ignored");
    state.topics.get("t")!.partitions[0] = { leader: 1, epoch: 6 };
    assert.deepStrictEqual(await at(), [1, 6]);
    // A topic recreated under the same name (a new id) starts its epochs afresh.
    state.topics.set("t", { topicId: "AAAAAAAAAAAAAAAAAAAAAg", partitions: [{ leader: 0, epoch: 0 }] });
    assert.deepStrictEqual(await at(), [0, 0]);
  } finally {
    await cluster.close();
  }
});
