/**
 * Micro-benchmarks of the record layer: `deno bench --allow-read bench/record_batch_bench.ts`.
 *
 * Each batch bench moves one batch of 100 records, so the payload per iteration is 100 times
 * the value size (10 KB for 100 B values, 100 KiB for 1 KiB values); MB/s = payload / time per
 * iteration. Values are semi-compressible text-like bytes (a JSON-ish template with varying
 * numbers), keys are 8 bytes, one header per record.
 *
 * @module
 */

import { fetch, type FetchResponse } from "../protocol/apis/fetch.ts";
import { produce, type ProduceRequest } from "../protocol/apis/produce.ts";
import { Compression, compressionName } from "../protocol/compression.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { decodeResponseFrame, encodeResponseFrame, writeRequestFrame } from "../protocol/framing.ts";
import { murmur2 } from "../protocol/partitioners.ts";
import { Reader, Writer } from "../protocol/primitives.ts";
import { decodeRecordBatches, encodeRecordBatch, type RecordInput } from "../protocol/record_batch.ts";

const te = new TextEncoder();

function value(size: number, i: number): Uint8Array {
  let s = "";
  while (s.length < size) {
    s += `{"id":${i * 7919 + s.length},"user":"user-${i % 97}","score":${(i * 31) % 1000},`;
  }
  return te.encode(s.slice(0, size));
}

function records(size: number, count = 100): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    key: te.encode(`key-${String(i).padStart(4, "0")}`),
    value: value(size, i),
    headers: [{ key: "trace", value: te.encode("abc") }],
    timestamp: 1_700_000_000_000 + i,
  }));
}

for (const size of [100, 1024]) {
  const recs = records(size);
  const label = size === 100 ? "100x100B" : "100x1KiB";
  for (const codec of Object.values(Compression)) {
    const name = compressionName(codec);
    const bytes = encodeRecordBatch(recs, { compression: codec });
    Deno.bench(`encode ${name} ${label}`, { group: `encode ${label}` }, () => {
      encodeRecordBatch(recs, { compression: codec });
    });
    Deno.bench(`decode ${name} ${label}`, { group: `decode ${label}` }, () => {
      decodeRecordBatches(bytes);
    });
  }
}

const key16 = te.encode("user-1234567890a");
const key64 = new Uint8Array(64).map((_, i) => i * 13);
Deno.bench("murmur2 16 B key", { group: "hash" }, () => {
  murmur2(key16);
});
Deno.bench("murmur2 64 B key", { group: "hash" }, () => {
  murmur2(key64);
});
const crcInput = value(100 * 1024, 1);
Deno.bench("crc32c 100 KiB", { group: "crc" }, () => {
  crc32c(crcInput);
});
const crcSmall = value(1024, 1);
Deno.bench("crc32c 1 KiB", { group: "crc" }, () => {
  crc32c(crcSmall);
});

const ints = Array.from({ length: 1000 }, (_, i) => (i * 2654435761) % 100_000 - 50_000);
const w = new Writer(8192);
Deno.bench("varint write x1000", { group: "varint" }, () => {
  w.reset();
  for (const n of ints) w.varint(n);
});
const encoded = new Writer(8192);
for (const n of ints) encoded.varint(n);
const varintBytes = encoded.finish().slice();
Deno.bench("varint read x1000", { group: "varint" }, () => {
  const r = new Reader(varintBytes);
  for (let i = 0; i < 1000; i++) r.varint();
});
const longs = Array.from({ length: 1000 }, (_, i) => BigInt(i) * 1_000_003n - 400_000n);
Deno.bench("varlong write x1000 (bigint)", { group: "varint" }, () => {
  w.reset();
  for (const n of longs) w.varlong(n);
});
const encodedLong = new Writer(16384);
for (const n of longs) encodedLong.varlong(n);
const varlongBytes = encodedLong.finish().slice();
Deno.bench("varlong read x1000 (bigint)", { group: "varint" }, () => {
  const r = new Reader(varlongBytes);
  for (let i = 0; i < 1000; i++) r.varlong();
});

// The message codecs on the hot path: a Produce request (50 partitions, one 16 KiB batch each, the
// batches referenced, as the producer's connection does) and a Fetch response (50 partitions of
// 100 small records each). Both at the versions Kafka 4.1 negotiates.
const batch16k = encodeRecordBatch(records(100, 160), { compression: Compression.none });
const produceRequest: ProduceRequest = {
  transactionalId: null,
  acks: -1,
  timeoutMs: 30_000,
  topicData: [{
    name: "bench-topic",
    partitionData: Array.from({ length: 50 }, (_, index) => ({ index, records: batch16k })),
  }],
};
const produceWriter = new Writer(4096, { referenceBytesFrom: 4096 });
Deno.bench("Produce v11 request encode (50 partitions)", { group: "api codecs" }, () => {
  writeRequestFrame(produce, 11, { correlationId: 7, clientId: "bench" }, produceRequest, produceWriter)
    .finishChunks();
});
const fetchBatch = encodeRecordBatch(records(100, 10), { compression: Compression.none });
const fetchResponse: FetchResponse = {
  throttleTimeMs: 0,
  errorCode: 0,
  sessionId: 0,
  responses: [{
    topic: "",
    topicId: "AAAAAAAAAAAAAAAAAAAAAQ",
    partitions: Array.from({ length: 50 }, (_, partitionIndex) => ({
      partitionIndex,
      errorCode: 0,
      highWatermark: 1000n,
      lastStableOffset: 1000n,
      logStartOffset: 0n,
      divergingEpoch: { epoch: -1, endOffset: -1n },
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      snapshotId: { endOffset: -1n, epoch: -1 },
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: fetchBatch,
    })),
  }],
  nodeEndpoints: [],
};
const fetchFrame = encodeResponseFrame(fetch, 16, 7, fetchResponse).subarray(4);
Deno.bench("Fetch v16 response decode (50 partitions)", { group: "api codecs" }, () => {
  decodeResponseFrame(fetch, 16, fetchFrame);
});
