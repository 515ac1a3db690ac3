/**
 * Size-prefixed frames, request and response headers, and the codec contract
 * every API file implements.
 *
 * Header rules (Kafka's `RequestHeader.json` / `ResponseHeader.json`): request
 * header v2 when the request version is flexible, else v1; response header v1
 * when flexible, else v0, except ApiVersions responses, which always use v0
 * (KIP-511). In request header v2 the client id stays a classic nullable string.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { Reader, type TaggedField, Writer } from "./primitives.ts";

/**
 * One Kafka API: its key, the versions we speak, where flexible versions begin,
 * and the four directions of encoding. The request/response decoders and
 * response encoders exist for round-trip tests and scripted fake brokers.
 */
export interface ApiCodec<Req, Res> {
  /** The API key. */
  readonly apiKey: number;
  /** The API's name, as in the Kafka message schemas. */
  readonly name: string;
  /** The lowest version we speak. */
  readonly minVersion: number;
  /** The highest version we speak. */
  readonly maxVersion: number;
  /** The first flexible version (tagged fields, compact types); Infinity if none. */
  readonly flexibleFrom: number;
  /** Writes a request body. */
  encodeRequest(w: Writer, req: Req, version: number): void;
  /** Reads a request body. */
  decodeRequest(r: Reader, version: number): Req;
  /** Writes a response body. */
  encodeResponse(w: Writer, res: Res, version: number): void;
  /** Reads a response body. */
  decodeResponse(r: Reader, version: number): Res;
}

/** The request type of a codec. */
export type RequestOf<C> = C extends ApiCodec<infer Req, unknown> ? Req : never;
/** The response type of a codec. */
export type ResponseOf<C> = C extends ApiCodec<unknown, infer Res> ? Res : never;

/** Kafka's API key for ApiVersions, whose responses always use header v0. */
export const API_VERSIONS_KEY = 18;

/** The default largest frame we accept: 100 MiB (Kafka's `socket.request.max.bytes`). */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

/** A decoded request header. */
export interface RequestHeader {
  /** The API key. */
  apiKey: number;
  /** The API version. */
  apiVersion: number;
  /** The correlation id. */
  correlationId: number;
  /** The client id. */
  clientId: string | null;
  /** Unknown tagged fields (header v2). */
  taggedFields?: TaggedField[];
}

function checkVersion(codec: ApiCodec<unknown, unknown>, version: number): void {
  if (!Number.isInteger(version) || version < codec.minVersion || version > codec.maxVersion) {
    throw new ProtocolError(
      `${codec.name} version ${version} is outside the supported range ${codec.minVersion}-${codec.maxVersion}`,
    );
  }
}

/** Whether `version` of `codec` uses the flexible encoding. */
export function isFlexible(codec: ApiCodec<unknown, unknown>, version: number): boolean {
  return version >= codec.flexibleFrom;
}

/**
 * Encodes a complete request frame: int32 size, header, body.
 *
 * @example
 * ```ts
 * import { apiVersions, encodeRequestFrame } from "./mod.ts";
 * const frame = encodeRequestFrame(apiVersions, 3, { correlationId: 1, clientId: "app" }, {
 *   clientSoftwareName: "kafka-deno",
 *   clientSoftwareVersion: "0.1.0",
 * });
 * console.assert(frame.length > 4);
 * ```
 */
export function encodeRequestFrame<Req, Res>(
  codec: ApiCodec<Req, Res>,
  version: number,
  header: { correlationId: number; clientId?: string | null },
  request: Req,
  writer: Writer = new Writer(),
): Uint8Array {
  return writeRequestFrame(codec, version, header, request, writer).finish();
}

/**
 * Writes a complete request frame into `writer` and returns it; with a Writer
 * that references large payloads, read the frame with `finishChunks()`.
 */
export function writeRequestFrame<Req, Res>(
  codec: ApiCodec<Req, Res>,
  version: number,
  header: { correlationId: number; clientId?: string | null },
  request: Req,
  writer: Writer,
): Writer {
  checkVersion(codec as ApiCodec<unknown, unknown>, version);
  const w = writer.reset();
  const size = w.reserveInt32();
  w.int16(codec.apiKey).int16(version).int32(header.correlationId);
  w.nullableString(header.clientId ?? null);
  if (isFlexible(codec as ApiCodec<unknown, unknown>, version)) w.taggedFields();
  codec.encodeRequest(w, request, version);
  w.patchInt32(size, w.length - 4);
  return w;
}

