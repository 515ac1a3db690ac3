import assert from "node:assert/strict";
import { crc32, crc32c } from "../../protocol/crc32c.ts";

const te = new TextEncoder();

Deno.test("crc32c() matches the CRC-32C check values", async (t) => {
  await t.step("standard check value of 123456789", () => {
    assert.equal(crc32c(te.encode("123456789")), 0xe3069283);
  });
  await t.step("Kafka's Crc32CTest vector", () => {
    assert.equal(crc32c(te.encode("Some String")), 608512271);
  });
  await t.step("empty input is 0 and results are unsigned", () => {
    assert.equal(crc32c(new Uint8Array(0)), 0);
    const v = crc32c(new Uint8Array([0xff, 0x00, 0x80]));
    assert.ok(v >= 0 && v <= 0xffffffff);
  });
  await t.step("a view is hashed by its own bytes only", () => {
    const buf = te.encode("xx123456789yy");
    assert.equal(crc32c(buf.subarray(2, 11)), 0xe3069283);
  });
});

Deno.test("crc32() matches the CRC-32 (IEEE) check value", () => {
  assert.equal(crc32(te.encode("123456789")), 0xcbf43926);
});

Deno.test("crc32c() and crc32() agree with crc-32, an independent implementation", async () => {
  // Only the test imports crc-32: the library has its own tables (protocol/crc32c.ts).
  // deno-lint-ignore no-import-prefix -- a reference implementation, pinned like the library's imports
  const { default: C } = await import("npm:crc-32@1.2.2/crc32c.js");
  // deno-lint-ignore no-import-prefix -- a reference implementation, pinned like the library's imports
  const { default: I } = await import("npm:crc-32@1.2.2/crc32.js");
  const big = new Uint8Array(70_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >>> 7)) & 0xff;
  // Every length from 0 to 100 at every alignment 0-3, then larger sizes around the 16-byte steps.
  const lengths = [...Array(101).keys(), 255, 256, 257, 4095, 4096, 4097, 65_535, 65_536, 69_990];
  for (const n of lengths) {
    for (let start = 0; start < 4; start++) {
      const b = big.subarray(start, start + n);
      assert.equal(
        crc32c(b),
        (C as { buf(b: Uint8Array, s: number): number }).buf(b, 0) >>> 0,
        `crc32c n=${n}`,
      );
      assert.equal(
        crc32(b),
        (I as { buf(b: Uint8Array, s: number): number }).buf(b, 0) >>> 0,
        `crc32 n=${n}`,
      );
    }
  }
});
