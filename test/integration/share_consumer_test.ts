/**
 * Share groups (KIP-932) against the real broker: per-record acknowledgement,
 * several members on one partition, lock timeouts, renewals, a killed member,
 * and Kafka's own console share consumer in the same group.
 *
 * The local broker allows short acquisition locks (`group.share.min.record.lock.duration.ms`
 * in scripts/kafka.ts); each test sets its group's configs first.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AcquisitionLockExpiredError,
  BrokerError,
  type Client,
  type KafkaError,
  type ShareConsumer,
  type ShareRecord,
  TimeoutError,
} from "../../mod.ts";
import { BROKERS, deviates, newTopic, notOffered, requires, testClient, uniqueName } from "../_broker.ts";
import { javaTool } from "../_tools.ts";
import { produceNumbered, until, within } from "./_member.ts";
import { groupConfigsApplied } from "../_group.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A topic with one partition and a share group reading it from the start. */
async function setup(
  client: Client,
  prefix: string,
  configs: Record<string, string> = {},
): Promise<{ topic: string; group: string }> {
  const topic = uniqueName(prefix);
  const group = uniqueName(`${prefix}-g`);
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const all = { "share.auto.offset.reset": "earliest", ...configs };
  await client.admin().alterShareGroupConfigs(group, all);
  // The group coordinator takes them from the metadata log a moment after the answer.
  await groupConfigsApplied(client, group, all);
  return { topic, group };
}

/** Takes the next record, failing after `ms`. */
async function nextRecord(q: ShareConsumer, ms: number, what: string): Promise<ShareRecord> {
  const r = await within(q.next(), ms, what);
  assert.ok(!r.done, `${what}: the consumer ended`);
  return r.value;
}

/**
 * Collects what a consumer delivers for `ms` without acknowledging beyond `onRecord`, or until
 * `onRecord` returns true.
 */
async function collectFor(
  q: ShareConsumer,
  ms: number,
  onRecord: (r: ShareRecord) => boolean | void,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await Promise.race([q.next(), sleep(Math.max(1, deadline - Date.now())).then(() => null)]);
    if (r === null) break;
    if (r.done) break;
    if (onRecord(r.value)) break;
  }
}

const errors: KafkaError[] = [];
const onError = (e: KafkaError) => errors.push(e);

Deno.test("share consumer: accept, release (comes back with a higher delivery count), reject (never comes back)", async () => {
  await using client = await testClient();
  if (deviates("tansuNoShareGroups")) {
    const topic = await newTopic(client, "share-none", 1);
    await using q = client.shareConsumer({ groupId: uniqueName("sg-none"), topics: [topic] });
    await assert.rejects(q[Symbol.asyncIterator]().next(), notOffered("ShareGroupHeartbeat"));
    return;
  }
  const { topic, group } = await setup(client, "share-ack");
  await produceNumbered(client, topic, 12);
  await using q = client.shareConsumer({
    groupId: group,
    topics: [topic],
    acknowledgementMode: "explicit",
    onError,
  });
  const firstSeen = new Map<bigint, number>();
  const accepted = new Set<bigint>();
  const rejected = new Set<bigint>();
  const released = new Set<bigint>();
  const deadline = Date.now() + 60_000;
  while (accepted.size + rejected.size < 12) {
    assert.ok(Date.now() < deadline, `stuck with ${accepted.size} accepted, ${rejected.size} rejected`);
    const r = await nextRecord(q, 60_000, "a record");
    assert.equal(r.text(), `${r.offset}`);
    assert.ok(
      !accepted.has(r.offset) && !rejected.has(r.offset),
      `offset ${r.offset} came back after its ack`,
    );
    const n = Number(r.offset);
    if (!firstSeen.has(r.offset)) firstSeen.set(r.offset, r.deliveryCount);
    if (n % 3 === 0 && !released.has(r.offset)) {
      assert.equal(r.deliveryCount, 1);
      r.release();
      released.add(r.offset);
    } else if (n % 3 === 1) {
      r.reject();
      rejected.add(r.offset);
    } else {
      if (released.has(r.offset)) {
        assert.equal(r.deliveryCount, 2, `released offset ${r.offset} comes back 2nd`);
      }
      r.accept();
      accepted.add(r.offset);
    }
    assert.throws(() => r.accept(), /already acknowledged/);
  }
  assert.equal(released.size, 4);
  assert.equal(rejected.size, 4);
  // Nothing comes back: neither rejected nor accepted records.
  await q.commit();
  const extra: bigint[] = [];
  await collectFor(q, 2000, (r) => {
    extra.push(r.offset);
  });
  assert.deepEqual(extra, []);
  assert.deepEqual(errors.map((e) => e.message), []);
  // The share-partition state is persisted lazily (its start offset may trail); the lag says all is done.
  let offsets = await client.admin().describeShareGroupOffsets(group, [topic]);
  for (let i = 0; i < 50 && offsets[0]?.lag !== 0n; i++) {
    await sleep(200);
    offsets = await client.admin().describeShareGroupOffsets(group, [topic]);
  }
  assert.equal(offsets.length, 1);
  assert.equal(offsets[0].lag, 0n);
  assert.ok(offsets[0].startOffset >= 0n && offsets[0].startOffset <= 12n);
  const [desc] = await client.admin().describeShareGroups([group]);
  assert.equal(desc.members.length, 1);
  assert.equal(desc.members[0].memberId, q.memberId);
  assert.deepEqual(desc.members[0].assignment, [{ topic, partitions: [0] }]);
  assert.ok((await client.admin().listShareGroups()).some((g) => g.groupId === group));
  await q.close();
});

