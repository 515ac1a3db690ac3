import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  findCoordinator as codec,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from "../../protocol/apis/find_coordinator.ts";
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

function request(v: number): FindCoordinatorRequest {
  return {
    key: v <= 3 ? "group-1" : "",
    keyType: v >= 1 ? 1 : 0,
    coordinatorKeys: v >= 4 ? ["txn-a", "txn-b"] : [],
  };
}

function response(v: number): FindCoordinatorResponse {
  if (v <= 3) {
    return {
      throttleTimeMs: v >= 1 ? 100 : 0,
      errorCode: 15,
      errorMessage: v >= 1 ? "The coordinator is not available." : null,
      nodeId: 3,
      host: "broker-3.example",
      port: 9092,
      coordinators: [],
    };
  }
  return {
    throttleTimeMs: 100,
    errorCode: 0,
    errorMessage: null,
    nodeId: 0,
    host: "",
    port: 0,
    coordinators: [
      { key: "txn-a", nodeId: 1, host: "broker-1", port: 9093, errorCode: 0, errorMessage: null },
      { key: "txn-b", nodeId: -1, host: "", port: -1, errorCode: 15, errorMessage: "not available" },
    ],
  };
}

Deno.test("findCoordinator codec", async (t) => {
  await t.step("declares key 10, versions 0-6, flexible from 3", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [10, "FindCoordinator", 0, 6, 3],
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

  await t.step("keeps unknown tagged fields at v3 and v6, including in coordinators", () => {
    roundTrip(codec, 3, { ...request(3), taggedFields: unknownTags }, {
      ...response(3),
      taggedFields: unknownTags,
    });
    const res = response(6);
    res.taggedFields = unknownTags;
    res.coordinators[1].taggedFields = unknownTags;
    roundTrip(codec, 6, { ...request(6), taggedFields: unknownTags }, res);
  });

  await t.step("refuses to drop a non-default field the version lacks", () => {
    assert.throws(() => encodeRequest(codec, { key: "g", keyType: 1 }, 0), RangeError);
    assert.throws(() => encodeRequest(codec, { key: "g" }, 4), RangeError);
    assert.throws(() => encodeRequest(codec, { key: "g", coordinatorKeys: ["g"] }, 3), RangeError);
    // Defaults are fine to drop.
    assert.deepStrictEqual(encodeRequest(codec, { key: "g", keyType: 0 }, 0), bytes(0, 1, 0x67));
  });

  await t.step("matches hand-derived bytes", () => {
    // v1: string "g", int8 key type 1.
    assert.deepStrictEqual(encodeRequest(codec, { key: "g", keyType: 1 }, 1), bytes(0, 1, 0x67, 1));
    // v4: int8 0, compact array of one compact string "g", no tags.
    assert.deepStrictEqual(encodeRequest(codec, { coordinatorKeys: ["g"] }, 4), bytes(0, 2, 2, 0x67, 0));
    // v0 response: int16 error 0, int32 node 1, string "h", int32 port 9092.
    const res = { ...response(0), errorCode: 0, nodeId: 1, host: "h", port: 9092 };
    const golden = bytes(0, 0, 0, 0, 0, 1, 0, 1, 0x68, 0, 0, 0x23, 0x84);
    assert.deepStrictEqual(encodeResponse(codec, res, 0), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeResponse(r, 0)), res);
  });
});

Deno.test({
  name: "findCoordinator codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "FindCoordinator"),
});
