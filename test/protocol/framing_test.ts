import assert from "node:assert/strict";
import { apiVersions } from "../../protocol/apis/api_versions.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import {
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  FrameReader,
  FrameSplitter,
  peekCorrelationId,
} from "../../protocol/framing.ts";
import { Reader } from "../../protocol/primitives.ts";
import { hex, toHex } from "../_shared.ts";

function frames(...bodies: number[][]): Uint8Array {
  const parts = bodies.flatMap((
    b,
  ) => [(b.length >>> 24) & 255, (b.length >>> 16) & 255, (b.length >>> 8) & 255, b.length & 255, ...b]);
  return new Uint8Array(parts);
}

Deno.test("FrameSplitter reassembles frames split into 1-byte chunks", () => {
  const bytes = frames([1, 2, 3], [], [4], Array.from({ length: 300 }, (_, i) => i & 255));
  const s = new FrameSplitter();
  const out: number[][] = [];
  for (const b of bytes) for (const f of s.push(new Uint8Array([b]))) out.push([...f]);
  assert.equal(out.length, 4);
  assert.deepEqual(out[0], [1, 2, 3]);
  assert.deepEqual(out[1], []);
  assert.deepEqual(out[2], [4]);
  assert.equal(out[3].length, 300);
  assert.equal(s.buffered, 0);
});

Deno.test("FrameSplitter splits coalesced frames and keeps the leftover", () => {
  const bytes = frames([1], [2, 2], [3, 3, 3]);
  const s = new FrameSplitter();
  const first = [...s.push(bytes.subarray(0, bytes.length - 2))].map((f) => [...f]);
  assert.deepEqual(first, [[1], [2, 2]]);
  assert.equal(s.buffered, 5);
  const second = [...s.push(bytes.subarray(bytes.length - 2))].map((f) => [...f]);
  assert.deepEqual(second, [[3, 3, 3]]);
});

Deno.test("FrameSplitter frames stay valid after later pushes", () => {
  const s = new FrameSplitter();
  const bytes = frames([9, 9, 9, 9], [8, 8]);
  const kept: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 3) kept.push(...s.push(bytes.slice(i, i + 3)));
  assert.deepEqual(kept.map((f) => [...f]), [[9, 9, 9, 9], [8, 8]]);
});

Deno.test("FrameSplitter refuses a giant or negative length before allocating", () => {
  assert.throws(() => [...new FrameSplitter().push(hex("7f ff ff ff 00"))], ProtocolError);
  assert.throws(() => [...new FrameSplitter().push(hex("80 00 00 00"))], ProtocolError);
  assert.throws(() => [...new FrameSplitter(1024).push(hex("00 00 04 01"))], ProtocolError);
});

Deno.test("request frames carry header v1 or v2 by flexibility", () => {
  const v0 = encodeRequestFrame(apiVersions, 0, { correlationId: 7, clientId: "c" }, {});
  // size, api key 18, version 0, correlation 7, client id "c"
  assert.equal(toHex(v0), "00 00 00 0b 00 12 00 00 00 00 00 07 00 01 63");
  const v3 = encodeRequestFrame(apiVersions, 3, { correlationId: 1, clientId: null }, {
    clientSoftwareName: "a",
    clientSoftwareVersion: "1",
  });
  // header v2: client id stays a classic nullable string (ff ff), then an empty tag section.
  assert.equal(toHex(v3), "00 00 00 10 00 12 00 03 00 00 00 01 ff ff 00 02 61 02 31 00");
  const r = new Reader(v3, 4);
  const h = decodeRequestHeader(r, (key, v) => key === 18 && v >= 3);
  assert.deepEqual(h, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: null });
  assert.deepEqual(apiVersions.decodeRequest(r, 3), { clientSoftwareName: "a", clientSoftwareVersion: "1" });
  r.done();
  assert.throws(() => encodeRequestFrame(apiVersions, 5, { correlationId: 1 }, {}), ProtocolError);
});

Deno.test("ApiVersions responses use header v0 even when flexible", () => {
  const res = { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 0 };
  const frame = encodeResponseFrame(apiVersions, 3, 42, res);
  // size, correlation id 42, then the body with no header tag section
  assert.equal(toHex(frame.subarray(4, 10)), "00 00 00 2a 00 00");
  const body = frame.subarray(4);
  assert.equal(peekCorrelationId(body), 42);
  assert.deepEqual(decodeResponseFrame(apiVersions, 3, body), res);
});

Deno.test("a truncated response frame is a ProtocolError", () => {
  const res = { errorCode: 0, apiKeys: [{ apiKey: 1, minVersion: 4, maxVersion: 18 }], throttleTimeMs: 5 };
  const body = encodeResponseFrame(apiVersions, 2, 1, res).subarray(4);
  for (let cut = 0; cut < body.length; cut++) {
    assert.throws(
      () => decodeResponseFrame(apiVersions, 2, body.subarray(0, cut)),
      ProtocolError,
      `cut ${cut}`,
    );
  }
  const extra = new Uint8Array([...body, 0]);
  assert.throws(() => decodeResponseFrame(apiVersions, 2, extra), ProtocolError);
});

/** Feeds `stream` to a FrameReader in reads of at most `step` bytes (bounded by its targets). */
function readAll(r: FrameReader, stream: Uint8Array, step: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const t = r.target();
    assert.ok(t.length > 0, "a target is never empty");
    const n = Math.min(step, t.length, stream.length - pos);
    t.set(stream.subarray(pos, pos + n));
    pos += n;
    for (const f of r.commit(n)) out.push(f);
  }
  return out;
}

Deno.test("FrameReader assembles frames of every size from reads of every size, each in its own buffer", () => {
  const sizes = [0, 1, 3, 100, 65_531, 65_532, 65_536, 200_000, 5, 0, 70_000, 2];
  const bodies = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 0xff));
  const stream = new Uint8Array(bodies.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const b of bodies) {
    new DataView(stream.buffer).setInt32(at, b.length);
    stream.set(b, at + 4);
    at += 4 + b.length;
  }
  for (const step of [1, 2, 3, 7, 4096, 65_536, 1 << 20]) {
    const frames = readAll(new FrameReader(), stream, step);
    assert.equal(frames.length, bodies.length, `reads of ${step}`);
    frames.forEach((f, i) => assert.deepEqual(f, bodies[i], `frame ${i}, reads of ${step}`));
    // Each frame owns its bytes: none is a view into the reused buffer or another frame's.
    assert.equal(new Set(frames.map((f) => f.buffer)).size, frames.length);
    frames.forEach((f) => assert.equal(f.byteOffset, 0));
  }
});

Deno.test("FrameReader refuses a giant or negative length before allocating", () => {
  for (
    const [bytes, max] of [["7f ff ff ff 00", undefined], ["80 00 00 00", undefined], [
      "00 00 04 01",
      1024,
    ]] as const
  ) {
    const r = new FrameReader(max);
    const b = hex(bytes);
    r.target().set(b);
    assert.throws(() => [...r.commit(b.length)], ProtocolError);
  }
});
