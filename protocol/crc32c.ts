/**
 * CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches, and CRC-32 (IEEE), the
 * checksum of legacy (magic 0/1) messages.
 *
 * Both are table-driven, sixteen bytes per step ("slicing-by-16": sixteen 256-entry tables, built
 * at load from the reflected polynomial), read as 32-bit words on little-endian platforms.
 * Written here rather than imported so that loading the library pulls in no npm package (each
 * one costs a process Deno's Node compatibility layer, about 13 MiB).
 *
 * @module
 */

/** Sixteen lookup tables of 256 entries for a reflected polynomial, one after another. */
function slicingTables(poly: number): Int32Array {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** Whether the platform stores integers little-endian (then Int32Array reads match the byte order). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The checksum of `b` with tables `t`: byte by byte up to a 4-byte boundary, then sixteen bytes
 * per step read as four 32-bit words (fewer loads than sixteen byte reads), then the tail.
 */
function checksum(t: Int32Array, b: Uint8Array): number {
  let c = -1;
  let i = 0;
  const n = b.length;
  const head = LITTLE_ENDIAN ? Math.min(n, (4 - (b.byteOffset & 3)) & 3) : n;
  for (; i < head; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  const words = ((n - i) >>> 4) << 2;
  if (words > 0) {
    const w = new Int32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k += 4) {
      c ^= w[k];
      const w1 = w[k + 1];
      const w2 = w[k + 2];
      const w3 = w[k + 3];
      c = t[0xf00 | (c & 0xff)] ^ t[0xe00 | ((c >>> 8) & 0xff)] ^ t[0xd00 | ((c >>> 16) & 0xff)] ^
        t[0xc00 | (c >>> 24)] ^ t[0xb00 | (w1 & 0xff)] ^ t[0xa00 | ((w1 >>> 8) & 0xff)] ^
        t[0x900 | ((w1 >>> 16) & 0xff)] ^ t[0x800 | (w1 >>> 24)] ^ t[0x700 | (w2 & 0xff)] ^
        t[0x600 | ((w2 >>> 8) & 0xff)] ^ t[0x500 | ((w2 >>> 16) & 0xff)] ^ t[0x400 | (w2 >>> 24)] ^
        t[0x300 | (w3 & 0xff)] ^ t[0x200 | ((w3 >>> 8) & 0xff)] ^ t[0x100 | ((w3 >>> 16) & 0xff)] ^
        t[w3 >>> 24];
    }
    i += words * 4;
  }
  for (; i < n; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Reflected CRC-32C polynomial (0x1EDC6F41 bit-reversed), as in RFC 3720 appendix B.4. */
const CASTAGNOLI = slicingTables(0x82f63b78);
/** Reflected CRC-32 polynomial (0x04C11DB7 bit-reversed), as in IEEE 802.3. */
const IEEE = slicingTables(0xedb88320);

/**
 * Computes the CRC-32C of `bytes` as an unsigned 32-bit number, the way
 * `java.util.zip.CRC32C` does (reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF).
 *
 * @param bytes The input.
 * @returns The checksum, in [0, 2^32).
 *
 * @example
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 * console.assert(crc32c(new TextEncoder().encode("123456789")) === 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  return checksum(CASTAGNOLI, bytes);
}

/**
 * Computes the CRC-32 (IEEE 802.3, as `java.util.zip.CRC32`) of `bytes` as an unsigned
 * 32-bit number: the checksum of legacy magic 0/1 messages.
 *
 * @param bytes The input.
 * @returns The checksum, in [0, 2^32).
 *
 * @example
 * ```ts
 * import { crc32 } from "./crc32c.ts";
 * console.assert(crc32(new TextEncoder().encode("123456789")) === 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  return checksum(IEEE, bytes);
}
