import assert from "node:assert/strict";
import type { Consumer, TopicPartition } from "../../mod.ts";
import { BROKERS, testClient, uniqueName } from "../_broker.ts";
import { createTopic, produceNumbered, until } from "./_member.ts";

const fmt = (ps: TopicPartition[]) => ps.map((p) => p.partition).join(",");

/** Reads in the background, recording each record's partition:offset per consumer. */
function reader(c: Consumer, seen: string[]): Promise<void> {
  return (async () => {
    for await (const r of c) seen.push(`${r.partition}:${r.offset}`);
  })();
}

Deno.test("rebalance listeners run in order with the right partitions; onAssigned seeks before any record, onRevoked commits", async () => {
  await using client = await testClient();
  const topic = uniqueName("c-listen");
  const groupId = uniqueName("g-listen");
  await createTopic(BROKERS, topic, 4);
  await produceNumbered(client, topic, 400, { partitions: 4 });
  const events: string[] = [];
  const seenA: string[] = [];
  const seenB: string[] = [];
  let firstAssign = true;
  const base = {
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
    autoCommitIntervalMs: 60_000,
  };
  const a: Consumer = client.consumer({
    ...base,
    onAssigned: async (ps) => {
      events.push(`A assigned ${fmt(ps)}`);
      // Nothing of these partitions was handed out yet.
      assert.equal(seenA.length, 0);
      if (firstAssign) {
        firstAssign = false;
        await new Promise((r) => setTimeout(r, 200)); // an async listener holds the records back
        a.seek(topic, 0, 50n);
      }
    },
    onRevoked: async (ps) => {
      events.push(`A revoked ${fmt(ps)}`);
      // Still assigned while the listener runs: positions are readable and commit() works.
      for (const p of ps) assert.notEqual(a.position(p.topic, p.partition), undefined);
      await a.commit();
      seenA.length = 0;
    },
  });
  let b: Consumer | null = null;
  const loops: Promise<void>[] = [];
  try {
    loops.push(reader(a, seenA));
    await until(() => seenA.length === 350, 60_000, "A reads 350 records (partition 0 from offset 50)").catch(
      (e) => {
        console.log(seenA.length, events, a.assignment(), [0, 1, 2, 3].map((p) => a.position(topic, p)));
        throw e;
      },
    );
    assert.ok(!seenA.some((k) => k.startsWith("0:") && BigInt(k.slice(2)) < 50n), "the seek held");
    b = client.consumer({
      ...base,
      onAssigned: (ps) => void events.push(`B assigned ${fmt(ps)}`),
      onRevoked: (ps) => void events.push(`B revoked ${fmt(ps)}`),
    });
    loops.push(reader(b, seenB));
    await until(() => events.some((e) => e.startsWith("B assigned")), 60_000, "B gets its partitions");
    await until(
      () => events.filter((e) => e.startsWith("A assigned")).length === 2,
      60_000,
      "A gets its half",
    );
    const half = events.find((e) => e.startsWith("B assigned"))!.slice("B assigned ".length);
    const other = half === "0,1" ? "2,3" : "0,1";
    assert.ok(half === "0,1" || half === "2,3", `B got ${half}`);
    await b.close();
    await until(
      () => events.filter((e) => e.startsWith("A assigned")).length === 3,
      60_000,
      "A gets all back",
    );
    assert.deepEqual(events.filter((e) => e.startsWith("A")), [
      "A assigned 0,1,2,3",
      "A revoked 0,1,2,3",
      `A assigned ${other}`,
      `A revoked ${other}`,
      "A assigned 0,1,2,3",
    ]);
    assert.deepEqual(events.filter((e) => e.startsWith("B")), [`B assigned ${half}`, `B revoked ${half}`]);
    // Every record was committed before its partition moved: B read nothing again.
    assert.deepEqual(seenB, []);
    await a.close();
    assert.equal(events.at(-1), "A revoked 0,1,2,3");
  } finally {
    await Promise.allSettled([a.close(), b?.close()]);
    await Promise.allSettled(loops);
  }
});
