/**
 * Snappy for Kafka: raw Snappy blocks from `snappyjs` (pure JS), wrapped in the xerial
 * snappy-java framing that Kafka's Java client writes (`SnappyOutputStream`):
 *
 * ```
 * 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, int32 version, int32 minimum compatible version,
 * then [int32 compressed length, raw Snappy block]*   (all big-endian)
 * ```
 *
 * Decoding accepts both that framing and a bare raw Snappy block (librdkafka and older
 * clients may send either). This is the only module that imports `snappyjs`.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- library code pins npm: specifiers inline (STYLE.md)
import snappyjs from "npm:snappyjs@0.7.0";
import { ProtocolError } from "./errors.ts";

const snappy = snappyjs as {
  compress(input: Uint8Array): Uint8Array;
  uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
};

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

function rawBlock(block: Uint8Array, maxBytes: number): Uint8Array {
  const n = declaredLength(block, 0, block.length);
  if (n > maxBytes) {
    throw new ProtocolError(`Snappy data decompresses to more than the limit of ${maxBytes} bytes`);
  }
  try {
    return snappy.uncompress(block, maxBytes);
  } catch (cause) {
    throw new ProtocolError("Corrupt Snappy data", { cause });
  }
}

/** Compresses `src` with xerial framing, as Kafka's Java producer does. */
export function snappyCompressXerial(src: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = XERIAL_HEADER_SIZE;
  for (let start = 0; start < src.length; start += XERIAL_BLOCK_SIZE) {
    const c = snappy.compress(src.subarray(start, start + XERIAL_BLOCK_SIZE));
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
