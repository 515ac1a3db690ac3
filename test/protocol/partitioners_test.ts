import assert from "node:assert/strict";
import { fnv1a32, fnv1aPartition, murmur2, murmur2Partition } from "../../protocol/partitioners.ts";

const te = new TextEncoder();

// ../shared/kafka-protocol/VECTORS.md section 1.1 (Kafka's UtilsTest.testMurmur2) with the
// derived partition columns for 1, 2, 3, 4, 6, 8, 10, 12, 16 and 100 partitions.
const MURMUR2: [string, number, number[]][] = [
  ["21", -973932308, [0, 0, 0, 0, 0, 4, 0, 0, 12, 40]],
  ["foobar", -790332482, [0, 0, 0, 2, 0, 6, 6, 6, 14, 66]],
  ["a-little-bit-long-string", -985981536, [0, 0, 2, 0, 2, 0, 2, 8, 0, 12]],
  ["a-little-bit-longer-string", -1486304829, [0, 1, 2, 3, 5, 3, 9, 11, 3, 19]],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, [0, 1, 2, 1, 5, 5, 7, 5, 13, 77]],
  ["abc", 479470107, [0, 1, 0, 3, 3, 3, 7, 3, 11, 7]],
];
const COUNTS = [1, 2, 3, 4, 6, 8, 10, 12, 16, 100];

Deno.test("murmur2() matches Kafka's Utils.murmur2", async (t) => {
  for (const [input, expected, partitions] of MURMUR2) {
    await t.step(`"${input}"`, () => {
      const bytes = te.encode(input);
      assert.equal(murmur2(bytes), expected);
      assert.deepEqual(COUNTS.map((n) => murmur2Partition(bytes, n)), partitions);
    });
  }
  await t.step("empty input hashes to 275646681", () => {
    assert.equal(murmur2(new Uint8Array(0)), 275646681);
    assert.equal(murmur2Partition(new Uint8Array(0), 7), 275646681 % 7);
  });
  await t.step("bytes above 0x7f are taken unsigned", () => {
    const h = murmur2(new Uint8Array([0xff, 0xfe, 0x80, 0x81, 0x90]));
    assert.ok(Number.isInteger(h) && h >= -(2 ** 31) && h < 2 ** 31);
  });
});

Deno.test("murmur2Partition() masks the sign bit instead of taking abs", () => {
  // -973932308 & 0x7fffffff = 1173551340; abs would give 973932308 (% 100 = 8, not 40).
  assert.equal(murmur2Partition(te.encode("21"), 100), 40);
});

Deno.test("fnv1a32() matches the standard FNV-1a vectors", () => {
  assert.equal(fnv1a32(te.encode("")), 0x811c9dc5);
  assert.equal(fnv1a32(te.encode("a")), 0xe40c292c);
  assert.equal(fnv1a32(te.encode("foobar")), 0xbf9cf968);
});

Deno.test("fnv1aPartition() follows sarama's NewHashPartitioner rule", async (t) => {
  await t.step("a hash with the sign bit set is negated after %", () => {
    // 0xbf9cf968 as int32 is -1080231576; % 7 = -4 (truncated); negated: 4.
    assert.equal(0xbf9cf968 | 0, -1080231576);
    assert.equal(fnv1aPartition(te.encode("foobar"), 7), 4);
    // The Java-style rule would give (0x3f9cf968 % 7) = 1067252072 % 7 = 1.
    assert.notEqual(fnv1aPartition(te.encode("foobar"), 7), (0xbf9cf968 & 0x7fffffff) % 7);
  });
  await t.step("any hash gives |int32(hash) % n|, never -0", () => {
    for (let i = 0; i < 1000; i++) {
      const key = te.encode(`key-${i}`);
      const h = fnv1a32(key) | 0;
      const p = fnv1aPartition(key, 10);
      assert.ok(Object.is(p, Math.abs(h % 10) + 0));
      assert.ok(p >= 0 && p < 10);
    }
  });
  await t.step("bad partition counts are a RangeError", () => {
    assert.throws(() => fnv1aPartition(te.encode("a"), 0), RangeError);
    assert.throws(() => murmur2Partition(te.encode("a"), 1.5), RangeError);
  });
});
