/**
 * `shareConsumer.metrics()` against the real broker: the counts match what the
 * test itself did (records produced, accepted, released, rejected, redelivered),
 * and `metrics: false` gives the empty snapshot.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Client, KafkaError, ShareConsumer, ShareRecord } from "../../mod.ts";
import { requires, testClient, uniqueName } from "../_broker.ts";
import { produceNumbered, within } from "./_member.ts";

/** A topic with one partition and a share group reading it from the start. */
async function setup(client: Client, prefix: string): Promise<{ topic: string; group: string }> {
  const topic = uniqueName(prefix);
  const group = uniqueName(`${prefix}-g`);
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  await client.admin().alterShareGroupConfigs(group, { "share.auto.offset.reset": "earliest" });
  return { topic, group };
}

async function nextRecord(q: ShareConsumer, what: string): Promise<ShareRecord> {
  // Generous: the first record waits for the group's first assignment on a loaded machine.
  const r = await within(q.next(), 90_000, what);
  assert.ok(!r.done, `${what}: the consumer ended`);
  return r.value;
}

Deno.test(
  "shareConsumer.metrics() counts records received, accepted, released, rejected and redelivered, fetches and acknowledgements",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient();
    const { topic, group } = await setup(client, "share-metrics");
    const N = 20;
    await produceNumbered(client, topic, N);
    const produced = (await client.admin().listOffsets([topic], { at: "latest" }))
      .reduce((s, o) => s + Number(o.offset), 0);
    assert.equal(produced, N);
    const errors: KafkaError[] = [];
    const q = client.shareConsumer({
      groupId: group,
      topics: [topic],
      acknowledgementMode: "explicit",
      onError: (e) => errors.push(e),
    });
    try {
      // Offset 0 is released once (it comes back with delivery count 2, then is accepted),
      // offset 1 is rejected, every other record is accepted.
      const done = new Set<bigint>();
      let accepted = 0, released = 0, rejected = 0, received = 0, redelivered = 0;
      for (let i = 0; done.size < N && i < 4 * N; i++) {
        const r = await nextRecord(q, `record ${done.size + 1} of ${N}`);
        received++;
        if (r.deliveryCount > 1) redelivered++;
        if (r.offset === 0n && r.deliveryCount === 1) {
          r.release();
          released++;
        } else if (r.offset === 1n) {
          r.reject();
          rejected++;
          done.add(r.offset);
        } else {
          r.accept();
          accepted++;
          done.add(r.offset);
        }
      }
      assert.equal(done.size, N, "every record was acknowledged for good");
      assert.equal(accepted + rejected, produced);
      await within(q.commit(), 90_000, "commit");

      const m = q.metrics();
      assert.equal(m.recordsAccepted, accepted);
      assert.equal(m.recordsAccepted, produced - 1);
      assert.equal(m.recordsReleased, released);
      assert.equal(m.recordsRejected, rejected);
      assert.equal(m.recordsRenewed, 0);
      assert.equal(m.recordsReceived, received);
      assert.equal(m.redeliveries, redelivered);
      assert.ok(m.redeliveries >= 1, `redeliveries ${m.redeliveries}`);
      assert.ok(m.bytesReceived > 0);
      assert.ok(m.fetches > 0, `fetches ${m.fetches}`);
      assert.equal(m.fetchLatencyMs.count, m.fetches);
      assert.equal(m.recordsPerFetch.count, m.fetches);
      assert.ok(m.recordsPerFetch.max >= 1 && m.recordsPerFetch.max <= N);
      assert.equal(m.acknowledgeLatencyMs.count, m.acknowledgeRequests);
      assert.equal(m.acknowledgeErrors, 0, JSON.stringify(m.errors));
      assert.equal(m.locksExpired, 0);
      assert.equal(m.buffered, 0);
      assert.ok(m.inFlight >= 0 && m.inFlight <= 2, `inFlight ${m.inFlight}`);
      // The share requests are in the client's connection metrics too.
      const apis = client.metrics().requestsByApi.map((r) => r.api);
      assert.ok(apis.includes("ShareFetch"), apis.join(","));
    } finally {
      await q.close();
    }
    // After close() (its final ShareAcknowledge closes the share session) the counts still hold.
    const after = q.metrics();
    assert.equal(after.recordsAccepted, produced - 1);
    assert.equal(after.recordsReleased, 1);
    assert.equal(after.acknowledgeLatencyMs.count, after.acknowledgeRequests);
    assert.equal(after.inFlight, 0);
    // Transient reports (a retried heartbeat) are allowed; a refused acknowledgement is not.
    assert.ok(!errors.some((e) => e.message.includes("acknowledg")), errors.map((e) => e.message).join("; "));
  },
);

Deno.test(
  "shareConsumer.metrics() with metrics: false is the empty snapshot, and the consumer works as before",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient({ metrics: false });
    const { topic, group } = await setup(client, "share-metrics-off");
    await produceNumbered(client, topic, 5);
    await using q = client.shareConsumer({ groupId: group, topics: [topic] });
    const seen = new Set<bigint>();
    for (let i = 0; seen.size < 5 && i < 20; i++) seen.add((await nextRecord(q, "record")).offset);
    assert.equal(seen.size, 5);
    await within(q.commit(), 90_000, "commit");
    const m = q.metrics();
    assert.equal(m.recordsReceived, 0);
    assert.equal(m.fetches, 0);
    assert.equal(m.recordsAccepted, 0);
    assert.equal(m.acknowledgeRequests, 0);
    assert.equal(m.fetchLatencyMs.count, 0);
    assert.deepEqual(m.errors, {});
    assert.deepEqual(client.metrics().requestsByApi, []);
  },
);
