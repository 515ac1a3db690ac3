import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/errors.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { Reader, Writer } from "../../protocol/primitives.ts";
import { HAVE_SHARED, sharedSchema } from "../_shared.ts";
import {
  heartbeat as codec,
  type HeartbeatRequest,
  type HeartbeatResponse,
} from "../../protocol/apis/heartbeat.ts";

function encodeRequest<Req, Res>(c: ApiCodec<Req, Res>, req: Req, v: number): Uint8Array {
  const w = new Writer();
  c.encodeRequest(w, req, v);
  return w.finish().slice();
}

function encodeResponse<Req, Res>(c: ApiCodec<Req, Res>, res: Res, v: number): Uint8Array {
  const w = new Writer();
  c.encodeResponse(w, res, v);
  return w.finish().slice();
}

function decodeAll<T>(bytes: Uint8Array, read: (r: Reader) => T): T {
  const r = new Reader(bytes);
  const out = read(r);
  r.done();
  return out;
}

function assertEveryPrefixFails(bytes: Uint8Array, read: (r: Reader) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => read(new Reader(bytes.subarray(0, n))), ProtocolError, `prefix of ${n} bytes`);
  }
}

/** Checks key, versions (the request's unstable top excluded) and flexibility against the schema files. */
function assertMatchesSchema<Req, Res>(c: ApiCodec<Req, Res>, name: string): void {
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

function roundTrip<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assert.deepStrictEqual(decodeAll(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v)), req);
  assert.deepStrictEqual(decodeAll(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v)), res);
}

function assertTruncationFails<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assertEveryPrefixFails(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v));
  assertEveryPrefixFails(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v));
}

const unknownTags = [{ tag: 7, data: new Uint8Array([1, 2, 3]) }, { tag: 300, data: new Uint8Array(0) }];
const bytes = (...b: number[]) => new Uint8Array(b);

function request(v: number): HeartbeatRequest {
  return {
    groupId: "group-1",
    generationId: 42,
    memberId: "member-1",
    groupInstanceId: v >= 3 ? "instance-1" : null,
  };
}

function response(v: number): HeartbeatResponse {
  return { throttleTimeMs: v >= 1 ? 250 : 0, errorCode: 27 };
}

Deno.test("heartbeat codec", async (t) => {
  await t.step("declares key 12, versions 0-4, flexible from 4", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [12, "Heartbeat", 0, 4, 4],
    );
  });

  for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
    await t.step(
      `round-trips a full request and response at v${v}`,
      () => roundTrip(codec, v, request(v), response(v)),
    );
    await t.step(
      `rejects a truncated body at v${v}`,
      () => assertTruncationFails(codec, v, request(v), response(v)),
    );
  }

  await t.step("keeps unknown tagged fields at v4", () => {
    roundTrip(codec, 4, { ...request(4), taggedFields: unknownTags }, {
      ...response(4),
      taggedFields: unknownTags,
    });
  });

  await t.step("fills defaults for fields an older version lacks and refuses to drop groupInstanceId", () => {
    const req = encodeRequest(codec, { groupId: "g", generationId: 1, memberId: "m" }, 0);
    assert.strictEqual(decodeAll(req, (r) => codec.decodeRequest(r, 0)).groupInstanceId, null);
    assert.strictEqual(decodeAll(bytes(0, 7), (r) => codec.decodeResponse(r, 0)).throttleTimeMs, 0);
    assert.throws(
      () => encodeRequest(codec, { groupId: "g", generationId: 1, memberId: "m", groupInstanceId: "i" }, 2),
      RangeError,
    );
  });

  await t.step("matches hand-derived bytes", () => {
    const req = { groupId: "g", generationId: 1, memberId: "m" };
    // v0: string "g", int32 1, string "m".
    assert.deepStrictEqual(encodeRequest(codec, req, 0), bytes(0, 1, 0x67, 0, 0, 0, 1, 0, 1, 0x6d));
    // v4: compact "g", int32 1, compact "m", null compact string, no tags.
    assert.deepStrictEqual(encodeRequest(codec, req, 4), bytes(2, 0x67, 0, 0, 0, 1, 2, 0x6d, 0, 0));
    // v1 response: int32 throttle 5, int16 error 25.
    assert.deepStrictEqual(
      encodeResponse(codec, { throttleTimeMs: 5, errorCode: 25 }, 1),
      bytes(0, 0, 0, 5, 0, 25),
    );
  });
});

Deno.test({
  name: "heartbeat codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "Heartbeat"),
});
