/**
 * The LZ4 frame format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md) as
 * Kafka uses it for magic-2 batches, written here rather than taken from npm: the pure-JS
 * packages found either do no bounds checks while decoding (lz4js writes wherever a hostile
 * offset points and trusts declared sizes) or offer only the size-prepended block format
 * (lz4-wasm). Decoding is bounded by `maxBytes` and by each block's declared maximum size, and
 * never reads or writes outside its buffers.
 *
 * Encoding follows Kafka's `Lz4BlockOutputStream`: 64 KiB independent blocks, no block or
 * content checksum, no content size.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

const MAGIC = 0x184d2204;
const MIN_MATCH = 4;
/** The last 5 bytes of a block are always literals (block format spec). */
const LAST_LITERALS = 5;
/** The last match must start at least 12 bytes before the end of the block. */
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_BITS = 12;
const ENCODE_BLOCK_SIZE = 64 * 1024;
/** BD byte for 64 KiB blocks: block-max-size id 4 in bits 4-6. */
const ENCODE_BD = 4 << 4;
/** FLG byte: version 01, block independence. */
const ENCODE_FLG = 0x60;

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

const hashTable = new Int32Array(1 << HASH_BITS);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function readU32LE(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function writeU32LE(b: Uint8Array, i: number, v: number): void {
  b[i] = v;
  b[i + 1] = v >>> 8;
  b[i + 2] = v >>> 16;
  b[i + 3] = v >>> 24;
}

/** xxHash32 with seed 0 of `b[start, end)`; only short inputs (< 16 bytes) are needed here. */
function xxh32Short(b: Uint8Array, start: number, end: number): number {
  let h = (PRIME5 + (end - start)) | 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = (h + Math.imul(readU32LE(b, i), PRIME3)) | 0;
    h = Math.imul(rotl(h, 17), PRIME4);
  }
  for (; i < end; i++) {
    h = (h + Math.imul(b[i], PRIME5)) | 0;
    h = Math.imul(rotl(h, 11), PRIME1);
  }
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The largest compressed size of one block of `n` bytes (LZ4_COMPRESSBOUND). */
function blockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Compresses `src[start, end)` as one LZ4 block into `dst` at `dPos`; returns the new
 * position. The caller guarantees `blockBound(end - start)` bytes of room.
 */
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, dPos: number): number {
  let anchor = start;
  let op = dPos;
  if (end - start >= MF_LIMIT + 1) {
    hashTable.fill(0);
    const matchLimit = end - LAST_LITERALS;
    const lastStart = end - MF_LIMIT;
    let ip = start;
    let searchCount = 1 << 6;
    while (ip <= lastStart) {
      const seq = readU32LE(src, ip);
      const h = Math.imul(seq, PRIME1) >>> (32 - HASH_BITS);
      let ref = hashTable[h] - 1;
      hashTable[h] = ip + 1;
      if (ref < start || ip - ref > MAX_OFFSET || readU32LE(src, ref) !== seq) {
        // Skip faster through data that does not compress, as the reference encoder does.
        ip += searchCount++ >> 6;
        continue;
      }
      searchCount = 1 << 6;
      while (ip > anchor && ref > start && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      let mEnd = ip + MIN_MATCH;
      let r = ref + MIN_MATCH;
      while (mEnd < matchLimit && src[mEnd] === src[r]) {
        mEnd++;
        r++;
      }
      const litLen = ip - anchor;
      const matchLen = mEnd - ip - MIN_MATCH;
      const tokenPos = op++;
      let token: number;
      if (litLen >= 15) {
        token = 15 << 4;
        let n = litLen - 15;
        for (; n >= 255; n -= 255) dst[op++] = 255;
        dst[op++] = n;
      } else token = litLen << 4;
      if (litLen < 32) {
        // Short literal runs are the common case: a byte loop beats subarray() + set().
        for (let i = anchor; i < ip; i++) dst[op++] = src[i];
      } else {
        dst.set(src.subarray(anchor, ip), op);
        op += litLen;
      }
      const offset = ip - ref;
      dst[op++] = offset;
      dst[op++] = offset >>> 8;
      if (matchLen >= 15) {
        token |= 15;
        let n = matchLen - 15;
        for (; n >= 255; n -= 255) dst[op++] = 255;
        dst[op++] = n;
      } else token |= matchLen;
      dst[tokenPos] = token;
      ip = mEnd;
      anchor = ip;
    }
  }
  const litLen = end - anchor;
  if (litLen >= 15) {
    dst[op++] = 15 << 4;
    let n = litLen - 15;
    for (; n >= 255; n -= 255) dst[op++] = 255;
    dst[op++] = n;
  } else dst[op++] = litLen << 4;
  dst.set(src.subarray(anchor, end), op);
  return op + litLen;
}

/**
 * Compresses `src` into one LZ4 frame the way Kafka's Java client does; into memory from
 * `allocate` (asked for the worst case) when given, the result being a view of it.
 */
export function lz4CompressFrame(src: Uint8Array, allocate?: (size: number) => Uint8Array): Uint8Array {
  const blocks = Math.ceil(src.length / ENCODE_BLOCK_SIZE);
  const bound = 7 + blocks * (4 + blockBound(ENCODE_BLOCK_SIZE)) + 4;
  const dst = allocate === undefined ? new Uint8Array(bound) : allocate(bound);
  if (!(dst instanceof Uint8Array) || dst.length < bound) {
    throw new RangeError(
      `output(${bound}) returned ${
        dst instanceof Uint8Array ? `${dst.length} bytes` : String(dst)
      }: expected a Uint8Array of at least ${bound} bytes`,
    );
  }
  writeU32LE(dst, 0, MAGIC);
  dst[4] = ENCODE_FLG;
  dst[5] = ENCODE_BD;
  dst[6] = (xxh32Short(dst, 4, 6) >>> 8) & 0xff;
  let op = 7;
  for (let start = 0; start < src.length; start += ENCODE_BLOCK_SIZE) {
    const end = Math.min(src.length, start + ENCODE_BLOCK_SIZE);
    const size = compressBlock(src, start, end, dst, op + 4) - op - 4;
    if (size >= end - start) {
      // Incompressible: store the block as is (high bit of the size set).
      writeU32LE(dst, op, (0x80000000 | (end - start)) >>> 0);
      dst.set(src.subarray(start, end), op + 4);
      op += 4 + end - start;
    } else {
      writeU32LE(dst, op, size);
      op += 4 + size;
    }
  }
  writeU32LE(dst, op, 0);
  return dst.subarray(0, op + 4);
}

function corrupt(what: string): never {
  throw new ProtocolError(`Corrupt LZ4 data: ${what}`);
}

function tooLarge(maxBytes: number): never {
  throw new ProtocolError(`LZ4 data decompresses to more than the limit of ${maxBytes} bytes`);
}

/**
 * Decompresses one LZ4 block `src[ip, iend)` into `dst` at `op`, writing nothing at or beyond
 * `olimit`. Returns the new output position.
 */
function decompressBlock(
  src: Uint8Array,
  ip: number,
  iend: number,
  dst: Uint8Array,
  op: number,
  olimit: number,
  onOverflow: () => never,
): number {
  while (true) {
    if (ip >= iend) corrupt("block ends inside a sequence");
    const token = src[ip++];
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (ip >= iend) corrupt("literal length runs past the block");
        b = src[ip++];
        litLen += b;
      } while (b === 255);
    }
    if (litLen > iend - ip) corrupt("literals run past the block");
    if (litLen > olimit - op) onOverflow();
    if (litLen < 16) {
      for (let i = 0; i < litLen; i++) dst[op + i] = src[ip + i];
    } else dst.set(src.subarray(ip, ip + litLen), op);
    ip += litLen;
    op += litLen;
    // The last sequence of a block has literals only.
    if (ip === iend) return op;
    if (iend - ip < 2) corrupt("match offset runs past the block");
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) corrupt(`match offset ${offset} points before the output`);
    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (ip >= iend) corrupt("match length runs past the block");
        b = src[ip++];
        matchLen += b;
      } while (b === 255);
    }
    matchLen += MIN_MATCH;
    if (matchLen > olimit - op) onOverflow();
    let from = op - offset;
    if (offset >= matchLen && matchLen > 32) {
      dst.copyWithin(op, from, from + matchLen);
      op += matchLen;
    } else {
      // Overlapping copies repeat the last `offset` bytes, so they go byte by byte.
      const stop = op + matchLen;
      while (op < stop) dst[op++] = dst[from++];
    }
  }
}

