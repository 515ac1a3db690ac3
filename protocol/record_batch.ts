/**
 * Record batches: encoding of magic-2 batches, decoding of magic-2 batches and of legacy
 * magic 0/1 message sets.
 *
 * Batch layout (`DefaultRecordBatch.java`; offsets in bytes, all big-endian):
 *
 * ```
 *  0 baseOffset int64          | 27 baseTimestamp int64
 *  8 batchLength int32         | 35 maxTimestamp int64
 * 12 partitionLeaderEpoch int32| 43 producerId int64
 * 16 magic int8 (2)            | 51 producerEpoch int16
 * 17 crc uint32 (CRC-32C of 21..end)  | 53 baseSequence int32
 * 21 attributes int16          | 57 recordsCount int32
 * 23 lastOffsetDelta int32     | 61 records (the compressed blob when compressed)
 * ```
 *
 * Record (`DefaultRecord.java`): length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, key (varint length, -1 = null), value (same), headers count varint,
 * then per header a varint-length UTF-8 key and a varint-length value (-1 = null).
 *
 * Decoding of uncompressed batches is zero-copy: keys, values and header values are views
 * into the input. Offsets are `bigint`; record timestamps are `number` (milliseconds since
 * the epoch fit in a double exactly), batch-level int64 fields are `bigint`.
 *
 * @module
 */

import { compress, Compression, decompress, DEFAULT_MAX_DECOMPRESSED_BYTES } from "./compression.ts";
import { crc32, crc32c } from "./crc32c.ts";
import { ProtocolError } from "./errors.ts";
import type { KafkaErrorOptions } from "./errors.ts";
import { Reader, sizeOfVarint, utf8Length, Writer } from "./primitives.ts";

/** Size of a v2 batch header, before the records (`RECORD_BATCH_OVERHEAD`). */
export const RECORD_BATCH_OVERHEAD = 61;
/** Bytes before the batch length is known: baseOffset + batchLength (`LOG_OVERHEAD`). */
export const LOG_OVERHEAD = 12;

const MAGIC_OFFSET = 16;
const ATTRIBUTES_OFFSET = 21;
const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const DELETE_HORIZON_FLAG = 0x40;
/** Smallest legacy message after offset and size: crc, magic, attributes, key and value lengths. */
const LEGACY_V0_MIN = 14;
const LEGACY_V1_MIN = 22;

/**
 * How a batch's timestamps were set: by the producer (`createTime`) or by the broker
 * (`logAppendTime`, topic config `message.timestamp.type=LogAppendTime`).
 *
 * @example
 * ```ts
 * import { TimestampType } from "./record_batch.ts";
 * console.assert(TimestampType.logAppendTime === 1);
 * ```
 */
export const TimestampType = { createTime: 0, logAppendTime: 1 } as const;

/** A timestamp type, one of the values of {@linkcode TimestampType}. */
export type TimestampType = typeof TimestampType[keyof typeof TimestampType];

/**
 * The type of a control record (the key of the only record in a control batch).
 *
 * @example
 * ```ts
 * import { ControlRecordType } from "./record_batch.ts";
 * console.assert(ControlRecordType.commit === 1);
 * ```
 */
export const ControlRecordType = { abort: 0, commit: 1 } as const;

/** A control record type, one of the values of {@linkcode ControlRecordType} (others are kept as numbers). */
export type ControlRecordType = typeof ControlRecordType[keyof typeof ControlRecordType];

/** A record header. Keys are UTF-8 strings; values are bytes or null. */
export interface RecordHeader {
  /** The header key. */
  key: string;
  /** The header value; a view into the fetched bytes when decoded. */
  value: Uint8Array | null;
}

/** A record to encode with {@linkcode encodeRecordBatch}. */
export interface RecordInput {
  /** The key; null and absent are written as a null key. */
  key?: Uint8Array | null;
  /** The value; null (a tombstone) and absent are written as a null value. */
  value?: Uint8Array | null;
  /** The headers, in order; duplicate keys are allowed. */
  headers?: readonly RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's `timestamp` option. */
  timestamp?: number | bigint;
  /** The offset delta; defaults to the record's index in the batch. */
  offsetDelta?: number;
}

/** A decoded record. */
export interface KafkaRecord {
  /** The absolute offset: the batch's base offset plus `offsetDelta`. */
  offset: bigint;
  /** The offset relative to the batch's base offset. */
  offsetDelta: number;
  /**
   * Milliseconds since the epoch, as a number. For `logAppendTime` batches this is the
   * batch's `maxTimestamp`, as the Java client reports it. -1 when the message has none (magic 0).
   */
  timestamp: number;
  /** The record attributes byte (unused by Kafka so far; always 0). */
  attributes: number;
  /** The key, or null. */
  key: Uint8Array | null;
  /** The value, or null for a tombstone. */
  value: Uint8Array | null;
  /** The headers (always empty for magic 0/1). */
  headers: RecordHeader[];
}

