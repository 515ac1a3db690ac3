/**
 * The compression codecs of Kafka record batches: gzip and zstd from `node:zlib`, Snappy
 * (xerial framing) and LZ4 (frame format) from their own modules.
 *
 * `node:zlib` is loaded on first use of gzip or zstd (`process.getBuiltinModule`), not
 * imported: loading it starts Deno's Node compatibility layer, about 10 MiB that a client
 * without those codecs never needs.
 *
 * Decompression is always bounded: output beyond `maxBytes` is a {@linkcode ProtocolError},
 * checked while inflating, so a small hostile batch cannot exhaust memory. Corrupt input is a
 * {@linkcode ProtocolError} too.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { lz4CompressFrame, lz4DecompressFrame } from "./_lz4.ts";
import { snappyCompressXerial, snappyDecompress } from "./_snappy.ts";

/**
 * The compression codecs, numbered as in bits 0-2 of a record batch's attributes.
 *
 * @example
 * ```ts
 * import { Compression } from "./compression.ts";
 * const codec: Compression = Compression.zstd;
 * console.assert(codec === 4);
 * ```
 */
export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** A compression codec id, one of the values of {@linkcode Compression}. */
export type Compression = typeof Compression[keyof typeof Compression];

/** The decompressed-size limit used when the caller gives none: 64 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES: number = 64 * 1024 * 1024;

/** Options of {@linkcode compress}. */
export interface CompressOptions {
  /** The compression level for gzip (1-9) and zstd (1-22); the codec's default when absent. */
  level?: number;
  /**
   * Memory for the compressed bytes of lz4, which sizes its output up front (the worst case):
   * called once with that size, it returns at least that many bytes and the result is a view of
   * them. The other codecs size their output as they go and always use fresh memory.
   */
  output?: (size: number) => Uint8Array;
}

/** Options of {@linkcode decompress}. */
export interface DecompressOptions {
  /** Output beyond this many bytes is an error. Defaults to {@linkcode DEFAULT_MAX_DECOMPRESSED_BYTES}. */
  maxBytes?: number;
}

const NAMES = ["none", "gzip", "snappy", "lz4", "zstd"];

/**
 * The name of a codec id (`"gzip"`...), or `"unknown(<id>)"`.
 *
 * @example
 * ```ts
 * import { compressionName } from "./compression.ts";
 * console.assert(compressionName(3) === "lz4");
 * ```
 */
export function compressionName(codec: number): string {
  return NAMES[codec] ?? `unknown(${codec})`;
}

/** The parts of `node:zlib` used here. */
interface Zlib {
  gzipSync(b: Uint8Array, o: { level?: number }): Uint8Array;
  gunzipSync(b: Uint8Array, o: { maxOutputLength: number }): Uint8Array;
  zstdCompressSync(b: Uint8Array, o: { params?: Record<number, number> }): Uint8Array;
  zstdDecompressSync(b: Uint8Array, o: { maxOutputLength: number }): Uint8Array;
  constants: { ZSTD_c_compressionLevel: number };
}

let zlibModule: Zlib | undefined;

/** `node:zlib`, loaded on first use. */
function zlib(): Zlib {
  if (zlibModule) return zlibModule;
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const m = proc?.getBuiltinModule?.("node:zlib") as Zlib | undefined;
  if (!m) {
    throw new Error("gzip and zstd need node:zlib, and this runtime offers no process.getBuiltinModule");
  }
  return zlibModule = m;
}