Deno.test(
  "4 share consumers on a 1-partition topic each get records, and every record is accepted exactly once",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient();
    const { topic, group } = await setup(client, "share-four");
    const total = 400;
    const qs = [0, 1, 2, 3].map(() =>
      client.shareConsumer({
        groupId: group,
        topics: [topic],
        acknowledgementMode: "explicit",
        maxRecords: 10,
        onError,
      })
    );
    try {
      // All four are members with the partition before anything is produced.
      await until(() => qs.every((q) => q.assignment.length === 1), 60_000, "all four assigned");
      await produceNumbered(client, topic, total);
      const accepted = new Map<bigint, number>();
      const counts = [0, 0, 0, 0];
      let done = false;
      // Every member gets records whatever the timing: one that has had its first record waits (bounded)
      // until the others have theirs. It holds at most maxRecords meanwhile, which leaves plenty for them.
      const everyoneServed = until(() => counts.every((n) => n > 0), 60_000, "every member's first record")
        .catch(() => {}); // the assertion below names who got nothing
      await Promise.all(qs.map(async (q, i) => {
        let pending: ReturnType<ShareConsumer["next"]> | null = null;
        while (!done) {
          // One next() at a time: the pending one is kept across the timeouts that let the loop see `done`.
          pending ??= q.next();
          const r = await Promise.race([pending, sleep(500).then(() => null)]);
          if (r === null) continue;
          pending = null;
          if (r.done) break;
          await sleep(5); // some work, so that the others get their share
          r.value.accept();
          counts[i]++;
          accepted.set(r.value.offset, (accepted.get(r.value.offset) ?? 0) + 1);
          if (accepted.size >= total) done = true;
          if (counts[i] === 1) await everyoneServed;
        }
      })).then(() => {}, (e) => {
        done = true;
        throw e;
      });
      await Promise.all(qs.map((q) => q.commit()));
      assert.equal(accepted.size, total);
      for (const [offset, n] of accepted) assert.equal(n, 1, `offset ${offset} accepted ${n} times`);
      for (const [i, n] of counts.entries()) assert.ok(n > 0, `consumer ${i} got no records: ${counts}`);
    } finally {
      await Promise.all(qs.map((q) => q.close()));
    }
  },
);

Deno.test(
  "share consumer: an expired lock is a typed error and the record is delivered again; renew() keeps a slow record",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient();
    const configs = { "share.record.lock.duration.ms": "3000", "share.renew.acknowledge.enable": "true" };
    if (deviates("kfakeShareGroupConfigs")) {
      await assert.rejects(
        setup(client, "share-lock", configs),
        (e) => e instanceof BrokerError && e.type === "INVALID_CONFIG" && /share-lock/.test(e.message),
      );
      return;
    }
    const { topic, group } = await setup(client, "share-lock", configs);
    await produceNumbered(client, topic, 2);
    await using q = client.shareConsumer({
      groupId: group,
      topics: [topic],
      acknowledgementMode: "explicit",
      maxRecords: 1,
      onError,
    });
    const slow = await nextRecord(q, 60_000, "record 0");
    assert.equal(slow.offset, 0n);
    const before = slow.lockExpiresAt;
    // Keep record 0 for over two lock durations by renewing it every half second: a renewal may come
    // late on a loaded machine, still well within the 3 s lock.
    for (let i = 0; i < 14; i++) {
      await sleep(500);
      await slow.renew();
    }
    assert.ok(slow.lockExpiresAt > before + 4000);
    const next = await nextRecord(q, 30_000, "record 1");
    assert.equal(next.offset, 1n, "record 0 was not delivered again while renewed");
    slow.accept();
    // Let record 1's lock run out: acknowledging it is a typed error, and it comes back.
    await sleep(Math.max(0, next.lockExpiresAt - Date.now()) + 200);
    assert.throws(() => next.accept(), AcquisitionLockExpiredError);
    const again = await nextRecord(q, 30_000, "record 1 again");
    assert.equal(again.offset, 1n);
    assert.equal(again.deliveryCount, next.deliveryCount + 1);
    again.accept();
    await q.commit();
    // The metrics saw the same: fourteen renewals (ShareAcknowledge requests), one expired lock, a redelivery.
    const m = q.metrics();
    assert.equal(m.recordsRenewed, 14);
    assert.ok(m.acknowledgeRequests >= 14, `acknowledgeRequests ${m.acknowledgeRequests}`);
    assert.ok(m.locksExpired >= 1, `locksExpired ${m.locksExpired}`);
    assert.ok(m.redeliveries >= 1, `redeliveries ${m.redeliveries}`);
  },
);

