/**
 * Every Admin method against the real broker: topics, configs, offsets,
 * groups, cluster, with the per-item errors Kafka reports per item.
 */
import assert from "node:assert/strict";
import {
  BrokerError,
  type CreateTopicResult,
  KafkaError,
  PartialFailureError,
  ProtocolError,
  TimeoutError,
} from "../../mod.ts";
import { consumerGroupHeartbeat } from "../../protocol/messages/consumer_group_heartbeat.ts";
import { findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { offsetFetch } from "../../protocol/apis/offset_fetch.ts";
import type { Client } from "../../src/client.ts";
import type { Connection } from "../../src/connection.ts";
import { deviates, notOffered, testClient, uniqueName } from "../_broker.ts";
import { produceNumbered } from "./_member.ts";

Deno.test("admin: topics are created with configs, assignments and validateOnly, described, grown and deleted by id", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const [a, b, missing] = [uniqueName("adm-a"), uniqueName("adm-b"), uniqueName("adm-missing")];
  const { brokers } = await admin.describeCluster();
  const node = brokers[0].nodeId;

  const dry = await admin.createTopics([{ topic: a, partitions: 2 }], { validateOnly: true });
  assert.equal(dry[0].created, false);
  if (deviates("tansuCreateTopicsValidateOnly")) {
    assert.equal((await admin.describeTopics([a]))[0].error, null);
    await assert.rejects(admin.createPartitions([{ topic: a, count: 4 }]), notOffered("CreatePartitions"));
    await admin.deleteTopics([a]);
    return;
  }
  assert.equal((await admin.describeTopics([a]))[0].error?.type, "UNKNOWN_TOPIC_OR_PARTITION");

  const created = await admin.createTopics([
    { topic: a, partitions: 2, replicationFactor: 1, configs: { "retention.ms": "3600000" } },
    { topic: b, assignments: { 0: [node], 1: [node], 2: [node] } },
  ]);
  assert.deepEqual(created.map((c) => [c.created, c.partitions, c.replicationFactor]), [[true, 2, 1], [
    true,
    3,
    1,
  ]]);

  const listed = await admin.listTopics();
  assert.ok(listed.some((t) => t.name === a && t.partitions === 2 && !t.isInternal));
  assert.ok(!listed.some((t) => t.name === "__consumer_offsets"));

  const [da, dm] = await admin.describeTopics([a, missing], { includeAuthorizedOperations: true });
  assert.equal(da.error, null);
  assert.equal(da.topicId, created[0].topicId);
  // One replica each, led by it (on whichever broker the cluster chose).
  assert.deepEqual(da.partitions.map((p) => [p.partition, [p.leader], p.isr]), [
    [0, da.partitions[0].replicas, da.partitions[0].replicas],
    [1, da.partitions[1].replicas, da.partitions[1].replicas],
  ]);
  assert.ok(da.authorizedOperations?.includes("READ"));
  assert.ok(dm.error instanceof BrokerError && dm.error.type === "UNKNOWN_TOPIC_OR_PARTITION");

  const grown = await admin.createPartitions([{ topic: a, count: 4 }, { topic: missing, count: 2 }]);
  assert.equal(grown[0].error, null);
  assert.equal(grown[1].error?.type, "UNKNOWN_TOPIC_OR_PARTITION");
  assert.equal((await admin.describeTopics([a]))[0].partitions.length, 4);

  // One topic that exists and one that does not: the new one is created, the call says which failed.
  const c = uniqueName("adm-c");
  const partial = await admin.createTopics([{ topic: a, partitions: 1 }, { topic: c, partitions: 1 }]).then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  assert.ok(partial instanceof PartialFailureError && partial.type === "TOPIC_ALREADY_EXISTS");
  assert.deepEqual(
    (partial.results as CreateTopicResult[]).map((r) => [r.topic, r.created, r.error?.type ?? null]),
    [[a, false, "TOPIC_ALREADY_EXISTS"], [c, true, null]],
  );
  const gone = await admin.deleteTopics([c, missing]).then(() => assert.fail("resolved"), (e) => e);
  assert.ok(gone instanceof PartialFailureError);
  assert.deepEqual(gone.results.map((r: { error: BrokerError | null }) => r.error?.type ?? null), [
    null,
    "UNKNOWN_TOPIC_OR_PARTITION",
  ]);
  assert.equal((await admin.describeTopics([c]))[0].error?.type, "UNKNOWN_TOPIC_OR_PARTITION");

  await admin.deleteTopics([{ topicId: created[0].topicId }, b]);
  assert.ok(!(await admin.listTopics()).some((t) => t.name === a || t.name === b));
  await assert.rejects(admin.deleteTopics([missing]), (e) => e instanceof BrokerError);
  await admin.deleteTopics([missing], { ifExists: true });
});

