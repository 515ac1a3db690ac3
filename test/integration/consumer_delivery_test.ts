// At-least-once without holes: what counts as processed, commit() and its failures, background
// failures, subscriptions that cannot work, strict options. Against the real broker.
import assert from "node:assert/strict";
import {
  BrokerError,
  CommitFailedError,
  type ConsumerRecord,
  type KafkaError,
  TimeoutError,
} from "../../mod.ts";
import { BROKERS, deviates, newTopic, testClient, uniqueName } from "../_broker.ts";
import { createTopic, produceNumbered, take, until, within } from "./_member.ts";

const GROUP = { fromBeginning: true, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 };

/** The offset a new standalone reader of the group starts partition 0 at (its committed offset). */
async function committedOf(topic: string, groupId: string): Promise<bigint> {
  await using client = await testClient();
  const reader = client.consumer({ assign: [{ topic }], groupId, autoCommit: false, fromBeginning: true });
  try {
    await until(() => (reader.position(topic, 0) ?? -1n) >= 0n, 20_000, "the reader's start offset");
    return reader.position(topic, 0)!;
  } finally {
    await reader.close();
  }
}

Deno.test("an exception in the handler: the record in hand is not committed and goes to the group's next consumer", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-throw", 1);
  const groupId = uniqueName("g-throw");
  await produceNumbered(client, topic, 10);
  const first = client.consumer({ groupId, topics: [topic], ...GROUP });
  const seen: bigint[] = [];
  const err = await (async () => {
    for await (const r of first) {
      seen.push(r.offset);
      if (r.offset === 4n) throw new Error("handler failed on 4");
    }
  })().catch((e) => e);
  assert.equal(err.message, "handler failed on 4");
  assert.deepEqual(seen, [0n, 1n, 2n, 3n, 4n]);
  assert.deepEqual(first.assignment(), [], "the loop's exit closed the consumer");
  const next = client.consumer({ groupId, topics: [topic], ...GROUP });
  try {
    const [r] = await take(next[Symbol.asyncIterator](), 1, 30_000);
    assert.equal(r.offset, 4n, "the record whose handler threw is delivered again");
  } finally {
    await next.close();
  }
});

Deno.test("break: the record in hand is not committed, unless commit(record) counted it first", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-break", 1);
  const groupId = uniqueName("g-break");
  await produceNumbered(client, topic, 10);
  for await (const r of client.consumer({ groupId, topics: [topic], ...GROUP })) {
    if (r.offset === 3n) break; // 0..2 processed (the loop asked past them), 3 in hand
  }
  assert.equal(await committedOf(topic, groupId), 3n);
  for await (const r of client.consumer({ groupId, topics: [topic], ...GROUP })) {
    assert.ok(r.offset >= 3n);
    if (r.offset === 5n) break; // the handler did finish with 5, but break cannot say so
  }
  assert.equal(await committedOf(topic, groupId), 5n, "break does not count the record in hand");
  const c = client.consumer({ groupId, topics: [topic], ...GROUP });
  for await (const r of c) {
    assert.equal(r.offset, 5n);
    await c.commit(r); // processed: count it, then leave
    break;
  }
  assert.equal(await committedOf(topic, groupId), 6n, "commit(record) before break counts it");
});

Deno.test("commit() after overrunning maxPollIntervalMs rejects with CommitFailedError; the record comes again", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-overrun", 1);
  const groupId = uniqueName("g-overrun");
  await produceNumbered(client, topic, 5);
  const c = client.consumer({
    groupId,
    topics: [topic],
    ...GROUP,
    maxPollIntervalMs: 1500,
    autoCommit: false,
  });
  try {
    const it = c[Symbol.asyncIterator]();
    const [a, b] = await take(it, 2, 30_000);
    assert.deepEqual([a.offset, b.offset], [0n, 1n]);
    // The handler of record 1 is slower than maxPollIntervalMs: the member leaves the group.
    await until(() => c.generationId === -1 && c.assignment().length === 0, 30_000, "the member to leave");
    const err = await c.commit().catch((e) => e);
    assert.ok(err instanceof CommitFailedError, String(err));
    assert.match(err.message, new RegExp(`${topic}\\[0\\]`));
    // Iterating again rejoins; nothing was committed, so record 0 comes again.
    const [again] = await take(it, 1, 30_000);
    assert.equal(again.offset, 0n);
    await c.commit(); // a member again: the commit works
    assert.equal(await committedOf(topic, groupId), 1n);
  } finally {
    await c.close();
  }
});

Deno.test("commit() after a rebalance took the partitions rejects with CommitFailedError", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-rebalance", 1);
  const groupId = uniqueName("g-rebalance");
  await produceNumbered(client, topic, 5);
  const opts = { groupId, topics: [topic], ...GROUP };
  const a = client.consumer(opts);
  let b;
  try {
    const [r0, r1] = await take(a[Symbol.asyncIterator](), 2, 30_000);
    assert.deepEqual([r0.offset, r1.offset], [0n, 1n]);
    const generation = a.generationId;
    // While the handler of record 1 runs, a second member joins: A gives its partition up.
    b = client.consumer(opts);
    await until(() => a.generationId > generation, 30_000, "the rebalance");
    const err = await a.commit().catch((e) => e);
    assert.ok(err instanceof CommitFailedError, String(err));
    // The commit before the rebalance saved record 0; record 1 (in hand) is delivered again.
    assert.equal(await committedOf(topic, groupId), 1n);
  } finally {
    await a.close();
    await b?.close();
  }
});

