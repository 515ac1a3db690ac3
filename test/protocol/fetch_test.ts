import assert from "node:assert/strict";
import type { ApiCodec } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import {
  fetch,
  type FetchPartitionData,
  type FetchRequest,
  type FetchResponse,
} from "../../protocol/apis/fetch.ts";
import { HAVE_SHARED, hex, sharedSchema, toHex } from "../_shared.ts";
import { codecHelpers } from "./_codec.ts";

type Codec = ApiCodec<unknown, unknown>;
const codec = fetch as Codec;
const VERSIONS = Array.from({ length: 15 }, (_, i) => i + 4);
const TOPIC_ID = "AAECAwQFBgcICQoLDA0ODw";
const DIR_ID = "EBESExQVFhcYGRobHB0eHw";
const INT64_MAX = (1n << 63n) - 1n;
const RECORDS = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 9, 0xca, 0xfe, 1, 2, 3, 4, 5, 6, 7]);

const { encode, decode, roundTrip, assertTruncationFails } = codecHelpers(codec);

function fullRequest(v: number): FetchRequest {
  return {
    clusterId: v >= 12 ? "cluster-1" : null,
    replicaId: v <= 14 ? 3 : -1,
    replicaState: v >= 15 ? { replicaId: 3, replicaEpoch: 99n } : { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 52_428_800,
    isolationLevel: 1,
    sessionId: v >= 7 ? 123 : 0,
    sessionEpoch: v >= 7 ? 4 : -1,
    topics: [
      {
        topic: v <= 12 ? "orders" : "",
        topicId: v >= 13 ? TOPIC_ID : ZERO_UUID,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: v >= 9 ? 5 : -1,
            fetchOffset: 100n,
            lastFetchedEpoch: v >= 12 ? 4 : -1,
            logStartOffset: v >= 5 ? 10n : -1n,
            partitionMaxBytes: 1_048_576,
            replicaDirectoryId: v >= 17 ? DIR_ID : ZERO_UUID,
            highWatermark: v >= 18 ? 120n : INT64_MAX,
          },
          {
            partition: 3,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 0,
            replicaDirectoryId: ZERO_UUID,
            highWatermark: v >= 18 ? -1n : INT64_MAX,
          },
        ],
      },
    ],
    forgottenTopicsData: v >= 7
      ? [{ topic: v <= 12 ? "old" : "", topicId: v >= 13 ? DIR_ID : ZERO_UUID, partitions: [1, 2] }]
      : [],
    rackId: v >= 11 ? "rack-ü" : "",
  };
}

function fullResponse(v: number): FetchResponse {
  const empty = (index: number): FetchPartitionData => ({
    partitionIndex: index,
    errorCode: 1,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: null,
  });
  return {
    throttleTimeMs: 5,
    errorCode: v >= 7 ? 70 : 0,
    sessionId: v >= 7 ? 77 : 0,
    responses: [{
      topic: v <= 12 ? "orders" : "",
      topicId: v >= 13 ? TOPIC_ID : ZERO_UUID,
      partitions: [
        {
          partitionIndex: 0,
          errorCode: 0,
          highWatermark: 200n,
          lastStableOffset: 190n,
          logStartOffset: v >= 5 ? 10n : -1n,
          divergingEpoch: v >= 12 ? { epoch: 3, endOffset: 150n } : { epoch: -1, endOffset: -1n },
          currentLeader: v >= 12 ? { leaderId: 1, leaderEpoch: 5 } : { leaderId: -1, leaderEpoch: -1 },
          snapshotId: v >= 12 ? { endOffset: 140n, epoch: 2 } : { endOffset: -1n, epoch: -1 },
          abortedTransactions: [{ producerId: 1000n, firstOffset: 120n }, {
            producerId: 1001n,
            firstOffset: 130n,
          }],
          preferredReadReplica: v >= 11 ? 2 : -1,
          records: RECORDS,
        },
        empty(1),
        { ...empty(2), abortedTransactions: [], records: new Uint8Array(0) },
      ],
    }],
    nodeEndpoints: v >= 16 ? [{ nodeId: 1, host: "broker-1", port: 9092, rack: null }] : [],
  };
}

