/**
 * Snappy for Kafka: raw Snappy blocks (the format of google/snappy's `format_description.txt`),
 * compressed and decompressed here, wrapped in the xerial snappy-java framing that Kafka's Java
 * client writes (`SnappyOutputStream`):
 *
 * ```
 * 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, int32 version, int32 minimum compatible version,
 * then [int32 compressed length, raw Snappy block]*   (all big-endian)
 * ```
 *
 * Decoding accepts both that framing and a bare raw Snappy block (librdkafka and older
 * clients may send either). Written here rather than imported so that loading the library pulls
 * in no npm package (each one costs a process Deno's Node compatibility layer, about 13 MiB).
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size, which Kafka keeps. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function hasXerialMagic(b: Uint8Array): boolean {
  if (b.length < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Reads the preamble of a raw Snappy block: the uncompressed length (a varint of at most 32 bits). */
function declaredLength(b: Uint8Array, start: number, end: number): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (start + i >= end) break;
    const c = b[start + i];
    result += (c & 0x7f) * 2 ** (7 * i);
    if (c < 0x80) return result;
  }
  throw new ProtocolError("Corrupt Snappy data: bad uncompressed length");
}

function corrupt(what: string): never {
  throw new ProtocolError(`Corrupt Snappy data: ${what}`);
}

/** The bytes of a varint preamble of at most 5 bytes at `start`. */
function preambleSize(b: Uint8Array, start: number): number {
  let i = 0;
  while (i < 5 && start + i < b.length && b[start + i] >= 0x80) i++;
  return i + 1;
}

/**
 * Decompresses one raw Snappy block, refusing output beyond `maxBytes`. Every length and
 * offset is checked against the input and the declared output, so hostile input is a
 * {@linkcode ProtocolError}, never an out-of-bounds read or an oversized allocation.
 */
function rawBlock(src: Uint8Array, maxBytes: number): Uint8Array {
  const n = declaredLength(src, 0, src.length);
  if (n > maxBytes) {
    throw new ProtocolError(`Snappy data decompresses to more than the limit of ${maxBytes} bytes`);
  }
  const out = new Uint8Array(n);
  const end = src.length;
  let ip = preambleSize(src, 0);
  let op = 0;
  while (ip < end) {
    const tag = src[ip++];
    let len: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        len = tag >>> 2;
        if (len >= 60) {
          const extra = len - 59;
          if (end - ip < extra) corrupt("truncated literal length");
          len = 0;
          for (let k = extra - 1; k >= 0; k--) len = len * 256 + src[ip + k];
          ip += extra;
        }
        len += 1;
        if (len > end - ip) corrupt("literal runs past the input");
        if (len > n - op) corrupt("literal runs past the declared length");
        if (len < 16) { for (let k = 0; k < len; k++) out[op + k] = src[ip + k]; }
        else out.set(src.subarray(ip, ip + len), op);
        ip += len;
        op += len;
        continue;
      }
      case 1:
        if (ip >= end) corrupt("truncated copy");
        len = 4 + ((tag >>> 2) & 7);
        offset = ((tag >>> 5) << 8) | src[ip++];
        break;
      case 2:
        if (end - ip < 2) corrupt("truncated copy");
        len = 1 + (tag >>> 2);
        offset = src[ip] | (src[ip + 1] << 8);
        ip += 2;
        break;
      default:
        if (end - ip < 4) corrupt("truncated copy");
        len = 1 + (tag >>> 2);
        offset = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) >>> 0;
        ip += 4;
    }
    if (offset === 0 || offset > op) corrupt(`copy offset ${offset} at output position ${op}`);
    if (len > n - op) corrupt("copy runs past the declared length");
    if (offset >= len) out.copyWithin(op, op - offset, op - offset + len);
    else for (let k = 0; k < len; k++) out[op + k] = out[op - offset + k];
    op += len;
  }
  if (op !== n) corrupt(`${op} bytes decoded, ${n} declared`);
  return out;
}

const HASH_BITS = 14;
/** Positions + 1 of recently seen 4-byte sequences, by hash (0: none); reset per block. */
const hashTable = new Int32Array(1 << HASH_BITS);

function load32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

