import assert from "node:assert/strict";
import {
  type GroupAssignment,
  type MemberSubscription,
  rangeAssignor,
  roundRobinAssignor,
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