Deno.test("admin: configs are described with synonyms and documentation, altered per resource, listed", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("adm-cfg");
  await admin.createTopics([{ topic, partitions: 1, configs: { "retention.ms": "3600000" } }]);
  try {
    const { brokers } = await admin.describeCluster();
    if (deviates("tansuConfigs")) {
      const [t] = await admin.describeConfigs([{ type: "topic", name: topic }], { includeSynonyms: true });
      assert.equal(t.configs.find((c) => c.name === "retention.ms")?.value, "3600000");
      await assert.rejects(
        admin.describeConfigs([{
          type: "broker",
          name: String(brokers[0].nodeId),
          keys: ["log.retention.hours"],
        }], {
          timeoutMs: 3_000,
        }),
        (e) => e instanceof TimeoutError && /closed the connection/.test(e.message),
      );
      return;
    }
    const [t, b] = await admin.describeConfigs([
      { type: "topic", name: topic },
      { type: "broker", name: String(brokers[0].nodeId), keys: ["log.retention.hours"] },
    ], { includeSynonyms: true, includeDocumentation: true });
    const retention = t.configs.find((c) => c.name === "retention.ms")!;
    assert.equal(retention.value, "3600000");
    assert.equal(retention.source, "DYNAMIC_TOPIC_CONFIG");
    assert.equal(retention.type, "LONG");
    if (deviates("kfakeConfigDocs")) assert.equal(retention.documentation, null);
    else assert.ok(retention.documentation && retention.documentation.length > 10);
    assert.ok(retention.synonyms.length >= 1);
    assert.equal(b.error, null);
    assert.deepEqual(
      b.configs.map((c) => c.name),
      deviates("kfakeBrokerConfigs") ? [] : ["log.retention.hours"],
    );

    const altered = await admin.incrementalAlterConfigs([
      {
        type: "topic",
        name: topic,
        ops: [
          { name: "retention.ms", op: "delete" },
          { name: "cleanup.policy", value: "compact" },
        ],
      },
      { type: "topic", name: uniqueName("adm-none"), ops: [{ name: "retention.ms", value: "1" }] },
    ]);
    assert.equal(altered[0].error, null);
    assert.equal(altered[1].error?.type, "UNKNOWN_TOPIC_OR_PARTITION");
    assert.match(altered[1].error!.message, /adm-none/);
    const appended = await admin.incrementalAlterConfigs([
      { type: "topic", name: topic, ops: [{ name: "cleanup.policy", op: "append", value: "delete" }] },
    ]);
    assert.equal(appended[0].error, null);
    // The controller answers once the change is committed; the broker that describes it takes it from
    // the metadata log a moment later: ask again (bounded) until it shows.
    const describeAfter = async () => {
      const [after] = await admin.describeConfigs([{
        type: "topic",
        name: topic,
        keys: ["retention.ms", "cleanup.policy"],
      }]);
      return Object.fromEntries(after.configs.map((c) => [c.name, c]));
    };
    let byName = await describeAfter();
    for (
      let i = 0;
      i < 150 &&
      (byName["retention.ms"]?.source !== "DEFAULT_CONFIG" ||
        byName["cleanup.policy"]?.value !== "compact,delete");
      i++
    ) {
      await new Promise((r) => setTimeout(r, 200));
      byName = await describeAfter();
    }
    assert.equal(byName["retention.ms"].source, "DEFAULT_CONFIG");
    assert.equal(byName["cleanup.policy"].value, "compact,delete");

    const resources = await admin.listConfigResources({ types: ["topic"] });
    assert.ok(resources.some((r) => r.type === "topic" && r.name === topic));
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: offsets are listed by spec and records deleted per partition", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("adm-off");
  await admin.createTopics([{ topic, partitions: 2 }]);
  try {
    const before = Date.now();
    await produceNumbered(client, topic, 20, { partitions: 2 });
    const latest = await admin.listOffsets([topic]);
    if (deviates("tansuListOffsetsLatest")) {
      // Ten records in one batch: the broker answers the batch's base offset + 1.
      await using producer = client.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, () => ({ value: "x", partition: 0 })),
      });
      const [end] = await admin.listOffsets([{ topic, partitions: [0] }]);
      assert.equal(end.offset, 11n);
      return;
    }
    assert.deepEqual(latest.map((o) => [o.partition, o.offset, o.error]), [[0, 10n, null], [1, 10n, null]]);
    const earliest = await admin.listOffsets([{ topic, partitions: [1] }], { at: "earliest" });
    assert.equal(earliest[0].offset, 0n);
    const byTime = await admin.listOffsets([topic], { at: { timestamp: before - 60_000 } });
    assert.deepEqual(byTime.map((o) => o.offset), [0n, 0n]);
    const future = await admin.listOffsets([topic], { at: { timestamp: Date.now() + 3_600_000 } });
    assert.deepEqual(future.map((o) => o.offset), [-1n, -1n]);
    const max = await admin.listOffsets([topic], { at: "max-timestamp", isolationLevel: "read_committed" });
    assert.ok(max.every((o) => o.offset >= 0n && o.timestamp >= BigInt(before)));

    const deleted = await admin.deleteRecords([
      { topic, partition: 0, offset: 3 },
      { topic, partition: 1, offset: -1 },
      { topic, partition: 7, offset: 1 },
    ]);
    assert.deepEqual(deleted.map((d) => [d.partition, d.lowWatermark, d.error?.type ?? null]), [
      [0, 3n, null],
      [1, 10n, null],
      [7, -1n, "UNKNOWN_TOPIC_OR_PARTITION"],
    ]);
    const after = await admin.listOffsets([topic], { at: "earliest" });
    assert.deepEqual(after.map((o) => o.offset), [3n, 10n]);
    const none = uniqueName("adm-none");
    const missing = await admin.listOffsets([none, { topic: none, partitions: [0] }]);
    assert.deepEqual(missing.map((m) => m.error?.type), [
      "UNKNOWN_TOPIC_OR_PARTITION",
      "UNKNOWN_TOPIC_OR_PARTITION",
    ]);
    // The lookup did not auto-create it (the test broker has auto.create.topics.enable=true).
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal((await admin.describeTopics([none]))[0].error?.type, "UNKNOWN_TOPIC_OR_PARTITION");
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: a consumer group is listed, described, lagged, reset (only when empty), altered and deleted", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("adm-grp");
  const groupId = uniqueName("g-adm");
  await admin.createTopics([{ topic, partitions: 2 }]);
  try {
    await produceNumbered(client, topic, 20, { partitions: 2 });
    const consumer = client.consumer({ groupId, topics: [topic], fromBeginning: true, autoCommit: false });
    let n = 0;
    for await (const r of consumer) {
      if (++n === 6) {
        await consumer.commit();
        break;
      }
      void r;
    }
    // The loop left the group; a second consumer stays in it while we look.
    const live = client.consumer({ groupId, topics: [topic], autoCommit: false, sessionTimeoutMs: 10_000 });
    const it = live[Symbol.asyncIterator]();
    const first = it.next(); // joins the group; nothing new arrives
    try {
      let desc = (await admin.describeGroups([groupId]))[0];
      for (let i = 0; i < 100 && desc.state !== "Stable"; i++) {
        await new Promise((r) => setTimeout(r, 200));
        desc = (await admin.describeGroups([groupId]))[0];
      }
      assert.equal(desc.error, null);
      assert.equal(desc.state, "Stable");
      assert.equal(desc.protocolType, "consumer");
      if (deviates("tansuDescribeGroupMembers")) {
        assert.equal(desc.members.length, 0);
        if (deviates("tansuOffsetFetchAll")) {
          const conn = await groupCoordinator(client, groupId);
          await assert.rejects(
            conn.request(offsetFetch, { groupId, topics: null }, { version: 7 }),
            (e) => e instanceof ProtocolError && /OffsetFetch v7/.test(e.message),
          );
        }
        return;
      }
      assert.equal(desc.members.length, 1);
      assert.deepEqual(desc.members[0].assignment, [{ topic, partitions: [0, 1] }]);
      assert.deepEqual(desc.members[0].subscribedTopics, [topic]);

      const listed = await admin.listGroups({ states: ["Stable"] });
      assert.ok(listed.some((g) => g.groupId === groupId && g.protocolType === "consumer"));
      assert.ok(!(await admin.listGroups({ states: ["Empty"] })).some((g) => g.groupId === groupId));

      const [busy] = await admin.deleteGroups([groupId]);
      assert.equal(busy.error?.type, "NON_EMPTY_GROUP");
      await assert.rejects(
        admin.resetGroupOffsets(groupId, { to: "earliest" }),
        (e) => e instanceof KafkaError && /Stable with 1 member/.test(e.message),
      );
    } finally {
      await live.close();
      await first.catch(() => {});
    }

    const lag = await admin.groupLag(groupId);
    const committed = lag.partitions.reduce((s, p) => s + (p.committed ?? 0n), 0n);
    assert.ok(committed >= 6n, `committed ${committed}`);
    assert.equal(lag.total, 20n - committed);
    assert.equal(lag.topics[topic], lag.total);
    assert.ok(lag.partitions.every((p) => p.end === 10n && p.lag === p.end - p.committed!));

    const dry = await admin.resetGroupOffsets(groupId, { to: "earliest", dryRun: true });
    assert.deepEqual(dry.map((r) => r.offset), [0n, 0n]);
    assert.equal((await admin.groupLag(groupId)).total, lag.total);

    const shifted = await admin.resetGroupOffsets(groupId, { to: { shift: -100 } });
    assert.deepEqual(shifted.map((r) => [r.partition, r.offset, r.error]), [[0, 0n, null], [1, 0n, null]]);
    assert.equal((await admin.groupLag(groupId)).total, 20n);
    const byTime = await admin.resetGroupOffsets(groupId, { to: { timestamp: Date.now() + 3_600_000 } });
    assert.deepEqual(byTime.map((r) => r.offset), [10n, 10n], "no record after the time: the end");
    const fromZero = await admin.resetGroupOffsets(groupId, { to: { timestamp: 0 } });
    assert.deepEqual(fromZero.map((r) => [r.previous, r.offset]), [[10n, 0n], [10n, 0n]]);
    const exact = await admin.resetGroupOffsets(groupId, { to: { offset: 99 }, topics: [topic] });
    assert.deepEqual(exact.map((r) => r.offset), [10n, 10n], "clamped to the end");
    await admin.resetGroupOffsets(groupId, { to: { offset: 0 } });
    await admin.resetGroupOffsets(groupId, { to: "latest", topics: [{ topic, partitions: [0] }] });
    await admin.alterGroupOffsets(groupId, [{ topic, partition: 1, offset: 4, metadata: "admin" }]);
    const offsets = await admin.listGroupOffsets(groupId);
    const none = deviates("kfakeOffsetMetadataNull") ? null : "";
    assert.deepEqual(offsets.map((o) => [o.partition, o.offset, o.metadata]), [[0, 10n, none], [
      1,
      4n,
      "admin",
    ]]);
    assert.equal((await admin.groupLag(groupId)).total, 6n);

    const removed = await admin.deleteGroupOffsets(groupId, [{ topic, partitions: [1] }]);
    assert.deepEqual(removed.map((r) => r.error), [null]);
    assert.deepEqual((await admin.listGroupOffsets(groupId)).map((o) => o.partition), [0]);
    const lag2 = await admin.groupLag(groupId, { topics: [topic] });
    assert.deepEqual(lag2.partitions.map((p) => [p.committed, p.lag]), [[10n, 0n], [null, null]]);

    const gone = await admin.deleteGroups([groupId, uniqueName("g-none")]);
    assert.equal(gone[0].error, null);
    assert.equal(gone[1].error?.type, "GROUP_ID_NOT_FOUND");
    const [dead] = await admin.describeGroups([groupId]);
    assert.ok(dead.state === "Dead" || dead.error?.type === "GROUP_ID_NOT_FOUND", dead.state);
  } finally {
    await admin.deleteTopics([topic]);
  }
});

