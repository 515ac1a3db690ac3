import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/errors.ts";
import { bytesToUuid, Reader, uuidToBytes, Writer, ZERO_UUID } from "../../protocol/primitives.ts";
import { HAVE_SHARED, hex, sharedText, toHex } from "../_shared.ts";

// A few of the vectors from Kafka's ByteUtilsTest (4.1.1), kept here so the
// test runs without ../shared; the full tables are checked below when present.
const UNSIGNED: [number, string][] = [[0, "00"], [-1, "ff ff ff ff 0f"], [63, "3f"], [8192, "80 40"], [
  2147483647,
  "ff ff ff ff 07",
], [-2147483648, "80 80 80 80 08"]];
const VARINT: [number, string][] = [[0, "00"], [-1, "01"], [63, "7e"], [-64, "7f"], [64, "80 01"], [
  2147483647,
  "fe ff ff ff 0f",
], [-2147483648, "ff ff ff ff 0f"]];
const VARLONG: [bigint, string][] = [[0n, "00"], [-1n, "01"], [17179869184n, "80 80 80 80 80 01"], [
  9223372036854775807n,
  "fe ff ff ff ff ff ff ff ff 01",
], [-9223372036854775808n, "ff ff ff ff ff ff ff ff ff 01"]];

/** Rows of a VECTORS.md table after a heading that contains `title`. */
function vectorTable(title: string): [string, string][] {
  const lines = sharedText("kafka-protocol/VECTORS.md").split("\n");
  const start = lines.findIndex((l) => l.startsWith("####") && l.includes(title));
  assert.ok(start >= 0, `no table ${title} in VECTORS.md`);
  const rows: [string, string][] = [];
  for (let i = start + 1; i < lines.length && !lines[i].startsWith("####"); i++) {
    const cells = lines[i].split("|").map((c) => c.trim());
    if (cells.length >= 4 && /^-?\d+$/.test(cells[2])) rows.push([cells[2], cells[3].replaceAll("`", "")]);
  }
  return rows;
}

function checkUnsigned(value: number, bytes: string) {
  assert.equal(toHex(new Writer().unsignedVarint(value).finish()), bytes, `write ${value}`);
  const r = new Reader(hex(bytes));
  assert.equal(r.unsignedVarint() | 0, value, `read ${bytes}`);
  r.done();
}
function checkVarint(value: number, bytes: string) {
  assert.equal(toHex(new Writer().varint(value).finish()), bytes, `write ${value}`);
  const r = new Reader(hex(bytes));
  assert.equal(r.varint(), value, `read ${bytes}`);
  r.done();
}
function checkVarlong(value: bigint, bytes: string) {
  assert.equal(toHex(new Writer().varlong(value).finish()), bytes, `write ${value}`);
  if (Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value) {
    assert.equal(toHex(new Writer().varlong(Number(value)).finish()), bytes, `write number ${value}`);
  }
  const r = new Reader(hex(bytes));
  assert.equal(r.varlong(), value, `read ${bytes}`);
  r.done();
}

Deno.test("varints match Kafka's ByteUtilsTest vectors", async (t) => {
  await t.step("unsigned varint", () => UNSIGNED.forEach(([v, b]) => checkUnsigned(v, b)));
  await t.step("zigzag varint", () => VARINT.forEach(([v, b]) => checkVarint(v, b)));
  await t.step("zigzag varlong", () => VARLONG.forEach(([v, b]) => checkVarlong(v, b)));
});

Deno.test({
  name: "varints match every row of ../shared VECTORS.md",
  ignore: !HAVE_SHARED,
  fn() {
    const u = vectorTable("testUnsignedVarintSerde");
    const v = vectorTable("testVarintSerde");
    const l = vectorTable("testVarlongSerde");
    assert.equal(u.length + v.length + l.length, 78);
    u.forEach(([d, b]) => checkUnsigned(Number(d), b));
    v.forEach(([d, b]) => checkVarint(Number(d), b));
    l.forEach(([d, b]) => checkVarlong(BigInt(d), b));
  },
});

Deno.test("Reader rejects over-long and truncated varints with ProtocolError", () => {
  assert.throws(() => new Reader(hex("ff ff ff ff ff 01")).varint(), ProtocolError);
  assert.throws(() => new Reader(hex("ff ff ff ff ff 01")).unsignedVarint(), ProtocolError);
  assert.throws(() => new Reader(hex("ff ff ff ff ff ff ff ff ff ff 01")).varlong(), ProtocolError);
  assert.throws(() => new Reader(hex("80 80")).varint(), ProtocolError);
  assert.throws(() => new Reader(hex("80 80 80 80 80 80 80 80")).varlong(), ProtocolError);
  assert.throws(() => new Reader(new Uint8Array(0)).unsignedVarint(), ProtocolError);
});

