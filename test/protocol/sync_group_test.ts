import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  syncGroup as codec,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from "../../protocol/apis/sync_group.ts";
import {
  assertMatchesSchema,
  assertTruncationFails,
  bytes,
  decodeAll,
  encodeRequest,
  encodeResponse,
  roundTrip,
  unknownTags,
} from "./_codec.ts";

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