/** The key of a control record, decoded. */
export interface ControlRecord {
  /** The control key version (0 so far). */
  version: number;
  /** {@linkcode ControlRecordType.abort}, {@linkcode ControlRecordType.commit} or an unknown type. */
  type: number;
}

/** A decoded record batch (or, for magic 0/1, one message set entry and its inner messages). */
export interface RecordBatch {
  /** The offset of the first record (for legacy entries: of the first inner message). */
  baseOffset: bigint;
  /** The offset of the last record the batch had before compaction: `baseOffset + lastOffsetDelta`. */
  lastOffset: bigint;
  /** The number of bytes after the length field (the legacy message size for magic 0/1). */
  batchLength: number;
  /** The leader epoch the broker stamped; -1 when absent (always for magic 0/1). */
  partitionLeaderEpoch: number;
  /** 2, or 0/1 for legacy message sets. */
  magic: number;
  /** The stored checksum: CRC-32C for magic 2, CRC-32 (IEEE) for magic 0/1. */
  crc: number;
  /** The raw attributes. */
  attributes: number;
  /** The compression codec (bits 0-2). */
  compression: Compression;
  /** The timestamp type (bit 3). */
  timestampType: TimestampType;
  /** Whether the batch belongs to a transaction (bit 4). */
  isTransactional: boolean;
  /** Whether this is a control batch (bit 5); its record is described by `control`. */
  isControl: boolean;
  /** Whether `baseTimestamp` holds the delete horizon of a compacted batch (bit 6, KIP-534). */
  hasDeleteHorizon: boolean;
  /** The offset delta of the last record. */
  lastOffsetDelta: number;
  /** The first timestamp (or the delete horizon); -1 for magic 0. */
  baseTimestamp: bigint;
  /** The largest timestamp; -1 for magic 0. */
  maxTimestamp: bigint;
  /** The producer id; -1 if not idempotent. */
  producerId: bigint;
  /** The producer epoch; -1 if not idempotent. */
  producerEpoch: number;
  /** The sequence of the first record; -1 if not idempotent. */
  baseSequence: number;
  /** The decoded records. */
  records: KafkaRecord[];
  /** The control record's key, for control batches. */
  control?: ControlRecord;
}

/** Options of {@linkcode encodeRecordBatch}. */
export interface EncodeRecordBatchOptions {
  /** The codec; defaults to none. */
  compression?: Compression;
  /** The gzip/zstd compression level. */
  compressionLevel?: number;
  /** The producer id; -1 (no idempotence) by default. */
  producerId?: bigint;
  /** The producer epoch; -1 by default. */
  producerEpoch?: number;
  /** The sequence of the first record; -1 by default. */
  baseSequence?: number;
  /** Marks the batch as part of a transaction. */
  transactional?: boolean;
  /** Marks the batch as a control batch (transaction markers are written by the broker, not clients). */
  isControl?: boolean;
  /** The timestamp type; producers use createTime (the default). */
  timestampType?: TimestampType;
  /** The base timestamp; defaults to the first record's timestamp. */
  baseTimestamp?: number | bigint;
  /** The timestamp of records that have none; defaults to `Date.now()` read once per batch. */
  timestamp?: number | bigint;
  /** The base offset; producers send 0 (the default) and the broker assigns offsets. */
  baseOffset?: bigint;
  /** The partition leader epoch; clients send -1 (the default). */
  partitionLeaderEpoch?: number;
  /**
   * Memory for the batch, so that a caller can reuse it (a producer's buffer pool). Called once per
   * call with a size a few bytes above what the batch takes (varint writes check room for their
   * longest form); it returns a Uint8Array of at least that many bytes, the batch is written from its
   * start, and the result is a view of it. By default each batch gets fresh memory.
   */
  allocate?: (size: number) => Uint8Array;
  /**
   * Memory read only during the call, so it may be handed out again as soon as the call returns:
   * `slot` 0 for the uncompressed records of a compressed batch, `slot` 1 for lz4's output (see
   * `CompressOptions.output`). Memory handed out for the two slots must not overlap.
   * Called as `allocate` is, at most once per slot. By default it is fresh memory.
   */
  scratch?: (size: number, slot: 0 | 1) => Uint8Array;
}

/** Options of {@linkcode decodeRecordBatches}. */
export interface DecodeRecordBatchesOptions {
  /** The topic, for error messages. */
  topic?: string;
  /** The partition, for error messages. */
  partition?: number;
  /** The decompressed size limit per batch; defaults to {@linkcode DEFAULT_MAX_DECOMPRESSED_BYTES}. */
  maxDecompressedBytes?: number;
  /** Whether to verify checksums (default true). */
  verifyCrc?: boolean;
}

/** Options of {@linkcode CorruptRecordError}. */
export interface CorruptRecordErrorOptions extends KafkaErrorOptions {
  /** The topic, when known. */
  topic?: string;
  /** The partition, when known. */
  partition?: number;
  /** The base offset of the corrupt batch, when known. */
  offset?: bigint;
}

