import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import {
  listOffsets,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
} from "../../protocol/apis/list_offsets.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = listOffsets as Codec;
const VERSIONS = Array.from({ length: 10 }, (_, i) => i + 1);

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): ListOffsetsRequest {
  return {
    replicaId: -1,
    isolationLevel: v >= 2 ? 1 : 0,
    topics: [
      {
        name: "orders-ü",
        partitions: [
          { partitionIndex: 0, currentLeaderEpoch: v >= 4 ? 7 : -1, timestamp: -1n },
          { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 1_700_000_000_000n },
        ],
      },
      { name: "empty", partitions: [] },
    ],
    timeoutMs: v >= 10 ? 30_000 : 0,
  };
}

function fullResponse(v: number): ListOffsetsResponse {
  return {
    throttleTimeMs: v >= 2 ? 9 : 0,
    topics: [{
      name: "orders-ü",
      partitions: [
        { partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 4242n, leaderEpoch: v >= 4 ? 7 : -1 },
        { partitionIndex: 1, errorCode: 74, timestamp: -1n, offset: -1n, leaderEpoch: -1 },
      ],
    }],
  };
}

Deno.test("listOffsets codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(listOffsets.apiKey, 2);
    assert.equal(listOffsets.name, "ListOffsets");
    assert.equal(listOffsets.minVersion, 1);
    assert.equal(listOffsets.maxVersion, 10);
    assert.equal(listOffsets.flexibleFrom, 6);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(v), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("defaults the replica id to -1 (consumer) and fills absent fields on decode", () => {
    const bytes = encode("Request", {
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, timestamp: -2n }] }],
    }, 10);
    assert.deepStrictEqual(decode("Request", bytes, 10), {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] }],
      timeoutMs: 0,
    });
  });

  await t.step("keeps unknown tagged fields in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 6)) {
      const req = fullRequest(v);
      req.taggedFields = tag(0);
      req.topics[0].taggedFields = tag(1);
      req.topics[0].partitions[1].taggedFields = [...tag(2), ...tag(300)];
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = tag(3);
      res.topics[0].taggedFields = tag(4);
      res.topics[0].partitions[0].taggedFields = tag(5);
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of [1, 2, 4, 6, 10]) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived bytes (v1 request, v6 request, v4 response)", () => {
    const topics = [{ name: "t", partitions: [{ partitionIndex: 0, timestamp: -1n }] }];
    assert.equal(
      toHex(encode("Request", { topics }, 1)),
      toHex(hex("ffffffff 00000001 0001 74 00000001 00000000 ffffffffffffffff")),
    );
    assert.equal(
      toHex(encode("Request", { topics, isolationLevel: 1 }, 6)),
      toHex(hex("ffffffff 01 02 0274 02 00000000 ffffffff ffffffffffffffff 00 00 00")),
    );
    const res = hex(
      "00000000 00000001 0001 74 00000001 00000000 0000 ffffffffffffffff 0000000000000005 00000002",
    );
    const expected: ListOffsetsResponse = {
      throttleTimeMs: 0,
      topics: [{
        name: "t",
        partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 5n, leaderEpoch: 2 }],
      }],
    };
    assert.deepStrictEqual(decode("Response", res, 4), expected);
    assert.equal(toHex(encode("Response", expected, 4)), toHex(res));
  });
});

Deno.test({
  name: "listOffsets codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["ListOffsetsRequest.json", "ListOffsetsResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, listOffsets.apiKey);
      assert.notEqual(s.latestVersionUnstable, true);
      assert.equal(s.validVersions, `${listOffsets.minVersion}-${listOffsets.maxVersion}`);
      assert.equal(s.flexibleVersions, `${listOffsets.flexibleFrom}+`);
    }
  },
});
