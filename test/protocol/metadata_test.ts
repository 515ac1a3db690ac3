import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import { metadata, type MetadataRequest, type MetadataResponse } from "../../protocol/apis/metadata.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = metadata as Codec;
const VERSIONS = Array.from({ length: 14 }, (_, i) => i);
const TOPIC_ID = "AAECAwQFBgcICQoLDA0ODw";

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): MetadataRequest {
  return {
    topics: [
      { topicId: v >= 10 ? TOPIC_ID : ZERO_UUID, name: "orders-ü" },
      { topicId: ZERO_UUID, name: v >= 10 ? null : "payments" },
    ],
    allowAutoTopicCreation: v >= 4 ? false : true,
    includeClusterAuthorizedOperations: v >= 8 && v <= 10,
    includeTopicAuthorizedOperations: v >= 8,
  };
}

function fullResponse(v: number): MetadataResponse {
  return {
    throttleTimeMs: v >= 3 ? 25 : 0,
    brokers: [
      { nodeId: 1, host: "broker-1.local", port: 9092, rack: v >= 1 ? "rack-a" : null },
      { nodeId: 2, host: "broker-2.local", port: 9093, rack: null },
    ],
    clusterId: v >= 2 ? "cluster-xyz" : null,
    controllerId: v >= 1 ? 2 : -1,
    topics: [
      {
        errorCode: 0,
        name: "orders",
        topicId: v >= 10 ? TOPIC_ID : ZERO_UUID,
        isInternal: v >= 1,
        partitions: [
          {
            errorCode: 0,
            partitionIndex: 0,
            leaderId: 1,
            leaderEpoch: v >= 7 ? 12 : -1,
            replicaNodes: [1, 2],
            isrNodes: [1],
            offlineReplicas: v >= 5 ? [2] : [],
          },
          {
            errorCode: 9,
            partitionIndex: 1,
            leaderId: -1,
            leaderEpoch: v >= 7 ? 3 : -1,
            replicaNodes: [],
            isrNodes: [],
            offlineReplicas: [],
          },
        ],
        topicAuthorizedOperations: v >= 8 ? 0x0ff8 : -2147483648,
      },
      {
        errorCode: 100,
        name: v >= 12 ? null : "",
        topicId: v >= 10 ? TOPIC_ID : ZERO_UUID,
        isInternal: false,
        partitions: [],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: v >= 8 && v <= 10 ? 0x0120 : -2147483648,
    errorCode: v >= 13 ? 7 : 0,
  };
}

Deno.test("metadata codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(metadata.apiKey, 3);
    assert.equal(metadata.name, "Metadata");
    assert.equal(metadata.minVersion, 0);
    assert.equal(metadata.maxVersion, 13);
    assert.equal(metadata.flexibleFrom, 9);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(v), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("round-trips a null topic list (all topics) from v1", () => {
    for (const v of VERSIONS.filter((v) => v >= 1)) {
      roundTrip("Request", { ...fullRequest(v), topics: null }, v);
    }
  });

  await t.step("sends a null topic list as an empty one in v0", () => {
    const bytes = encode("Request", { topics: null }, 0);
    assert.equal(toHex(bytes), "00 00 00 00");
  });

  await t.step("fills absent request fields with their defaults on decode", () => {
    const req = decode("Request", hex("00 00 00 01 00 01 61"), 0);
    assert.deepStrictEqual(req, {
      topics: [{ topicId: ZERO_UUID, name: "a" }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  });

  await t.step("refuses a null topic name before v10 and a null topic before v12", () => {
    assert.throws(() => encode("Request", { topics: [{ name: null }] }, 9), RangeError);
    const res = fullResponse(11);
    res.topics[0].name = null;
    assert.throws(() => encode("Response", res, 11), RangeError);
  });

  await t.step("keeps unknown tagged fields at every level in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 9)) {
      const req = fullRequest(v);
      req.taggedFields = tag(3);
      req.topics![0].taggedFields = tag(7);
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = [...tag(1), ...tag(200)];
      res.brokers[0].taggedFields = tag(2);
      res.topics[0].taggedFields = tag(4);
      res.topics[0].partitions[1].taggedFields = tag(5);
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of [0, 4, 8, 9, 10, 12, 13]) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived request bytes (v0, v4, v9, v12)", () => {
    assert.equal(toHex(encode("Request", { topics: [{ name: "a" }] }, 0)), "00 00 00 01 00 01 61");
    assert.equal(
      toHex(encode("Request", { topics: null, allowAutoTopicCreation: false }, 4)),
      "ff ff ff ff 00",
    );
    // compact array of 1 (02), compact "a" (02 61), topic tags (00), auto-create true, cluster ops false,
    // topic ops false, request tags.
    assert.equal(toHex(encode("Request", { topics: [{ name: "a" }] }, 9)), "02 02 61 00 01 00 00 00");
    // null topics (00), auto-create true, topic ops false, request tags.
    assert.equal(toHex(encode("Request", { topics: null }, 12)), "00 01 00 00");
    // v10 adds a topic id before the name.
    assert.equal(
      toHex(encode("Request", { topics: [{ topicId: TOPIC_ID, name: null }] }, 10)),
      "02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 00 00 01 00 00 00",
    );
  });

  await t.step("matches hand-derived response bytes (v0)", () => {
    const bytes = hex(
      "00000001" + "00000001 0001 68 00002384" + // brokers: [{ 1, "h", 9092 }]
        "00000001 0000 0001 74" + // topics: [{ error 0, "t",
        // [{ error 0, partition 0, leader 1, replicas [1], isr [1] }] }]
        "00000001 0000 00000000 00000001 00000001 00000001 00000001 00000001",
    );
    const expected: MetadataResponse = {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: "h", port: 9092, rack: null }],
      clusterId: null,
      controllerId: -1,
      topics: [{
        errorCode: 0,
        name: "t",
        topicId: ZERO_UUID,
        isInternal: false,
        partitions: [{
          errorCode: 0,
          partitionIndex: 0,
          leaderId: 1,
          leaderEpoch: -1,
          replicaNodes: [1],
          isrNodes: [1],
          offlineReplicas: [],
        }],
        topicAuthorizedOperations: -2147483648,
      }],
      clusterAuthorizedOperations: -2147483648,
      errorCode: 0,
    };
    assert.deepStrictEqual(decode("Response", bytes, 0), expected);
    assert.deepStrictEqual(encode("Response", expected, 0), bytes);
  });

  await t.step("returns unknown tagged-field data as views into the input", () => {
    const res = fullResponse(9);
    res.taggedFields = [{ tag: 9, data: new Uint8Array([1, 2, 3]) }];
    const bytes = encode("Response", res, 9);
    const back = decode("Response", bytes, 9) as MetadataResponse;
    assert.equal(back.taggedFields![0].data.buffer, bytes.buffer);
  });
});

Deno.test({
  name: "metadata codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["MetadataRequest.json", "MetadataResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, metadata.apiKey);
      assert.equal(s.validVersions, `${metadata.minVersion}-${metadata.maxVersion}`);
      assert.equal(s.flexibleVersions, `${metadata.flexibleFrom}+`);
    }
  },
});