/**
 * A record batch whose stored checksum does not match its bytes.
 *
 * @example
 * ```ts
 * import { CorruptRecordError, decodeRecordBatches, encodeRecordBatch } from "./record_batch.ts";
 * const bytes = encodeRecordBatch([{ value: new Uint8Array([1]) }]);
 * bytes[bytes.length - 1] ^= 1;
 * try {
 *   decodeRecordBatches(bytes, { topic: "t", partition: 0 });
 * } catch (err) {
 *   console.assert(err instanceof CorruptRecordError && err.partition === 0);
 * }
 * ```
 */
export class CorruptRecordError extends ProtocolError {
  /** The topic, when known. */
  readonly topic?: string;
  /** The partition, when known. */
  readonly partition?: number;
  /** The base offset of the corrupt batch, when known. */
  readonly offset?: bigint;

  /**
   * Creates a CorruptRecordError.
   *
   * @param message What is wrong.
   * @param options Where, and the cause.
   */
  constructor(message: string, options?: CorruptRecordErrorOptions) {
    super(message, options);
    this.topic = options?.topic;
    this.partition = options?.partition;
    this.offset = options?.offset;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

const textEncoder = new TextEncoder();
let keyScratch = new Uint8Array(256);

function sizeOfVarlongNumber(v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    n++;
  }
  return n;
}

function sizeOfNullableVarintBytes(b: Uint8Array | null | undefined): number {
  return b == null ? 1 : sizeOfVarint(b.length) + b.length;
}

function toMillis(v: number | bigint, what: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(n)) throw new RangeError(`Invalid ${what} ${v}: expected an integer`);
  return n;
}

/** Room a Writer needs beyond its exact contents: its varint writes check room for the longest form. */
const VARINT_SLACK = 10;

/** A Writer for `size` bytes that never regrows: its memory from `allocate`, else fresh. */
function writerFor(size: number, allocate: ((size: number) => Uint8Array) | undefined, what: string): Writer {
  const room = size + VARINT_SLACK;
  if (allocate === undefined) return new Writer(room);
  const buffer = allocate(room);
  if (!(buffer instanceof Uint8Array) || buffer.length < room) {
    const got = buffer instanceof Uint8Array ? `${buffer.length} bytes` : String(buffer);
    throw new RangeError(`${what}(${room}) returned ${got}: expected a Uint8Array of at least ${room} bytes`);
  }
  return new Writer(room, { buffer });
}

function writeNullableVarintBytes(w: Writer, b: Uint8Array | null | undefined): void {
  if (b == null) w.varint(-1);
  else w.varint(b.length).raw(b);
}

/**
 * Encodes records as one magic-2 record batch: base offset 0 (unless given), leader epoch -1,
 * CRC-32C computed last over the bytes after the CRC field.
 *
 * @param records The records, at least one.
 * @param options Codec, producer id/epoch/sequence, transactional flag, timestamps.
 * @returns The batch bytes, ready to be put in a Produce request: a view of the memory from
 * `options.allocate` when given.
 * @throws {RangeError} If there are no records, a field is out of range, or `allocate`/`scratch`
 * returned less memory than asked for.
 *
 * @example
 * ```ts
 * import { Compression } from "./compression.ts";
 * import { decodeRecordBatches, encodeRecordBatch } from "./record_batch.ts";
 * const te = new TextEncoder();
 * const bytes = encodeRecordBatch(
 *   [{ key: te.encode("k"), value: te.encode("v"), headers: [{ key: "h", value: null }] }],
 *   { compression: Compression.lz4 },
 * );
 * const [batch] = decodeRecordBatches(bytes);
 * console.assert(batch.records[0].headers[0].key === "h");
 * ```
 */
