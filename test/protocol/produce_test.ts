import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import { produce, type ProduceRequest, type ProduceResponse } from "../../protocol/apis/produce.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = produce as Codec;
const VERSIONS = Array.from({ length: 11 }, (_, i) => i + 3);
const TOPIC_ID = "AAECAwQFBgcICQoLDA0ODw";
const RECORDS = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5]);

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): ProduceRequest {
  return {
    transactionalId: "txn-ü",
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: v <= 12 ? "orders" : "",
        topicId: v >= 13 ? TOPIC_ID : ZERO_UUID,
        partitionData: [
          { index: 0, records: RECORDS },
          { index: 7, records: null },
          { index: 8, records: new Uint8Array(0) },
        ],
      },
      { name: v <= 12 ? "empty" : "", topicId: ZERO_UUID, partitionData: [] },
    ],
  };
}

function fullResponse(v: number): ProduceResponse {
  return {
    responses: [{
      name: v <= 12 ? "orders" : "",
      topicId: v >= 13 ? TOPIC_ID : ZERO_UUID,
      partitionResponses: [
        {
          index: 0,
          errorCode: 0,
          baseOffset: 1234567890123n,
          logAppendTimeMs: 1700000000000n,
          logStartOffset: v >= 5 ? 42n : -1n,
          recordErrors: v >= 8
            ? [{ batchIndex: 3, batchIndexErrorMessage: "bad" }, {
              batchIndex: 4,
              batchIndexErrorMessage: null,
            }]
            : [],
          errorMessage: v >= 8 ? "batch dropped" : null,
          currentLeader: v >= 10 ? { leaderId: 2, leaderEpoch: 17 } : { leaderId: -1, leaderEpoch: -1 },
        },
        {
          index: 1,
          errorCode: 6,
          baseOffset: -1n,
          logAppendTimeMs: -1n,
          logStartOffset: -1n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        },
      ],
    }],
    throttleTimeMs: 11,
    nodeEndpoints: v >= 10
      ? [{ nodeId: 2, host: "broker-2", port: 9093, rack: "r2" }, {
        nodeId: 3,
        host: "broker-3",
        port: 9094,
        rack: null,
      }]
      : [],
  };
}

Deno.test("produce codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(produce.apiKey, 0);
    assert.equal(produce.name, "Produce");
    assert.equal(produce.minVersion, 3);
    assert.equal(produce.maxVersion, 13);
    assert.equal(produce.flexibleFrom, 9);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(v), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("applies request defaults (null transactional id)", () => {
    const req = decode("Request", encode("Request", { acks: 1, timeoutMs: 5, topicData: [] }, 3), 3);
    assert.deepStrictEqual(req, { transactionalId: null, acks: 1, timeoutMs: 5, topicData: [] });
  });

  await t.step("decodes records as a view into the input, not a copy", () => {
    for (const v of [3, 9]) {
      const bytes = encode("Request", fullRequest(v), v);
      const req = decode("Request", bytes, v) as ProduceRequest;
      const records = req.topicData[0].partitionData[0].records!;
      assert.equal(records.buffer, bytes.buffer);
      assert.deepStrictEqual(records, RECORDS);
    }
  });

  await t.step("does not write the leader and endpoint tags when they hold their defaults", () => {
    const res = fullResponse(10);
    res.responses[0].partitionResponses[0].currentLeader = { leaderId: -1, leaderEpoch: -1 };
    res.nodeEndpoints = [];
    assert.equal(encode("Response", res, 10).length, encode("Response", fullResponse(9), 9).length);
  });

  await t.step("treats tag 0 as unknown before v10", () => {
    const res = fullResponse(9);
    res.taggedFields = [{ tag: 0, data: new Uint8Array([1]) }];
    res.responses[0].partitionResponses[1].taggedFields = [{ tag: 0, data: new Uint8Array([2]) }];
    roundTrip("Response", res, 9);
  });

  await t.step("keeps unknown tagged fields beside known ones in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 9)) {
      const req = fullRequest(v);
      req.taggedFields = tag(3);
      req.topicData[0].taggedFields = tag(4);
      req.topicData[0].partitionData[1].taggedFields = tag(5);
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = [...tag(1), ...tag(90)];
      res.responses[0].taggedFields = tag(6);
      res.responses[0].partitionResponses[0].taggedFields = tag(2);
      res.responses[0].partitionResponses[0].recordErrors = [{
        batchIndex: 1,
        batchIndexErrorMessage: null,
        taggedFields: tag(8),
      }];
      if (v >= 10) {
        res.responses[0].partitionResponses[0].currentLeader.taggedFields = tag(9);
        res.nodeEndpoints[0].taggedFields = tag(10);
      }
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of [3, 8, 9, 10, 13]) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived request bytes (v3, v9, v13)", () => {
    const req = (topic: { name?: string; topicId?: string }): ProduceRequest => ({
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ ...topic, partitionData: [{ index: 0, records: new Uint8Array([0xaa, 0xbb]) }] }],
    });
    assert.equal(
      toHex(encode("Request", req({ name: "t" }), 3)),
      toHex(hex("ffff ffff 000003e8 00000001 0001 74 00000001 00000000 00000002 aabb")),
    );
    assert.equal(
      toHex(encode("Request", req({ name: "t" }), 9)),
      toHex(hex("00 ffff 000003e8 02 0274 02 00000000 03aabb 00 00 00")),
    );
    assert.equal(
      toHex(encode("Request", req({ topicId: TOPIC_ID }), 13)),
      toHex(hex("00 ffff 000003e8 02 000102030405060708090a0b0c0d0e0f 02 00000000 03aabb 00 00 00")),
    );
  });

  await t.step("matches hand-derived response bytes (v10, with both tagged fields)", () => {
    const bytes = hex(
      "02 0274 02 00000000 0006 ffffffffffffffff ffffffffffffffff ffffffffffffffff" +
        "01 00" + // no record errors, null error message
        "01 00 09 00000002 00000005 00" + // tag 0: current leader { 2, 5 }
        "00" + // topic tags
        "00000000" + // throttle time
        "01 00 0d 02 00000002 0268 00002384 00 00", // tag 0: node endpoints [{ 2, "h", 9092, null }]
    );
    const expected: ProduceResponse = {
      responses: [{
        name: "t",
        topicId: ZERO_UUID,
        partitionResponses: [{
          index: 0,
          errorCode: 6,
          baseOffset: -1n,
          logAppendTimeMs: -1n,
          logStartOffset: -1n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: 2, leaderEpoch: 5 },
        }],
      }],
      throttleTimeMs: 0,
      nodeEndpoints: [{ nodeId: 2, host: "h", port: 9092, rack: null }],
    };
    assert.deepStrictEqual(decode("Response", bytes, 10), expected);
    assert.equal(toHex(encode("Response", expected, 10)), toHex(bytes));
  });
});

Deno.test({
  name: "produce codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["ProduceRequest.json", "ProduceResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, produce.apiKey);
      assert.equal(s.validVersions, `${produce.minVersion}-${produce.maxVersion}`);
      assert.equal(s.flexibleVersions, `${produce.flexibleFrom}+`);
    }
  },
});
