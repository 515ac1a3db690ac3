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