export function encodeRecordBatch(
  records: readonly RecordInput[],
  options: EncodeRecordBatchOptions = {},
): Uint8Array {
  if (records.length === 0) throw new RangeError("A record batch needs at least one record");
  const codec = options.compression ?? Compression.none;
  if (!(codec >= 0 && codec <= 4 && Number.isInteger(codec))) {
    throw new RangeError(`Unknown compression codec ${codec}`);
  }
  const defaultTs = toMillis(options.timestamp ?? Date.now(), "timestamp");
  const first = records[0].timestamp;
  const baseTs = toMillis(options.baseTimestamp ?? first ?? defaultTs, "baseTimestamp");

  // Pass 1: sizes, timestamps, offset deltas.
  const n = records.length;
  const bodySizes = new Array<number>(n);
  let recordsSize = 0;
  let maxTs = -Infinity;
  let lastOffsetDelta = 0;
  for (let i = 0; i < n; i++) {
    const rec = records[i];
    const ts = rec.timestamp === undefined ? defaultTs : toMillis(rec.timestamp, "timestamp");
    if (ts > maxTs) maxTs = ts;
    const delta = rec.offsetDelta ?? i;
    if (!Number.isInteger(delta) || delta < 0 || delta > 0x7fffffff) {
      throw new RangeError(`Invalid offsetDelta ${delta}`);
    }
    if (i > 0 && delta <= lastOffsetDelta) {
      throw new RangeError(`offsetDelta ${delta} is not greater than the previous ${lastOffsetDelta}`);
    }
    lastOffsetDelta = delta;
    let size = 1 + sizeOfVarlongNumber(ts - baseTs) + sizeOfVarint(delta) +
      sizeOfNullableVarintBytes(rec.key) + sizeOfNullableVarintBytes(rec.value);
    const headers = rec.headers;
    if (headers === undefined || headers.length === 0) size += 1;
    else {
      size += sizeOfVarint(headers.length);
      for (const h of headers) {
        if (typeof h.key !== "string") throw new TypeError(`Invalid header key ${h.key}: expected a string`);
        const kl = utf8Length(h.key);
        size += sizeOfVarint(kl) + kl + sizeOfNullableVarintBytes(h.value);
      }
    }
    bodySizes[i] = size;
    recordsSize += sizeOfVarint(size) + size;
  }

  // Pass 2: records, into the batch directly when uncompressed; else into their own buffer,
  // compressed before the batch buffer is sized, so neither buffer ever regrows.
  let payload: Uint8Array | null = null;
  const scratch = options.scratch;
  const rw = codec === Compression.none
    ? writerFor(RECORD_BATCH_OVERHEAD + recordsSize, options.allocate, "allocate")
    : writerFor(recordsSize, scratch === undefined ? undefined : (size) => scratch(size, 0), "scratch");
  const writeRecords = () => {
    for (let i = 0; i < n; i++) {
      const rec = records[i];
      const ts = rec.timestamp === undefined ? defaultTs : toMillis(rec.timestamp, "timestamp");
      rw.varint(bodySizes[i]).int8(0).varlong(ts - baseTs).varint(rec.offsetDelta ?? i);
      writeNullableVarintBytes(rw, rec.key);
      writeNullableVarintBytes(rw, rec.value);
      const headers = rec.headers;
      if (headers === undefined) rw.varint(0);
      else {
        rw.varint(headers.length);
        for (const h of headers) {
          // Writer has no "UTF-8 without a length prefix" method, so keys go through a scratch buffer.
          const kl = utf8Length(h.key);
          if (kl > keyScratch.length) keyScratch = new Uint8Array(kl * 2);
          textEncoder.encodeInto(h.key, keyScratch);
          rw.varint(kl).raw(keyScratch.subarray(0, kl));
          writeNullableVarintBytes(rw, h.value);
        }
      }
    }
  };

  let attributes = codec;
  if (options.timestampType === TimestampType.logAppendTime) attributes |= TIMESTAMP_TYPE_FLAG;
  if (options.transactional) attributes |= TRANSACTIONAL_FLAG;
  if (options.isControl) attributes |= CONTROL_FLAG;

  let out = rw;
  if (codec !== Compression.none) {
    writeRecords();
    payload = compress(codec, rw.finish(), {
      level: options.compressionLevel,
      output: scratch === undefined ? undefined : (size) => scratch(size, 1),
    });
    out = writerFor(RECORD_BATCH_OVERHEAD + payload.length, options.allocate, "allocate");
  }
  out.int64(options.baseOffset ?? 0n);
  const lengthAt = out.reserveInt32();
  out.int32(options.partitionLeaderEpoch ?? -1).int8(2);
  const crcAt = out.reserveInt32();
  out.int16(attributes)
    .int32(lastOffsetDelta)
    .int64(BigInt(baseTs))
    .int64(BigInt(maxTs))
    .int64(options.producerId ?? -1n)
    .int16(options.producerEpoch ?? -1)
    .int32(options.baseSequence ?? -1)
    .int32(n);
  if (payload === null) writeRecords();
  else out.raw(payload);
  const bytes = out.finish();
  out.patchInt32(lengthAt, bytes.length - LOG_OVERHEAD);
  out.patchUint32(crcAt, crc32c(bytes.subarray(ATTRIBUTES_OFFSET)));
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeKey(bytes: Uint8Array): string {
  if (bytes.length <= 24) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (c >= 0x80) return decodeUtf8(bytes);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeUtf8(bytes);
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("Invalid UTF-8 in a record header key", { cause });
  }
}

/** Reads a zigzag varlong as a number without allocating a bigint (exact up to 2^53). */
function varlongNumber(r: Reader): number {
  const buf = r.buffer;
  const start = r.offset;
  const end = start + r.remaining;
  let p = start;
  let z = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new ProtocolError(`Truncated input: varlong at offset ${start}`);
    const b = buf[p++];
    z += (b & 0x7f) * mul;
    if (b < 0x80) {
      r.skip(p - start);
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    mul *= 128;
  }
  throw new ProtocolError(`Varlong at offset ${start} is longer than 10 bytes`);
}

