import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  AUTHORIZED_OPERATIONS_OMITTED,
  describeGroups as codec,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
} from "../../protocol/apis/describe_groups.ts";
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

function request(v: number): DescribeGroupsRequest {
  return { groups: ["group-1", "group-2"], includeAuthorizedOperations: v >= 3 };
}

function response(v: number): DescribeGroupsResponse {
  return {
    throttleTimeMs: v >= 1 ? 4 : 0,
    groups: [
      {
        errorCode: 0,
        errorMessage: null,
        groupId: "group-1",
        groupState: "Stable",
        protocolType: "consumer",
        protocolData: "range",
        members: [
          {
            memberId: "member-1",
            groupInstanceId: v >= 4 ? "instance-1" : null,
            clientId: "client-1",
            clientHost: "/127.0.0.1",
            memberMetadata: bytes(1, 2),
            memberAssignment: bytes(3),
          },
        ],
        authorizedOperations: v >= 3 ? 0b1101000 : AUTHORIZED_OPERATIONS_OMITTED,
      },
      {
        errorCode: 69,
        errorMessage: v >= 6 ? "Group group-2 not found." : null,
        groupId: "group-2",
        groupState: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      },
    ],
  };
}

Deno.test("describeGroups codec", async (t) => {
  await t.step("declares key 15, versions 0-6, flexible from 5", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [15, "DescribeGroups", 0, 6, 5],
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

  await t.step("keeps unknown tagged fields at v5, including in groups and members", () => {
    const res = response(5);
    res.taggedFields = unknownTags;
    res.groups[1].taggedFields = unknownTags;
    res.groups[0].members[0].taggedFields = unknownTags;
    roundTrip(codec, 5, { ...request(5), taggedFields: unknownTags }, res);
  });

  await t.step("refuses to drop includeAuthorizedOperations before v3", () => {
    assert.throws(
      () => encodeRequest(codec, { groups: [], includeAuthorizedOperations: true }, 2),
      RangeError,
    );
  });

  await t.step("matches hand-derived bytes", () => {
    // v0: array of one string "g".
    assert.deepStrictEqual(encodeRequest(codec, { groups: ["g"] }, 0), bytes(0, 0, 0, 1, 0, 1, 0x67));
    // v5: compact array of one compact "g", bool true, no tags.
    const golden = bytes(2, 2, 0x67, 1, 0);
    assert.deepStrictEqual(
      encodeRequest(codec, { groups: ["g"], includeAuthorizedOperations: true }, 5),
      golden,
    );
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeRequest(r, 5)), {
      groups: ["g"],
      includeAuthorizedOperations: true,
    });
    // v0 response: array of one group {int16 0, "g", "", "", "", no members}.
    const res = {
      throttleTimeMs: 0,
      groups: [{
        errorCode: 0,
        errorMessage: null,
        groupId: "g",
        groupState: "",
        protocolType: "",
        protocolData: "",
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      }],
    };
    const goldenRes = bytes(0, 0, 0, 1, 0, 0, 0, 1, 0x67, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    assert.deepStrictEqual(encodeResponse(codec, res, 0), goldenRes);
    assert.deepStrictEqual(decodeAll(goldenRes, (r) => codec.decodeResponse(r, 0)), res);
  });
});

Deno.test({
  name: "describeGroups codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "DescribeGroups"),
});
