import assert from "node:assert/strict";
import { type Consumer, TimeoutError } from "../../mod.ts";
import { BROKERS, deviates, newTopic, testClient, uniqueName } from "../_broker.ts";
import { createTopic, produceNumbered, take, until, within } from "./_member.ts";

/** Reads from every consumer until `total` records arrived; returns the deliveries per consumer. */
async function drain(
  consumers: Consumer[],
  seen: Map<string, number>,
  total: number,
  ms: number,
): Promise<number[]> {
  const counts = consumers.map(() => 0);
  let unique = 0;
  const loops = consumers.map(async (c, i) => {
    for await (const batch of c.batches()) {
      for (const r of batch.records) {
        const key = `${r.partition}:${r.offset}`;
        const n = seen.get(key) ?? 0;
        if (n === 0) unique++;
        seen.set(key, n + 1);
        counts[i]++;
      }
      if (unique >= total) break;
    }
  });
  try {
    await until(() => unique >= total, ms, `${total} records (have ${unique})`);
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
    await Promise.allSettled(loops);
  }
  return counts;
}

Deno.test("3 group members share a 6-partition topic 2/2/2 (range) and read 60,000 records exactly once", async () => {
  await using client = await testClient();
  const topic = uniqueName("c-three");
  const groupId = uniqueName("g-three");
  await createTopic(BROKERS, topic, 6);
  const opts = {
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
  };
  // Three consumers on one client: each has its own group and fetch connections.
  const consumers = [client.consumer(opts), client.consumer(opts), client.consumer(opts)];
  try {
    await until(
      () =>
        consumers.every((c) => c.assignment().length === 2 && c.generationId === consumers[0].generationId),
      30_000,
      "three members with two partitions each",
    );
    const owned = consumers.flatMap((c) => c.assignment().map((tp) => tp.partition)).sort();
    assert.deepEqual(owned, [0, 1, 2, 3, 4, 5]);
    for (const c of consumers) {
      const [a, b] = c.assignment().map((tp) => tp.partition);
      assert.equal(b, a + 1, "range gives contiguous partitions");
    }
    await produceNumbered(client, topic, 60_000, { partitions: 6 });
    const seen = new Map<string, number>();
    const counts = await drain(consumers, seen, 60_000, 60_000);
    assert.equal(seen.size, 60_000);
    assert.ok([...seen.values()].every((n) => n === 1), "no record twice");
    for (const n of counts) assert.equal(n, 20_000);
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
  }
});