function nullableVarintBytes(r: Reader): Uint8Array | null {
  const n = r.varint();
  if (n < 0) {
    if (n === -1) return null;
    throw new ProtocolError(`Negative length ${n} in record bytes`);
  }
  return r.raw(n);
}

interface Where {
  topic?: string;
  partition?: number;
  verifyCrc: boolean;
  maxBytes: number;
  /** With {@linkcode decodeRecordsInto}: the caller's builder, where records go, and the first offset kept. */
  into?: { build: RecordBuilder<unknown>; out: unknown[]; from: bigint };
}

/**
 * Makes the object one record is decoded into, for {@linkcode decodeRecordsInto}: called once
 * per record with its fields (views into the input, no copies) and its batch's leader epoch.
 */
export type RecordBuilder<T> = (
  offset: bigint,
  timestamp: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: RecordHeader[],
  leaderEpoch: number,
) => T;

/** BigInt(i) for the usual offset deltas: one BigInt per decoded offset instead of two. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 4096 }, (_, i) => BigInt(i));

/**
 * Decodes the records of a magic-2 batch from `r` (positioned at the first record, bounded by
 * the end of the records) and requires the records to fill it exactly.
 */
function decodeRecords(
  r: Reader,
  count: number,
  baseOffset: bigint,
  baseTs: number,
  logAppendTs: number | undefined,
  leaderEpoch: number,
  into: Where["into"],
): KafkaRecord[] {
  // Every record takes at least 7 bytes, so a larger count is hostile; refusing it bounds
  // the allocation and the loop by the input size.
  if (count > r.remaining / 7) {
    throw new ProtocolError(`Batch claims ${count} records in ${r.remaining} bytes`);
  }
  const records = new Array<KafkaRecord>(into === undefined ? count : 0);
  // With a builder, records go to its array, those before `from` left out (compared only when
  // the batch starts before it).
  const check = into !== undefined && into.from > baseOffset;
  for (let i = 0; i < count; i++) {
    const length = r.varint();
    if (length < 6 || length > r.remaining) throw new ProtocolError(`Invalid record length ${length}`);
    const end = r.offset + length;
    const attributes = r.int8();
    const tsDelta = varlongNumber(r);
    const offsetDelta = r.varint();
    const key = nullableVarintBytes(r);
    const value = nullableVarintBytes(r);
    const headerCount = r.varint();
    if (headerCount < 0 || headerCount > end - r.offset) {
      throw new ProtocolError(`Invalid record header count ${headerCount}`);
    }
    let headers: RecordHeader[];
    if (headerCount === 0) headers = [];
    else {
      headers = new Array<RecordHeader>(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const kl = r.varint();
        if (kl < 0) throw new ProtocolError(`Invalid record header key length ${kl}`);
        const hk = decodeKey(r.raw(kl));
        headers[h] = { key: hk, value: nullableVarintBytes(r) };
      }
    }
    if (r.offset !== end) {
      throw new ProtocolError(`Record length ${length} does not match its fields`);
    }
    const offset = baseOffset +
      (offsetDelta >= 0 && offsetDelta < SMALL_BIGINTS.length
        ? SMALL_BIGINTS[offsetDelta]
        : BigInt(offsetDelta));
    if (into !== undefined) {
      if (!check || offset >= into.from) {
        into.out.push(into.build(offset, logAppendTs ?? baseTs + tsDelta, key, value, headers, leaderEpoch));
      }
      continue;
    }
    records[i] = {
      offset,
      offsetDelta,
      timestamp: logAppendTs ?? baseTs + tsDelta,
      attributes,
      key,
      value,
      headers,
    };
  }
  r.done("records of the batch");
  return records;
}

