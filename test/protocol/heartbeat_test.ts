import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  heartbeat as codec,
  type HeartbeatRequest,
  type HeartbeatResponse,
} from "../../protocol/apis/heartbeat.ts";
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