/** Reads the request header at the start of a frame body (without the size). */
export function decodeRequestHeader(
  r: Reader,
  flexible: (apiKey: number, version: number) => boolean,
): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  const header: RequestHeader = { apiKey, apiVersion, correlationId, clientId };
  if (flexible(apiKey, apiVersion)) {
    const tags = r.taggedFields();
    if (tags) header.taggedFields = tags;
  }
  return header;
}

/** Encodes a complete response frame: int32 size, header, body. */
export function encodeResponseFrame<Req, Res>(
  codec: ApiCodec<Req, Res>,
  version: number,
  correlationId: number,
  response: Res,
): Uint8Array {
  checkVersion(codec as ApiCodec<unknown, unknown>, version);
  const w = new Writer();
  const size = w.reserveInt32();
  w.int32(correlationId);
  if (codec.apiKey !== API_VERSIONS_KEY && isFlexible(codec as ApiCodec<unknown, unknown>, version)) {
    w.taggedFields();
  }
  codec.encodeResponse(w, response, version);
  w.patchInt32(size, w.length - 4);
  return w.finish();
}

/** Reads just the correlation id of a response frame body (the size already stripped). */
export function peekCorrelationId(frame: Uint8Array): number {
  if (frame.length < 4) {
    throw new ProtocolError(`Response frame of ${frame.length} bytes has no correlation id`);
  }
  return new DataView(frame.buffer, frame.byteOffset, 4).getInt32(0);
}

/**
 * Decodes a response frame body (the size already stripped) whose correlation
 * id the caller has matched. The whole frame must be consumed.
 */
export function decodeResponseFrame<Req, Res>(
  codec: ApiCodec<Req, Res>,
  version: number,
  frame: Uint8Array,
): Res {
  checkVersion(codec as ApiCodec<unknown, unknown>, version);
  const r = new Reader(frame);
  r.int32();
  if (codec.apiKey !== API_VERSIONS_KEY && isFlexible(codec as ApiCodec<unknown, unknown>, version)) {
    r.taggedFields();
  }
  const res = codec.decodeResponse(r, version);
  r.done(`${codec.name} v${version} response`);
  return res;
}

/**
 * Splits a byte stream into frames: keeps leftover bytes across chunks, so
 * frames split over many chunks or several frames in one chunk both work. A
 * length prefix that is negative or above `maxFrameBytes` is refused before
 * anything is allocated.
 *
 * @example
 * ```ts
 * import { FrameSplitter } from "./framing.ts";
 * const s = new FrameSplitter();
 * const frames = [...s.push(new Uint8Array([0, 0, 0, 1, 42, 0, 0]))];
 * console.assert(frames.length === 1 && frames[0][0] === 42 && s.buffered === 2);
 * ```
 */
export class FrameSplitter {
  readonly #max: number;
  #pending: Uint8Array = new Uint8Array(0);
  #pendingLen = 0;

