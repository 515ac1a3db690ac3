import assert from "node:assert/strict";
import { compress, Compression, compressionName, decompress } from "../../protocol/compression.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { prng } from "../_prng.ts";

const te = new TextEncoder();
const CODECS = Object.values(Compression);

function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

function samples(): [string, Uint8Array][] {
  const text = te.encode("The quick brown fox jumps over the lazy dog. ".repeat(3000));
  const mixed = new Uint8Array(300_000);
  for (let i = 0; i < mixed.length; i++) mixed[i] = i % 1000 < 500 ? (i * 7) & 0xff : (i >> 3) & 0x0f;
  return [
    ["empty", new Uint8Array(0)],
    ["1 byte", new Uint8Array([42])],
    ["12 bytes", te.encode("hello, world")],
    ["13 bytes repetitive", te.encode("aaaaaaaaaaaaa")],
    ["text (135 KB, several blocks)", text],
    ["random 100 KB", randomBytes(100_000, 1)],
    ["structured 300 KB", mixed],
    ["zeros 1 MB", new Uint8Array(1 << 20)],
  ];
}

function assertProtocolError(fn: () => unknown, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${err}`);
    if (re) assert.match((err as Error).message, re);
    return true;
  });
}

Deno.test("compress() and decompress() round-trip every codec", async (t) => {
  for (const codec of CODECS) {
    for (const [name, data] of samples()) {
      await t.step(`${compressionName(codec)}: ${name}`, () => {
        const packed = compress(codec, data);
        const back = decompress(codec, packed, { maxBytes: data.length });
        assert.equal(back.length, data.length);
        assert.deepEqual(back, data);
      });
    }
  }
  await t.step("levels are honoured for gzip and zstd", () => {
    const data = samples()[4][1];
    for (const codec of [Compression.gzip, Compression.zstd]) {
      const fast = compress(codec, data, { level: 1 });
      assert.deepEqual(decompress(codec, fast), data);
    }
  });
});

Deno.test("snappy uses xerial framing and also reads raw blocks", async (t) => {
  await t.step("the output starts with the xerial header, version 1, compatible 1", () => {
    const packed = compress(Compression.snappy, te.encode("hello"));
    assert.deepEqual([...packed.subarray(0, 16)], [
      0x82,
      0x53,
      0x4e,
      0x41,
      0x50,
      0x50,
      0x59,
      0x00,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      1,
    ]);
  });
  await t.step("blocks are at most 32 KiB of input, like snappy-java", () => {
    const data = randomBytes(100_000, 2);
    const packed = compress(Compression.snappy, data);
    const view = new DataView(packed.buffer, packed.byteOffset);
    let blocks = 0;
    for (let p = 16; p < packed.length; p += 4 + view.getInt32(p)) blocks++;
    assert.equal(blocks, 4);
  });
  await t.step("a raw snappy block (literal, then a 1-byte-offset copy)", () => {
    // Length 12; literal "abc"; copy of 9 bytes at offset 3.
    const raw = new Uint8Array([12, 0x08, 0x61, 0x62, 0x63, ((9 - 4) << 2) | 1, 3]);
    assert.equal(new TextDecoder().decode(decompress(Compression.snappy, raw)), "abcabcabcabc");
  });
});

Deno.test("decompress() refuses output beyond maxBytes", async (t) => {
  const bomb = new Uint8Array(8 << 20); // 8 MiB of zeros compresses to a few KB
  for (const codec of CODECS) {
    await t.step(`${compressionName(codec)}: 8 MiB against a 1 MiB limit`, () => {
      const packed = compress(codec, bomb);
      if (codec !== Compression.none) assert.ok(packed.length < 500_000);
      assertProtocolError(() => decompress(codec, packed, { maxBytes: 1 << 20 }), /limit|exceeds/);
      assert.equal(decompress(codec, packed, { maxBytes: 8 << 20 }).length, 8 << 20);
    });
  }
  await t.step("snappy: a raw block declaring 4 GiB is refused before allocating", () => {
    assertProtocolError(() =>
      decompress(Compression.snappy, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0]))
    );
  });
  await t.step("lz4: a frame declaring a content size over the limit is refused up front", () => {
    // FLG 0x68 (version 1, independent blocks, content size), BD 64 KiB, size 2^40.
    const frame = new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    frame[14] = lz4HeaderChecksum(frame.subarray(4, 14));
    assertProtocolError(() => decompress(Compression.lz4, frame, { maxBytes: 1 << 20 }), /limit/);
  });
});

/** xxh32(seed 0) >> 8 & 0xff of a short input: the LZ4 frame descriptor checksum. */
function lz4HeaderChecksum(b: Uint8Array): number {
  const P1 = 0x9e3779b1, P2 = 0x85ebca77, P3 = 0xc2b2ae3d, P4 = 0x27d4eb2f, P5 = 0x165667b1;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  let h = (P5 + b.length) | 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) {
    const k = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    h = Math.imul(rotl((h + Math.imul(k, P3)) | 0, 17), P4);
  }
  for (; i < b.length; i++) h = Math.imul(rotl((h + Math.imul(b[i], P5)) | 0, 11), P1);
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return (h >>> 8) & 0xff;
}

Deno.test("decompress() turns corrupt input into ProtocolError", async (t) => {
  const data = te.encode("corruption test payload, repeated, repeated, repeated, repeated ".repeat(200));
  for (const codec of CODECS.filter((c) => c !== Compression.none)) {
    await t.step(`${compressionName(codec)}: garbage, truncation and bit flips`, () => {
      assertProtocolError(() => decompress(codec, randomBytes(200, codec)));
      assertProtocolError(() => decompress(codec, new Uint8Array(0)));
      const packed = compress(codec, data);
      assertProtocolError(() => decompress(codec, packed.subarray(0, packed.length >> 1)));
      const r = prng(codec * 31);
      for (let i = 0; i < 2000; i++) {
        const copy = packed.slice();
        copy[(r() * copy.length) | 0] ^= 1 << ((r() * 8) | 0);
        try {
          decompress(codec, copy, { maxBytes: 1 << 20 });
        } catch (err) {
          assert.ok(err instanceof ProtocolError, `${compressionName(codec)}: ${err}`);
        }
      }
    });
  }
  await t.step("an unknown codec id", () => {
    assertProtocolError(() => decompress(7 as Compression, new Uint8Array(1)));
    assert.throws(() => compress(7 as Compression, new Uint8Array(1)), RangeError);
  });
});

Deno.test("snappy blocks agree with snappyjs, an independent implementation, both ways", async (t) => {
  // Only the test imports snappyjs: the library has its own Snappy codec (protocol/_snappy.ts).
  // deno-lint-ignore no-import-prefix -- a reference implementation, pinned like the library's imports
  const { default: snappyjs } = await import("npm:snappyjs@0.7.0");
  const ref = snappyjs as {
    compress(b: Uint8Array): Uint8Array;
    uncompress(b: Uint8Array): Uint8Array;
  };
  const inputs: [string, Uint8Array][] = [
    ...samples(),
    ["long runs and short repeats", te.encode("ab".repeat(40) + "x".repeat(300) + "abcd".repeat(9))],
  ];
  const r = prng(7);
  for (let i = 0; i < 40; i++) {
    // Mixtures of random bytes and repeats at all distances and lengths, up to one 32 KiB block.
    const n = (r() * 33_000) | 0;
    const b = new Uint8Array(n);
    for (let p = 0; p < n;) {
      if (p > 0 && r() < 0.6) {
        const dist = 1 + ((r() * Math.min(p, 3000)) | 0);
        const len = Math.min(n - p, 1 + ((r() * 200) | 0));
        for (let k = 0; k < len; k++, p++) b[p] = b[p - dist];
      } else b[p++] = (r() * (r() < 0.5 ? 4 : 256)) | 0;
    }
    inputs.push([`mixture ${i} (${n} bytes)`, b]);
  }
  for (const [name, data] of inputs) {
    await t.step(name, () => {
      // snappyjs writes raw blocks, which decompress() accepts as they are.
      assert.deepEqual(decompress(Compression.snappy, ref.compress(data)), data);
      // Ours are xerial-framed: every 32 KiB block inside must be a valid raw block for snappyjs.
      const packed = compress(Compression.snappy, data);
      const view = new DataView(packed.buffer, packed.byteOffset);
      const parts: Uint8Array[] = [];
      for (let p = 16; p < packed.length;) {
        const len = view.getInt32(p);
        parts.push(ref.uncompress(packed.subarray(p + 4, p + 4 + len)));
        p += 4 + len;
      }
      const joined = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
      let o = 0;
      for (const x of parts) {
        joined.set(x, o);
        o += x.length;
      }
      assert.deepEqual(joined, data);
    });
  }
  await t.step("compressible input shrinks about as much as with snappyjs", () => {
    const text = te.encode("The quick brown fox jumps over the lazy dog. ".repeat(700));
    const ours = compress(Compression.snappy, text).length - 16 - 4;
    const theirs = ref.compress(text).length;
    assert.ok(ours < theirs * 1.5, `ours ${ours} bytes, snappyjs ${theirs}`);
  });
});