function view(b: Uint8Array): Uint8Array {
  // node:zlib returns Buffers; hand out plain Uint8Array views of the same memory.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Compresses `bytes` with `codec` in the format Kafka's Java client writes.
 *
 * @param codec The codec.
 * @param bytes The input.
 * @param options The level, for gzip and zstd.
 * @returns The compressed bytes (the input itself for `none`).
 *
 * @example
 * ```ts
 * import { compress, Compression, decompress } from "./compression.ts";
 * const data = new TextEncoder().encode("hello hello hello hello");
 * const packed = compress(Compression.lz4, data);
 * console.assert(decompress(Compression.lz4, packed).length === data.length);
 * ```
 */
export function compress(codec: Compression, bytes: Uint8Array, options?: CompressOptions): Uint8Array {
  const level = options?.level;
  switch (codec) {
    case Compression.none:
      return bytes;
    case Compression.gzip:
      return view(zlib().gzipSync(bytes, level === undefined ? {} : { level }));
    case Compression.snappy:
      return snappyCompressXerial(bytes);
    case Compression.lz4:
      return lz4CompressFrame(bytes, options?.output);
    case Compression.zstd:
      return view(
        zlib().zstdCompressSync(
          bytes,
          level === undefined ? {} : { params: { [zlib().constants.ZSTD_c_compressionLevel]: level } },
        ),
      );
    default:
      throw new RangeError(`Unknown compression codec ${codec}`);
  }
}

function zlibDecompress(
  codec: Compression,
  bytes: Uint8Array,
  maxBytes: number,
  run: (b: Uint8Array, o: { maxOutputLength: number }) => Uint8Array,
): Uint8Array {
  let out: Uint8Array;
  try {
    // maxOutputLength must be in [1, kMaxLength]; 2 GiB - 1 is far beyond any sane batch.
    out = run(bytes, { maxOutputLength: Math.min(Math.max(1, maxBytes), 2 ** 31 - 1) });
  } catch (cause) {
    if ((cause as { code?: string })?.code === "ERR_BUFFER_TOO_LARGE") {
      throw new ProtocolError(
        `${compressionName(codec)} data decompresses to more than the limit of ${maxBytes} bytes`,
        { cause },
      );
    }
    throw new ProtocolError(`Corrupt ${compressionName(codec)} data`, { cause });
  }
  if (out.length > maxBytes) {
    throw new ProtocolError(
      `${compressionName(codec)} data decompresses to more than the limit of ${maxBytes} bytes`,
    );
  }
  return view(out);
}

/**
 * Walks the frames and block headers of zstd data (RFC 8878 section 3.1) without decoding
 * them, so that truncated or empty input is an error: Deno's `zstdDecompressSync` returns
 * the bytes decoded so far (often none) for a truncated frame instead of failing.
 */
function checkZstdFrames(b: Uint8Array): void {
  const bad = (what: string): never => {
    throw new ProtocolError(`Corrupt zstd data: ${what}`);
  };
  if (b.length === 0) bad("empty input");
  let p = 0;
  while (p < b.length) {
    if (b.length - p < 4) bad("truncated frame magic");
    const magic = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    p += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // A skippable frame: a 4-byte size, then that many bytes.
      if (b.length - p < 4) bad("truncated skippable frame");
      const size = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
      p += 4 + size;
      if (p > b.length) bad("truncated skippable frame");
      continue;
    }
    if (magic !== 0xfd2fb528) bad("bad frame magic");
    if (p >= b.length) bad("truncated frame header");
    const fhd = b[p++];
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    p += (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
    while (true) {
      if (b.length - p < 3) bad("truncated block header");
      const header = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
      p += 3;
      const type = (header >>> 1) & 3;
      if (type === 3) bad("reserved block type");
      p += type === 1 ? 1 : header >>> 3;
      if (p > b.length) bad("truncated block");
      if (header & 1) break;
    }
    if (checksum) p += 4;
    if (p > b.length) bad("truncated checksum");
  }
}

/**
 * Decompresses `bytes` written with `codec`. Snappy accepts both xerial framing and raw
 * blocks; LZ4 accepts the frame format (with either header checksum variant).
 *
 * @param codec The codec.
 * @param bytes The compressed input.
 * @param options The output limit.
 * @returns The decompressed bytes.
 * @throws {ProtocolError} If the input is corrupt or inflates beyond `maxBytes`.
 *
 * @example
 * ```ts
 * import { compress, Compression, decompress } from "./compression.ts";
 * const packed = compress(Compression.gzip, new Uint8Array(1000));
 * try {
 *   decompress(Compression.gzip, packed, { maxBytes: 100 });
 * } catch (err) {
 *   console.assert(err instanceof Error);
 * }
 * ```
 */
export function decompress(codec: Compression, bytes: Uint8Array, options?: DecompressOptions): Uint8Array {
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  if (!(maxBytes >= 0)) throw new RangeError(`Invalid maxBytes ${maxBytes}`);
  switch (codec) {
    case Compression.none:
      if (bytes.length > maxBytes) {
        throw new ProtocolError(
          `Uncompressed data of ${bytes.length} bytes exceeds the limit of ${maxBytes}`,
        );
      }
      return bytes;
    case Compression.gzip:
      return zlibDecompress(codec, bytes, maxBytes, zlib().gunzipSync);
    case Compression.snappy:
      return snappyDecompress(bytes, maxBytes);
    case Compression.lz4:
      return lz4DecompressFrame(bytes, maxBytes);
    case Compression.zstd:
      checkZstdFrames(bytes);
      return zlibDecompress(codec, bytes, maxBytes, zlib().zstdDecompressSync);
    default:
      throw new ProtocolError(`Unknown compression codec ${codec}`);
  }
}
