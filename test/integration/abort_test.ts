// AbortSignal on the consumer (iteration, commit, close) and admin calls, against the real broker.
import assert from "node:assert/strict";
import { requires } from "../_broker.ts";
import type { Client, ConsumerRecord } from "../../mod.ts";
import { testClient, uniqueName } from "../_broker.ts";
import { until } from "./_member.ts";
import { groupConfigsApplied } from "../_group.ts";

/** The group's committed offset of partition 0 (-1n when none). */
async function committed(client: Client, groupId: string, topic: string): Promise<bigint> {
  const rows = await client.admin().listGroupOffsets(groupId, { topics: [topic] });
  return rows.find((r) => r.partition === 0)?.offset ?? -1n;
}

Deno.test("an aborted iteration ends at once and loses nothing: the next one gets every record exactly once", async () => {
  await using client = await testClient();
  const topic = uniqueName("abort-iter");
  const groupId = uniqueName("g-abort-iter");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  await using consumer = client.consumer({
    groupId,
    topics: [topic],
    fromBeginning: true,
    autoCommit: false,
  });
  await until(() => consumer.assignment().length === 1, 30_000, "the assignment");

  // A pending pull on an empty topic: the abort rejects it with the reason.
  const empty = new AbortController();
  const pending = consumer.records({ signal: empty.signal })[Symbol.asyncIterator]().next();
  await new Promise((r) => setTimeout(r, 200));
  const reason = new Error("stop waiting");
  empty.abort(reason);
  assert.equal(await pending.catch((e) => e), reason);

  const producer = client.producer();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) });

  // Abort in the middle: the records fetched but not handed out stay for the next iteration.
  const seen: ConsumerRecord[] = [];
  const ctl = new AbortController();
  const it = consumer.records({ signal: ctl.signal })[Symbol.asyncIterator]();
  const err = await (async () => {
    try {
      for await (const r of { [Symbol.asyncIterator]: () => it }) {
        seen.push(r);
        if (seen.length === 4) ctl.abort();
      }
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.equal((err as Error).name, "AbortError");
  assert.equal(((await it.next().catch((e) => e)) as Error).name, "AbortError"); // stays aborted
  assert.deepEqual(seen.map((r) => r.offset), [0n, 1n, 2n, 3n]);

  // commit(): an already-aborted signal commits nothing; one aborted before its turn is never sent.
  assert.equal(
    ((await consumer.commit(undefined, { signal: AbortSignal.abort() }).catch((e) => e)) as Error).name,
    "AbortError",
  );
  const c = new AbortController();
  const queued = consumer.commit(undefined, { signal: c.signal });
  c.abort();
  assert.equal(((await queued.catch((e) => e)) as Error).name, "AbortError");
  assert.equal(await committed(client, groupId, topic), -1n);
  // The committed position is what was handed out, not what was fetched.
  await consumer.commit(undefined, { signal: AbortSignal.timeout(30_000) });
  assert.equal(await committed(client, groupId, topic), 4n);

  // The next iteration picks up where the aborted one stopped; its signal collects no listeners.
  const long = AbortSignal.timeout(30_000);
  let listeners = 0;
  const add = long.addEventListener.bind(long);
  const remove = long.removeEventListener.bind(long);
  long.addEventListener = ((...a: Parameters<AbortSignal["addEventListener"]>) => {
    listeners++;
    add(...a);
  }) as AbortSignal["addEventListener"];
  long.removeEventListener = ((...a: Parameters<AbortSignal["removeEventListener"]>) => {
    listeners--;
    remove(...a);
  }) as AbortSignal["removeEventListener"];
  for await (const batch of consumer.batches({ signal: long })) {
    seen.push(...batch.records);
    if (seen.length >= 10) break;
  }
  assert.deepEqual(seen.map((r) => r.offset), [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
  assert.deepEqual(seen.map((r) => r.text()), Array.from({ length: 10 }, (_, i) => `v${i}`));
  assert.equal(listeners, 0);
  await producer.close();
});

Deno.test("consumer.close({ signal }) already aborted closes hard: no commit on close, rejects with the reason", async () => {
  await using client = await testClient();
  const topic = uniqueName("abort-close");
  const groupId = uniqueName("g-abort-close");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const producer = client.producer();
  await producer.send({ topic, messages: [{ value: "a" }, { value: "b" }, { value: "c" }] });
  await producer.close();
  const consumer = client.consumer({
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 45_000,
  });
  const it = consumer[Symbol.asyncIterator]();
  for (let i = 0; i < 3; i++) await it.next(); // a and b processed, c in hand
  await assert.rejects(consumer.close({ sginal: undefined } as never), /did you mean "signal"/);
  const reason = new Error("hard");
  assert.equal(await consumer.close({ signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  // The graceful close would have committed 2: the hard one commits nothing.
  assert.equal(await committed(client, groupId, topic), -1n);
  // It left the group best-effort: the member is gone long before its 45 s session timeout.
  const admin = client.admin();
  let members = -1;
  for (let i = 0; i < 60 && members !== 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    members = (await admin.describeGroups([groupId]))[0].members.length;
  }
  assert.equal(members, 0);
});

Deno.test("admin calls with an already-aborted signal do nothing; a live signal is released", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("abort-admin");
  const reason = new Error("no");
  const err = await admin.createTopics([{ topic, partitions: 1 }], { signal: AbortSignal.abort(reason) })
    .catch((e) => e);
  assert.equal(err, reason);
  const listed = await admin.listTopics({ signal: AbortSignal.timeout(30_000) });
  assert.ok(!listed.some((t) => t.name === topic));
});

const SHARE_ABORT =
  "share consumer: an aborted iteration keeps the consumer open; close({ signal }) aborted closes hard";
Deno.test(SHARE_ABORT, { ignore: requires("share-groups") }, async () => {
  await using client = await testClient();
  const topic = uniqueName("abort-share");
  const groupId = uniqueName("g-abort-share");
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  await client.admin().alterShareGroupConfigs(groupId, { "share.auto.offset.reset": "earliest" });
  // The group coordinator takes it from the metadata log a moment after the answer; the share partition
  // may start after the record below is written (the first share group of a run sets up its state topic).
  await groupConfigsApplied(client, groupId, { "share.auto.offset.reset": "earliest" });
  const queue = client.shareConsumer({ groupId, topics: [topic] });
  // A pending pull on an empty topic.
  const ctl = new AbortController();
  const pending = queue.records({ signal: ctl.signal })[Symbol.asyncIterator]().next();
  await new Promise((r) => setTimeout(r, 200));
  ctl.abort();
  assert.equal(((await pending.catch((e) => e)) as Error).name, "AbortError");
  // The consumer is still open: records arrive on the next iteration.
  const producer = client.producer();
  await producer.send({ topic, messages: [{ value: "job" }] });
  await producer.close();
  const it = queue.records({ signal: AbortSignal.timeout(30_000) })[Symbol.asyncIterator]();
  const got = await it.next();
  assert.equal(got.done, false);
  assert.equal(got.value!.text(), "job");
  // Closing hard with the record in hand: nothing is released or acknowledged, the member does not leave.
  const reason = new Error("hard");
  assert.equal(await queue.close({ signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
  assert.deepEqual(await queue.next(), { value: undefined, done: true });
});
