import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  leaveGroup as codec,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
} from "../../protocol/apis/leave_group.ts";
import {
  assertMatchesSchema,
  assertTruncationFails,
  bytes,
  decodeAll,
  encodeRequest,
  roundTrip,
  unknownTags,
} from "./_codec.ts";

function request(v: number): LeaveGroupRequest {
  if (v <= 2) return { groupId: "group-1", memberId: "member-1", members: [] };
  return {
    groupId: "group-1",
    memberId: "",
    members: [
      { memberId: "member-1", groupInstanceId: "instance-1", reason: v >= 5 ? "shutting down" : null },
      { memberId: "", groupInstanceId: "instance-2", reason: null },
    ],
  };
}

function response(v: number): LeaveGroupResponse {
  return {
    throttleTimeMs: v >= 1 ? 3 : 0,
    errorCode: 0,
    members: v >= 3
      ? [
        { memberId: "member-1", groupInstanceId: "instance-1", errorCode: 0 },
        { memberId: "", groupInstanceId: null, errorCode: 25 },
      ]
      : [],
  };
}

Deno.test("leaveGroup codec", async (t) => {
  await t.step("declares key 13, versions 0-5, flexible from 4", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [13, "LeaveGroup", 0, 5, 4],
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

  await t.step("keeps unknown tagged fields at v5, including in members", () => {
    const req = request(5);
    req.taggedFields = unknownTags;
    req.members![0].taggedFields = unknownTags;
    const res = response(5);
    res.taggedFields = unknownTags;
    res.members[1].taggedFields = unknownTags;
    roundTrip(codec, 5, req, res);
  });

  await t.step("refuses to send the wrong shape for the version", () => {
    assert.throws(() => encodeRequest(codec, { groupId: "g", memberId: "m" }, 3), RangeError);
    assert.throws(() => encodeRequest(codec, { groupId: "g", members: [{ memberId: "m" }] }, 2), RangeError);
  });

  await t.step("matches hand-derived bytes", () => {
    // v0: string "g", string "m".
    assert.deepStrictEqual(
      encodeRequest(codec, { groupId: "g", memberId: "m" }, 0),
      bytes(0, 1, 0x67, 0, 1, 0x6d),
    );
    // v3: string "g", array of one {string "m", null string}.
    const req = { groupId: "g", members: [{ memberId: "m" }] };
    const golden = bytes(0, 1, 0x67, 0, 0, 0, 1, 0, 1, 0x6d, 0xff, 0xff);
    assert.deepStrictEqual(encodeRequest(codec, req, 3), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeRequest(r, 3)), {
      groupId: "g",
      memberId: "",
      members: [{ memberId: "m", groupInstanceId: null, reason: null }],
    });
  });
});

Deno.test({
  name: "leaveGroup codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "LeaveGroup"),
});
