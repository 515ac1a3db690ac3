import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import {
  initProducerId,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from "../../protocol/apis/init_producer_id.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = initProducerId as Codec;
const VERSIONS = [0, 1, 2, 3, 4, 5];

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): InitProducerIdRequest {
  return {
    transactionalId: "txn-ü",
    transactionTimeoutMs: 60_000,
    producerId: v >= 3 ? 4000n : -1n,
    producerEpoch: v >= 3 ? 3 : -1,
    // v6 (unstable, never negotiated): absent below it, so they decode as their defaults.
    enable2Pc: false,
    keepPreparedTxn: false,
  };
}

function fullResponse(): InitProducerIdResponse {
  return {
    throttleTimeMs: 4,
    errorCode: 0,
    producerId: 9_007_199_254_740_993n,
    producerEpoch: 12,
    ongoingTxnProducerId: -1n,
    ongoingTxnProducerEpoch: -1,
  };
}

Deno.test("initProducerId codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(initProducerId.apiKey, 22);
    assert.equal(initProducerId.name, "InitProducerId");
    assert.equal(initProducerId.minVersion, 0);
    assert.equal(initProducerId.maxVersion, 5);
    assert.equal(initProducerId.flexibleFrom, 2);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) {
      roundTrip("Request", fullRequest(v), v);
      roundTrip("Request", { ...fullRequest(v), transactionalId: null }, v);
    }
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(), v);
  });

  await t.step("fills request defaults (non-transactional, no producer id)", () => {
    const bytes = encode("Request", { transactionTimeoutMs: 1 }, 4);
    assert.deepStrictEqual(decode("Request", bytes, 4), {
      transactionalId: null,
      transactionTimeoutMs: 1,
      producerId: -1n,
      producerEpoch: -1,
      enable2Pc: false,
      keepPreparedTxn: false,
    });
    assert.deepStrictEqual(decode("Request", encode("Request", { transactionTimeoutMs: 1 }, 0), 0), {
      transactionalId: null,
      transactionTimeoutMs: 1,
      producerId: -1n,
      producerEpoch: -1,
      enable2Pc: false,
      keepPreparedTxn: false,
    });
  });

  await t.step("keeps unknown tagged fields in flexible versions", () => {
    for (const v of VERSIONS.filter((v) => v >= 2)) {
      roundTrip("Request", { ...fullRequest(v), taggedFields: [{ tag: 0, data: new Uint8Array([1]) }] }, v);
      roundTrip("Response", {
        ...fullResponse(),
        taggedFields: [{ tag: 4, data: new Uint8Array(0) }, { tag: 5, data: new Uint8Array([5, 5]) }],
      }, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of VERSIONS) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(), v), v);
    }
  });

  await t.step("matches hand-derived bytes (v0, v4)", () => {
    assert.equal(toHex(encode("Request", { transactionTimeoutMs: 1000 }, 0)), "ff ff 00 00 03 e8");
    assert.equal(
      toHex(encode("Request", { transactionalId: "t", transactionTimeoutMs: 1000 }, 4)),
      toHex(hex("0274 000003e8 ffffffffffffffff ffff 00")),
    );
    const res = hex("00000000 0000 0000000000000007 0001 00");
    const expected = {
      throttleTimeMs: 0,
      errorCode: 0,
      producerId: 7n,
      producerEpoch: 1,
      ongoingTxnProducerId: -1n,
      ongoingTxnProducerEpoch: -1,
    };
    assert.deepStrictEqual(decode("Response", res, 4), expected);
    assert.equal(toHex(encode("Response", expected, 4)), toHex(res));
  });
});

Deno.test({
  name: "initProducerId codec stops below the schema's unstable top version",
  ignore: !HAVE_SHARED,
  fn() {
    const req = sharedSchema("InitProducerIdRequest.json");
    assert.equal(req.apiKey, initProducerId.apiKey);
    assert.equal(req.latestVersionUnstable, true);
    assert.equal(req.validVersions, `${initProducerId.minVersion}-${initProducerId.maxVersion + 1}`);
    for (const file of ["InitProducerIdRequest.json", "InitProducerIdResponse.json"]) {
      assert.equal(sharedSchema(file).flexibleVersions, `${initProducerId.flexibleFrom}+`);
    }
  },
});
