/**
 * Key hashes that decide a record's partition: Kafka's Java default (murmur2) and sarama's
 * default (FNV-1a), so that a Deno producer can place keys where existing producers do.
 *
 * @module
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

function checkPartitions(numPartitions: number): void {
  if (!Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > 0x7fffffff) {
    throw new RangeError(`Invalid partition count ${numPartitions}: expected a positive integer`);
  }
}

/**
 * The 32-bit MurmurHash2 of `bytes` exactly as Java's `Utils.murmur2` computes it (seed
 * 0x9747b28c, little-endian blocks), as a signed int32.
 *
 * @param bytes The serialized key.
 * @returns The hash as a signed int32.
 *
 * @example
 * ```ts
 * import { murmur2 } from "./partitioners.ts";
 * console.assert(murmur2(new TextEncoder().encode("21")) === -973932308);
 * ```
 */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = SEED ^ length;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's fall-through switch on the tail; the multiply only happens for a non-empty tail.
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= bytes[blocks + 2] << 16;
    if (tail >= 2) h ^= bytes[blocks + 1] << 8;
    h ^= bytes[blocks];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's Java producer picks for a non-null key:
 * `(murmur2(key) & 0x7fffffff) % numPartitions` (`BuiltInPartitioner.partitionForKey`).
 * `numPartitions` is the topic's total partition count, available or not.
 *
 * @param key The serialized key (an empty key is hashed too; a null key is not hashed at all).
 * @param numPartitions The topic's partition count.
 * @returns The partition, in [0, numPartitions).
 *
 * @example
 * ```ts
 * import { murmur2Partition } from "./partitioners.ts";
 * console.assert(murmur2Partition(new TextEncoder().encode("foobar"), 100) === 66);
 * ```
 */
export function murmur2Partition(key: Uint8Array, numPartitions: number): number {
  checkPartitions(numPartitions);
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

/**
 * The 32-bit FNV-1a hash of `bytes`, as an unsigned 32-bit number.
 *
 * @param bytes The input.
 * @returns The hash, in [0, 2^32).
 *
 * @example
 * ```ts
 * import { fnv1a32 } from "./partitioners.ts";
 * console.assert(fnv1a32(new TextEncoder().encode("a")) === 0xe40c292c);
 * ```
 */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h >>> 0;
}

/**
 * The partition sarama's default `NewHashPartitioner` picks for a non-null key: the FNV-1a
 * hash taken as a signed int32, `%` with truncation toward zero (Go's and JavaScript's `%`),
 * negated when negative. This is not the Java rule (sarama's `NewReferenceHashPartitioner`
 * masks the sign bit instead), so the same key can land elsewhere than with murmur2.
 *
 * @param key The key bytes.
 * @param numPartitions The topic's partition count.
 * @returns The partition, in [0, numPartitions).
 *
 * @example
 * ```ts
 * import { fnv1aPartition } from "./partitioners.ts";
 * const p = fnv1aPartition(new TextEncoder().encode("user-42"), 12);
 * console.assert(p >= 0 && p < 12);
 * ```
 */
export function fnv1aPartition(key: Uint8Array, numPartitions: number): number {
  checkPartitions(numPartitions);
  const p = (fnv1a32(key) | 0) % numPartitions;
  // `| 0` turns the -0 that a negative multiple of numPartitions gives into 0.
  return (p < 0 ? -p : p) | 0;
}