const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/**
 * Decompresses one LZ4 frame (concatenated frames are also accepted). Output beyond
 * `maxBytes` and any malformation raise {@linkcode ProtocolError}.
 */
export function lz4DecompressFrame(src: Uint8Array, maxBytes: number): Uint8Array {
  let out = new Uint8Array(Math.min(maxBytes, Math.max(64, src.length * 4)));
  let op = 0;
  let ip = 0;
  const overflow = () => tooLarge(maxBytes);
  const ensure = (n: number): number => {
    // Returns the write limit for a block of at most n bytes, growing `out` up to maxBytes.
    const want = Math.min(op + n, maxBytes);
    if (want > out.length) {
      let cap = out.length * 2;
      while (cap < want) cap *= 2;
      const next = new Uint8Array(Math.min(cap, maxBytes));
      next.set(out.subarray(0, op));
      out = next;
    }
    return want;
  };
  do {
    if (src.length - ip < 7) corrupt("truncated frame header");
    if (readU32LE(src, ip) !== MAGIC) corrupt("bad magic number");
    const flg = src[ip + 4];
    const bd = src[ip + 5];
    if ((flg >>> 6) !== 1) corrupt(`unsupported frame version ${flg >>> 6}`);
    if (flg & 0x01) corrupt("dictionary ids are not supported");
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const blockMax = BLOCK_MAX_SIZES[(bd >>> 4) & 7];
    if (blockMax === undefined) corrupt(`bad block maximum size id ${(bd >>> 4) & 7}`);
    const descEnd = ip + 6 + (contentSize ? 8 : 0);
    if (src.length - descEnd < 1) corrupt("truncated frame descriptor");
    const hc = src[descEnd];
    // Kafka's magic 0/1 LZ4 ("broken" KAFKA-3160) hashed the magic number too; accept both.
    if (
      hc !== ((xxh32Short(src, ip + 4, descEnd) >>> 8) & 0xff) &&
      hc !== ((xxh32Short(src, ip, descEnd) >>> 8) & 0xff)
    ) corrupt("frame descriptor checksum mismatch");
    if (contentSize) {
      const declared = readU32LE(src, ip + 6) + readU32LE(src, ip + 10) * 2 ** 32;
      if (declared > maxBytes - op) tooLarge(maxBytes);
    }
    ip = descEnd + 1;
    while (true) {
      if (src.length - ip < 4) corrupt("truncated block size");
      const word = readU32LE(src, ip);
      ip += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > src.length - ip) corrupt("block runs past the input");
      if (size > blockMax) corrupt(`block of ${size} bytes exceeds the maximum ${blockMax}`);
      if (word & 0x80000000) {
        if (size > maxBytes - op) tooLarge(maxBytes);
        ensure(size);
        out.set(src.subarray(ip, ip + size), op);
        op += size;
      } else {
        const limit = ensure(blockMax);
        const onOverflow = limit === op + blockMax
          ? () => corrupt("block exceeds its maximum size")
          : overflow;
        op = decompressBlock(src, ip, ip + size, out, op, limit, onOverflow);
      }
      ip += size;
      // Checksums are skipped: the record batch CRC already covers the compressed bytes.
      if (blockChecksum) ip += 4;
    }
    if (contentChecksum) ip += 4;
    if (ip > src.length) corrupt("truncated checksum");
  } while (ip < src.length);
  return out.subarray(0, op);
}
