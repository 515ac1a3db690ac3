import assert from "node:assert/strict";
import { fetch as fetchApi } from "../../protocol/apis/fetch.ts";
import { produce } from "../../protocol/apis/produce.ts";
import { Compression, decodeRecordBatches, encodeRecordBatch } from "../../protocol/mod.ts";
import { testClient, uniqueName } from "../_broker.ts";

const te = new TextEncoder();

Deno.test("batches we encode with every codec are stored by the broker and fetched back byte for byte", async (t) => {
  await using client = await testClient();
  const topic = uniqueName("batch-roundtrip");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const info = await client.cluster.readyTopic(topic);
  const conn = await client.cluster.connectionTo(info.partitions[0].leader);
  let offset = 0n;
  for (const [name, codec] of Object.entries(Compression)) {
    await t.step(name, async () => {
      const sent = encodeRecordBatch([
        {
          key: te.encode("k1"),
          value: te.encode(`value for ${name} `.repeat(50)),
          headers: [{ key: "h", value: null }],
        },
        { key: null, value: null, timestamp: 1_700_000_000_123 },
        { key: new Uint8Array(0), value: new Uint8Array(0), headers: [{ key: "a", value: te.encode("b") }] },
      ], { compression: codec, timestamp: 1_700_000_000_000 });
      const res = await conn.request(produce, {
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: topic, topicId: info.topicId, partitionData: [{ index: 0, records: sent }] }],
      });
      const pr = res.responses[0].partitionResponses[0];
      assert.equal(pr.errorCode, 0);
      assert.equal(pr.baseOffset, offset);
      const fetched = await conn.request(fetchApi, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        topics: [{
          topic,
          topicId: info.topicId,
          partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }],
        }],
      });
      const records = fetched.responses[0].partitions[0].records!;
      assert.equal(records.length, sent.length, "one batch, same size");
      // The broker sets the base offset (bytes 0-7) and the leader epoch (12-15), which the CRC
      // does not cover; every other byte, compressed payload included, comes back as we wrote it.
      assert.deepEqual(records.subarray(16), sent.subarray(16));
      assert.deepEqual(records.subarray(8, 12), sent.subarray(8, 12));
      const [batch] = decodeRecordBatches(records);
      assert.equal(batch.baseOffset, offset);
      assert.equal(batch.compression, codec);
      assert.equal(batch.records.length, 3);
      offset += 3n;
    });
  }
});
