import { ZERO_UUID } from "../../protocol/primitives.ts";
import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  offsetCommit as codec,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
} from "../../protocol/apis/offset_commit.ts";
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

function request(v: number): OffsetCommitRequest {
  const epoch = v >= 6 ? 5 : -1;
  return {
    groupId: "group-1",
    generationIdOrMemberEpoch: 3,
    memberId: "member-1",
    groupInstanceId: v >= 7 ? "instance-1" : null,
    retentionTimeMs: v <= 4 ? 86_400_000n : -1n,
    topics: [
      {
        name: "orders",
        topicId: ZERO_UUID,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 1_234_567_890_123n,
            committedLeaderEpoch: epoch,
            committedMetadata: "m",
          },
          { partitionIndex: 1, committedOffset: 0n, committedLeaderEpoch: epoch, committedMetadata: null },
        ],
      },
      { name: "payments", topicId: ZERO_UUID, partitions: [] },
    ],
  };
}

function response(v: number): OffsetCommitResponse {
  return {
    throttleTimeMs: v >= 3 ? 1 : 0,
    topics: [
      {
        name: "orders",
        topicId: ZERO_UUID,
        partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 22 }],
      },
    ],
  };
}

Deno.test("offsetCommit codec", async (t) => {
  await t.step("declares key 8, versions 2-9 (v10 is unstable), flexible from 8", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [8, "OffsetCommit", 2, 9, 8],
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

  await t.step("keeps unknown tagged fields at v8 and v9 at every level", () => {
    for (const v of [8, 9]) {
      const req = request(v);
      req.taggedFields = unknownTags;
      req.topics[0].taggedFields = unknownTags;
      req.topics[0].partitions[1].taggedFields = unknownTags;
      const res = response(v);
      res.taggedFields = unknownTags;
      res.topics[0].taggedFields = unknownTags;
      res.topics[0].partitions[0].taggedFields = unknownTags;
      roundTrip(codec, v, req, res);
    }
  });

  await t.step("refuses to drop groupInstanceId before v7", () => {
    assert.throws(() => encodeRequest(codec, { ...request(6), groupInstanceId: "i" }, 6), RangeError);
  });

  await t.step("matches hand-derived bytes", () => {
    // v2: string "g", int32 -1, string "", int64 -1, empty array.
    const golden = bytes(0, 1, 0x67, 0xff, 0xff, 0xff, 0xff, 0, 0, ...new Array(8).fill(0xff), 0, 0, 0, 0);
    assert.deepStrictEqual(encodeRequest(codec, { groupId: "g", topics: [] }, 2), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeRequest(r, 2)), {
      groupId: "g",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [],
    });
    // v2 response: array of one {string "t", array of one {int32 0, int16 0}}.
    const res = {
      throttleTimeMs: 0,
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
    };
    assert.deepStrictEqual(
      encodeResponse(codec, res, 2),
      bytes(0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    );
  });
});

Deno.test({
  name: "offsetCommit codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "OffsetCommit"),
});
