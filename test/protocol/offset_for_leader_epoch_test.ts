import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import {
  offsetForLeaderEpoch,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
} from "../../protocol/apis/offset_for_leader_epoch.ts";
import { HAVE_SHARED, hex, sharedText, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = offsetForLeaderEpoch as Codec;
const VERSIONS = [2, 3, 4];

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): OffsetForLeaderEpochRequest {
  return {
    replicaId: v >= 3 ? -1 : -2,
    topics: [
      {
        topic: "orders-ü",
        partitions: [
          { partition: 0, currentLeaderEpoch: 7, leaderEpoch: 5 },
          { partition: 3, currentLeaderEpoch: -1, leaderEpoch: 0 },
        ],
      },
      { topic: "empty", partitions: [] },
    ],
  };
}

function fullResponse(): OffsetForLeaderEpochResponse {
  return {
    throttleTimeMs: 11,
    topics: [{
      topic: "orders-ü",
      partitions: [
        { errorCode: 0, partition: 0, leaderEpoch: 4, endOffset: 4242n },
        { errorCode: 74, partition: 3, leaderEpoch: -1, endOffset: -1n },
      ],
    }],
  };
}

Deno.test("offsetForLeaderEpoch codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(offsetForLeaderEpoch.apiKey, 23);
    assert.equal(offsetForLeaderEpoch.name, "OffsetForLeaderEpoch");
    assert.equal(offsetForLeaderEpoch.minVersion, 2);
    assert.equal(offsetForLeaderEpoch.maxVersion, 4);
    assert.equal(offsetForLeaderEpoch.flexibleFrom, 4);
  });

  await t.step("round-trips a fully populated request and response at every version", () => {
    for (const v of VERSIONS) {
      roundTrip("Request", fullRequest(v), v);
      roundTrip("Response", fullResponse(), v);
    }
  });

  await t.step("defaults the replica id to -2 and the current leader epoch to -1", () => {
    const bytes = encode("Request", {
      topics: [{ topic: "t", partitions: [{ partition: 1, leaderEpoch: 3 }] }],
    }, 4);
    assert.deepStrictEqual(decode("Request", bytes, 4), {
      replicaId: -2,
      topics: [{ topic: "t", partitions: [{ partition: 1, currentLeaderEpoch: -1, leaderEpoch: 3 }] }],
    });
  });

  await t.step("keeps unknown tagged fields in v4", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    const req = fullRequest(4);
    req.taggedFields = tag(0);
    req.topics[0].taggedFields = tag(1);
    req.topics[0].partitions[1].taggedFields = [...tag(2), ...tag(300)];
    roundTrip("Request", req, 4);
    const res = fullResponse();
    res.taggedFields = tag(3);
    res.topics[0].taggedFields = tag(4);
    res.topics[0].partitions[0].taggedFields = tag(5);
    roundTrip("Response", res, 4);
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of VERSIONS) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(), v), v);
    }
  });

  await t.step("matches hand-derived bytes (v2 and v4 requests, v3 and v4 responses)", () => {
    const topics = [{ topic: "t", partitions: [{ partition: 0, currentLeaderEpoch: 6, leaderEpoch: 5 }] }];
    assert.equal(
      toHex(encode("Request", { topics }, 2)),
      toHex(hex("00000001 0001 74 00000001 00000000 00000006 00000005")),
    );
    assert.equal(
      toHex(encode("Request", { replicaId: -1, topics }, 4)),
      toHex(hex("ffffffff 02 0274 02 00000000 00000006 00000005 00 00 00")),
    );
    const expected: OffsetForLeaderEpochResponse = {
      throttleTimeMs: 0,
      topics: [{ topic: "t", partitions: [{ errorCode: 0, partition: 0, leaderEpoch: 5, endOffset: 9n }] }],
    };
    const v3 = hex("00000000 00000001 0001 74 00000001 0000 00000000 00000005 0000000000000009");
    assert.deepStrictEqual(decode("Response", v3, 3), expected);
    assert.equal(toHex(encode("Response", expected, 3)), toHex(v3));
    const v4 = hex("00000000 02 0274 02 0000 00000000 00000005 0000000000000009 00 00 00");
    assert.deepStrictEqual(decode("Response", v4, 4), expected);
  });
});

Deno.test({
  name: "offsetForLeaderEpoch codec matches the versions in Kafka 4.3.1's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["OffsetForLeaderEpochRequest.json", "OffsetForLeaderEpochResponse.json"]) {
      const text = sharedText(`kafka-protocol/4.3.1/messages/${file}`);
      const s = JSON.parse(text.split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n"));
      assert.equal(s.apiKey, offsetForLeaderEpoch.apiKey);
      assert.notEqual(s.latestVersionUnstable, true);
      assert.equal(s.validVersions, `${offsetForLeaderEpoch.minVersion}-${offsetForLeaderEpoch.maxVersion}`);
      assert.equal(s.flexibleVersions, `${offsetForLeaderEpoch.flexibleFrom}+`);
    }
  },
});