function decodeV2(bytes: Uint8Array, start: number, end: number, where: Where): RecordBatch {
  const r = new Reader(bytes, start, end);
  const baseOffset = r.int64();
  const batchLength = r.int32();
  const partitionLeaderEpoch = r.int32();
  const magic = r.int8();
  const crc = r.uint32();
  if (where.verifyCrc) {
    const actual = crc32c(bytes.subarray(start + ATTRIBUTES_OFFSET, end));
    if (actual !== crc) {
      throw new CorruptRecordError(
        `Record batch at offset ${baseOffset}${
          at(where)
        } is corrupt: stored CRC ${crc} but computed ${actual}`,
        { topic: where.topic, partition: where.partition, offset: baseOffset },
      );
    }
  }
  const attributes = r.int16();
  const lastOffsetDelta = r.int32();
  const baseTimestamp = r.int64();
  const maxTimestamp = r.int64();
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const baseSequence = r.int32();
  const count = r.int32();
  if (count < 0) throw new ProtocolError(`Negative record count ${count}`);
  const codec = attributes & COMPRESSION_MASK;
  if (codec > Compression.zstd) throw new ProtocolError(`Unknown compression codec ${codec}`);
  const timestampType = (attributes & TIMESTAMP_TYPE_FLAG)
    ? TimestampType.logAppendTime
    : TimestampType.createTime;
  // Number() of an absurd int64 loses precision rather than failing: such values are never real.
  const logAppendTs = timestampType === TimestampType.logAppendTime ? Number(maxTimestamp) : undefined;
  let rr = r;
  if (codec !== Compression.none) {
    const payload = r.raw(r.remaining);
    let inflated: Uint8Array;
    try {
      inflated = decompress(codec as Compression, payload, { maxBytes: where.maxBytes });
    } catch (cause) {
      if (cause instanceof ProtocolError) {
        throw new ProtocolError(`${cause.message} (batch at offset ${baseOffset}${at(where)})`, { cause });
      }
      throw cause;
    }
    rr = new Reader(inflated);
  }
  const isControl = (attributes & CONTROL_FLAG) !== 0;
  // A builder gets data records only: a control batch is decoded (and checked) as plain records.
  const records = decodeRecords(
    rr,
    count,
    baseOffset,
    Number(baseTimestamp),
    logAppendTs,
    partitionLeaderEpoch,
    isControl ? undefined : where.into,
  );
  let control: ControlRecord | undefined;
  if (isControl && records.length > 0) {
    const key = records[0].key;
    if (key === null || key.length < 4) {
      throw new ProtocolError(`Control record at offset ${records[0].offset} has an invalid key`);
    }
    const kr = new Reader(key);
    control = { version: kr.int16(), type: kr.int16() };
  }
  return {
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    batchLength,
    partitionLeaderEpoch,
    magic,
    crc,
    attributes,
    compression: codec as Compression,
    timestampType,
    isTransactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControl,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_FLAG) !== 0,
    lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    baseSequence,
    records,
    ...(control ? { control } : {}),
  };
}

function at(where: Where): string {
  if (where.topic === undefined && where.partition === undefined) return "";
  return ` of ${where.topic ?? "?"}-${where.partition ?? "?"}`;
}

interface LegacyMessage {
  offset: bigint;
  size: number;
  crc: number;
  magic: number;
  attributes: number;
  timestamp: bigint;
  key: Uint8Array | null;
  value: Uint8Array | null;
}

/** Reads one legacy message whose offset and size were already read; `end` is its end. */
function readLegacyMessage(
  r: Reader,
  offset: bigint,
  size: number,
  end: number,
  where: Where,
): LegacyMessage {
  const crcStart = r.offset + 4;
  const crc = r.uint32();
  if (where.verifyCrc) {
    const actual = crc32(r.buffer.subarray(crcStart, end));
    if (actual !== crc) {
      throw new CorruptRecordError(
        `Message at offset ${offset}${at(where)} is corrupt: stored CRC ${crc} but computed ${actual}`,
        { topic: where.topic, partition: where.partition, offset },
      );
    }
  }
  const magic = r.int8();
  const attributes = r.int8();
  const timestamp = magic >= 1 ? r.int64() : -1n;
  const key = r.nullableBytes();
  const value = r.nullableBytes();
  if (r.offset !== end) throw new ProtocolError(`Message size ${size} does not match its fields`);
  return { offset, size, crc, magic, attributes, timestamp, key, value };
}

function legacyMin(magic: number): number {
  return magic === 0 ? LEGACY_V0_MIN : LEGACY_V1_MIN;
}

function decodeLegacy(
  bytes: Uint8Array,
  start: number,
  end: number,
  magic: number,
  where: Where,
): RecordBatch {
  const r = new Reader(bytes, start, end);
  const offset = r.int64();
  const size = r.int32();
  if (size < legacyMin(magic)) {
    throw new ProtocolError(`Message size ${size} is too small for magic ${magic}`);
  }
  const outer = readLegacyMessage(r, offset, size, end, where);
  const codec = outer.attributes & COMPRESSION_MASK;
  const timestampType = magic >= 1 && (outer.attributes & TIMESTAMP_TYPE_FLAG)
    ? TimestampType.logAppendTime
    : TimestampType.createTime;
  let messages: LegacyMessage[];
  if (codec === Compression.none) messages = [outer];
  else {
    if (codec > Compression.lz4) {
      throw new ProtocolError(`Compression codec ${codec} is not allowed in a magic ${magic} message`);
    }
    if (outer.value === null) {
      throw new ProtocolError(`Compressed message at offset ${offset} has a null value`);
    }
    const inner = decompress(codec as Compression, outer.value, { maxBytes: where.maxBytes });
    messages = [];
    const ir = new Reader(inner);
    while (ir.remaining > 0) {
      const io = ir.int64();
      const is = ir.int32();
      if (is < LEGACY_V0_MIN || is > ir.remaining) {
        throw new ProtocolError(`Invalid inner message size ${is}`);
      }
      const m = readLegacyMessage(ir, io, is, ir.offset + is, where);
      if ((m.attributes & COMPRESSION_MASK) !== 0) {
        throw new ProtocolError(`Nested compressed message at offset ${offset}`);
      }
      messages.push(m);
    }
    if (messages.length === 0) throw new ProtocolError(`Compressed message at offset ${offset} is empty`);
    if (magic >= 1) {
      // Magic 1 inner offsets are relative (KIP-31): the wrapper carries the last one's offset.
      const shift = offset - messages[messages.length - 1].offset;
      for (const m of messages) m.offset += shift;
    }
  }
  const baseOffset = messages[0].offset;
  const records: KafkaRecord[] = messages.map((m) => {
    const delta = Number(m.offset - baseOffset);
    return {
      offset: m.offset,
      offsetDelta: delta,
      timestamp: timestampType === TimestampType.logAppendTime
        ? Number(outer.timestamp)
        : Number(m.timestamp),
      attributes: 0,
      key: m.key,
      value: m.value,
      headers: [],
    };
  });
  const lastOffsetDelta = records[records.length - 1].offsetDelta;
  return {
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    batchLength: size,
    partitionLeaderEpoch: -1,
    magic,
    crc: outer.crc,
    attributes: outer.attributes,
    compression: codec as Compression,
    timestampType,
    isTransactional: false,
    isControl: false,
    hasDeleteHorizon: false,
    lastOffsetDelta,
    baseTimestamp: outer.timestamp,
    maxTimestamp: outer.timestamp,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    records,
  };
}