Deno.test("a member killed without leaving: the others take its partitions, nothing is lost", async () => {
  await using client = await testClient();
  const topic = uniqueName("c-kill");
  const groupId = uniqueName("g-kill");
  const session = 6000;
  await createTopic(BROKERS, topic, 6);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_member.ts", import.meta.url).pathname,
      BROKERS.join(","),
      topic,
      groupId,
      `${session}`,
      "50",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const childLines: string[] = [];
  let killed = false;
  const reader = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      childLines.push(...lines);
    }
  })();
  const opts = {
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: session,
    heartbeatIntervalMs: 1000,
    autoCommitIntervalMs: 500,
  };
  const consumers = [client.consumer(opts), client.consumer(opts)];
  const seen = new Map<string, number>();
  let unique = 0;
  const count = (key: string) => {
    const n = seen.get(key) ?? 0;
    if (n === 0) unique++;
    seen.set(key, n + 1);
  };
  let childParsed = 0;
  const parseChild = () => {
    for (; childParsed < childLines.length; childParsed++) {
      const l = childLines[childParsed];
      if (l.startsWith("r ")) {
        const [, p, o] = l.split(" ");
        count(`${p}:${o}`);
      }
    }
  };
  const loops = consumers.map(async (c) => {
    for await (const r of c) count(`${r.partition}:${r.offset}`);
  });
  try {
    await until(
      () => consumers.every((c) => c.assignment().length === 2) && childLines.includes("assigned 2"),
      40_000,
      "three members with two partitions each",
    );
    await produceNumbered(client, topic, 12_000, { partitions: 6, batchBytes: 2048 });
    // Kill the child once it has read part of its share, without leaving the group.
    await until(
      () => childLines.filter((l) => l.startsWith("r ")).length >= 2000,
      30_000,
      "the child reading",
    );
    child.kill("SIGKILL");
    killed = true;
    await child.status;
    await reader;
    const killedAt = Date.now();
    await produceNumbered(client, topic, 12_000, { partitions: 6, from: 12_000, batchBytes: 2048 });
    parseChild();
    if (deviates("tansuGroupRebalance")) {
      // tansu drops the dead member without a new generation: only the survivor whose request noticed it is
      // told to rejoin, the other's heartbeats keep answering no error. The client follows the broker: the
      // wait is bounded, nothing fails, and both survivors still leave cleanly.
      const tookOver = await until(
        () => consumers.every((c) => c.assignment().length === 3),
        session + 15_000,
        "the survivors taking over",
      ).then(() => true, () => false);
      console.log(
        `tansu: after the kill the survivors hold ${
          consumers.map((c) => c.assignment().length).join(" and ")
        } partitions (${tookOver ? "took over" : "no full take-over"})`,
      );
      await within(Promise.all(consumers.map((c) => c.close())), 30_000, "the survivors closing");
      await within(Promise.all(loops), 30_000, "the survivors' iterators ending without an error");
      return;
    }
    await until(
      () => consumers.every((c) => c.assignment().length === 3),
      session + 45_000,
      "the survivors taking over",
    );
    const takeover = Date.now() - killedAt;
    await until(() => unique >= 24_000, 30_000, `all 24,000 records (have ${unique})`);
    assert.equal(unique, 24_000);
    let deliveries = 0;
    for (const n of seen.values()) deliveries += n;
    console.log(
      `kill test: child read ${
        childLines.filter((l) => l.startsWith("r ")).length
      }, survivors took over in ` +
        `${takeover} ms (session ${session} ms), duplicates ${deliveries - 24_000}`,
    );
    assert.ok(takeover < session + 45_000);
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
      await reader.catch(() => {});
    }
    await Promise.all(consumers.map((c) => c.close()));
    await Promise.allSettled(loops);
  }
});

Deno.test("a restarted member resumes after the last commit; a new group starts at the end", async (t) => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-resume", 1);
  const groupId = uniqueName("g-resume");
  await produceNumbered(client, topic, 100);
  const opts = {
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 1000,
  };

  await t.step("manual commit: the restart begins at the committed offset", async () => {
    const c = client.consumer({ ...opts, autoCommit: false });
    const it = c[Symbol.asyncIterator]();
    const first = await take(it, 30, 20_000);
    assert.deepEqual(first.map((r) => r.offset), Array.from({ length: 30 }, (_, i) => BigInt(i)));
    await c.commit(); // commits 30: the record in hand counts
    await take(it, 10, 10_000); // read, never committed
    await c.close();
    const again = client.consumer({ ...opts, autoCommit: false });
    const [r] = await take(again[Symbol.asyncIterator](), 1, 20_000);
    assert.equal(r.offset, 30n);
    assert.equal(r.text(), "30");
    await again.close();
  });

  await t.step("auto-commit on close (after break): the restart begins with the record in hand", async () => {
    const c = client.consumer(opts);
    let last = -1n;
    for await (const r of c) {
      last = r.offset;
      if (r.offset === 49n) break; // 30..48 processed; 49 in hand, not committed
    }
    assert.equal(last, 49n);
    const again = client.consumer(opts);
    const [r] = await take(again[Symbol.asyncIterator](), 1, 20_000);
    assert.equal(r.offset, 49n);
    await again.close();
  });

  await t.step("a new group with fromBeginning false gets only new records", async () => {
    const c = client.consumer({ groupId: uniqueName("g-new"), topics: [topic], sessionTimeoutMs: 6000 });
    try {
      await until(() => (c.position(topic, 0) ?? -1n) >= 0n, 20_000, "the new group's start offset");
      assert.equal(c.position(topic, 0), 100n);
      await produceNumbered(client, topic, 5, { from: 100, prefix: "new-" });
      const got = await take(c[Symbol.asyncIterator](), 5, 20_000);
      assert.deepEqual(got.map((r) => r.text()), ["new-100", "new-101", "new-102", "new-103", "new-104"]);
    } finally {
      await c.close();
    }
  });
});

