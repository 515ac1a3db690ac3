/**
 * CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches, and CRC-32 (IEEE), the
 * checksum of legacy (magic 0/1) messages.
 *
 * This is the only module that imports `crc-32`; everything else calls
 * {@linkcode crc32c}.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- library code pins npm: specifiers inline (STYLE.md)
import CRC32 from "npm:crc-32@1.2.2/crc32.js";
// deno-lint-ignore no-import-prefix -- library code pins npm: specifiers inline (STYLE.md)
import CRC32C from "npm:crc-32@1.2.2/crc32c.js";

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
  // crc-32 returns a signed int32; Kafka stores the CRC as a uint32.
  return CRC32C.buf(bytes, 0) >>> 0;
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
  return CRC32.buf(bytes, 0) >>> 0;
}