/** A connection to the group's coordinator (FindCoordinator, retried while the coordinator loads). */
async function groupCoordinator(client: Client, groupId: string): Promise<Connection> {
  const any = await client.cluster.anyConnection();
  const batched = any.versionFor(findCoordinator) >= 4;
  for (let i = 0;; i++) {
    const res = await any.request(
      findCoordinator,
      batched ? { keyType: 0, coordinatorKeys: [groupId] } : {
        key: groupId,
        keyType: 0,
      },
    );
    const c = batched ? res.coordinators[0] : res;
    if (c.errorCode === 0) return await client.cluster.connectionTo(c.nodeId);
    if (i === 100) throw new Error(`no coordinator for ${groupId}: error ${c.errorCode}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("admin: a KIP-848 consumer group is described through ConsumerGroupDescribe", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("adm-848");
  const groupId = uniqueName("g-848");
  await admin.createTopics([{ topic, partitions: 2 }]);
  try {
    // Join as a KIP-848 member by hand: one ConsumerGroupHeartbeat to the coordinator.
    const conn = await groupCoordinator(client, groupId);
    if (deviates("tansuNoKip848")) {
      await assert.rejects(
        conn.request(consumerGroupHeartbeat, {
          groupId,
          memberId: "m",
          memberEpoch: 0,
          rebalanceTimeoutMs: 30_000,
          subscribedTopicNames: [topic],
          topicPartitions: [],
        }),
        notOffered("ConsumerGroupHeartbeat"),
      );
      return;
    }
    const res = await conn.request(consumerGroupHeartbeat, {
      groupId,
      memberId: crypto.randomUUID().replaceAll("-", "").slice(0, 22),
      memberEpoch: 0,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: [topic],
      serverAssignor: "uniform",
      topicPartitions: [],
    });
    assert.equal(res.errorCode, 0);
    const [desc] = await admin.describeGroups([groupId]);
    assert.equal(desc.error, null);
    assert.equal(desc.type, "consumer");
    assert.equal(desc.assignor, "uniform");
    assert.equal(desc.members.length, 1);
    assert.deepEqual(desc.members[0].subscribedTopics, [topic]);
    const listed = await admin.listGroups({ types: ["consumer"] });
    assert.ok(listed.some((g) => g.groupId === groupId && g.type === "consumer"));
    assert.ok(!(await admin.listGroups({ types: ["classic"] })).some((g) => g.groupId === groupId));
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: the cluster, its features, log dirs, elections and reassignments are described", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("adm-cl");
  await admin.createTopics([{ topic, partitions: 1 }]);
  try {
    const cluster = await admin.describeCluster({ includeAuthorizedOperations: true });
    assert.ok(cluster.clusterId);
    assert.ok(cluster.brokers.length >= 1);
    if (deviates("tansuClusterAdmin")) {
      assert.equal(cluster.authorizedOperations, null);
      await assert.rejects(admin.describeLogDirs(), notOffered("DescribeLogDirs"));
      await assert.rejects(
        admin.electLeaders({ partitions: [{ topic, partitions: [0] }] }),
        notOffered("ElectLeaders"),
      );
      return;
    }
    assert.ok(cluster.authorizedOperations?.includes("DESCRIBE"));
    const features = await admin.describeFeatures();
    assert.ok(features.features.some((f) => f.name === "metadata.version" && f.finalized !== null));
    const dirs = await admin.describeLogDirs();
    assert.ok(dirs.length >= 1 && dirs.every((d) => d.error === null));
    assert.ok(dirs.some((d) => d.replicas.some((r) => r.topic === topic && r.partition === 0)));
    const elected = await admin.electLeaders({ partitions: [{ topic, partitions: [0] }] });
    const notNeeded = deviates("kfakeElectionNeeded") ? undefined : "ELECTION_NOT_NEEDED";
    assert.deepEqual(elected.map((e) => [e.partition, e.error?.type]), [[0, notNeeded]]);
    assert.deepEqual(await admin.listPartitionReassignments(), []);
    const moved = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: null }]);
    assert.equal(moved[0].error?.type, "NO_REASSIGNMENT_IN_PROGRESS");
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: timeoutMs bounds a call and bad arguments are refused up front", async () => {
  await using client = await testClient();
  const admin = client.admin();
  await assert.rejects(admin.listTopics({ timeoutMs: 0 }), RangeError);
  await assert.rejects(admin.describeConfigs([{ type: "nope" as "topic", name: "x" }]), TypeError);
  await assert.rejects(admin.resetGroupOffsets("", { to: "earliest" }), TypeError);
  await assert.rejects(admin.deleteRecords([{ topic: "t", partition: 0, offset: -2 }]), RangeError);
  // A coordinator that cannot be found: FindCoordinator keeps failing until the call's deadline.
  void TimeoutError;
});
