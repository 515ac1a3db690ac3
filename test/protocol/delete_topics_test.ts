import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import {
  deleteTopics,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
} from "../../protocol/apis/delete_topics.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = deleteTopics as Codec;
const VERSIONS = [1, 2, 3, 4, 5, 6];
const TOPIC_ID = "AAECAwQFBgcICQoLDA0ODw";

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): DeleteTopicsRequest {
  return {
    topics: v >= 6 ? [{ name: "orders-ü", topicId: ZERO_UUID }, { name: null, topicId: TOPIC_ID }] : [],
    topicNames: v <= 5 ? ["orders-ü", "payments"] : [],
    timeoutMs: 30_000,
  };
}

function fullResponse(v: number): DeleteTopicsResponse {
  return {
    throttleTimeMs: 8,
    responses: [
      { name: "orders-ü", topicId: v >= 6 ? TOPIC_ID : ZERO_UUID, errorCode: 0, errorMessage: null },
      {
        name: v >= 6 ? null : "payments",
        topicId: ZERO_UUID,
        errorCode: v >= 6 ? 100 : 3,
        errorMessage: v >= 5 ? "This server does not host this topic ID." : null,
      },
    ],
  };
}

Deno.test("deleteTopics codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(deleteTopics.apiKey, 20);
    assert.equal(deleteTopics.name, "DeleteTopics");
    assert.equal(deleteTopics.minVersion, 1);
    assert.equal(deleteTopics.maxVersion, 6);
    assert.equal(deleteTopics.flexibleFrom, 4);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(v), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("fills request defaults (null name, zero id) in v6 topics", () => {
    const bytes = encode("Request", { topics: [{ topicId: TOPIC_ID }, { name: "t" }], timeoutMs: 1 }, 6);
    assert.deepStrictEqual(decode("Request", bytes, 6), {
      topics: [{ name: null, topicId: TOPIC_ID }, { name: "t", topicId: ZERO_UUID }],
      topicNames: [],
      timeoutMs: 1,
    });
  });

  await t.step("refuses a null topic name in a response before v6", () => {
    const res = fullResponse(5);
    res.responses[0].name = null;
    assert.throws(() => encode("Response", res, 5), RangeError);
  });

  await t.step("keeps unknown tagged fields in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 4)) {
      const req = fullRequest(v);
      req.taggedFields = tag(0);
      if (v >= 6) req.topics![1].taggedFields = tag(1);
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = tag(2);
      res.responses[1].taggedFields = tag(3);
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of VERSIONS) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived bytes (v1, v4, v6)", () => {
    assert.equal(
      toHex(encode("Request", { topicNames: ["t"], timeoutMs: 1000 }, 1)),
      toHex(hex("00000001 0001 74 000003e8")),
    );
    assert.equal(
      toHex(encode("Request", { topicNames: ["t"], timeoutMs: 1000 }, 4)),
      toHex(hex("02 0274 000003e8 00")),
    );
    assert.equal(
      toHex(encode("Request", { topics: [{ name: "t" }], timeoutMs: 1000 }, 6)),
      toHex(hex("02 0274 00000000000000000000000000000000 00 000003e8 00")),
    );
    const res = hex("00000000 02 00 000102030405060708090a0b0c0d0e0f 0064 00 00 00");
    const expected: DeleteTopicsResponse = {
      throttleTimeMs: 0,
      responses: [{ name: null, topicId: TOPIC_ID, errorCode: 100, errorMessage: null }],
    };
    assert.deepStrictEqual(decode("Response", res, 6), expected);
    assert.equal(toHex(encode("Response", expected, 6)), toHex(res));
  });
});

Deno.test({
  name: "deleteTopics codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["DeleteTopicsRequest.json", "DeleteTopicsResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, deleteTopics.apiKey);
      assert.equal(s.validVersions, `${deleteTopics.minVersion}-${deleteTopics.maxVersion}`);
      assert.equal(s.flexibleVersions, `${deleteTopics.flexibleFrom}+`);
    }
  },
});
