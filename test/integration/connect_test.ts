import assert from "node:assert/strict";
import { Connection } from "../../src/connection.ts";
import { apiVersions } from "../../protocol/apis/api_versions.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { connect, ConnectionError } from "../../mod.ts";
import { BROKERS, deviates, newTopic, testClient } from "../_broker.ts";

const [host, port] = BROKERS[0].split(":");

Deno.test("a connection negotiates ApiVersions and pipelines requests", async () => {
  const conn = await Connection.connect({ host, port: Number(port) });
  try {
    assert.ok(conn.brokerVersions.size > 20, "the broker advertises its APIs");
    assert.equal(conn.versionFor(apiVersions), 4);
    assert.equal(conn.versionFor(metadata), deviates("tansuMetadataV12") ? 12 : 13);
    // Ten requests in flight on one socket, answered in order by correlation id.
    const all = await Promise.all(
      Array.from({ length: 10 }, () => conn.request(metadata, { topics: [], allowAutoTopicCreation: false })),
    );
    assert.equal(all.length, 10);
    for (const md of all) assert.equal(md.brokers.length >= 1, true);
    // Every version of Metadata we speak works against the real broker.
    for (let v = metadata.minVersion; v <= conn.versionFor(metadata); v++) {
      const md = await conn.request(metadata, { topics: null }, { version: v });
      assert.ok(md.brokers.length >= 1, `Metadata v${v}`);
    }
  } finally {
    conn.close();
  }
});

Deno.test("connect() reads metadata of a topic: partitions, leaders, replicas, the cluster", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "md", 2);
  const md = await client.metadata({ topics: [topic] });
  assert.equal(md.topics.length, 1);
  const t = md.topics[0];
  assert.equal(t.name, topic);
  assert.equal(t.errorCode, 0);
  assert.equal(t.partitions.length, 2);
  for (const p of t.partitions) {
    assert.ok(p.leader >= 0);
    assert.ok(p.replicas.includes(p.leader));
    assert.ok(p.isr.includes(p.leader));
  }
  assert.ok(md.brokers.some((b) => b.nodeId === t.partitions[0].leader));
  assert.ok(md.clusterId && md.clusterId.length > 0);
  assert.ok(md.controllerId >= 0);
  const all = await client.metadata();
  assert.ok(all.topics.some((x) => x.name === topic));
});

Deno.test("connect() reports every bootstrap address it could not reach", async () => {
  // Two ports that are closed: listen, take the port, close.
  const ports = [0, 0].map(() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  });
  const err = await connect({ brokers: ports.map((p) => `127.0.0.1:${p}`), connectTimeoutMs: 2000 }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof ConnectionError);
  for (const p of ports) assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${p}`));
});

Deno.test("connect() falls through an unreachable bootstrap broker to a live one", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = (l.addr as Deno.NetAddr).port;
  l.close();
  await using client = await connect({ brokers: [`127.0.0.1:${dead}`, ...BROKERS] });
  const md = await client.metadata();
  assert.ok(md.brokers.length >= 1);
});

Deno.test("client.close() is idempotent and later calls fail with ClosedError", async () => {
  const client = await testClient();
  await client.close();
  await client.close();
  await assert.rejects(() => client.metadata(), { name: "ClosedError" });
});
