/**
 * Shared helpers of the per-API codec tests: encode, decode a whole body,
 * round trips, truncation at every length, and the schema check against
 * ../shared (callers skip it when ../shared is absent).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/errors.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { Reader, type TaggedField, Writer } from "../../protocol/primitives.ts";
import { sharedSchema } from "../_shared.ts";

/** Encodes a request body. */
export function encodeRequest<Req, Res>(c: ApiCodec<Req, Res>, req: Req, v: number): Uint8Array {
  const w = new Writer();
  c.encodeRequest(w, req, v);
  return w.finish().slice();
}

/** Encodes a response body. */
export function encodeResponse<Req, Res>(c: ApiCodec<Req, Res>, res: Res, v: number): Uint8Array {
  const w = new Writer();
  c.encodeResponse(w, res, v);
  return w.finish().slice();
}

/** Decodes a whole body; trailing bytes fail. */
export function decodeAll<T>(bytes: Uint8Array, read: (r: Reader) => T): T {
  const r = new Reader(bytes);
  const out = read(r);
  r.done();
  return out;
}

/** Every strict prefix of `bytes` fails with ProtocolError. */
export function assertEveryPrefixFails(bytes: Uint8Array, read: (r: Reader) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => read(new Reader(bytes.subarray(0, n))), ProtocolError, `prefix of ${n} bytes`);
  }
}

/** Checks key, versions (the request's unstable top excluded) and flexibility against the schema files. */
export function assertMatchesSchema<Req, Res>(c: ApiCodec<Req, Res>, name: string): void {
  const req = sharedSchema(`${name}Request.json`);
  for (const s of [req, sharedSchema(`${name}Response.json`)]) {
    assert.equal(s.apiKey, c.apiKey);
    const [lo, hi] = String(s.validVersions).split("-").map(Number);
    assert.equal(c.minVersion, lo);
    assert.equal(c.maxVersion, req.latestVersionUnstable === true ? hi - 1 : hi);
    assert.equal(
      c.flexibleFrom,
      s.flexibleVersions === "none" ? Infinity : parseInt(String(s.flexibleVersions)),
    );
  }
}

/** Request and response survive encode -> decode unchanged. */
export function roundTrip<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assert.deepStrictEqual(decodeAll(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v)), req);
  assert.deepStrictEqual(decodeAll(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v)), res);
}

/** Truncated requests and responses fail with ProtocolError. */
export function assertTruncationFails<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assertEveryPrefixFails(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v));
  assertEveryPrefixFails(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v));
}

/** Unknown tagged fields that every flexible version must keep. */
export const unknownTags: TaggedField[] = [{ tag: 7, data: new Uint8Array([1, 2, 3]) }, {
  tag: 300,
  data: new Uint8Array(0),
}];
/** Bytes from numbers. */
export const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Which half of an API. */
export type Kind = "Request" | "Response";

/** Encode/decode helpers bound to one codec, with `kind` choosing request or response. */
export function codecHelpers(codec: ApiCodec<unknown, unknown>): {
  encode(kind: Kind, value: unknown, version: number): Uint8Array;
  decode(kind: Kind, bytes: Uint8Array, version: number): unknown;
  roundTrip(kind: Kind, value: unknown, version: number): Uint8Array;
  assertTruncationFails(kind: Kind, bytes: Uint8Array, version: number): void;
} {
  const encode = (kind: Kind, value: unknown, version: number): Uint8Array => {
    const w = new Writer();
    if (kind === "Request") codec.encodeRequest(w, value, version);
    else codec.encodeResponse(w, value, version);
    return w.finish().slice();
  };
  const decode = (kind: Kind, bytes: Uint8Array, version: number): unknown => {
    const r = new Reader(bytes);
    const out = kind === "Request" ? codec.decodeRequest(r, version) : codec.decodeResponse(r, version);
    r.done();
    return out;
  };
  return {
    encode,
    decode,
    /** encode -> decode equals the input, and re-encoding the result gives the same bytes. */
    roundTrip(kind, value, version) {
      const bytes = encode(kind, value, version);
      const back = decode(kind, bytes, version);
      assert.deepStrictEqual(back, value, `${kind} v${version}`);
      assert.deepStrictEqual(encode(kind, back, version), bytes, `${kind} v${version} re-encoded`);
      return bytes;
    },
    assertTruncationFails(kind, bytes, version) {
      for (let n = 0; n < bytes.length; n++) {
        assert.throws(
          () => decode(kind, bytes.subarray(0, n), version),
          ProtocolError,
          `${kind} v${version} cut at ${n}`,
        );
      }
    },
  };
}
