import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import {
  createTopics,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
} from "../../protocol/apis/create_topics.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = createTopics as Codec;
const VERSIONS = [2, 3, 4, 5, 6, 7];
const TOPIC_ID = "AAECAwQFBgcICQoLDA0ODw";

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(): CreateTopicsRequest {
  return {
    topics: [
      {
        name: "orders-ü",
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }, { partitionIndex: 1, brokerIds: [] }],
        configs: [{ name: "cleanup.policy", value: "compact" }, { name: "retention.ms", value: null }],
      },
      { name: "plain", numPartitions: 6, replicationFactor: 3, assignments: [], configs: [] },
    ],
    timeoutMs: 15_000,
    validateOnly: true,
  };
}

function fullResponse(v: number): CreateTopicsResponse {
  return {
    throttleTimeMs: 3,
    topics: [
      {
        name: "orders-ü",
        topicId: v >= 7 ? TOPIC_ID : ZERO_UUID,
        errorCode: 0,
        errorMessage: null,
        topicConfigErrorCode: v >= 5 ? 29 : 0,
        numPartitions: v >= 5 ? 6 : -1,
        replicationFactor: v >= 5 ? 3 : -1,
        configs: v >= 5
          ? [
            {
              name: "cleanup.policy",
              value: "compact",
              readOnly: false,
              configSource: 1,
              isSensitive: false,
            },
            { name: "sasl.jaas.config", value: null, readOnly: true, configSource: -1, isSensitive: true },
          ]
          : [],
      },
      {
        name: "exists",
        topicId: ZERO_UUID,
        errorCode: 36,
        errorMessage: "Topic 'exists' already exists.",
        topicConfigErrorCode: 0,
        numPartitions: -1,
        replicationFactor: -1,
        configs: v >= 5 ? null : [],
      },
    ],
  };
}

Deno.test("createTopics codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(createTopics.apiKey, 19);
    assert.equal(createTopics.name, "CreateTopics");
    assert.equal(createTopics.minVersion, 2);
    assert.equal(createTopics.maxVersion, 7);
    assert.equal(createTopics.flexibleFrom, 5);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("fills request defaults (timeout 60000, no assignments or configs)", () => {
    const bytes = encode("Request", { topics: [{ name: "t", numPartitions: 1, replicationFactor: 1 }] }, 7);
    assert.deepStrictEqual(decode("Request", bytes, 7), {
      topics: [{ name: "t", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 60_000,
      validateOnly: false,
    });
  });

  await t.step("writes the config error tag only when it is non-zero", () => {
    const res = fullResponse(5);
    const withTag = encode("Response", res, 5);
    res.topics[0].topicConfigErrorCode = 0;
    assert.equal(encode("Response", res, 5).length, withTag.length - 4); // tag, size, int16
  });

  await t.step("keeps unknown tagged fields in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 5)) {
      const req = fullRequest();
      req.taggedFields = tag(1);
      req.topics[0].taggedFields = tag(2);
      req.topics[0].assignments![0].taggedFields = tag(3);
      req.topics[0].configs![1].taggedFields = tag(4);
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = tag(5);
      res.topics[0].taggedFields = [...tag(6), ...tag(7)]; // beside the known tag 0
      res.topics[1].taggedFields = tag(8);
      res.topics[0].configs![0].taggedFields = tag(9);
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of [2, 4, 5, 7]) {
      assertTruncationFails("Request", encode("Request", fullRequest(), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived bytes (v2 request, v5 request, v7 response)", () => {
    const req: CreateTopicsRequest = {
      topics: [{ name: "t", numPartitions: 1, replicationFactor: 1 }],
      timeoutMs: 1000,
    };
    assert.equal(
      toHex(encode("Request", req, 2)),
      toHex(hex("00000001 0001 74 00000001 0001 00000000 00000000 000003e8 00")),
    );
    assert.equal(
      toHex(encode("Request", req, 5)),
      toHex(hex("02 0274 00000001 0001 01 01 00 000003e8 00 00")),
    );
    const res = hex(
      "00000000 02 0274 000102030405060708090a0b0c0d0e0f 0000 00" + // name, id, no error, null message
        "00000001 0001 00" + // 1 partition, RF 1, null configs
        "01 00 02 002a" + // tag 0: config error 42
        "00", // response tags
    );
    const expected: CreateTopicsResponse = {
      throttleTimeMs: 0,
      topics: [{
        name: "t",
        topicId: TOPIC_ID,
        errorCode: 0,
        errorMessage: null,
        topicConfigErrorCode: 42,
        numPartitions: 1,
        replicationFactor: 1,
        configs: null,
      }],
    };
    assert.deepStrictEqual(decode("Response", res, 7), expected);
    assert.equal(toHex(encode("Response", expected, 7)), toHex(res));
  });
});

Deno.test({
  name: "createTopics codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["CreateTopicsRequest.json", "CreateTopicsResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, createTopics.apiKey);
      assert.equal(s.validVersions, `${createTopics.minVersion}-${createTopics.maxVersion}`);
      assert.equal(s.flexibleVersions, `${createTopics.flexibleFrom}+`);
    }
  },
});
