/**
 * The bounds of the generated decoders' shared helpers: counts read from the
 * wire are refused before anything is allocated.
 */

import assert from "node:assert/strict";
import {
  MAX_ARRAY_ELEMENTS,
  MAX_TAGGED_FIELDS,
  readArrayLength,
  readArrayLengthNullAsEmpty,
  readNullableArrayLength,
  readTagCount,
  readTags,
} from "../../protocol/messages/_runtime.ts";
import { ProtocolError, Reader, Writer } from "../../protocol/mod.ts";
import { decodeMetadataResponse } from "../../protocol/messages/metadata.ts";
import { encodeProduceRequest, encodeProduceResponse } from "../../protocol/messages/produce.ts";
import {
  decodeShareFetchResponse,
  encodeShareFetchResponse,
  type ShareFetchResponse,
} from "../../protocol/messages/share_fetch.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";

function withRoom(head: Writer, room: number): Reader {
  const h = head.finish();
  const bytes = new Uint8Array(h.length + room);
  bytes.set(h);
  return new Reader(bytes);
}

Deno.test("readArrayLength() refuses more than 1,000,000 elements even when the bytes are there", () => {
  for (const flex of [false, true]) {
    const w = new Writer();
    if (flex) w.unsignedVarint(MAX_ARRAY_ELEMENTS + 2);
    else w.int32(MAX_ARRAY_ELEMENTS + 1);
    assert.throws(() => readArrayLength(withRoom(w, MAX_ARRAY_ELEMENTS + 8), flex), /limit of 1000000/);
    assert.throws(() => readNullableArrayLength(withRoom(w, MAX_ARRAY_ELEMENTS + 8), flex), ProtocolError);
    const ok = new Writer();
    if (flex) ok.unsignedVarint(MAX_ARRAY_ELEMENTS + 1);
    else ok.int32(MAX_ARRAY_ELEMENTS);
    assert.equal(readArrayLength(withRoom(ok, MAX_ARRAY_ELEMENTS), flex), MAX_ARRAY_ELEMENTS);
  }
});

Deno.test("readArrayLength() refuses a count beyond the bytes left, and negative or null counts", () => {
  assert.throws(() => readArrayLength(withRoom(new Writer().int32(10), 9), false), /only 9 bytes left/);
  assert.throws(
    () => readArrayLength(withRoom(new Writer().int32(-2), 9), false, "X.Y"),
    /Negative .* in X\.Y/,
  );
  assert.throws(
    () => readArrayLength(withRoom(new Writer().int32(-1), 9), false, "X.Y"),
    /Null .* array X\.Y/,
  );
  assert.throws(
    () => readArrayLength(withRoom(new Writer().unsignedVarint(0), 9), true, "X.Y"),
    /Null .* X\.Y/,
  );
  assert.equal(readNullableArrayLength(withRoom(new Writer().int32(-1), 0), false), -1);
  assert.equal(readNullableArrayLength(withRoom(new Writer().unsignedVarint(0), 0), true), -1);
});

Deno.test("readTagCount() refuses more than 10,000 tagged fields even when the bytes are there", () => {
  const w = new Writer().unsignedVarint(MAX_TAGGED_FIELDS + 1);
  assert.throws(() => readTagCount(withRoom(w, 4 * MAX_TAGGED_FIELDS)), /limit of 10000/);
  assert.throws(() => readTags(withRoom(w, 4 * MAX_TAGGED_FIELDS)), ProtocolError);
  assert.throws(() => readTagCount(withRoom(new Writer().unsignedVarint(5), 4)), /only 4 bytes left/);
});

Deno.test("generated decoders refuse repeated or out-of-order tags", () => {
  // Metadata v12 response with a top-level tagged section of two fields with the same tag.
  const w = new Writer().int32(0).unsignedVarint(1).compactNullableString(null).int32(0).unsignedVarint(1);
  w.unsignedVarint(2).unsignedVarint(7).unsignedVarint(0).unsignedVarint(7).unsignedVarint(0);
  assert.throws(() => decodeMetadataResponse(new Reader(w.finish()), 12), /out of order or repeated/);
});

Deno.test("generated encoders refuse what a version cannot carry instead of dropping it", () => {
  const endpoint = { nodeId: 1, host: "h", port: 9092, rack: null };
  const res = { responses: [], throttleTimeMs: 0, nodeEndpoints: [endpoint] };
  // NodeEndpoints (tag 0) starts at v10 and is not ignorable.
  assert.throws(() => encodeProduceResponse(new Writer(), res, 9), /nodeEndpoints is not in version 9/);
  encodeProduceResponse(new Writer(), res, 10);
  // Unknown tagged fields need a flexible version.
  const req = { acks: 1, timeoutMs: 1, topicData: [], taggedFields: [{ tag: 5, data: new Uint8Array(1) }] };
  assert.throws(() => encodeProduceRequest(new Writer(), req, 8), /not flexible/);
  encodeProduceRequest(new Writer(), req, 9);
  // Versions outside the schema's range.
  assert.throws(() => encodeProduceRequest(new Writer(), req, 14), RangeError);
  assert.throws(() => decodeMetadataResponse(new Reader(new Uint8Array(8)), 14), ProtocolError);
});

Deno.test("readArrayLengthNullAsEmpty() reads null as empty (the fields in gen_protocol.ts's NULL_AS_EMPTY)", () => {
  assert.equal(readArrayLengthNullAsEmpty(withRoom(new Writer().int32(-1), 0), false), 0);
  assert.equal(readArrayLengthNullAsEmpty(withRoom(new Writer().unsignedVarint(0), 0), true), 0);
  assert.equal(readArrayLengthNullAsEmpty(withRoom(new Writer().unsignedVarint(3), 2), true), 2);
  assert.throws(() => readArrayLengthNullAsEmpty(withRoom(new Writer().int32(-2), 9), false), /Negative/);
});

Deno.test("ShareFetchResponse: null records (franz-go's kfake, for a partition without records) read as none", () => {
  const res: ShareFetchResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    acquisitionLockTimeoutMs: 1000,
    responses: [{
      topicId: ZERO_UUID,
      partitions: [{
        partitionIndex: 0,
        errorCode: 0,
        errorMessage: null,
        acknowledgeErrorCode: 0,
        acknowledgeErrorMessage: null,
        currentLeader: { leaderId: 1, leaderEpoch: 0 },
        records: new Uint8Array([0xab]),
        acquiredRecords: [],
      }],
    }],
    nodeEndpoints: [],
  };
  const w = new Writer();
  encodeShareFetchResponse(w, res, 2);
  const bytes = w.finish();
  // The records are compact bytes: length+1 (2), then 0xab. Null is a length of 0.
  const at = bytes.findIndex((b, i) => b === 2 && bytes[i + 1] === 0xab);
  const nulled = new Uint8Array([...bytes.subarray(0, at), 0, ...bytes.subarray(at + 2)]);
  const got = decodeShareFetchResponse(new Reader(nulled), 2);
  assert.deepEqual(got.responses[0].partitions[0].records, new Uint8Array(0));
  assert.deepEqual(
    decodeShareFetchResponse(new Reader(bytes), 2).responses[0].partitions[0].records,
    new Uint8Array([0xab]),
  );
});
