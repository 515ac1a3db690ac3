import assert from "node:assert/strict";
import { compress, Compression, compressionName } from "../../protocol/compression.ts";
import { crc32 } from "../../protocol/crc32c.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { Writer } from "../../protocol/primitives.ts";
import {
  ControlRecordType,
  CorruptRecordError,
  decodeRecordBatches,
  decodeRecordsInto,
  encodeRecordBatch,
  recordBatchFrames,
  type RecordInput,
  TimestampType,
} from "../../protocol/record_batch.ts";
import { prng } from "../_prng.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const CODECS = Object.values(Compression);
const str = (b: Uint8Array | null) => b === null ? null : td.decode(b);

const RECORDS: RecordInput[] = [
  {
    key: te.encode("k1"),
    value: te.encode("v1"),
    headers: [{ key: "h1", value: te.encode("x") }],
    timestamp: 1_700_000_000_000,
  },
  { key: null, value: te.encode("no key"), timestamp: 1_700_000_000_005 },
  { key: new Uint8Array(0), value: new Uint8Array(0), timestamp: 1_699_999_999_990 },
  {
    key: te.encode("tombstone"),
    value: null,
    headers: [{ key: "nul", value: null }, { key: "ünï", value: new Uint8Array(0) }],
  },
  { key: te.encode("big"), value: te.encode("x".repeat(5000)), timestamp: 1_700_000_000_100n },
];

Deno.test("encodeRecordBatch() and decodeRecordBatches() round-trip", async (t) => {
  for (const codec of CODECS) {
    await t.step(`${compressionName(codec)}: every field`, () => {
      const bytes = encodeRecordBatch(RECORDS, {
        compression: codec,
        producerId: 4242n,
        producerEpoch: 7,
        baseSequence: 99,
        transactional: true,
        timestamp: 1_700_000_000_050,
      });
      const [b, ...rest] = decodeRecordBatches(bytes, { topic: "t", partition: 3 });
      assert.equal(rest.length, 0);
      assert.equal(b.baseOffset, 0n);
      assert.equal(b.batchLength, bytes.length - 12);
      assert.equal(b.partitionLeaderEpoch, -1);
      assert.equal(b.magic, 2);
      assert.equal(b.compression, codec);
      assert.equal(b.attributes, codec | 0x10);
      assert.equal(b.timestampType, TimestampType.createTime);
      assert.equal(b.isTransactional, true);
      assert.equal(b.isControl, false);
      assert.equal(b.lastOffsetDelta, 4);
      assert.equal(b.lastOffset, 4n);
      assert.equal(b.baseTimestamp, 1_700_000_000_000n);
      assert.equal(b.maxTimestamp, 1_700_000_000_100n);
      assert.equal(b.producerId, 4242n);
      assert.equal(b.producerEpoch, 7);
      assert.equal(b.baseSequence, 99);
      assert.equal(b.records.length, 5);
      assert.deepEqual(b.records.map((r) => r.offset), [0n, 1n, 2n, 3n, 4n]);
      assert.deepEqual(b.records.map((r) => r.timestamp), [
        1_700_000_000_000,
        1_700_000_000_005,
        1_699_999_999_990,
        1_700_000_000_050,
        1_700_000_000_100,
      ]);
      const [r0, r1, r2, r3, r4] = b.records;
      assert.equal(str(r0.key), "k1");
      assert.deepEqual(r0.headers.map((h) => [h.key, str(h.value)]), [["h1", "x"]]);
      assert.equal(r1.key, null);
      assert.equal(str(r1.value), "no key");
      assert.ok(r2.key !== null && r2.key.length === 0, "empty key stays empty, not null");
      assert.ok(r2.value !== null && r2.value.length === 0, "empty value stays empty, not null");
      assert.equal(r3.value, null);
      assert.deepEqual(r3.headers.map((h) => [h.key, str(h.value)]), [["nul", null], ["ünï", ""]]);
      assert.equal(r4.value?.length, 5000);
    });
  }
  await t.step("defaults: no producer id, offset deltas by index, one timestamp", () => {
    const before = Date.now();
    const [b] = decodeRecordBatches(
      encodeRecordBatch([{ value: te.encode("a") }, { value: te.encode("b") }]),
    );
    assert.deepEqual([b.producerId, b.producerEpoch, b.baseSequence, b.isTransactional], [
      -1n,
      -1,
      -1,
      false,
    ]);
    assert.ok(Number(b.baseTimestamp) >= before && b.baseTimestamp === b.maxTimestamp);
    assert.deepEqual(b.records.map((r) => r.offsetDelta), [0, 1]);
  });
  await t.step("explicit offset deltas and base offset", () => {
    const bytes = encodeRecordBatch([{ value: null, offsetDelta: 2 }, { value: null, offsetDelta: 5 }], {
      baseOffset: 1000n,
      timestamp: 1,
    });
    const [b] = decodeRecordBatches(bytes);
    assert.deepEqual(b.records.map((r) => r.offset), [1002n, 1005n]);
    assert.equal(b.lastOffsetDelta, 5);
  });
  await t.step("uncompressed keys and values are views into the input", () => {
    const bytes = encodeRecordBatch(RECORDS, { timestamp: 1 });
    const [b] = decodeRecordBatches(bytes);
    assert.equal(b.records[0].key!.buffer, bytes.buffer);
    assert.equal(b.records[0].headers[0].value!.buffer, bytes.buffer);
  });
  await t.step("bad input is a RangeError or TypeError", () => {
    assert.throws(() => encodeRecordBatch([]), RangeError);
    assert.throws(() => encodeRecordBatch([{ value: null, offsetDelta: -1 }]), RangeError);
    assert.throws(() => encodeRecordBatch([{ value: null, timestamp: 1.5 }]), RangeError);
    assert.throws(() => encodeRecordBatch([{ value: null }], { compression: 9 as Compression }), RangeError);
  });
});