Deno.test("fixed-width integers and floats round-trip big-endian", () => {
  const w = new Writer(1);
  w.int8(-128).int16(-2).uint16(65535).int32(-5).uint32(0xfffffffe).int64(-9223372036854775808n)
    .int64(9223372036854775807n).float64(1).float64(-0).boolean(true).boolean(false);
  const b = w.finish();
  assert.equal(toHex(b.subarray(0, 5)), "80 ff fe ff ff");
  const r = new Reader(b);
  assert.equal(r.int8(), -128);
  assert.equal(r.int16(), -2);
  assert.equal(r.uint16(), 65535);
  assert.equal(r.int32(), -5);
  assert.equal(r.uint32(), 0xfffffffe);
  assert.equal(r.int64(), -9223372036854775808n);
  assert.equal(r.int64(), 9223372036854775807n);
  assert.equal(r.float64(), 1);
  assert.ok(Object.is(r.float64(), -0));
  assert.equal(r.boolean(), true);
  assert.equal(r.boolean(), false);
  r.done();
  assert.equal(toHex(new Writer().float64(1).finish()), "3f f0 00 00 00 00 00 00");
  assert.equal(toHex(new Writer().float64(NaN).finish()), "7f f8 00 00 00 00 00 00");
  assert.throws(() => new Writer().int64(1n << 63n), RangeError);
});

Deno.test("strings and bytes in classic, compact and nullable forms", () => {
  const w = new Writer(4);
  w.string("héllo").nullableString(null).compactString("").compactNullableString(null)
    .compactString("日本🎉").bytes(new Uint8Array([1, 2])).nullableBytes(null).compactBytes(new Uint8Array(0))
    .compactNullableBytes(null).compactNullableBytes(new Uint8Array([9]));
  const r = new Reader(w.finish());
  assert.equal(r.string(), "héllo");
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), "");
  assert.equal(r.compactNullableString(), null);
  assert.equal(r.compactString(), "日本🎉");
  assert.deepEqual([...r.bytes()], [1, 2]);
  assert.equal(r.nullableBytes(), null);
  assert.equal(r.compactBytes().length, 0);
  assert.equal(r.compactNullableBytes(), null);
  assert.deepEqual([...r.compactNullableBytes()!], [9]);
  r.done();
  assert.equal(toHex(new Writer().string("ab").finish()), "00 02 61 62");
  assert.equal(toHex(new Writer().compactString("ab").finish()), "03 61 62");
  assert.equal(toHex(new Writer().compactNullableString(null).finish()), "00");
  assert.equal(toHex(new Writer().nullableBytes(null).finish()), "ff ff ff ff");
});

Deno.test("arrays in classic, compact and nullable forms", () => {
  const w = new Writer();
  w.array([1, 2], (w, x) => w.int32(x)).nullableArray(null, (w, x: number) => w.int8(x))
    .compactArray([7], (w, x) => w.int8(x)).compactNullableArray(null, (w, x: number) => w.int8(x));
  const r = new Reader(w.finish());
  assert.deepEqual(r.array((r) => r.int32()), [1, 2]);
  assert.equal(r.nullableArray((r) => r.int8()), null);
  assert.deepEqual(r.compactArray((r) => r.int8()), [7]);
  assert.equal(r.compactNullableArray((r) => r.int8()), null);
  r.done();
});

Deno.test("UUIDs use Kafka's base64url form", () => {
  const bytes = hex("00112233445566778899aabbccddeeff");
  const s = bytesToUuid(bytes);
  assert.equal(s.length, 22);
  assert.deepEqual(uuidToBytes(s), bytes);
  assert.deepEqual(uuidToBytes(ZERO_UUID), new Uint8Array(16));
  assert.equal(new Reader(new Writer().uuid(s).finish()).uuid(), s);
  assert.throws(() => uuidToBytes("short"), TypeError);
  assert.throws(() => uuidToBytes("!".repeat(22)), TypeError);
});

Deno.test("tagged fields: known ones are claimed, unknown ones kept, order enforced", () => {
  const w = new Writer();
  w.taggedFields([{ tag: 5, data: new Uint8Array([1]) }, { tag: 0, data: new Uint8Array([0, 7]) }]);
  const bytes = w.finish();
  assert.equal(toHex(bytes), "02 00 02 00 07 05 01 01");
  let seen = -1;
  const unknown = new Reader(bytes).taggedFields((tag, r) => {
    if (tag !== 0) return false;
    seen = r.int16();
    return true;
  });
  assert.equal(seen, 7);
  assert.deepEqual(unknown, [{ tag: 5, data: new Uint8Array([1]) }]);
  assert.throws(() => new Reader(hex("02 05 00 01 00")).taggedFields(), ProtocolError);
  // A known tag whose bytes are longer than what the codec reads is an error.
  assert.throws(
    () => new Reader(hex("01 00 02 00 07")).taggedFields((_, r) => (r.int8(), true)),
    ProtocolError,
  );
});