  /**
   * Creates a splitter.
   *
   * @param maxFrameBytes The largest frame body accepted.
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get buffered(): number {
    return this.#pendingLen;
  }

  /**
   * Feeds a chunk; yields every complete frame body (without its size). A
   * frame's bytes are a view that stays valid after later pushes.
   */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let data: Uint8Array;
    let grown: Uint8Array | null = null;
    if (this.#pendingLen === 0) {
      data = chunk;
    } else {
      const need = this.#pendingLen + chunk.length;
      if (need > this.#pending.length) {
        const next = new Uint8Array(Math.max(need, this.#pending.length * 2));
        next.set(this.#pending.subarray(0, this.#pendingLen));
        this.#pending = next;
      }
      this.#pending.set(chunk, this.#pendingLen);
      grown = this.#pending;
      data = grown.subarray(0, need);
      // The pending buffer is handed out as frames below; start a fresh one next time.
      this.#pending = new Uint8Array(0);
      this.#pendingLen = 0;
    }
    let pos = 0;
    while (data.length - pos >= 4) {
      const size = (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3];
      if (size < 0 || size > this.#max) {
        throw new ProtocolError(`Frame size ${size} is outside 0..${this.#max}`);
      }
      if (data.length - pos - 4 < size) break;
      yield data.subarray(pos + 4, pos + 4 + size);
      pos += 4 + size;
    }
    const rest = data.length - pos;
    if (rest > 0) {
      // Size the buffer for the whole frame when its length is known (validated above),
      // so a large frame arriving in small chunks is copied once, not once per chunk.
      const frameLen = rest >= 4
        ? 4 + ((data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3])
        : 0;
      if (pos === 0 && grown !== null && grown.length >= frameLen) {
        // Still filling the buffer sized for this frame and nothing was handed out of it:
        // keep appending in place instead of copying the partial frame once per chunk.
        this.#pending = grown;
        this.#pendingLen = rest;
        return;
      }
      const keep = new Uint8Array(Math.max(rest, frameLen, 64 * 1024));
      keep.set(data.subarray(pos));
      this.#pending = keep;
      this.#pendingLen = rest;
    }
  }
}

/** The reusable buffer of a {@linkcode FrameReader}. */
const FRAME_READER_SCRATCH = 64 * 1024;

/**
 * Assembles frames from a byte stream read into buffers it hands out, so that reading allocates
 * nothing but the frames themselves: {@linkcode FrameReader.target} says where the next read
 * goes (a reused 64 KiB buffer, or the rest of a frame larger than what has arrived, sized from
 * its length prefix), {@linkcode FrameReader.commit} takes the count read and yields the frames
 * completed. Frames that arrived whole in the reused buffer are copied out; a frame that did not
 * is read straight into its own buffer. A length prefix that is negative or above
 * `maxFrameBytes` is refused before anything is allocated.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./framing.ts";
 * const r = new FrameReader();
 * const bytes = new Uint8Array([0, 0, 0, 1, 42, 0, 0, 0, 3, 1]);
 * r.target().set(bytes);
 * const frames = [...r.commit(bytes.length)];
 * console.assert(frames.length === 1 && frames[0][0] === 42 && r.target().length === 2);
 * ```
 */
export class FrameReader {
  readonly #max: number;
  readonly #scratch = new Uint8Array(FRAME_READER_SCRATCH);
  #start = 0;
  #end = 0;
  /** The frame being read into its own buffer, and how much of it has arrived. */
  #frame: Uint8Array | null = null;
  #filled = 0;

  /**
   * Creates a reader.
   *
   * @param maxFrameBytes The largest frame body accepted.
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes;
  }

  /** Where the next read goes (never empty); pass the count read to {@linkcode FrameReader.commit}. */
  target(): Uint8Array {
    if (this.#frame !== null) return this.#frame.subarray(this.#filled);
    return this.#scratch.subarray(this.#end);
  }

  /**
   * Takes `n` bytes just read into {@linkcode FrameReader.target}; yields every frame body
   * completed (without its size), each in a buffer of its own.
   *
   * @param n The bytes read.
   * @throws {ProtocolError} On a length prefix outside 0..maxFrameBytes.
   */
  *commit(n: number): Generator<Uint8Array> {
    const frame = this.#frame;
    if (frame !== null) {
      this.#filled += n;
      if (this.#filled < frame.length) return;
      this.#frame = null;
      yield frame;
      return;
    }
    const s = this.#scratch;
    this.#end += n;
    while (this.#end - this.#start >= 4) {
      const at = this.#start;
      const size = (s[at] << 24) | (s[at + 1] << 16) | (s[at + 2] << 8) | s[at + 3];
      if (size < 0 || size > this.#max) {
        throw new ProtocolError(`Frame size ${size} is outside 0..${this.#max}`);
      }
      const have = this.#end - at - 4;
      if (have >= size) {
        this.#start = at + 4 + size;
        yield s.slice(at + 4, at + 4 + size);
        continue;
      }
      // The rest of this frame goes straight into a buffer of its own.
      const f = new Uint8Array(size);
      f.set(s.subarray(at + 4, this.#end));
      this.#start = this.#end = 0;
      this.#frame = f;
      this.#filled = have;
      return;
    }
    // Fewer than 4 bytes (part of a length prefix) are left: move them to the front.
    const rest = this.#end - this.#start;
    if (rest > 0 && this.#start > 0) s.copyWithin(0, this.#start, this.#end);
    this.#start = 0;
    this.#end = rest;
  }
}
