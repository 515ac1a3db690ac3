/**
 * Memory for the producer's encoded batches. Each batch is encoded into a
 * buffer of a power-of-two size class taken from the pool; the buffer goes
 * back when nothing can read it any more: the batch is done (acknowledged,
 * failed, split or re-encoded) and no request that carried it can still be
 * written. Without the pool every batch is fresh external memory that lives
 * long enough to be promoted, and only a full GC frees it.
 *
 * A {@linkcode Lease} counts who can still read a buffer: the batch while its
 * bytes are current, plus one per request in flight that carries them.
 *
 * @module
 */

/** The smallest size class. */
const MIN_CLASS_SHIFT = 9;

/** The pool's limits. */
export interface BufferPoolOptions {
  /** Idle bytes the pool keeps at most; a buffer given back beyond it is left to the GC. */
  readonly maxIdleBytes: number;
  /** The largest size class, rounded up to a power of two; larger requests get plain memory. */
  readonly largestClass: number;
}

/** Power-of-two buffers for reuse, with a cap on the idle bytes kept. */
export class BufferPool {
  /** Idle buffers per size class, class `i` holding buffers of `2 ** (MIN_CLASS_SHIFT + i)` bytes. */
  readonly #free: Uint8Array[][] = [];
  readonly #maxIdleBytes: number;
  readonly #largest: number;
  #idleBytes = 0;

  constructor(opts: BufferPoolOptions) {
    this.#maxIdleBytes = opts.maxIdleBytes;
    let largest = 1 << MIN_CLASS_SHIFT;
    while (largest < opts.largestClass && largest < 2 ** 30) largest *= 2;
    this.#largest = largest;
    for (let size = 1 << MIN_CLASS_SHIFT; size <= largest; size *= 2) this.#free.push([]);
  }

  /** Bytes of idle buffers held for reuse. */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** The largest size class: larger requests get plain memory that is never pooled. */
  get largestClass(): number {
    return this.#largest;
  }

  /** Memory of at least `size` bytes: an idle buffer of its size class, else a new one. */
  take(size: number): Uint8Array {
    if (size > this.#largest) return new Uint8Array(size);
    let c = 0;
    while ((1 << (MIN_CLASS_SHIFT + c)) < size) c++;
    const buf = this.#free[c].pop();
    if (buf === undefined) return new Uint8Array(1 << (MIN_CLASS_SHIFT + c));
    this.#idleBytes -= buf.length;
    return buf;
  }

  /**
   * Takes back memory that {@linkcode BufferPool.take} handed out and that
   * nothing reads any more. Memory of no size class (plain allocations, views)
   * and memory beyond the idle cap are left to the GC.
   */
  give(buf: Uint8Array): void {
    const n = buf.length;
    if (n > this.#largest || buf.byteOffset !== 0 || buf.buffer.byteLength !== n) return;
    if (this.#idleBytes + n > this.#maxIdleBytes) return;
    let c = 0;
    while ((1 << (MIN_CLASS_SHIFT + c)) < n) c++;
    if ((1 << (MIN_CLASS_SHIFT + c)) !== n) return;
    this.#free[c].push(buf);
    this.#idleBytes += n;
  }
}

/**
 * A buffer from a {@linkcode BufferPool} and the number of holders that can
 * still read it; it goes back to the pool when the last one lets go. It starts
 * with one holder (the batch encoded into it).
 */
export class Lease {
  /** The memory (the encoded batch is a view of its start). */
  readonly memory: Uint8Array;
  readonly #pool: BufferPool;
  #holders = 1;

  constructor(pool: BufferPool, memory: Uint8Array) {
    this.#pool = pool;
    this.memory = memory;
  }

  /** Holders that can still read the memory. */
  get holders(): number {
    return this.#holders;
  }

  /** One more reader (a request that carries the bytes). */
  hold(): void {
    // A released buffer may already belong to another batch: it must never be read again.
    if (this.#holders === 0) throw new Error("Internal error: a released batch buffer was held again");
    this.#holders++;
  }

  /** A reader is done; the last one gives the memory back to the pool. */
  drop(): void {
    // Never twice: a buffer in the pool twice would be handed to two batches.
    if (this.#holders === 0) return;
    if (--this.#holders === 0) this.#pool.give(this.memory);
  }
}