function emitLiteral(out: Uint8Array, op: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from - 1;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else if (n < 0x10000) {
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  } else {
    // Blocks are at most 64 KiB here, so three length bytes always suffice.
    out[op++] = 62 << 2;
    out[op++] = n & 0xff;
    out[op++] = (n >>> 8) & 0xff;
    out[op++] = n >>> 16;
  }
  out.set(src.subarray(from, to), op);
  return op + (to - from);
}

function emitCopy(out: Uint8Array, op: number, offset: number, len: number): number {
  // Copies with a 2-byte offset carry at most 64 bytes; longer matches are split, keeping
  // every piece at least 4 bytes long.
  while (len >= 68) {
    out[op++] = 2 | (63 << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 64;
  }
  if (len > 64) {
    out[op++] = 2 | (59 << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 60;
  }
  if (len < 12 && offset < 2048) {
    out[op++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
  } else {
    out[op++] = 2 | ((len - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  }
  return op;
}

/**
 * Compresses `src` (at most 64 KiB) into one raw Snappy block: greedy matching of 4-byte
 * sequences found through a hash table, skipping ahead faster through incompressible input.
 */
function compressBlock(src: Uint8Array): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(32 + n + Math.ceil(n / 6));
  let op = 0;
  for (let v = n;; v = Math.floor(v / 128)) {
    if (v < 128) {
      out[op++] = v;
      break;
    }
    out[op++] = (v & 0x7f) | 0x80;
  }
  hashTable.fill(0);
  let lit = 0;
  let ip = 0;
  for (const last = n - 4; ip <= last;) {
    const v = load32(src, ip);
    const h = Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
    const candidate = hashTable[h] - 1;
    hashTable[h] = ip + 1;
    if (candidate < 0 || load32(src, candidate) !== v) {
      ip += 1 + ((ip - lit) >>> 5);
      continue;
    }
    if (ip > lit) op = emitLiteral(out, op, src, lit, ip);
    let len = 4;
    while (ip + len < n && src[candidate + len] === src[ip + len]) len++;
    op = emitCopy(out, op, ip - candidate, len);
    ip += len;
    lit = ip;
  }
  if (lit < n) op = emitLiteral(out, op, src, lit, n);
  return out.subarray(0, op);
}

/** Compresses `src` with xerial framing, as Kafka's Java producer does. */
export function snappyCompressXerial(src: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = XERIAL_HEADER_SIZE;
  for (let start = 0; start < src.length; start += XERIAL_BLOCK_SIZE) {
    const c = compressBlock(src.subarray(start, start + XERIAL_BLOCK_SIZE));
    chunks.push(c);
    total += 4 + c.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(XERIAL_MAGIC, 0);
  view.setInt32(8, 1);
  view.setInt32(12, 1);
  let p = XERIAL_HEADER_SIZE;
  for (const c of chunks) {
    view.setInt32(p, c.length);
    out.set(c, p + 4);
    p += 4 + c.length;
  }
  return out;
}

/** Decompresses xerial-framed or raw Snappy, refusing output beyond `maxBytes`. */
export function snappyDecompress(src: Uint8Array, maxBytes: number): Uint8Array {
  if (!hasXerialMagic(src)) return rawBlock(src, maxBytes);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  // Check every declared size before inflating anything.
  const blocks: Uint8Array[] = [];
  let total = 0;
  let p = XERIAL_HEADER_SIZE;
  while (p < src.length) {
    if (src.length - p < 4) throw new ProtocolError("Corrupt Snappy data: truncated block length");
    const len = view.getInt32(p);
    p += 4;
    if (len < 0 || len > src.length - p) {
      throw new ProtocolError(`Corrupt Snappy data: block length ${len} runs past the input`);
    }
    const block = src.subarray(p, p + len);
    total += declaredLength(block, 0, block.length);
    if (total > maxBytes) {
      throw new ProtocolError(`Snappy data decompresses to more than the limit of ${maxBytes} bytes`);
    }
    blocks.push(block);
    p += len;
  }
  if (blocks.length === 1) return rawBlock(blocks[0], maxBytes);
  const out = new Uint8Array(total);
  let o = 0;
  for (const block of blocks) {
    const part = rawBlock(block, maxBytes);
    out.set(part, o);
    o += part.length;
  }
  return out;
}