Deno.test("a handler slower than the session timeout causes no rebalance", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-slow", 1);
  await produceNumbered(client, topic, 3);
  const c = client.consumer({
    groupId: uniqueName("g-slow"),
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 1000,
    maxPollIntervalMs: 20_000,
  });
  const offsets: bigint[] = [];
  let generation = -1;
  for await (const r of c) {
    if (generation === -1) generation = c.generationId;
    offsets.push(r.offset);
    if (offsets.length === 3) break;
    await new Promise((res) => setTimeout(res, 6500)); // longer than the session timeout
  }
  assert.deepEqual(offsets, [0n, 1n, 2n]);
  assert.equal(c.assignmentCount, 1, "one assignment: no rebalance");
  assert.ok(generation >= (deviates("tansuGenerationZero") ? 0 : 1), `generation ${generation}`);
});

Deno.test("close() is idempotent and ends a waiting iterator; client.close() closes consumers", async () => {
  const client = await testClient();
  const topic = await newTopic(client, "c-close", 1);
  await produceNumbered(client, topic, 1);
  const c = client.consumer({ groupId: uniqueName("g-close"), topics: [topic], fromBeginning: true });
  const it = c[Symbol.asyncIterator]();
  const [r] = await take(it, 1, 20_000);
  assert.equal(r.offset, 0n);
  const pending = it.next();
  await Promise.all([c.close(), c.close()]);
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.deepEqual(await it.next(), { done: true, value: undefined });
  await assert.rejects(() => c.commit(), /closed/);
  const c2 = client.consumer({ groupId: uniqueName("g-close"), topics: [topic], fromBeginning: true });
  await until(() => c2.assignment().length === 1, 20_000, "assignment");
  await client.close();
  assert.deepEqual(await c2[Symbol.asyncIterator]().next(), { done: true, value: undefined });
});

Deno.test("a static member (groupInstanceId) that restarts within the session timeout causes no rebalance", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-static", 1);
  await produceNumbered(client, topic, 10);
  const opts = {
    groupId: uniqueName("g-static"),
    topics: [topic],
    groupInstanceId: "instance-1",
    fromBeginning: true,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
  };
  const first = client.consumer(opts);
  const got = await take(first[Symbol.asyncIterator](), 4, 20_000);
  assert.equal(got.at(-1)!.offset, 3n);
  const generation = first.generationId;
  // Commits 3 (offset 3, in hand, was not processed) and does not leave: a static member stays
  // until its session ends.
  await first.close();
  const second = client.consumer(opts);
  try {
    const [r] = await take(second[Symbol.asyncIterator](), 1, 20_000);
    assert.equal(r.offset, 3n);
    assert.equal(second.generationId, generation, "the same generation: no rebalance");
  } finally {
    await second.close();
  }
});

Deno.test("close({ timeoutMs }) turns a graceful close into a hard one", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-hard", 1);
  await produceNumbered(client, topic, 1);
  // A slow listener on close makes the graceful close slower than the limit, however fast the broker answers.
  const c = client.consumer({
    groupId: uniqueName("g-hard"),
    topics: [topic],
    fromBeginning: true,
    onRevoked: () => new Promise((r) => setTimeout(r, 2000)),
  });
  await take(c[Symbol.asyncIterator](), 1, 20_000);
  await assert.rejects(c.close({ timeoutMs: 0 }), TimeoutError);
  await assert.rejects(c.close(), TimeoutError); // idempotent: the same outcome
});
