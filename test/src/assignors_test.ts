import assert from "node:assert/strict";
import {
  cooperativeStickyAssignor,
  type GroupAssignment,
  type MemberSubscription,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
} from "../../src/assignors.ts";

function members(ids: string[], topics: string[] = ["t"]): MemberSubscription[] {
  return ids.map((memberId) => ({ memberId, groupInstanceId: null, topics }));
}

function flat(plan: GroupAssignment): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const [m, topics] of plan) out[m] = Object.fromEntries(topics);
  return out;
}

Deno.test("rangeAssignor", async (t) => {
  await t.step("gives each member a contiguous range, the first ones one extra (Java's layout)", () => {
    const plan = rangeAssignor.assign(members(["c", "a", "b"]), new Map([["t", 7]]));
    assert.deepEqual(flat(plan), { a: { t: [0, 1, 2] }, b: { t: [3, 4] }, c: { t: [5, 6] } });
  });

  await t.step("splits 6 partitions 2/2/2 among 3 members", () => {
    const plan = rangeAssignor.assign(members(["m1", "m2", "m3"]), new Map([["t", 6]]));
    assert.deepEqual(flat(plan), { m1: { t: [0, 1] }, m2: { t: [2, 3] }, m3: { t: [4, 5] } });
  });

  await t.step("uses the same ranges for every topic (co-partitioned topics stay together)", () => {
    const plan = rangeAssignor.assign(members(["a", "b"], ["x", "y"]), new Map([["x", 3], ["y", 3]]));
    assert.deepEqual(flat(plan), { a: { x: [0, 1], y: [0, 1] }, b: { x: [2], y: [2] } });
  });

  await t.step("6 partitions over 4 members: 2, 2, 1, 1", () => {
    const plan = rangeAssignor.assign(members(["a", "b", "c", "d"]), new Map([["t", 6]]));
    assert.deepEqual(flat(plan), { a: { t: [0, 1] }, b: { t: [2, 3] }, c: { t: [4] }, d: { t: [5] } });
  });

  await t.step("leaves members without a partition when there are more members than partitions", () => {
    const plan = rangeAssignor.assign(members(["a", "b", "c"]), new Map([["t", 2]]));
    assert.deepEqual(flat(plan), { a: { t: [0] }, b: { t: [1] }, c: {} });
  });

  await t.step("only members subscribed to a topic share it", () => {
    const ms: MemberSubscription[] = [
      { memberId: "a", groupInstanceId: null, topics: ["x"] },
      { memberId: "b", groupInstanceId: null, topics: ["x", "y"] },
    ];
    const plan = rangeAssignor.assign(ms, new Map([["x", 2], ["y", 2]]));
    assert.deepEqual(flat(plan), { a: { x: [0] }, b: { x: [1], y: [0, 1] } });
  });

  await t.step("orders static members first, by instance id", () => {
    const ms: MemberSubscription[] = [
      { memberId: "a", groupInstanceId: null, topics: ["t"] },
      { memberId: "z", groupInstanceId: "i2", topics: ["t"] },
      { memberId: "y", groupInstanceId: "i1", topics: ["t"] },
    ];
    const plan = rangeAssignor.assign(ms, new Map([["t", 3]]));
    assert.deepEqual(flat(plan), { y: { t: [0] }, z: { t: [1] }, a: { t: [2] } });
  });

  await t.step("skips topics without partition counts", () => {
    const plan = rangeAssignor.assign(members(["a"], ["t", "missing"]), new Map([["t", 1]]));
    assert.deepEqual(flat(plan), { a: { t: [0] } });
  });
});

Deno.test("roundRobinAssignor", async (t) => {
  await t.step("deals partitions of all topics, sorted, to members in turn", () => {
    const plan = roundRobinAssignor.assign(members(["b", "a"], ["y", "x"]), new Map([["x", 3], ["y", 2]]));
    // x0 a, x1 b, x2 a, y0 b, y1 a
    assert.deepEqual(flat(plan), { a: { x: [0, 2], y: [1] }, b: { x: [1], y: [0] } });
  });

  await t.step("skips members not subscribed to a topic", () => {
    const ms: MemberSubscription[] = [
      { memberId: "a", groupInstanceId: null, topics: ["x"] },
      { memberId: "b", groupInstanceId: null, topics: ["x", "y"] },
      { memberId: "c", groupInstanceId: null, topics: ["y"] },
    ];
    const plan = roundRobinAssignor.assign(ms, new Map([["x", 3], ["y", 3]]));
    // x0 a, x1 b, x2 a (c skipped), y0 b, y1 c, y2 b (a skipped)
    assert.deepEqual(flat(plan), { a: { x: [0, 2] }, b: { x: [1], y: [0, 2] }, c: { y: [1] } });
  });

  await t.step("assigns every partition exactly once", () => {
    const ms = members(["m0", "m1", "m2", "m3", "m4"], ["p", "q", "r"]);
    const counts = new Map([["p", 7], ["q", 1], ["r", 12]]);
    for (const assignor of [rangeAssignor, roundRobinAssignor]) {
      const seen = new Set<string>();
      for (const topics of assignor.assign(ms, counts).values()) {
        for (const [t, ps] of topics) {
          for (const p of ps) {
            assert.ok(!seen.has(`${t}-${p}`), `${assignor.name}: ${t}-${p} twice`);
            seen.add(`${t}-${p}`);
          }
        }
      }
      assert.equal(seen.size, 20, assignor.name);
    }
  });

  await t.step("handles an empty group", () => {
    assert.equal(roundRobinAssignor.assign([], new Map([["t", 3]])).size, 0);
    assert.equal(rangeAssignor.assign([], new Map([["t", 3]])).size, 0);
  });
});

