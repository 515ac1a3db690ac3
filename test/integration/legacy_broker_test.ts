/**
 * Smoke test against the oldest broker the client supports: Kafka 3.0.2 in
 * ZooKeeper mode (scripts/kafka_legacy.ts), started here and stopped by the last
 * test of this file (kept running with KAFKA_KEEP=1). Each connection
 * negotiates every API down to what 3.0 speaks.
 */

import assert from "node:assert/strict";
import { type CompressionName, connect, Connection, type ConsumerRecord } from "../../mod.ts";
import { fetch } from "../../protocol/apis/fetch.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { produce } from "../../protocol/apis/produce.ts";
import {
  LEGACY_HOST,
  LEGACY_KAFKA_VERSION,
  LEGACY_PORT,
  startLegacy,
  stopLegacy,
} from "../../scripts/kafka_legacy.ts";
import { committedOffsets } from "../_group.ts";
import { requires, uniqueName } from "../_broker.ts";
import { rdkafkaProduce } from "../_tools.ts";
import { take } from "./_member.ts";

// Started outside any test: the broker processes are not resources of a test.
/** Every test here needs the project's Kafka 3.0.2 broker: skipped elsewhere, saying why. */
const SKIP = requires("legacy-broker");
if (!SKIP) await startLegacy({ quiet: true });
const brokers = [`${LEGACY_HOST}:${LEGACY_PORT}`];
const CODECS: CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

Deno.test(`Kafka ${LEGACY_KAFKA_VERSION}: connect, every codec, group consume and commit, read_committed`, {
  ignore: SKIP,
}, async (t) => {
  await t.step("each connection negotiates down to the versions 3.0 speaks", async () => {
    const conn = await Connection.connect({ host: LEGACY_HOST, port: LEGACY_PORT });
    try {
      // Kafka 3.0's highest: Produce v9, Fetch v12, Metadata v11 (ours go higher).
      assert.deepEqual(
        [conn.versionFor(produce), conn.versionFor(fetch), conn.versionFor(metadata)],
        [9, 12, 11],
      );
    } finally {
      conn.close();
    }
  });

  await using client = await connect({ brokers, clientId: "legacy-smoke" });
  const topic = uniqueName("legacy");
  await client.admin().createTopics([{ topic, partitions: CODECS.length, replicationFactor: 1 }]);

  await t.step("produce with every codec and read it back", async () => {
    for (const [partition, compression] of CODECS.entries()) {
      await using producer = client.producer({ compression });
      const meta = await producer.send({
        topic,
        messages: [0, 1, 2].map((i) => ({
          key: `k${i}`,
          value: `${compression}-${i} `.repeat(20),
          headers: { codec: compression },
          partition,
        })),
      });
      assert.deepEqual(meta.map((m) => [m.partition, m.offset]), [[partition, 0n], [partition, 1n], [
        partition,
        2n,
      ]]);
    }
    await using reader = client.consumer({ assign: [{ topic, from: "earliest" }] });
    const got = await take(reader[Symbol.asyncIterator](), 15, 30_000);
    assert.deepEqual(
      got.map((r) => `${r.partition}/${r.offset}/${r.keyText()}/${r.text()}/${r.headerText("codec")}`).sort(),
      CODECS.flatMap((c, p) => [0, 1, 2].map((i) => `${p}/${i}/k${i}/${`${c}-${i} `.repeat(20)}/${c}`))
        .sort(),
    );
  });

  await t.step("a group member reads every partition and commits", async () => {
    const groupId = uniqueName("legacy-group");
    const consumer = client.consumer({ groupId, topics: [topic], fromBeginning: true, autoCommit: false });
    let got: ConsumerRecord[];
    try {
      got = await take(consumer[Symbol.asyncIterator](), 15, 60_000);
      await consumer.commit();
    } finally {
      await consumer.close();
    }
    assert.equal(got.length, 15);
    const committed = await committedOffsets(client, groupId, topic);
    assert.deepEqual([...committed.entries()].sort(), CODECS.map((_, p) => [p, 3n]));
  });

  await t.step("read_committed skips an aborted transaction that read_uncommitted delivers", async () => {
    const txTopic = uniqueName("legacy-txn");
    await client.admin().createTopics([{ topic: txTopic, partitions: 1, replicationFactor: 1 }]);
    const transactionalId = uniqueName("legacy-tx");
    const opts = { partition: 0, transactionalId, brokers };
    await rdkafkaProduce(txTopic, [{ key: "a", value: "c1" }, { key: "a", value: "c2" }], opts);
    await rdkafkaProduce(txTopic, [{ key: "a", value: "x1" }, { key: "a", value: "x2" }], {
      ...opts,
      abort: true,
    });
    await rdkafkaProduce(txTopic, [{ key: "a", value: "c3" }], opts);
    const read = async (isolationLevel: "read_committed" | "read_uncommitted", n: number) => {
      await using c = client.consumer({ assign: [{ topic: txTopic, from: "earliest" }], isolationLevel });
      return (await take(c[Symbol.asyncIterator](), n, 30_000)).map((r) => r.text());
    };
    assert.deepEqual(await read("read_committed", 3), ["c1", "c2", "c3"]);
    assert.deepEqual(await read("read_uncommitted", 5), ["c1", "c2", "x1", "x2", "c3"]);
  });

  await t.step(
    "our transactions speak protocol v1 (AddPartitionsToTxn, AddOffsetsToTxn) to Kafka 3.0",
    async () => {
      const txTopic = uniqueName("legacy-own-txn");
      const groupId = uniqueName("legacy-own-txn-group");
      await client.admin().createTopics([{ topic: txTopic, partitions: 2, replicationFactor: 1 }]);
      await using producer = client.producer({ transactionalId: uniqueName("legacy-own-tx") });
      const group = { groupId, generationId: -1, memberId: "", groupInstanceId: null };
      await producer.transaction(async (tx) => {
        await tx.send({ topic: txTopic, messages: [{ key: "a", value: "c1", partition: 0 }] });
        await tx.sendOffsets(group, [{ topic: txTopic, partition: 0, offset: 1n }]);
      });
      await assert.rejects(
        producer.transaction(async (tx) => {
          await tx.send({ topic: txTopic, messages: [{ key: "a", value: "x1", partition: 0 }] });
          await tx.sendOffsets(group, [{ topic: txTopic, partition: 0, offset: 9n }]);
          throw new Error("abort it");
        }),
        /abort it/,
      );
      await producer.transaction(async (tx) => {
        await tx.send({ topic: txTopic, messages: [{ key: "a", value: "c2", partition: 0 }] });
      });
      // v1 keeps one epoch across transactions (v2 would have bumped it at every end).
      assert.equal(producer.producerIdentity.producerEpoch, 0);
      await using c = client.consumer({
        assign: [{ topic: txTopic, partitions: [0], from: "earliest" }],
        isolationLevel: "read_committed",
      });
      assert.deepEqual((await take(c[Symbol.asyncIterator](), 2, 30_000)).map((r) => r.text()), ["c1", "c2"]);
      const committed = await committedOffsets(client, groupId, txTopic);
      assert.equal(committed.get(0), 1n, "the aborted transaction's offsets do not count");
    },
  );
});