/** Where one record batch lies in a Fetch response's bytes, and its header fields that need no decoding. */
export interface RecordBatchFrame {
  /** Where the batch starts. */
  start: number;
  /** Where it ends (exclusive). */
  end: number;
  /** 2, or 0/1 for a legacy message set entry (whose other fields are then only its offset). */
  magic: number;
  /** The offset of the first record (a legacy entry's offset). */
  baseOffset: bigint;
  /** `baseOffset + lastOffsetDelta` (a legacy entry's offset). */
  lastOffset: bigint;
  /** The leader epoch the broker stamped; -1 when absent. */
  partitionLeaderEpoch: number;
  /** Whether this is a control batch. */
  isControl: boolean;
  /** The record count of its header (1 for a legacy entry; 0 when the header says less). */
  count: number;
}

/**
 * The complete batches in `bytes`, located by their headers without decoding (or checking) their
 * records: a consumer can then decode them one at a time with {@linkcode decodeRecordBatches} on
 * `bytes.subarray(frame.start, frame.end)`. A truncated last batch is left out, as there.
 *
 * @param bytes The batches (the `records` field of a Fetch response).
 * @param options Topic/partition for errors.
 * @returns The frames, in order.
 * @throws {ProtocolError} On an unknown magic or a batch size below the minimum.
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, recordBatchFrames } from "./record_batch.ts";
 * const one = encodeRecordBatch([{ value: new Uint8Array([1]) }, { value: null }], { baseOffset: 5n });
 * const [frame] = recordBatchFrames(one);
 * console.assert(frame.end === one.length && frame.lastOffset === 6n && frame.count === 2);
 * ```
 */