Deno.test("commit(record) and commit(offsets) commit exactly those offsets", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-explicit", 1);
  const other = uniqueName("d-other");
  const groupId = uniqueName("g-explicit");
  await produceNumbered(client, topic, 10);
  await createTopic(BROKERS, other, 1);
  const c = client.consumer({ groupId, topics: [topic], ...GROUP, autoCommit: false });
  try {
    const got: ConsumerRecord[] = await take(c[Symbol.asyncIterator](), 5, 30_000);
    await c.commit(got[2]);
    assert.equal(await committedOf(topic, groupId), 3n);
    await c.commit([{ topic, partition: 0, offset: 1n }]); // explicit: even backwards
    assert.equal(await committedOf(topic, groupId), 1n);
    await c.commit([{ topic, partition: 0, offset: 5n }]);
    assert.equal(await committedOf(topic, groupId), 5n);
    await assert.rejects(() => c.commit([{ topic: other, partition: 0, offset: 1n }]), CommitFailedError);
    await assert.rejects(
      // @ts-expect-error: offsets are bigints
      () => c.commit([{ topic, partition: 0, offset: 1 }]),
      TypeError,
    );
  } finally {
    await c.close();
  }
});

Deno.test("a background auto-commit the broker refuses reaches onError", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-bg", 1);
  const groupId = uniqueName("g-bg");
  await produceNumbered(client, topic, 5);
  // An active member holds the group, so the coordinator refuses commits from outside it.
  const member = client.consumer({ groupId, topics: [topic], ...GROUP, autoCommit: false });
  const errors: KafkaError[] = [];
  const outsider = client.consumer({
    assign: [{ topic, from: "earliest" }],
    groupId,
    autoCommitIntervalMs: 200,
    onError: (err) => errors.push(err),
  });
  try {
    await until(() => member.assignment().length === 1, 30_000, "the member's assignment");
    await take(outsider[Symbol.asyncIterator](), 3, 30_000); // 0 and 1 are processed
    if (deviates("tansuCommitOutsideGroup")) {
      // The broker takes the outsider's commits: its close (and its commit) succeeds, nothing failed.
      await outsider.close();
      assert.deepEqual(errors, []);
      const [committed] = await client.admin().listGroupOffsets(groupId);
      assert.ok(committed.offset >= 2n, String(committed.offset));
      return;
    }
    await until(() => errors.length > 0, 30_000, "an auto-commit failure");
    const err = errors[0];
    assert.ok(err instanceof CommitFailedError, String(err));
    assert.ok(err.cause instanceof BrokerError && err.cause.type === "UNKNOWN_MEMBER_ID", String(err.cause));
    // Without a hook, the failure is a warning of the default logger (console.warn), not dropped.
    const printed: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void printed.push(args);
    const quiet = client.consumer({
      assign: [{ topic, from: "earliest" }],
      groupId,
      autoCommitIntervalMs: 200,
    });
    try {
      await take(quiet[Symbol.asyncIterator](), 3, 30_000);
      await until(() => printed.length > 0, 30_000, "a printed auto-commit failure");
    } finally {
      console.warn = original;
      await quiet.close().catch(() => {});
    }
    assert.match(
      String(printed[0][0]),
      new RegExp(`^kafka-deno consumer \\(group ${groupId}\\): An auto-commit failed`),
    );
    assert.ok(
      (printed[0][1] as { error?: unknown }).error instanceof CommitFailedError,
      Deno.inspect(printed[0]),
    );
  } finally {
    // The commit on close is refused as well (while the member still holds the group): close() says so.
    if (!deviates("tansuCommitOutsideGroup")) await assert.rejects(() => outsider.close(), CommitFailedError);
    await member.close();
  }
});

Deno.test("a subscription to an invalid topic name fails the iterator at once", async () => {
  await using client = await testClient();
  const c = client.consumer({ groupId: uniqueName("g-bad"), topics: ["bad topic"] });
  const err = await within(c[Symbol.asyncIterator]().next(), 5000, "the iterator").catch((e) => e);
  assert.ok(err instanceof TypeError, String(err));
  assert.match(err.message, /"bad topic"/);
  await c.close(); // the failure was reported by next(): close does not repeat it
});

Deno.test("subscribed topics that stay missing past missingTopicTimeoutMs fail the iterator, named", async () => {
  await using client = await testClient({ allowAutoTopicCreation: false });
  const missing = uniqueName("d-missing");
  const c = client.consumer({
    groupId: uniqueName("g-missing"),
    topics: [missing],
    missingTopicTimeoutMs: 1500,
  });
  const err = await within(c[Symbol.asyncIterator]().next(), 30_000, "the iterator").catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, new RegExp(`"${missing}"`));
  assert.match(err.message, /missingTopicTimeoutMs/);
  await c.close();
});

Deno.test("consumer options are strict; assignment() is empty after close", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "d-strict", 1);
  await produceNumbered(client, topic, 1);
  assert.throws(
    // @ts-expect-error: an unknown key
    () => client.consumer({ groupId: "g", topics: [topic], autoCommitIntervalMS: 100 }),
    (e: Error) =>
      e instanceof TypeError && /"autoCommitIntervalMS"/.test(e.message) &&
      /did you mean "autoCommitIntervalMs"/.test(e.message),
  );
  assert.throws(
    // @ts-expect-error: a subscription needs a groupId (a type error, and a TypeError at run time)
    () => client.consumer({ topics: [topic] }),
    TypeError,
  );
  // `assign` without a group type-checks.
  const standalone = client.consumer({ assign: [{ topic, from: "earliest" }] });
  await standalone.close();
  const c = client.consumer({ groupId: uniqueName("g-strict"), topics: [topic], ...GROUP });
  await until(() => c.assignment().length === 1, 30_000, "the assignment");
  await c.close();
  assert.deepEqual(c.assignment(), []);
  assert.deepEqual(c.paused(), []);
});
