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
