// Admin routing on the 3-node cluster: group calls reach each group's coordinator (spread over the
// brokers), per-partition calls each partition's leader, listGroups asks every broker; and when the
// coordinator of a group is killed, the calls find the new one within their timeout.
import assert from "node:assert/strict";
import { uniqueName } from "../_broker.ts";
import { cluster, directClient, ensureHealthy, localCluster, result } from "./_cluster.ts";

Deno.test(
  "cluster: admin calls reach each group's coordinator and partition leader, follow a killed coordinator, elect and reassign",
  {
    sanitizeOps: false, // the killed broker's connections close on their own schedule
    sanitizeResources: false,
  },
  async () => {
    const env = localCluster();
    await ensureHealthy(env);
    const client = await directClient(env);
    const admin = client.admin();
    const topic = uniqueName("adm-route");
    let killed: number | null = null;
    try {
      const described = await admin.describeCluster();
      assert.deepEqual(described.brokers.map((b) => b.nodeId), [...cluster.NODE_IDS].sort((a, b) => a - b));
      assert.ok(cluster.NODE_IDS.includes(described.controllerId) || described.controllerId >= 0);

      await admin.createTopics([{ topic, partitions: 6, replicationFactor: 3 }], { timeoutMs: 60_000 });
      const [d] = await admin.describeTopics([topic]);
      assert.ok(new Set(d.partitions.map((p) => p.leader)).size > 1, "leaders spread over the brokers");
      await using producer = client.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: 60 }, (_, i) => ({ value: `v${i}`, partition: i % 6 })),
      });
      const ends = await admin.listOffsets([topic]);
      assert.deepEqual(ends.map((o) => [o.offset, o.error]), Array(6).fill([10n, null]));
      const del = await admin.deleteRecords(
        d.partitions.map((p) => ({ topic, partition: p.partition, offset: 2 })),
      );
      assert.ok(del.every((r) => r.error === null && r.lowWatermark === 2n));

      // Earlier tests kill brokers, which leaves leadership (and so every group coordinator) on the
      // survivors until Kafka's periodic rebalance: move each partition back to its preferred replica.
      await admin.electLeaders({ timeoutMs: 60_000 });
      // Enough groups that their coordinators land on more than one broker.
      const groups = Array.from({ length: 12 }, () => uniqueName("g-route"));
      for (const g of groups) {
        const r = await admin.alterGroupOffsets(
          g,
          d.partitions.map((p) => ({ topic, partition: p.partition, offset: 5 })),
          {
            timeoutMs: 60_000,
          },
        );
        assert.ok(r.every((x) => x.error === null));
      }
      const descs = await admin.describeGroups(groups);
      const coordinators = new Set(descs.map((g) => g.coordinator));
      assert.ok(coordinators.size > 1, `coordinators ${[...coordinators]}`);
      assert.ok(descs.every((g) => g.error === null && g.state === "Empty"));
      const listed = await admin.listGroups();
      for (const g of descs) {
        assert.equal(listed.find((x) => x.groupId === g.groupId)?.coordinator, g.coordinator, g.groupId);
      }

      // Kill the first group's coordinator: the next calls must find the new one.
      const victim = descs[0];
      killed = victim.coordinator;
      await cluster.killNode(victim.coordinator, "SIGKILL");
      const started = Date.now();
      const lag = await admin.groupLag(victim.groupId, { timeoutMs: 90_000 });
      const ms = Date.now() - started;
      assert.equal(lag.total, 30n);
      assert.ok(lag.partitions.every((p) => p.error === null && p.committed === 5n && p.end === 10n));
      const [moved] = await admin.describeGroups([victim.groupId], { timeoutMs: 60_000 });
      assert.notEqual(moved.coordinator, victim.coordinator);
      result({ scenario: "groupLag with the group's coordinator killed", killed, ms });

      // Back with all three: the killed node's partitions are led elsewhere until a preferred election.
      await cluster.startNode(killed);
      killed = null;
      const deadline = Date.now() + 90_000;
      let parts = (await admin.describeTopics([topic]))[0].partitions;
      while (parts.some((p) => p.isr.length < 3) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        parts = (await admin.describeTopics([topic]))[0].partitions;
      }
      assert.ok(parts.every((p) => p.isr.length === 3), "replicas back in sync");
      const elected = await admin.electLeaders({
        partitions: [{ topic, partitions: parts.map((p) => p.partition) }],
      });
      assert.ok(
        elected.every((e) => e.error === null || e.error.type === "ELECTION_NOT_NEEDED"),
        JSON.stringify(elected.map((e) => e.error?.type)),
      );
      // The election is applied through the metadata log: the brokers' metadata follows shortly after.
      const elections = Date.now() + 30_000;
      parts = (await admin.describeTopics([topic]))[0].partitions;
      while (parts.some((p) => p.leader !== p.replicas[0]) && Date.now() < elections) {
        await new Promise((r) => setTimeout(r, 300));
        parts = (await admin.describeTopics([topic]))[0].partitions;
      }
      assert.ok(
        parts.every((p) => p.leader === p.replicas[0]),
        `every partition led by its preferred replica: ${
          JSON.stringify(parts.map((p) => [p.leader, p.replicas]))
        }`,
      );

      // Move partition 0 onto two of the brokers, and see it finish.
      const target = parts[0].replicas.slice(1).sort((a, b) => a - b);
      const moved0 = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: target }]);
      assert.deepEqual(moved0.map((m) => m.error), [null]);
      let ongoing = await admin.listPartitionReassignments([{ topic, partitions: [0] }]);
      while (ongoing.length > 0 && Date.now() < deadline + 60_000) {
        await new Promise((r) => setTimeout(r, 300));
        ongoing = await admin.listPartitionReassignments([{ topic, partitions: [0] }]);
      }
      assert.deepEqual(ongoing, []);
      let p0 = (await admin.describeTopics([topic]))[0].partitions[0];
      while (
        [...p0.replicas].sort((a, b) => a - b).join() !== target.join() && Date.now() < deadline + 60_000
      ) {
        await new Promise((r) => setTimeout(r, 300));
        p0 = (await admin.describeTopics([topic]))[0].partitions[0];
      }
      assert.deepEqual([...p0.replicas].sort((a, b) => a - b), target);
    } finally {
      if (killed !== null) await cluster.startNode(killed);
      await admin.deleteTopics([topic], { timeoutMs: 60_000 }).catch(() => {});
      await client.close();
    }
  },
);
