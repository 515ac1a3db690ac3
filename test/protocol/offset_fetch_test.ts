import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import {
  offsetFetch as codec,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type OffsetFetchResponseTopic,
} from "../../protocol/apis/offset_fetch.ts";
import {
  assertMatchesSchema,
  assertTruncationFails,
  bytes,
  decodeAll,
  encodeRequest,
  roundTrip,
  unknownTags,
} from "./_codec.ts";

function request(v: number): OffsetFetchRequest {
  if (v <= 7) {
    return {
      groupId: "group-1",
      topics: [{ name: "orders", partitionIndexes: [0, 1, 2] }, { name: "payments", partitionIndexes: [] }],
      groups: [],
      requireStable: v >= 7,
    };
  }
  return {
    groupId: "",
    topics: [],
    groups: [
      {
        groupId: "group-1",
        memberId: v >= 9 ? "member-1" : null,
        memberEpoch: v >= 9 ? 4 : -1,
        topics: [{ name: "orders", topicId: ZERO_UUID, partitionIndexes: [0, 1] }],
      },
      { groupId: "group-2", memberId: null, memberEpoch: -1, topics: null },
    ],
    requireStable: true,
  };
}

function topics(v: number): OffsetFetchResponseTopic[] {
  return [{
    name: "orders",
    partitions: [
      {
        partitionIndex: 0,
        committedOffset: 100n,
        committedLeaderEpoch: v >= 5 ? 3 : -1,
        metadata: "m",
        errorCode: 0,
      },
      { partitionIndex: 1, committedOffset: -1n, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
    ],
  }];
}

function response(v: number): OffsetFetchResponse {
  if (v <= 7) {
    return { throttleTimeMs: v >= 3 ? 2 : 0, topics: topics(v), errorCode: v >= 2 ? 16 : 0, groups: [] };
  }
  return {
    throttleTimeMs: 2,
    topics: [],
    errorCode: 0,
    groups: [
      { groupId: "group-1", topics: topics(v).map((t) => ({ ...t, topicId: ZERO_UUID })), errorCode: 0 },
      { groupId: "group-2", topics: [], errorCode: 69 },
    ],
  };
}

Deno.test("offsetFetch codec", async (t) => {
  await t.step("declares key 9, versions 1-9 (v10 is unstable), flexible from 6", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [9, "OffsetFetch", 1, 9, 6],
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

  await t.step("round-trips null topics (all topics) from v2", () => {
    for (let v = 2; v <= 7; v++) roundTrip(codec, v, { ...request(v), topics: null }, response(v));
    assert.throws(() => encodeRequest(codec, { groupId: "g", topics: null }, 1), RangeError);
  });

  await t.step("keeps unknown tagged fields at v6 and v9 at every level", () => {
    const req6 = request(6);
    req6.taggedFields = unknownTags;
    req6.topics![0].taggedFields = unknownTags;
    const res6 = response(6);
    res6.taggedFields = unknownTags;
    res6.topics[0].taggedFields = unknownTags;
    res6.topics[0].partitions[1].taggedFields = unknownTags;
    roundTrip(codec, 6, req6, res6);

    const req9 = request(9);
    req9.taggedFields = unknownTags;
    req9.groups![0].taggedFields = unknownTags;
    req9.groups![0].topics![0].taggedFields = unknownTags;
    const res9 = response(9);
    res9.taggedFields = unknownTags;
    res9.groups[0].taggedFields = unknownTags;
    res9.groups[0].topics[0].taggedFields = unknownTags;
    res9.groups[0].topics[0].partitions[0].taggedFields = unknownTags;
    roundTrip(codec, 9, req9, res9);
  });

  await t.step("refuses to send the wrong shape for the version", () => {
    assert.throws(() => encodeRequest(codec, { ...request(6), requireStable: true }, 6), RangeError);
    assert.throws(() => encodeRequest(codec, { groupId: "g", groups: request(8).groups }, 7), RangeError);
    assert.throws(() => encodeRequest(codec, { ...request(8), groupId: "g" }, 8), RangeError);
    assert.throws(() => encodeRequest(codec, { ...request(8), topics: null }, 8), RangeError);
  });

  await t.step("matches hand-derived bytes", () => {
    // v1: string "g", array of one {string "t", array of one int32 0}.
    const req = { groupId: "g", topics: [{ name: "t", partitionIndexes: [0] }] };
    assert.deepStrictEqual(
      encodeRequest(codec, req, 1),
      bytes(0, 1, 0x67, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0),
    );
    // v2: null topics is int32 -1.
    assert.deepStrictEqual(
      encodeRequest(codec, { groupId: "g", topics: null }, 2),
      bytes(0, 1, 0x67, 0xff, 0xff, 0xff, 0xff),
    );
    // v8: compact array of one {compact "g", null compact array, no tags}, requireStable false, no tags.
    const golden = bytes(2, 2, 0x67, 0, 0, 0, 0);
    assert.deepStrictEqual(encodeRequest(codec, { groups: [{ groupId: "g", topics: null }] }, 8), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeRequest(r, 8)), {
      groupId: "",
      topics: [],
      groups: [{ groupId: "g", memberId: null, memberEpoch: -1, topics: null }],
      requireStable: false,
    });
  });
});

Deno.test({
  name: "offsetFetch codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "OffsetFetch"),
});
