import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  joinGroup as codec,
  type JoinGroupRequest,
  type JoinGroupResponse,
} from "../../protocol/apis/join_group.ts";
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

function request(v: number): JoinGroupRequest {
  return {
    groupId: "group-1",
    sessionTimeoutMs: 45000,
    rebalanceTimeoutMs: v >= 1 ? 300000 : -1,
    memberId: "member-1",
    groupInstanceId: v >= 5 ? "instance-1" : null,
    protocolType: "consumer",
    protocols: [
      { name: "range", metadata: bytes(0, 3, 0, 0, 0, 1) },
      { name: "roundrobin", metadata: new Uint8Array(0) },
    ],
    reason: v >= 8 ? "rebalance needed" : null,
  };
}

function response(v: number): JoinGroupResponse {
  return {
    throttleTimeMs: v >= 2 ? 10 : 0,
    errorCode: 0,
    generationId: 7,
    protocolType: v >= 7 ? "consumer" : null,
    protocolName: "range",
    leader: "member-1",
    skipAssignment: v >= 9,
    memberId: "member-2",
    members: [
      { memberId: "member-1", groupInstanceId: v >= 5 ? "instance-1" : null, metadata: bytes(9, 8, 7) },
      { memberId: "member-2", groupInstanceId: null, metadata: new Uint8Array(0) },
    ],
  };
}

Deno.test("joinGroup codec", async (t) => {
  await t.step("declares key 11, versions 0-9, flexible from 6", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [11, "JoinGroup", 0, 9, 6],
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

  await t.step("keeps unknown tagged fields at v6, including in protocols and members", () => {
    const req = request(6);
    req.taggedFields = unknownTags;
    req.protocols[0].taggedFields = unknownTags;
    const res = response(6);
    res.taggedFields = unknownTags;
    res.members[1].taggedFields = unknownTags;
    roundTrip(codec, 6, req, res);
  });

  await t.step("protocolName is nullable from v7 only", () => {
    roundTrip(codec, 7, request(7), { ...response(7), protocolName: null });
    assert.throws(() => encodeResponse(codec, { ...response(6), protocolName: null }, 6), RangeError);
  });

  await t.step("refuses to drop groupInstanceId before v5", () => {
    assert.throws(() => encodeRequest(codec, { ...request(4), groupInstanceId: "i" }, 4), RangeError);
  });

  await t.step("decodes metadata as a view into the input", () => {
    const encoded = encodeResponse(codec, response(5), 5);
    const res = decodeAll(encoded, (r) => codec.decodeResponse(r, 5));
    assert.strictEqual(res.members[0].metadata.buffer, encoded.buffer);
  });

  await t.step("matches hand-derived bytes", () => {
    const req: JoinGroupRequest = {
      groupId: "g",
      sessionTimeoutMs: 10,
      memberId: "",
      protocolType: "c",
      protocols: [{ name: "r", metadata: bytes(1) }],
    };
    // v0: string "g", int32 10, string "", string "c", array of one {string "r", bytes [1]}.
    const golden = bytes(0, 1, 0x67, 0, 0, 0, 10, 0, 0, 0, 1, 0x63, 0, 0, 0, 1, 0, 1, 0x72, 0, 0, 0, 1, 1);
    assert.deepStrictEqual(encodeRequest(codec, req, 0), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeRequest(r, 0)), {
      ...req,
      rebalanceTimeoutMs: -1,
      groupInstanceId: null,
      reason: null,
    });
    // v1 inserts int32 rebalance timeout (default -1) after the session timeout.
    assert.deepStrictEqual(
      encodeRequest(codec, req, 1),
      bytes(0, 1, 0x67, 0, 0, 0, 10, 0xff, 0xff, 0xff, 0xff, ...golden.subarray(7)),
    );
  });
});

Deno.test({
  name: "joinGroup codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "JoinGroup"),
});