/** Every partition of `counts` at most once, only to subscribers; returns the loads. */
function checkPlan(
  plan: GroupAssignment,
  subs: MemberSubscription[],
  counts: Map<string, number>,
  complete = true,
): number[] {
  const seen = new Set<string>();
  for (const m of subs) {
    for (const [topic, ps] of plan.get(m.memberId)!) {
      assert.ok(m.topics.includes(topic), `${m.memberId} got ${topic} without subscribing`);
      for (const p of ps) {
        assert.ok(p >= 0 && p < counts.get(topic)!);
        assert.ok(!seen.has(`${topic}:${p}`), `${topic}:${p} twice`);
        seen.add(`${topic}:${p}`);
      }
    }
  }
  if (complete) assert.equal(seen.size, [...counts.values()].reduce((a, b) => a + b, 0));
  return subs.map((m) => [...plan.get(m.memberId)!.values()].reduce((a, ps) => a + ps.length, 0));
}

function owning(plan: GroupAssignment, id: string): Map<string, number[]> {
  return new Map(plan.get(id)!);
}

Deno.test("stickyAssignor", async (t) => {
  await t.step("balances within one and keeps partitions where they were when a member leaves", () => {
    const counts = new Map([["t", 7], ["u", 5]]);
    const three = members(["a", "b", "c"], ["t", "u"]);
    const first = stickyAssignor.assign(three, counts);
    const loads = checkPlan(first, three, counts);
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `${loads}`);
    // a and b rejoin with what they had in their userData (Java's StickyAssignor layout); c is gone.
    const two = ["a", "b"].map((id) => ({
      memberId: id,
      groupInstanceId: null,
      topics: ["t", "u"],
      userData: stickyAssignor.subscriptionUserData!(owning(first, id), 3),
    }));
    const second = stickyAssignor.assign(two, counts);
    const loads2 = checkPlan(second, two, counts);
    assert.deepEqual(loads2.sort(), [6, 6]);
    for (const id of ["a", "b"]) {
      for (const [topic, ps] of first.get(id)!) {
        for (const p of ps) assert.ok(second.get(id)!.get(topic)!.includes(p), `${id} kept ${topic}:${p}`);
      }
    }
  });

  await t.step(
    "unequal subscriptions: only subscribers get a topic; a stale claim loses to a newer one",
    () => {
      const counts = new Map([["t", 4], ["u", 4]]);
      const subs: MemberSubscription[] = [
        {
          memberId: "a",
          groupInstanceId: null,
          topics: ["t"],
          ownedPartitions: new Map([["t", [0, 1]]]),
          generationId: 2,
        },
        {
          memberId: "b",
          groupInstanceId: null,
          topics: ["t", "u"],
          ownedPartitions: new Map([["t", [1]]]),
          generationId: 5,
        },
        {
          memberId: "c",
          groupInstanceId: null,
          topics: ["u"],
          userData: new Uint8Array([0xff, 1, 2, 3, 4, 5]),
        },
      ];
      const plan = stickyAssignor.assign(subs, counts);
      checkPlan(plan, subs, counts);
      assert.ok(plan.get("b")!.get("t")?.includes(1), "the newer generation's claim wins");
      assert.ok(plan.get("a")!.get("t")!.includes(0));
    },
  );

  await t.step(
    "random groups: complete, no partition twice, balanced within one for equal subscriptions",
    () => {
      let seed = 7;
      const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      for (let round = 0; round < 50; round++) {
        const counts = new Map([["t", 1 + rnd(20)], ["u", rnd(6)]]);
        const ids = Array.from({ length: 1 + rnd(6) }, (_, i) => `m${i}`);
        const subs = ids.map((id) => ({
          memberId: id,
          groupInstanceId: null,
          topics: ["t", "u"],
          ownedPartitions: new Map([["t", [rnd(20), rnd(20)]]]),
          generationId: rnd(3),
        }));
        const loads = checkPlan(stickyAssignor.assign(subs, counts), subs, counts);
        assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `round ${round}: ${loads}`);
      }
    },
  );
});

Deno.test("cooperativeStickyAssignor: a moving partition skips a round, then reaches its new owner", () => {
  const counts = new Map([["t", 6]]);
  const a1 = {
    memberId: "a",
    groupInstanceId: null,
    topics: ["t"],
    ownedPartitions: new Map([["t", [0, 1, 2, 3, 4, 5]]]),
    generationId: 1,
  };
  const b1 = { memberId: "b", groupInstanceId: null, topics: ["t"] };
  const round1 = cooperativeStickyAssignor.assign([a1, b1], counts);
  checkPlan(round1, [a1, b1], counts, false);
  const kept = round1.get("a")!.get("t")!;
  assert.equal(kept.length, 3, "a keeps half");
  assert.equal(round1.get("b")!.size, 0, "b waits until a revoked the rest");
  // Round 2: a revoked what it was not given and owns only what it kept.
  const a2 = { ...a1, ownedPartitions: new Map([["t", kept]]), generationId: 2 };
  const round2 = cooperativeStickyAssignor.assign([a2, b1], counts);
  checkPlan(round2, [a2, b1], counts);
  assert.deepEqual(round2.get("a")!.get("t"), kept);
  assert.equal(round2.get("b")!.get("t")!.length, 3);
});
