import assert from "node:assert/strict";
import {
  BrokerError,
  type Client,
  CommitFailedError,
  type Consumer,
  type ConsumerOptions,
} from "../../mod.ts";
import { BROKERS, deviates, newTopic, requires, testClient, uniqueName } from "../_broker.ts";
import { createTopic, javaMember, produceNumbered, take, until } from "./_member.ts";

interface Member {
  consumer: Consumer;
  loop: Promise<void>;
  held: Set<number>;
}

/** A group member reading in the background: deliveries per partition:offset, and when the last one came. */
function member(
  client: Client,
  opts: ConsumerOptions,
  seen: Map<string, number>,
  times: number[],
  log: string[],
  byPartition: Map<number, number[]> = new Map(),
): Member {
  const held = new Set<number>();
  const consumer = client.consumer({
    ...opts,
    onAssigned: (ps) => {
      for (const p of ps) held.add(p.partition);
    },
    onRevoked: (ps) => {
      for (const p of ps) held.delete(p.partition);
    },
    onLost: (ps) => {
      log.push(`lost ${ps.map((p) => p.partition)}`);
      for (const p of ps) held.delete(p.partition);
    },
  } as ConsumerOptions);
  const loop = (async () => {
    for await (const batch of consumer.batches()) {
      const now = Date.now();
      times.push(now);
      const pt = byPartition.get(batch.partition);
      if (pt) pt.push(now);
      else byPartition.set(batch.partition, [now]);
      for (const r of batch.records) {
        const k = `${r.partition}:${r.offset}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
  })();
  loop.catch(() => {});
  return { consumer, loop, held };
}

/** Produces 10 records to each partition every 20 ms until stopped. */
function background(client: Client, topic: string, partitions: number) {
  const producer = client.producer({ lingerMs: 5 });
  let produced = 0;
  let on = true;
  const done = (async () => {
    for (let i = 0; on && i < 5000; i++) {
      const messages = Array.from(
        { length: 10 * partitions },
        (_, j) => ({ value: `v${produced + j}`, partition: j % partitions }),
      );
      await producer.send({ topic, messages });
      produced += messages.length;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    get produced() {
      return produced;
    },
    async stop() {
      on = false;
      await done;
      await producer.close();
    },
  };
}

/** The longest gap between deliveries (any partition) within [from, to]. */
function longestGap(times: number[], from: number, to: number): number {
  const ts = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = ts.length ? ts[0] - from : to - from;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i] - ts[i - 1]);
  return gap;
}

/** 3 members, scale to 5, then back to 1, under load; returns the scale-out pause. */
async function scale(groupProtocol: "classic" | "consumer"): Promise<void> {
  await using client = await testClient();
  const topic = uniqueName(`c-scale-${groupProtocol}`);
  const groupId = uniqueName(`g-scale-${groupProtocol}`);
  const partitions = 10;
  await createTopic(BROKERS, topic, partitions);
  const seen = new Map<string, number>();
  const times: number[] = [];
  const byPartition = new Map<number, number[]>();
  const log: string[] = [];
  const opts: ConsumerOptions = groupProtocol === "consumer"
    ? { groupId, topics: [topic], fromBeginning: true, groupProtocol, autoCommitIntervalMs: 500 }
    // Classic with its default timings (heartbeat 3 s), as KIP-848 runs with the broker's (heartbeat 5 s).
    : { groupId, topics: [topic], fromBeginning: true, autoCommitIntervalMs: 500 };
  const members: Member[] = [];
  const live = () => members.filter((m) => m.held.size > 0);
  const owned = () => members.reduce((n, m) => n + m.held.size, 0);
  // On tansu a classic group may never settle (tansuGroupRebalance): each step is a bounded wait there, and a step
  // not reached ends the scenario (the members still close, bounded, in the finally below).
  const soft = groupProtocol === "classic" && deviates("tansuGroupRebalance");
  const step = (cond: () => boolean, ms: number, what: string): Promise<boolean> =>
    until(cond, ms, what).then(() => true, (err) => {
      if (!soft) throw err;
      console.log(`tansu: ${what}: not reached in ${ms} ms (the group did not settle)`);
      return false;
    });
  const load = background(client, topic, partitions);
  try {
    for (let i = 0; i < 3; i++) members.push(member(client, opts, seen, times, log, byPartition));
    if (
      !await step(
        () => live().length === 3 && owned() === partitions,
        90_000,
        "3 members sharing 10 partitions",
      )
    ) return;
    const from = Date.now();
    for (let i = 0; i < 2; i++) members.push(member(client, opts, seen, times, log, byPartition));
    if (
      !await step(
        () => live().length === 5 && owned() === partitions,
        90_000,
        "5 members sharing 10 partitions",
      )
    ) return;
    await new Promise((r) => setTimeout(r, 500));
    const to = Date.now();
    const pause = longestGap(times, from, to);
    const perPartition = [...byPartition.values()].map((ts) => longestGap(ts, from, to)).sort((a, b) =>
      a - b
    );
    for (const m of members.slice(1)) await m.consumer.close();
    if (!await step(() => members[0].held.size === partitions, 90_000, "1 member holding all 10")) return;
    await load.stop();
    await until(() => seen.size >= load.produced, 90_000, `all ${load.produced} records`);
    assert.equal(seen.size, load.produced, "nothing missed, nothing unknown");
    const dups = [...seen.values()].filter((n) => n > 1).length;
    assert.deepEqual(log, [], "no partition was lost");
    console.log(
      `${groupProtocol}: ${load.produced} records, ${dups} delivered twice (uncommitted window); ` +
        `scale-out 3->5 (${to - from} ms): longest time with no partition consumed ${pause} ms; ` +
        `longest pause per partition: median ${perPartition[perPartition.length >> 1]} ms, max ${
          perPartition.at(-1)
        } ms`,
    );
  } finally {
    await load.stop().catch(() => {});
    await Promise.allSettled(members.map((m) => m.consumer.close()));
    await Promise.allSettled(members.map((m) => m.loop));
  }
}

Deno.test("KIP-848 consumer protocol: 3 members scale to 5 and back to 1 under load, nothing missed", {
  ignore: requires("kip848"),
}, async () => {
  await scale("consumer");
});

Deno.test("classic protocol (eager range): the same scaling, for the pause comparison", async () => {
  await scale("classic");
});

Deno.test("KIP-848: a Deno member and Kafka's console consumer with group.protocol=consumer share a group", {
  ignore: requires("java-tools"),
}, async () => {
  await using client = await testClient();
  const topic = uniqueName("c-848-java");
  const groupId = uniqueName("g-848-java");
  await createTopic(BROKERS, topic, 6);
  const seen = new Map<string, number>();
  const log: string[] = [];
  const deno = member(
    client,
    { groupId, topics: [topic], fromBeginning: true, groupProtocol: "consumer" },
    seen,
    [],
    log,
  );
  const java = javaMember(BROKERS, topic, groupId, ["group.protocol=consumer"]);
  const javaLines = java.lines;
  try {
    await until(() => deno.held.size === 3, 90_000, "the group to split 3/3");
    const mine = [...deno.held];
    const producer = client.producer();
    await producer.send({
      topic,
      messages: Array.from({ length: 600 }, (_, i) => ({ value: `v${i}`, partition: i % 6 })),
    });
    await producer.close();
    await until(() => seen.size >= 300, 60_000, "the Deno member's 300 records");
    await until(() => javaLines.length >= 300, 60_000, "the Java member's 300 records");
    assert.ok([...seen.keys()].every((k) => mine.includes(Number(k.split(":")[0]))));
    const javaPartitions = new Set(javaLines.map((l) => Number(/^Partition:(\d+)/.exec(l)?.[1])));
    assert.deepEqual([...javaPartitions].sort(), [0, 1, 2, 3, 4, 5].filter((p) => !mine.includes(p)));
    assert.equal(seen.size + javaLines.length, 600);
    assert.deepEqual(log, []);
  } finally {
    await deno.consumer.close();
    await deno.loop.catch(() => {});
    await java.stop();
  }
});

Deno.test(
  "KIP-848: a broker-side regex subscription with the range assignor; a static member comes back after the last commit",
  { ignore: requires("kip848") },
  async () => {
    await using client = await testClient();
    const prefix = uniqueName("re");
    const groupId = uniqueName("g-re");
    for (const t of [`${prefix}-a`, `${prefix}-b`, `other-${prefix}`]) {
      await createTopic(BROKERS, t, 2);
      await client.producer().send({
        topic: t,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `${t}/${i}`, partition: i % 2 })),
      });
    }
    const opts = {
      groupId,
      topics: new RegExp(`${prefix}-.*`),
      fromBeginning: true,
      groupProtocol: "consumer" as const,
      groupRemoteAssignor: "range",
      groupInstanceId: "static-1",
    };
    const read = async (n: number) => {
      const c = client.consumer(opts);
      const got: string[] = [];
      try {
        for await (const r of c) {
          got.push(r.text()!);
          if (got.length === n) {
            await c.commit(r);
            break;
          }
        }
      } finally {
        await c.close();
      }
      return got;
    };
    const first = await read(20);
    assert.deepEqual(new Set(first.map((v) => v.split("/")[0])), new Set([`${prefix}-a`, `${prefix}-b`]));
    assert.equal(new Set(first).size, 20);
    await client.producer().send({
      topic: `${prefix}-a`,
      messages: [{ value: `${prefix}-a/new`, partition: 0 }],
    });
    // The same static member again: it resumes after its commits (made with its member epoch).
    assert.deepEqual(await read(1), [`${prefix}-a/new`]);
    const bad = client.consumer({
      groupId: uniqueName("g-bad"),
      topics: [`${prefix}-a`],
      groupProtocol: "consumer",
      groupRemoteAssignor: "nope",
    });
    try {
      await assert.rejects(
        () => bad[Symbol.asyncIterator]().next(),
        (e) => e instanceof Error && /UNSUPPORTED_ASSIGNOR/.test(e.message),
      );
    } finally {
      await bad.close().catch(() => {});
    }
  },
);

Deno.test(
  "migration: a consumer-protocol member joins a group of classic members (the broker converts it online)",
  { ignore: requires("kip848") },
  async () => {
    await using client = await testClient();
    const topic = uniqueName("c-migrate");
    const groupId = uniqueName("g-migrate");
    await createTopic(BROKERS, topic, 4);
    const seen = new Map<string, number>();
    const log: string[] = [];
    const classic = member(
      client,
      { groupId, topics: [topic], fromBeginning: true, heartbeatIntervalMs: 500 },
      seen,
      [],
      log,
    );
    let modern: Member | null = null;
    try {
      await until(() => classic.held.size === 4, 60_000, "the classic member holds all 4");
      modern = member(
        client,
        { groupId, topics: [topic], fromBeginning: true, groupProtocol: "consumer" },
        seen,
        [],
        log,
      );
      if (deviates("kfakeNoOnlineMigration")) {
        // The broker refuses the member: the consumer fails with the broker's error, at once, not a hang.
        await assert.rejects(
          modern.loop,
          (e) => e instanceof BrokerError && e.type === "GROUP_ID_NOT_FOUND" && e.message.includes(groupId),
        );
        return;
      }
      await until(
        () => modern!.held.size > 0 && classic.held.size + modern!.held.size === 4,
        60_000,
        "the two share the partitions",
      );
      const producer = client.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: 400 }, (_, i) => ({ value: `v${i}`, partition: i % 4 })),
      });
      await producer.close();
      await until(() => seen.size >= 400, 60_000, "all 400 records");
      assert.equal(seen.size, 400);
      assert.deepEqual(log, []);
    } finally {
      await Promise.allSettled([classic.consumer.close(), modern?.consumer.close()]);
      await Promise.allSettled([classic.loop, modern?.loop]);
    }
  },
);

Deno.test(
  "KIP-848: listeners get only the partitions that move",
  { ignore: requires("kip848") },
  async () => {
    await using client = await testClient();
    const topic = uniqueName("c-848-listen");
    const groupId = uniqueName("g-848-listen");
    await createTopic(BROKERS, topic, 4);
    const events: string[] = [];
    const listeners = (name: string) => ({
      onAssigned: (ps: { partition: number }[]) => void events.push(`${name}+${ps.map((p) => p.partition)}`),
      onRevoked: (ps: { partition: number }[]) => void events.push(`${name}-${ps.map((p) => p.partition)}`),
      onLost: (ps: { partition: number }[]) => void events.push(`${name} lost ${ps.map((p) => p.partition)}`),
    });
    const base = { groupId, topics: [topic], fromBeginning: true, groupProtocol: "consumer" as const };
    const a = client.consumer({ ...base, ...listeners("A") });
    const loopA = (async () => {
      for await (const _ of a);
    })();
    let b: Consumer | null = null;
    let loopB: Promise<void> | null = null;
    try {
      await until(() => events.length === 1, 60_000, "A's partitions");
      assert.deepEqual(events, ["A+0,1,2,3"]);
      b = client.consumer({ ...base, ...listeners("B") });
      loopB = (async () => {
        for await (const _ of b!);
      })();
      await until(() => events.some((e) => e.startsWith("B+")), 60_000, "B's partitions");
      const moved = events.find((e) => e.startsWith("B+"))!.slice(2);
      assert.equal(moved.split(",").length, 2);
      assert.deepEqual(events, ["A+0,1,2,3", `A-${moved}`, `B+${moved}`]);
      await b.close();
      await until(() => events.length === 5, 60_000, "A takes B's partitions back");
      assert.deepEqual(events.slice(3), [`B-${moved}`, `A+${moved}`]);
    } finally {
      await Promise.allSettled([a.close(), b?.close()]);
      await Promise.allSettled([loopA, loopB]);
    }
  },
);

Deno.test(
  "KIP-848: a member overrunning maxPollIntervalMs leaves (commit() says so) and rejoins when it polls",
  { ignore: requires("kip848") },
  async () => {
    await using client = await testClient();
    const topic = await newTopic(client, "c-848-overrun", 1);
    const groupId = uniqueName("g-848-overrun");
    await produceNumbered(client, topic, 5);
    const c = client.consumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      groupProtocol: "consumer",
      autoCommit: false,
      maxPollIntervalMs: 1500,
    });
    try {
      const it = c[Symbol.asyncIterator]();
      const [r0, r1] = await take(it, 2, 60_000);
      assert.deepEqual([r0.offset, r1.offset], [0n, 1n]);
      await until(() => c.generationId === -1 && c.assignment().length === 0, 60_000, "the member to leave");
      const err = await c.commit().catch((e) => e);
      assert.ok(err instanceof CommitFailedError, String(err));
      // Iterating again rejoins; nothing was committed, so record 0 comes again.
      const [again] = await take(it, 1, 60_000);
      assert.equal(again.offset, 0n);
      await c.commit(); // a member again, with its new epoch: the commit works
    } finally {
      await c.close();
    }
  },
);
