// The delivery verifier of the cluster tests (test/cluster/_cluster.ts) on
// made-up data: it reports a lost, a duplicated, a reordered and a misplaced
// record, and nothing on a clean topic.
import assert from "node:assert/strict";
import { type AckedRecord, type SeenRecord, verify } from "../cluster/_cluster.ts";

function acked(key: string, seq: number, partition: number, offset: number): AckedRecord {
  return { key, value: `${key}:${seq}`, seq, partition, offset: BigInt(offset) };
}

function stored(a: AckedRecord): SeenRecord {
  return { key: a.key, value: a.value, partition: a.partition, offset: a.offset };
}

const sent = [acked("a", 0, 0, 0), acked("b", 0, 1, 0), acked("a", 1, 0, 1), acked("a", 2, 0, 2)];

Deno.test("cluster verifier: a clean topic passes", () => {
  assert.deepEqual(verify(sent, sent.map(stored)), {
    lost: 0,
    duplicated: 0,
    reordered: 0,
    misplaced: 0,
    examples: [],
  });
});

Deno.test("cluster verifier: reports a lost record", () => {
  const v = verify(sent, sent.slice(0, 3).map(stored));
  assert.equal(v.lost, 1);
  assert.match(v.examples[0], /a:2 .* is missing/);
});

Deno.test("cluster verifier: reports a duplicated record", () => {
  const v = verify(sent, [...sent.map(stored), { ...stored(sent[1]), offset: 1n }]);
  assert.equal(v.duplicated, 1);
  assert.equal(v.lost, 0);
});

Deno.test("cluster verifier: reports records of one key out of order", () => {
  const swapped = sent.map(stored);
  swapped[2] = { ...swapped[2], offset: 2n };
  swapped[3] = { ...swapped[3], offset: 1n };
  const v = verify(sent, swapped);
  assert.equal(v.reordered, 1);
  assert.equal(v.misplaced, 2, "both records sit at other offsets than acknowledged");
});