Deno.test("Reader refuses hostile lengths with ProtocolError, never RangeError", async (t) => {
  const cases: [string, (r: Reader) => unknown][] = [
    ["int32 underflow", (r) => r.int32()],
    ["negative string length", (r) => r.string()],
    ["string beyond the end", (r) => r.string()],
    ["negative bytes length", (r) => r.bytes()],
    ["bytes beyond the end", (r) => r.bytes()],
    ["huge array count", (r) => r.array((r) => r.int8())],
    ["huge compact array count", (r) => r.compactArray((r) => r.int8())],
    ["null compact string", (r) => r.compactString()],
    ["invalid UTF-8", (r) => r.compactString()],
  ];
  const inputs = [
    "00 01",
    "ff fe",
    "00 10 61",
    "ff ff ff fe",
    "00 00 00 09 01",
    "7f ff ff ff",
    "ff ff ff ff 0f",
    "00",
    "03 c3 28",
  ];
  for (let i = 0; i < cases.length; i++) {
    await t.step(
      cases[i][0],
      () => assert.throws(() => cases[i][1](new Reader(hex(inputs[i]))), ProtocolError),
    );
  }
  await t.step(
    "done() with trailing bytes",
    () => assert.throws(() => new Reader(hex("00")).done(), ProtocolError),
  );
  await t.step(
    "skip beyond the end",
    () => assert.throws(() => new Reader(hex("00")).skip(2), ProtocolError),
  );
  await t.step("bounded sub-reader", () => {
    const r = new Reader(hex("00 00 00 01 ff"), 0, 4);
    assert.equal(r.int32(), 1);
    assert.throws(() => r.int8(), ProtocolError);
  });
});

Deno.test("Writer grows and back-patches lengths", () => {
  const w = new Writer(1);
  const at = w.reserveInt32();
  for (let i = 0; i < 1000; i++) w.int32(i);
  w.patchInt32(at, w.length - 4);
  const r = new Reader(w.finish());
  assert.equal(r.int32(), 4000);
  for (let i = 0; i < 1000; i++) assert.equal(r.int32(), i);
  r.done();
});

Deno.test("a referencing Writer hands large payloads out as chunks, in order, without copying them", () => {
  const big = new Uint8Array(5000).fill(7);
  const w = new Writer(8, { referenceBytesFrom: 4096 });
  const at = w.reserveInt32();
  w.int16(1).compactBytes(big).int8(9).raw(new Uint8Array([1, 2]));
  for (let i = 0; i < 100; i++) w.int32(i); // forces the own buffer to regrow after the reference
  w.patchInt32(at, w.length - 4);
  const chunks = w.finishChunks();
  assert.ok(chunks.includes(big), "the payload is referenced, not copied");
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    joined.set(c, o);
    o += c.length;
  }
  const r = new Reader(joined);
  assert.equal(r.int32(), joined.length - 4);
  assert.equal(r.int16(), 1);
  assert.deepEqual(r.compactBytes(), big);
  assert.equal(r.int8(), 9);
  assert.deepEqual([...r.raw(2)], [1, 2]);
  for (let i = 0; i < 100; i++) assert.equal(r.int32(), i);
  r.done();
  assert.throws(() => w.finish(), RangeError);
});

Deno.test("Writer writes into the caller's memory with `buffer`, and moves to fresh memory when it is too small", () => {
  const backing = new Uint8Array(64).fill(0xee);
  const w = new Writer(0, { buffer: backing.subarray(8, 32) });
  w.int32(0x01020304).int64(-2n).varint(-1);
  const out = w.finish();
  assert.equal(out.buffer, backing.buffer);
  assert.equal(out.byteOffset, 8);
  assert.deepEqual([...out], [1, 2, 3, 4, 255, 255, 255, 255, 255, 255, 255, 254, 1]);
  assert.equal(backing[7], 0xee, "nothing written before the view");
  w.raw(new Uint8Array(20).fill(7));
  const grown = w.finish();
  assert.notEqual(grown.buffer, backing.buffer);
  assert.deepEqual([...grown.subarray(0, 13)], [...out]);
  assert.equal(backing[32], 0xee, "nothing written past the view");
  const empty = new Writer(0, { buffer: new Uint8Array(0) });
  assert.deepEqual([...empty.int8(5).finish()], [5], "an empty buffer grows too");
});