Deno.test(
  "share consumer: a member SIGKILLed with records in hand: they are delivered to another after the lock timeout",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient();
    const { topic, group } = await setup(client, "share-kill", { "share.record.lock.duration.ms": "3000" });
    await produceNumbered(client, topic, 5);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_share_member.ts", import.meta.url).pathname,
        BROKERS.join(","),
        topic,
        group,
        "5",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const held: bigint[] = [];
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      await within(
        (async () => {
          while (!buf.includes("holding\n")) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`the child exited early: ${buf}`);
            buf += value;
          }
        })(),
        90_000,
        "the child holding 5 records",
      );
      for (const line of buf.split("\n")) {
        const m = /^r (\d+) (\d+)$/.exec(line);
        if (m) held.push(BigInt(m[1]));
      }
      assert.deepEqual(held, [0n, 1n, 2n, 3n, 4n]);
      child.kill("SIGKILL");
      reader.releaseLock();
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
    await using q = client.shareConsumer({
      groupId: group,
      topics: [topic],
      acknowledgementMode: "explicit",
      onError,
    });
    const got = new Map<bigint, number>();
    while (got.size < 5) {
      const r = await nextRecord(q, 60_000, `redelivery ${got.size + 1} of 5`);
      got.set(r.offset, r.deliveryCount);
      r.accept();
    }
    assert.deepEqual([...got.keys()].sort(), held);
    for (const [offset, n] of got) assert.equal(n, 2, `offset ${offset} delivery count`);
    await q.commit();
  },
);

Deno.test("share group interop: Kafka's console share consumer and ours in one group read each record once", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient();
  const { topic, group } = await setup(client, "share-interop");
  const total = 300;
  const seen = new Map<string, string>();
  // Explicit: ours accepts exactly what it counts; anything else it holds is released at close, for Java.
  await using q = client.shareConsumer({
    groupId: group,
    topics: [topic],
    maxRecords: 5,
    acknowledgementMode: "explicit",
    onError,
  });
  const java = javaTool("org.apache.kafka.tools.consumer.ConsoleShareConsumer", [
    "--bootstrap-server",
    BROKERS.join(","),
    "--topic",
    topic,
    "--group",
    group,
    "--timeout-ms",
    "8000",
    "--command-property",
    "max.poll.records=5",
    "--command-property",
    "share.acquire.mode=record_limit",
  ], { timeoutMs: 120_000 });
  // Both are members before the records exist.
  await until(() => q.assignment.length === 1, 60_000, "our member assigned");
  const deadline = Date.now() + 60_000;
  while ((await client.admin().describeShareGroups([group]))[0].members.length < 2) {
    assert.ok(Date.now() < deadline, "the console share consumer never joined");
    await sleep(200);
  }
  await produceNumbered(client, topic, total);
  let ours = 0;
  // Ours stops after a third of the records (holding at most maxRecords more, released at close): the
  // JVM, which may be slow to start fetching on a loaded machine, is left the rest whatever the timing.
  await collectFor(q, 6000, (r) => {
    const v = r.text()!;
    assert.ok(!seen.has(v), `${v} twice`);
    seen.set(v, "deno");
    r.accept();
    return ++ours >= total / 3;
  });
  await q.close();
  const out = await java;
  assert.equal(out.code, 0, out.stderr);
  let theirs = 0;
  for (const line of out.stdout.split("\n")) {
    if (!/^\d+$/.test(line)) continue;
    assert.ok(!seen.has(line), `${line} read by both (${seen.get(line)} first)`);
    seen.set(line, "java");
    theirs++;
  }
  assert.equal(seen.size, total, `ours ${ours} + theirs ${theirs}`);
  assert.ok(ours > 0 && theirs > 0, `both read records: ours ${ours}, theirs ${theirs}`);
});

