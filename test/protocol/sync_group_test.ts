import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/errors.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { Reader, Writer } from "../../protocol/primitives.ts";
import { HAVE_SHARED, sharedSchema } from "../_shared.ts";
import {
  syncGroup as codec,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from "../../protocol/apis/sync_group.ts";

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

function request(v: number): SyncGroupRequest {
  return {
    groupId: "group-1",
    generationId: 7,
    memberId: "member-1",
    groupInstanceId: v >= 3 ? "instance-1" : null,
    protocolType: v >= 5 ? "consumer" : null,
    protocolName: v >= 5 ? "range" : null,
    assignments: [
      { memberId: "member-1", assignment: bytes(0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff) },
      { memberId: "member-2", assignment: new Uint8Array(0) },
    ],
  };
}

function response(v: number): SyncGroupResponse {
  return {
    throttleTimeMs: v >= 1 ? 5 : 0,
    errorCode: 0,
    protocolType: v >= 5 ? "consumer" : null,
    protocolName: v >= 5 ? "range" : null,
    assignment: bytes(4, 5, 6),
  };
}

Deno.test("syncGroup codec", async (t) => {
  await t.step("declares key 14, versions 0-5, flexible from 4", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [14, "SyncGroup", 0, 5, 4],
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

  await t.step("keeps unknown tagged fields at v4, including in assignments", () => {
    const req = request(4);
    req.taggedFields = unknownTags;
    req.assignments[1].taggedFields = unknownTags;
    roundTrip(codec, 4, req, { ...response(4), taggedFields: unknownTags });
  });

  await t.step("refuses to drop groupInstanceId before v3 but drops ignorable protocol fields", () => {
    assert.throws(() => encodeRequest(codec, { ...request(2), groupInstanceId: "i" }, 2), RangeError);
    const req = { ...request(4), protocolType: "consumer", protocolName: "range" };
    assert.deepStrictEqual(encodeRequest(codec, req, 4), encodeRequest(codec, request(4), 4));
  });

  await t.step("decodes the assignment as a view into the input", () => {
    const encoded = encodeResponse(codec, response(0), 0);
    assert.strictEqual(
      decodeAll(encoded, (r) => codec.decodeResponse(r, 0)).assignment.buffer,
      encoded.buffer,
    );
  });

  await t.step("matches hand-derived bytes", () => {
    const res = {
      throttleTimeMs: 0,
      errorCode: 0,
      protocolType: null,
      protocolName: null,
      assignment: bytes(1, 2),
    };
    // v0: int16 error, bytes [1, 2].
    assert.deepStrictEqual(encodeResponse(codec, res, 0), bytes(0, 0, 0, 0, 0, 2, 1, 2));
    // v4: int32 throttle, int16 error, compact bytes [1, 2], no tags.
    const golden = bytes(0, 0, 0, 0, 0, 0, 3, 1, 2, 0);
    assert.deepStrictEqual(encodeResponse(codec, res, 4), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeResponse(r, 4)), res);
    // v5 request with no assignments: compact strings, null instance/type/name, empty compact array, no tags.
    const req = { groupId: "g", generationId: 1, memberId: "m", assignments: [] };
    assert.deepStrictEqual(encodeRequest(codec, req, 5), bytes(2, 0x67, 0, 0, 0, 1, 2, 0x6d, 0, 0, 0, 1, 0));
  });
});

Deno.test({
  name: "syncGroup codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "SyncGroup"),
});