Deno.test("fetch codec", async (t) => {
  await t.step("declares the key, versions and first flexible version", () => {
    assert.equal(fetch.apiKey, 1);
    assert.equal(fetch.name, "Fetch");
    assert.equal(fetch.minVersion, 4);
    assert.equal(fetch.maxVersion, 18);
    assert.equal(fetch.flexibleFrom, 12);
  });

  await t.step("round-trips a fully populated request at every version", () => {
    for (const v of VERSIONS) roundTrip("Request", fullRequest(v), v);
  });

  await t.step("round-trips a fully populated response at every version", () => {
    for (const v of VERSIONS) roundTrip("Response", fullResponse(v), v);
  });

  await t.step("fills request defaults for a minimal consumer request", () => {
    const bytes = encode("Request", {
      maxWaitMs: 1,
      minBytes: 1,
      topics: [{ topicId: TOPIC_ID, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 }] }],
    }, 18);
    assert.deepStrictEqual(decode("Request", bytes, 18), {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs: 1,
      minBytes: 1,
      maxBytes: 0x7fffffff,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic: "",
        topicId: TOPIC_ID,
        partitions: [{
          partition: 0,
          currentLeaderEpoch: -1,
          fetchOffset: 0n,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: 1,
          replicaDirectoryId: ZERO_UUID,
          highWatermark: INT64_MAX,
        }],
      }],
      forgottenTopicsData: [],
      rackId: "",
    });
  });

  await t.step("decodes records as a view into the response, not a copy", () => {
    for (const v of [4, 12, 18]) {
      const bytes = encode("Response", fullResponse(v), v);
      const res = decode("Response", bytes, v) as FetchResponse;
      const records = res.responses[0].partitions[0].records!;
      assert.equal(records.buffer, bytes.buffer);
      assert.deepStrictEqual(records, RECORDS);
    }
  });

  await t.step("treats tags that a version lacks as unknown", () => {
    // replicaState (tag 1) is v15+, replicaDirectoryId (tag 0) v17+, highWatermark (tag 1) v18+,
    // nodeEndpoints v16+.
    const req = fullRequest(14);
    req.taggedFields = [{ tag: 1, data: new Uint8Array([9]) }];
    roundTrip("Request", req, 14);
    const req16 = fullRequest(16);
    req16.topics[0].partitions[0].taggedFields = [
      { tag: 0, data: new Uint8Array([1]) },
      { tag: 1, data: new Uint8Array([2]) },
    ];
    roundTrip("Request", req16, 16);
    const res = fullResponse(15);
    res.taggedFields = [{ tag: 0, data: new Uint8Array([3]) }];
    roundTrip("Response", res, 15);
  });

  await t.step("keeps unknown tagged fields beside known ones in flexible versions", () => {
    const tag = (n: number) => [{ tag: n, data: new Uint8Array([n, 0xff]) }];
    for (const v of VERSIONS.filter((v) => v >= 12)) {
      const req = fullRequest(v);
      req.taggedFields = tag(5);
      req.topics[0].taggedFields = tag(6);
      req.topics[0].partitions[0].taggedFields = tag(7);
      req.forgottenTopicsData![0].taggedFields = tag(8);
      if (v >= 15) req.replicaState!.taggedFields = tag(9);
      roundTrip("Request", req, v);
      const res = fullResponse(v);
      res.taggedFields = tag(1);
      res.responses[0].taggedFields = tag(2);
      const p = res.responses[0].partitions[0];
      p.taggedFields = tag(3);
      p.divergingEpoch.taggedFields = tag(4);
      p.currentLeader.taggedFields = tag(5);
      p.snapshotId.taggedFields = tag(6);
      p.abortedTransactions![0].taggedFields = tag(7);
      if (v >= 16) res.nodeEndpoints[0].taggedFields = tag(8);
      roundTrip("Response", res, v);
    }
  });

  await t.step("raises ProtocolError on every truncation of a body", () => {
    for (const v of [4, 7, 11, 12, 13, 15, 17, 18]) {
      assertTruncationFails("Request", encode("Request", fullRequest(v), v), v);
      assertTruncationFails("Response", encode("Response", fullResponse(v), v), v);
    }
  });

  await t.step("matches hand-derived request bytes (v4, v13)", () => {
    const partitions = [{ partition: 0, fetchOffset: 5n, partitionMaxBytes: 1024 }];
    assert.equal(
      toHex(encode("Request", { maxWaitMs: 500, minBytes: 1, topics: [{ topic: "t", partitions }] }, 4)),
      toHex(hex(
        "ffffffff 000001f4 00000001 7fffffff 00" + // replica id, max wait, min bytes, max bytes, isolation
          "00000001 0001 74 00000001 00000000 0000000000000005 00000400", // "t": partition 0 at 5, 1024 max
      )),
    );
    assert.equal(
      toHex(
        encode("Request", { maxWaitMs: 500, minBytes: 1, topics: [{ topicId: TOPIC_ID, partitions }] }, 13),
      ),
      toHex(hex(
        "ffffffff 000001f4 00000001 7fffffff 00 00000000 ffffffff" + // through session epoch
          "02 000102030405060708090a0b0c0d0e0f" + // one topic, by id
          "02 00000000 ffffffff 0000000000000005 ffffffff ffffffffffffffff 00000400 00" + // one partition
          "00 01 01 00", // topic tags, no forgotten topics, empty rack id, request tags
      )),
    );
  });

  await t.step("matches hand-derived response bytes (v4)", () => {
    const bytes = hex(
      "00000000 00000001 0001 74 00000001" + // throttle 0, one topic "t", one partition:
        "00000000 0000 000000000000000a 0000000000000009 ffffffff 00000003 010203",
    );
    const expected: FetchResponse = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{
        topic: "t",
        topicId: ZERO_UUID,
        partitions: [{
          partitionIndex: 0,
          errorCode: 0,
          highWatermark: 10n,
          lastStableOffset: 9n,
          logStartOffset: -1n,
          divergingEpoch: { epoch: -1, endOffset: -1n },
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
          snapshotId: { endOffset: -1n, epoch: -1 },
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: new Uint8Array([1, 2, 3]),
        }],
      }],
      nodeEndpoints: [],
    };
    assert.deepStrictEqual(decode("Response", bytes, 4), expected);
    assert.equal(toHex(encode("Response", expected, 4)), toHex(bytes));
  });

  await t.step("writes the snapshot id as end offset then epoch, unlike the diverging epoch", () => {
    const res = fullResponse(12);
    const p = res.responses[0].partitions[1];
    p.snapshotId = { endOffset: 1n, epoch: 2 };
    const bytes = encode("Response", res, 12);
    // tag 2, size 13: int64 1, int32 2, no nested tags.
    assert.ok(toHex(bytes).includes("02 0d 00 00 00 00 00 00 00 01 00 00 00 02 00"));
  });
});

Deno.test({
  name: "fetch codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["FetchRequest.json", "FetchResponse.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.apiKey, fetch.apiKey);
      assert.equal(s.validVersions, `${fetch.minVersion}-${fetch.maxVersion}`);
      assert.equal(s.flexibleVersions, `${fetch.flexibleFrom}+`);
    }
  },
});