Deno.test(
  "share consumer: implicit mode accepts what was handed out; close() releases the rest at once, for another member",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient();
    // A long lock: only close() can make the records available again this soon.
    const { topic, group } = await setup(client, "share-close", { "share.record.lock.duration.ms": "60000" });
    await produceNumbered(client, topic, 10);
    {
      await using first = client.shareConsumer({ groupId: group, topics: [topic], maxRecords: 10, onError });
      const a = await nextRecord(first, 60_000, "record 0");
      const b = await nextRecord(first, 30_000, "record 1");
      assert.deepEqual([a.offset, b.offset], [0n, 1n]);
      assert.equal(a.acknowledged, "accept", "asking for the next record accepted the one before (implicit)");
      assert.equal(b.acknowledged, null);
      // Leaving the block closes it: record 1 (in hand) and the buffered 2..9 are released.
    }
    await using second = client.shareConsumer({
      groupId: group,
      topics: [topic],
      acknowledgementMode: "explicit",
      onError,
    });
    const got: [bigint, number][] = [];
    while (got.length < 9) {
      const r = await nextRecord(second, 30_000, `released record ${got.length + 1} of 9`);
      got.push([r.offset, r.deliveryCount]);
      r.accept();
    }
    assert.deepEqual(got.map(([o]) => o), [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    assert.ok(got.every(([, n]) => n === 2), JSON.stringify(got.map(([o, n]) => `${o}:${n}`)));
    await second.close();
    assert.equal((await second.next()).done, true);
  },
);

Deno.test(
  "share consumer: subscribed topics that stay missing past missingTopicTimeoutMs fail the iterator, named",
  { ignore: requires("share-groups") },
  async () => {
    await using client = await testClient({ allowAutoTopicCreation: false });
    const missing = uniqueName("share-missing");
    const q = client.shareConsumer({
      groupId: uniqueName("share-missing-g"),
      topics: [missing],
      missingTopicTimeoutMs: 1500,
      onError,
    });
    const err = await within(q.next(), 60_000, "the iterator").catch((e) => e);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.match(err.message, new RegExp(`"${missing}"`));
    assert.match(err.message, /missingTopicTimeoutMs 1500/);
    await within(q.close(), 60_000, "close()"); // next() reported the failure: close does not repeat it
  },
);

Deno.test("share-group admin: alter, describe and delete start offsets; delete the group; errors are typed", {
  ignore: requires("share-groups"),
}, async () => {
  await using client = await testClient();
  const admin = client.admin();
  const { topic, group } = await setup(client, "share-admin");
  await produceNumbered(client, topic, 10);
  // A group with no members yet: move its start offset to 7, then read from there.
  await admin.alterShareGroupOffsets(group, [{ topic, partition: 0, offset: 7n }]);
  const before = await admin.describeShareGroupOffsets(group);
  assert.deepEqual(before.map((o) => [o.topic, o.partition, o.startOffset]), [[topic, 0, 7n]]);
  {
    await using q = client.shareConsumer({
      groupId: group,
      topics: [topic],
      acknowledgementMode: "explicit",
      onError,
    });
    const r = await nextRecord(q, 60_000, "the first record after the start offset");
    assert.equal(r.offset, 7n);
    r.accept();
    await q.commit();
    await assert.rejects(
      admin.alterShareGroupOffsets(group, [{ topic, partition: 0, offset: 0n }]),
      (e: Error) => e instanceof BrokerError && e.type === "NON_EMPTY_GROUP",
    );
  }
  await admin.deleteShareGroupOffsets(group, [topic]);
  assert.deepEqual(await admin.describeShareGroupOffsets(group), []);
  if (deviates("kfakeShareGroupDelete")) {
    await assert.rejects(
      admin.deleteShareGroups([group]),
      (e: Error) => e instanceof BrokerError && e.type === "GROUP_ID_NOT_FOUND",
    );
  } else await admin.deleteShareGroups([group]);
  await assert.rejects(
    admin.describeShareGroups([group]),
    (e: Error) => e instanceof BrokerError && e.type === "GROUP_ID_NOT_FOUND",
  );
  await assert.rejects(admin.alterShareGroupOffsets(group, []), TypeError);
  await assert.rejects(admin.alterShareGroupConfigs(group, { "share.no.such.config": "1" }), BrokerError);
});