Deno.test(
  `Kafka ${LEGACY_KAFKA_VERSION}: admin negotiates down (OffsetFetch v7, DescribeGroups, ListGroups v4)`,
  { ignore: SKIP },
  async () => {
    await using client = await connect({ brokers, clientId: "legacy-admin" });
    const admin = client.admin();
    const topic = uniqueName("legacy-adm");
    const group = uniqueName("legacy-adm-g");
    await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    try {
      const cluster = await admin.describeCluster();
      assert.equal(cluster.brokers.length, 1);
      await using producer = client.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `${i}`, partition: i % 2 })),
      });
      assert.deepEqual((await admin.listOffsets([topic])).map((o) => o.offset), [5n, 5n]);
      assert.ok((await admin.listOffsets([topic], { at: "max-timestamp" })).every((o) => o.error === null));
      await assert.rejects(admin.listOffsets([topic], { at: "earliest-local" }), /ListOffsets up to v7/);
      assert.deepEqual(
        (await admin.deleteRecords([{ topic, partition: 0, offset: 1 }])).map((r) => r.lowWatermark),
        [1n],
      );

      await admin.alterGroupOffsets(group, [{ topic, partition: 0, offset: 2 }, {
        topic,
        partition: 1,
        offset: 4,
      }]);
      const lag = await admin.groupLag(group);
      assert.deepEqual(lag.partitions.map((p) => [p.committed, p.end, p.lag]), [[2n, 5n, 3n], [4n, 5n, 1n]]);
      const [d] = await admin.describeGroups([group]);
      assert.deepEqual([d.type, d.state, d.error], ["classic", "Empty", null]);
      assert.ok((await admin.listGroups({ states: ["Empty"] })).some((g) => g.groupId === group));
      await assert.rejects(admin.listGroups({ types: ["classic"] }), /cannot filter groups by type/);
      const reset = await admin.resetGroupOffsets(group, { to: "earliest" });
      assert.deepEqual(reset.map((r) => r.offset), [1n, 0n]);

      const [cfg] = await admin.describeConfigs([{ type: "topic", name: topic, keys: ["retention.ms"] }], {
        includeSynonyms: true,
        includeDocumentation: true,
      });
      assert.equal(cfg.error, null);
      assert.equal(cfg.configs.length, 1);
      const [alt] = await admin.incrementalAlterConfigs([
        { type: "topic", name: topic, ops: [{ name: "retention.ms", value: "60000" }] },
      ]);
      assert.equal(alt.error, null);
      await assert.rejects(admin.listConfigResources(), /does not offer ListConfigResources/);
      assert.deepEqual((await admin.createPartitions([{ topic, count: 3 }])).map((r) => r.error), [null]);
      assert.deepEqual((await admin.deleteGroups([group])).map((r) => r.error), [null]);
    } finally {
      await admin.deleteTopics([topic]);
    }
  },
);

Deno.test(
  `the Kafka ${LEGACY_KAFKA_VERSION} broker stops (unless KAFKA_KEEP is set)`,
  { ignore: SKIP },
  async () => {
    if (Deno.env.get("KAFKA_KEEP")) return;
    assert.ok(await stopLegacy(), "it was running");
  },
);