Deno.test("encodeRecordBatch() writes the v2 header layout", () => {
  const bytes = encodeRecordBatch([{ key: null, value: te.encode("v") }], { timestamp: 5 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(v.getBigInt64(0), 0n);
  assert.equal(v.getInt32(8), bytes.length - 12);
  assert.equal(v.getInt32(12), -1);
  assert.equal(v.getInt8(16), 2);
  assert.equal(v.getInt16(21), 0);
  assert.equal(v.getInt32(57), 1);
  // Record: length 7 (zigzag 14), attributes 0, tsDelta 0, offsetDelta 0, key -1 (0x01), value len 1 'v', 0 headers.
  assert.deepEqual([...bytes.subarray(61)], [14, 0, 0, 0, 1, 2, 0x76, 0]);
});

Deno.test("encodeRecordBatch() writes into the caller's memory with `allocate` and `scratch`", async (t) => {
  const opts = { producerId: 7n, producerEpoch: 1, baseSequence: 3, timestamp: 1_700_000_000_050 };
  for (const codec of CODECS) {
    await t.step(`${compressionName(codec)}: same bytes as fresh memory, as a view from the start`, () => {
      const expected = encodeRecordBatch(RECORDS, { ...opts, compression: codec });
      // Dirty memory at an offset inside a larger ArrayBuffer: nothing may depend on zeroes or offset 0.
      const backing = new Uint8Array(64 * 1024).fill(0xa5);
      const sizes: number[] = [];
      const slots: number[] = [];
      // Both slots inside one dirty buffer, apart.
      const scratchMemory = new Uint8Array(256 * 1024).fill(0x5a);
      const bytes = encodeRecordBatch(RECORDS, {
        ...opts,
        compression: codec,
        allocate: (size) => {
          sizes.push(size);
          return backing.subarray(100);
        },
        scratch: (size, slot) => {
          slots.push(slot);
          assert.ok(size <= 128 * 1024, `scratch(${size})`);
          return scratchMemory.subarray(slot * 128 * 1024, (slot + 1) * 128 * 1024);
        },
      });
      assert.deepEqual(bytes, expected);
      assert.equal(sizes.length, 1, "allocate is called once");
      assert.ok(
        sizes[0] >= bytes.length && sizes[0] <= bytes.length + 16,
        `asked ${sizes[0]} for ${bytes.length}`,
      );
      assert.equal(bytes.buffer, backing.buffer);
      assert.equal(bytes.byteOffset, 100);
      // Slot 0 for the records of a compressed batch, slot 1 for lz4's output.
      const expectedSlots = codec === Compression.none ? [] : codec === Compression.lz4 ? [0, 1] : [0];
      assert.deepEqual(slots, expectedSlots);
      // The scratch memory is not part of the result: overwriting it changes nothing.
      scratchMemory.fill(0);
      assert.deepEqual(bytes, expected);
      assert.equal(decodeRecordBatches(bytes)[0].records.length, RECORDS.length);
    });
  }
  await t.step("memory that is too small is a RangeError naming the sizes", () => {
    assert.throws(
      () => encodeRecordBatch(RECORDS, { allocate: (size) => new Uint8Array(size - 1) }),
      (e) => e instanceof RangeError && /allocate\(\d+\) returned \d+ bytes/.test(e.message),
    );
    assert.throws(
      () =>
        encodeRecordBatch(RECORDS, {
          compression: Compression.lz4,
          scratch: () => new Uint8Array(4),
        }),
      (e) => e instanceof RangeError && /scratch\(\d+\) returned 4 bytes/.test(e.message),
    );
    assert.throws(
      () =>
        encodeRecordBatch(RECORDS, {
          compression: Compression.lz4,
          scratch: (size, slot) => new Uint8Array(slot === 0 ? size : 4),
        }),
      (e) => e instanceof RangeError && /output\(\d+\) returned 4 bytes/.test(e.message),
    );
    assert.throws(
      () => encodeRecordBatch(RECORDS, { allocate: () => null as unknown as Uint8Array }),
      (e) => e instanceof RangeError && /returned null/.test(e.message),
    );
  });
  await t.step("bad records fail before any memory is asked for", () => {
    let asked = 0;
    const allocate = (size: number) => {
      asked++;
      return new Uint8Array(size);
    };
    assert.throws(() => encodeRecordBatch([{ value: null, timestamp: 1.5 }], { allocate }), RangeError);
    assert.throws(
      () =>
        encodeRecordBatch([{ value: null, headers: [{ key: 1 as unknown as string, value: null }] }], {
          allocate,
        }),
      TypeError,
    );
    assert.equal(asked, 0);
  });
  await t.step("without `allocate` the batch's memory is no larger than the batch (no regrowth)", () => {
    const bytes = encodeRecordBatch(Array.from({ length: 500 }, () => ({ value: new Uint8Array(100) })));
    assert.ok(bytes.buffer.byteLength <= bytes.length + 16, `${bytes.buffer.byteLength} for ${bytes.length}`);
  });
});

Deno.test("decodeRecordBatches() reads several batches and drops a truncated last one", async (t) => {
  const a = encodeRecordBatch([{ value: te.encode("a") }], { baseOffset: 10n, timestamp: 1 });
  const b = encodeRecordBatch([{ value: te.encode("b") }, { value: te.encode("c") }], {
    baseOffset: 11n,
    compression: Compression.zstd,
    timestamp: 1,
  });
  const c = encodeRecordBatch([{ value: te.encode("d") }], {
    baseOffset: 13n,
    compression: Compression.lz4,
    timestamp: 1,
  });
  const all = new Uint8Array([...a, ...b, ...c]);
  await t.step("three batches of mixed codecs", () => {
    const batches = decodeRecordBatches(all);
    assert.deepEqual(batches.flatMap((x) => x.records.map((r) => [r.offset, str(r.value)])), [
      [10n, "a"],
      [11n, "b"],
      [12n, "c"],
      [13n, "d"],
    ]);
  });
  await t.step("every cut inside the last batch yields the first two", () => {
    for (let cut = a.length + b.length; cut < all.length; cut++) {
      assert.equal(decodeRecordBatches(all.subarray(0, cut)).length, 2, `cut at ${cut}`);
    }
  });
  await t.step("a first batch cut short yields nothing", () => {
    assert.deepEqual(decodeRecordBatches(a.subarray(0, a.length - 1)), []);
    assert.deepEqual(decodeRecordBatches(new Uint8Array(0)), []);
  });
  await t.step("works on a view with a byteOffset", () => {
    const padded = new Uint8Array(all.length + 7);
    padded.set(all, 7);
    assert.equal(decodeRecordBatches(padded.subarray(7)).length, 3);
  });
});

Deno.test("decodeRecordBatches() decodes control batches", () => {
  const bytes = encodeRecordBatch([{
    key: new Uint8Array([0, 0, 0, 1]),
    value: new Uint8Array([0, 0, 0, 0, 0, 0]),
  }], {
    isControl: true,
    transactional: true,
    producerId: 5n,
    producerEpoch: 0,
    timestamp: 1,
  });
  const [b] = decodeRecordBatches(bytes);
  assert.equal(b.isControl, true);
  assert.deepEqual(b.control, { version: 0, type: ControlRecordType.commit });
  const bad = encodeRecordBatch([{ key: new Uint8Array([0]), value: null }], {
    isControl: true,
    timestamp: 1,
  });
  assert.throws(() => decodeRecordBatches(bad), ProtocolError);
});

Deno.test("decodeRecordBatches() reports LogAppendTime as the batch's max timestamp", () => {
  const bytes = encodeRecordBatch([{ value: null, timestamp: 10 }, { value: null, timestamp: 20 }], {
    timestampType: TimestampType.logAppendTime,
  });
  const [b] = decodeRecordBatches(bytes);
  assert.equal(b.timestampType, TimestampType.logAppendTime);
  assert.deepEqual(b.records.map((r) => r.timestamp), [20, 20]);
});

Deno.test("decodeRecordBatches() rejects a batch whose CRC does not match", async (t) => {
  const bytes = encodeRecordBatch(RECORDS, { baseOffset: 77n, timestamp: 1 });
  await t.step("a flipped payload byte is a CorruptRecordError with topic, partition and offset", () => {
    const copy = bytes.slice();
    copy[100] ^= 0x40;
    assert.throws(() => decodeRecordBatches(copy, { topic: "orders", partition: 2 }), (err: unknown) => {
      assert.ok(err instanceof CorruptRecordError && err instanceof ProtocolError);
      assert.equal(err.topic, "orders");
      assert.equal(err.partition, 2);
      assert.equal(err.offset, 77n);
      assert.match(err.message, /CRC/);
      return true;
    });
  });
  await t.step("the partition leader epoch is not covered", () => {
    const copy = bytes.slice();
    copy.set([0, 0, 0, 9], 12);
    assert.equal(decodeRecordBatches(copy)[0].partitionLeaderEpoch, 9);
  });
  await t.step("verifyCrc: false skips the check", () => {
    const copy = bytes.slice();
    copy[17] ^= 1;
    assert.equal(decodeRecordBatches(copy, { verifyCrc: false })[0].records.length, 5);
  });
});

Deno.test("decodeRecordBatches() bounds decompression", () => {
  for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd] as const) {
    const bytes = encodeRecordBatch([{ value: new Uint8Array(4 << 20) }], {
      compression: codec,
      timestamp: 1,
    });
    assert.ok(bytes.length < 300_000, `${compressionName(codec)}: ${bytes.length}`);
    assert.throws(
      () => decodeRecordBatches(bytes, { maxDecompressedBytes: 1 << 20 }),
      (err: unknown) => err instanceof ProtocolError && /limit/.test(err.message),
    );
    assert.equal(
      decodeRecordBatches(bytes, { maxDecompressedBytes: 5 << 20 })[0].records[0].value!.length,
      4 << 20,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Legacy message sets, built by hand: offset int64, size int32, crc uint32 (CRC-32 of the rest),
// magic int8, attributes int8, [timestamp int64 for magic 1], key bytes, value bytes.

function legacy(
  offset: bigint,
  magic: 0 | 1,
  attributes: number,
  timestamp: bigint,
  key: Uint8Array | null,
  value: Uint8Array | null,
): Uint8Array {
  const body = new Writer().int8(magic).int8(attributes);
  if (magic === 1) body.int64(timestamp);
  body.nullableBytes(key).nullableBytes(value);
  const rest = body.finish();
  return new Writer().int64(offset).int32(4 + rest.length).uint32(crc32(rest)).raw(rest).finish().slice();
}

Deno.test("decodeRecordBatches() decodes legacy magic 0 and 1 message sets", async (t) => {
  await t.step("uncompressed magic 0 and magic 1 messages", () => {
    const set = new Uint8Array([
      ...legacy(5n, 0, 0, -1n, te.encode("k0"), te.encode("v0")),
      ...legacy(6n, 1, 0, 1234n, null, te.encode("v1")),
      ...legacy(7n, 1, 0x08, 999n, te.encode("k2"), null),
    ]);
    const batches = decodeRecordBatches(set, { topic: "old", partition: 0 });
    assert.deepEqual(batches.map((b) => b.magic), [0, 1, 1]);
    assert.deepEqual(batches.map((b) => b.records[0].offset), [5n, 6n, 7n]);
    assert.deepEqual(batches.map((b) => b.records[0].timestamp), [-1, 1234, 999]);
    assert.equal(batches[2].timestampType, TimestampType.logAppendTime);
    assert.equal(str(batches[0].records[0].key), "k0");
    assert.equal(batches[1].records[0].key, null);
    assert.equal(batches[2].records[0].value, null);
    assert.equal(batches[0].producerId, -1n);
    // A truncated last message is dropped as for v2.
    assert.equal(decodeRecordBatches(set.subarray(0, set.length - 3)).length, 2);
  });
  await t.step("magic 1 gzip wrapper with relative inner offsets", () => {
    const inner = new Uint8Array([
      ...legacy(0n, 1, 0, 100n, te.encode("a"), te.encode("1")),
      ...legacy(1n, 1, 0, 101n, te.encode("b"), te.encode("2")),
      ...legacy(2n, 1, 0, 102n, te.encode("c"), te.encode("3")),
    ]);
    // The wrapper's offset is the absolute offset of the last inner message.
    const wrapper = legacy(42n, 1, Compression.gzip, 102n, null, compress(Compression.gzip, inner));
    const [b] = decodeRecordBatches(wrapper);
    assert.equal(b.compression, Compression.gzip);
    assert.deepEqual(b.records.map((r) => r.offset), [40n, 41n, 42n]);
    assert.deepEqual(b.records.map((r) => [str(r.key), str(r.value), r.timestamp]), [
      ["a", "1", 100],
      ["b", "2", 101],
      ["c", "3", 102],
    ]);
    assert.equal(b.baseOffset, 40n);
    assert.equal(b.lastOffset, 42n);
  });
  await t.step("magic 0 snappy wrapper with absolute inner offsets", () => {
    const inner = new Uint8Array([
      ...legacy(8n, 0, 0, -1n, null, te.encode("x")),
      ...legacy(9n, 0, 0, -1n, null, te.encode("y")),
    ]);
    const [b] = decodeRecordBatches(
      legacy(9n, 0, Compression.snappy, -1n, null, compress(Compression.snappy, inner)),
    );
    assert.deepEqual(b.records.map((r) => [r.offset, str(r.value)]), [[8n, "x"], [9n, "y"]]);
  });
  await t.step("magic 1 lz4 wrapper", () => {
    const inner = legacy(0n, 1, 0, 5n, null, te.encode("z"));
    const [b] = decodeRecordBatches(
      legacy(3n, 1, Compression.lz4, 5n, null, compress(Compression.lz4, inner)),
    );
    assert.deepEqual(b.records.map((r) => [r.offset, str(r.value)]), [[3n, "z"]]);
  });
  await t.step("a legacy CRC mismatch is a CorruptRecordError", () => {
    const m = legacy(5n, 1, 0, 1n, null, te.encode("v"));
    m[m.length - 1] ^= 1;
    assert.throws(() => decodeRecordBatches(m, { partition: 1 }), CorruptRecordError);
    assert.equal(decodeRecordBatches(m, { verifyCrc: false }).length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Golden fixtures captured from a real broker (see test/fixtures/batches/README.md).

async function fixture(name: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(`../fixtures/batches/${name}.bin`, import.meta.url));
}

const LONG = "kafka-deno golden fixture ".repeat(40).trim();

Deno.test("decodeRecordBatches() decodes batches written by the Java client", async (t) => {
  for (const codec of CODECS) {
    await t.step(compressionName(codec), async () => {
      const batches = decodeRecordBatches(await fixture(`java-${compressionName(codec)}`));
      assert.equal(batches.length, 1);
      const [b] = batches;
      assert.equal(b.compression, codec);
      assert.equal(b.partitionLeaderEpoch, 0);
      assert.ok(b.producerId >= 0n && b.producerEpoch === 0 && b.baseSequence === 0, "idempotent producer");
      assert.deepEqual(b.records.map((r) => [r.offset, str(r.key), str(r.value)]), [
        [0n, "k1", "value-1"],
        [1n, "k2", null],
        [2n, "k3", LONG],
      ]);
      assert.deepEqual(b.records.map((r) => r.headers.map((h) => [h.key, str(h.value)])), [
        [["h1", "v1"], ["h2", null]],
        [["h3", "x"]],
        [["h4", "y"]],
      ]);
      assert.equal(BigInt(Math.max(...b.records.map((r) => r.timestamp))), b.maxTimestamp);
    });
  }
});

Deno.test("decodeRecordBatches() decodes batches written by kcat (librdkafka)", async (t) => {
  for (const codec of CODECS) {
    await t.step(compressionName(codec), async () => {
      const batches = decodeRecordBatches(await fixture(`kcat-${compressionName(codec)}`));
      assert.ok(batches.every((b) => b.compression === codec));
      const records = batches.flatMap((b) => b.records);
      assert.deepEqual(records.map((r) => [r.offset, str(r.key), str(r.value)]), [
        [0n, "k1", "value-1"],
        [1n, "k2", null],
        [2n, "k3", LONG],
      ]);
      for (const r of records) {
        assert.deepEqual(r.headers.map((h) => [h.key, str(h.value)]), [["h1", "v1"], ["h2", ""]]);
      }
    });
  }
  await t.step("a committed transaction: data batch then COMMIT control batch", async () => {
    const [data, marker] = decodeRecordBatches(await fixture("kcat-transactional"));
    assert.equal(data.isTransactional, true);
    assert.equal(data.isControl, false);
    assert.deepEqual(data.records.map((r) => str(r.value)), ["committed-1", "committed-2"]);
    assert.equal(marker.isControl, true);
    assert.equal(marker.isTransactional, true);
    assert.equal(marker.producerId, data.producerId);
    assert.deepEqual(marker.control, { version: 0, type: ControlRecordType.commit });
    assert.equal(marker.baseOffset, 2n);
  });
});

// ---------------------------------------------------------------------------------------------

Deno.test("decodeRecordBatches() throws only ProtocolError on 100,000 mutated or truncated batches", async () => {
  const corpus: Uint8Array[] = [];
  for (const codec of CODECS) {
    corpus.push(encodeRecordBatch(RECORDS.slice(0, 4), { compression: codec, timestamp: 1, producerId: 1n }));
    corpus.push(await fixture(`java-${compressionName(codec)}`));
    corpus.push(await fixture(`kcat-${compressionName(codec)}`));
  }
  corpus.push(await fixture("kcat-transactional"));
  corpus.push(
    legacy(
      1n,
      1,
      Compression.gzip,
      5n,
      null,
      compress(Compression.gzip, legacy(0n, 1, 0, 5n, null, te.encode("z"))),
    ),
  );
  corpus.push(legacy(1n, 0, 0, -1n, te.encode("k"), te.encode("v")));

  const rand = prng(0xc0ffee);
  const int = (n: number) => Math.floor(rand() * n);
  const ITERATIONS = 100_000;
  let decoded = 0;
  let rejected = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const base = corpus[int(corpus.length)];
    let input = base.slice();
    switch (int(5)) {
      case 0: // flip bits
        for (let n = 1 + int(4); n > 0; n--) input[int(input.length)] ^= 1 << int(8);
        break;
      case 1: // random bytes
        for (let n = 1 + int(8); n > 0; n--) input[int(input.length)] = int(256);
        break;
      case 2: // truncate
        input = input.subarray(0, int(input.length));
        break;
      case 3: // interesting values in the header or the first records
        {
          const at = int(Math.min(input.length, 90));
          const v = [0x00, 0x7f, 0x80, 0xff, 0x01, 0xfe][int(6)];
          for (let n = 1 + int(4); n > 0 && at + n < input.length; n--) input[at + n] = v;
        }
        break;
      default: // splice two inputs
      {
        const other = corpus[int(corpus.length)];
        const cut = int(input.length);
        input = new Uint8Array([...input.subarray(0, cut), ...other.subarray(int(other.length))]);
      }
    }
    try {
      decodeRecordBatches(input, { verifyCrc: rand() < 0.2, maxDecompressedBytes: 1 << 20 });
      decoded++;
    } catch (err) {
      if (!(err instanceof ProtocolError)) {
        throw new Error(`Iteration ${i} threw a non-ProtocolError: ${err}`, { cause: err });
      }
      rejected++;
    }
  }
  assert.equal(decoded + rejected, ITERATIONS);
  assert.ok(decoded > 1000 && rejected > 1000, `decoded ${decoded}, rejected ${rejected}`);
});

Deno.test("recordBatchFrames locates batches by their headers, leaves a truncated one out, refuses a bad magic", () => {
  const a = encodeRecordBatch([{ value: new Uint8Array([1]) }, { value: null }], {
    baseOffset: 10n,
    partitionLeaderEpoch: 4,
  });
  const b = encodeRecordBatch([{ value: new Uint8Array([2]) }], { baseOffset: 12n, isControl: true });
  const all = new Uint8Array(a.length + b.length + 20);
  all.set(a);
  all.set(b, a.length);
  all.set(a.subarray(0, 20), a.length + b.length);
  const frames = recordBatchFrames(all, { topic: "t", partition: 0 });
  assert.equal(frames.length, 2);
  assert.deepStrictEqual(
    frames.map((
      f,
    ) => [f.start, f.end, f.magic, f.baseOffset, f.lastOffset, f.partitionLeaderEpoch, f.isControl, f.count]),
    [
      [0, a.length, 2, 10n, 11n, 4, false, 2],
      [a.length, a.length + b.length, 2, 12n, 12n, -1, true, 1],
    ],
  );
  // Each frame decodes on its own.
  assert.equal(decodeRecordBatches(all.subarray(frames[0].start, frames[0].end))[0].records.length, 2);
  const bad = a.slice();
  bad[16] = 3;
  assert.throws(() => recordBatchFrames(bad, { topic: "t", partition: 0 }), ProtocolError);
});

Deno.test("decodeRecordsInto() builds the caller's records, leaving out control batches and offsets before `from`", () => {
  const data = encodeRecordBatch(
    [{ key: te.encode("a"), value: te.encode("1") }, {
      value: te.encode("2"),
      headers: [{ key: "h", value: null }],
    }, {
      value: null,
    }],
    { baseOffset: 10n, timestamp: 1000, partitionLeaderEpoch: 3 },
  );
  const control = encodeRecordBatch([{ key: new Uint8Array([0, 0, 0, 1]), value: new Uint8Array(6) }], {
    baseOffset: 13n,
    isControl: true,
    timestamp: 1,
  });
  const more = encodeRecordBatch([{ value: te.encode("3") }], { baseOffset: 14n, timestamp: 2000 });
  const bytes = new Uint8Array([...data, ...control, ...more]);
  const made = decodeRecordsInto(
    bytes,
    (offset, timestamp, key, value, headers, leaderEpoch) => ({
      offset,
      timestamp,
      key,
      value,
      headers,
      leaderEpoch,
    }),
    [] as {
      offset: bigint;
      timestamp: number;
      key: Uint8Array | null;
      value: Uint8Array | null;
      headers: unknown[];
      leaderEpoch: number;
    }[],
    { from: 11n },
  );
  assert.deepEqual(made.map((r) => r.offset), [11n, 12n, 14n]);
  assert.deepEqual(made.map((r) => str(r.value)), ["2", null, "3"]);
  assert.deepEqual(made.map((r) => r.leaderEpoch), [3, 3, -1]);
  assert.deepEqual(made[0].headers, [{ key: "h", value: null }]);
  assert.equal(made[2].timestamp, 2000);
  // The same records as decodeRecordBatches() makes.
  const plain = decodeRecordBatches(bytes).filter((b) => !b.isControl).flatMap((b) => b.records);
  assert.deepEqual(decodeRecordsInto(bytes, (o) => o, [] as bigint[]), plain.map((r) => r.offset));
  // Checked as there: a corrupt batch throws.
  const bad = bytes.slice();
  bad[bad.length - 1] ^= 1;
  assert.throws(() => decodeRecordsInto(bad, (o) => o, []), CorruptRecordError);
  // Legacy entries are handed over with leader epoch -1.
  const old = legacy(5n, 1, 0, 1234n, null, te.encode("v"));
  assert.deepEqual(decodeRecordsInto(old, (o, ts, _k, _v, _h, e) => [o, ts, e], []), [[5n, 1234, -1]]);
});