export function recordBatchFrames(
  bytes: Uint8Array,
  options: Pick<DecodeRecordBatchesOptions, "topic" | "partition"> = {},
): RecordBatchFrame[] {
  const where: Where = { topic: options.topic, partition: options.partition, verifyCrc: false, maxBytes: 0 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: RecordBatchFrame[] = [];
  let pos = 0;
  while (true) {
    const end = batchEnd(bytes, view, pos, where);
    if (end < 0) break;
    const magic = bytes[pos + MAGIC_OFFSET];
    const baseOffset = view.getBigInt64(pos);
    if (magic === 2) {
      frames.push({
        start: pos,
        end,
        magic,
        baseOffset,
        lastOffset: baseOffset + BigInt(view.getInt32(pos + 23)),
        partitionLeaderEpoch: view.getInt32(pos + 12),
        isControl: (view.getInt16(pos + 21) & CONTROL_FLAG) !== 0,
        count: Math.max(0, view.getInt32(pos + 57)),
      });
    } else {
      frames.push({
        start: pos,
        end,
        magic,
        baseOffset,
        lastOffset: baseOffset,
        partitionLeaderEpoch: -1,
        isControl: false,
        count: 1,
      });
    }
    pos = end;
  }
  return frames;
}

/**
 * Where the batch starting at `pos` ends, after checking its magic and size; -1 when no
 * complete batch starts there (the input ends, or the broker cut the last batch at its size
 * limit).
 *
 * @throws {ProtocolError} On an unknown magic or a size below the minimum for its magic.
 */
function batchEnd(bytes: Uint8Array, view: DataView, pos: number, where: Where): number {
  if (bytes.length - pos < LOG_OVERHEAD) return -1;
  const length = view.getInt32(pos + 8);
  if (bytes.length - pos < MAGIC_OFFSET + 1) return -1;
  const magic = bytes[pos + MAGIC_OFFSET];
  const min = magic === 2 ? RECORD_BATCH_OVERHEAD - LOG_OVERHEAD : legacyMin(magic);
  if (magic > 2) {
    throw new ProtocolError(
      `Unknown magic ${magic} in the batch at offset ${view.getBigInt64(pos)}${at(where)}`,
    );
  }
  if (length < min) {
    throw new ProtocolError(`Record batch size ${length} is smaller than the minimum ${min}${at(where)}`);
  }
  const end = pos + LOG_OVERHEAD + length;
  return end > bytes.length ? -1 : end;
}

/**
 * Decodes every complete batch in `bytes` (the `records` field of a Fetch response, or a log
 * segment). A truncated last batch, which the broker produces when it cuts a response at its
 * size limit, is dropped, not an error: fetch again from the last offset seen. So an empty
 * result for non-empty input means the first batch did not fit.
 *
 * Magic 2 batches are decoded with every header field; legacy magic 0/1 entries become one
 * batch each (compressed wrappers with their inner messages as records). Uncompressed keys,
 * values and header values are views into `bytes`, not copies.
 *
 * Checksums: CRC-32C for magic 2 and CRC-32 (IEEE) for magic 0/1 are verified unless
 * `verifyCrc` is false.
 *
 * @param bytes The batches.
 * @param options Topic/partition for errors, the decompression limit, CRC checking.
 * @returns The batches, in order.
 * @throws {CorruptRecordError} If a checksum does not match.
 * @throws {ProtocolError} If the bytes are malformed or a batch inflates beyond the limit.
 *
 * @example
 * ```ts
 * import { decodeRecordBatches, encodeRecordBatch } from "./record_batch.ts";
 * const one = encodeRecordBatch([{ value: new Uint8Array([1]) }, { value: null }]);
 * const both = new Uint8Array([...one, ...one.subarray(0, 30)]); // second one truncated
 * const batches = decodeRecordBatches(both);
 * console.assert(batches.length === 1 && batches[0].records[1].value === null);
 * ```
 */
export function decodeRecordBatches(
  bytes: Uint8Array,
  options: DecodeRecordBatchesOptions = {},
): RecordBatch[] {
  return decodeAll(bytes, options, undefined);
}

function decodeAll(
  bytes: Uint8Array,
  options: DecodeRecordBatchesOptions,
  into: Where["into"],
): RecordBatch[] {
  const where: Where = {
    topic: options.topic,
    partition: options.partition,
    verifyCrc: options.verifyCrc ?? true,
    maxBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
    into,
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const batches: RecordBatch[] = [];
  let pos = 0;
  while (true) {
    const end = batchEnd(bytes, view, pos, where);
    if (end < 0) break;
    const magic = bytes[pos + MAGIC_OFFSET];
    batches.push(
      magic === 2 ? decodeV2(bytes, pos, end, where) : decodeLegacy(bytes, pos, end, magic, where),
    );
    pos = end;
  }
  return batches;
}

/**
 * Decodes the records of the batches in `bytes` straight into the caller's objects: `build`
 * makes each one (where {@linkcode decodeRecordBatches} makes a {@linkcode KafkaRecord} that a
 * caller wrapping records in its own type would then copy, two objects per record). The batches
 * are checked as there (checksums, bounds, the decompression limit); records of control batches
 * and records before `options.from` are left out. Legacy (magic 0/1) entries are decoded as there
 * and handed to `build` with leader epoch -1.
 *
 * @param bytes Whole batches (e.g. a slice of a Fetch response located by {@linkcode recordBatchFrames}).
 * @param build Makes a record's object.
 * @param out Where the objects are appended, in offset order.
 * @param options Topic/partition for errors, limits, and `from`: the first offset kept.
 * @returns `out`.
 * @throws {ProtocolError} On malformed input ({@linkcode CorruptRecordError} on a checksum mismatch).
 *
 * @example
 * ```ts
 * import { decodeRecordsInto, encodeRecordBatch } from "./record_batch.ts";
 * const bytes = encodeRecordBatch([{ value: new Uint8Array([1]) }, { value: new Uint8Array([2]) }], { baseOffset: 5n });
 * const offsets = decodeRecordsInto(bytes, (offset) => offset, [] as bigint[], { from: 6n });
 * console.assert(offsets.length === 1 && offsets[0] === 6n);
 * ```
 */
export function decodeRecordsInto<T>(
  bytes: Uint8Array,
  build: RecordBuilder<T>,
  out: T[],
  options: DecodeRecordBatchesOptions & { from?: bigint } = {},
): T[] {
  const from = options.from ?? -(1n << 63n);
  const into = { build: build as RecordBuilder<unknown>, out: out as unknown[], from };
  const batches = decodeAll(bytes, options, into);
  for (const b of batches) {
    if (b.magic === 2 || b.isControl) continue;
    for (const r of b.records) {
      if (r.offset >= from) out.push(build(r.offset, r.timestamp, r.key, r.value, r.headers, -1));
    }
  }
  return out;
}
