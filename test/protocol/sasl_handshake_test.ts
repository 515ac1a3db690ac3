import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/errors.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { Reader, Writer } from "../../protocol/primitives.ts";
import { HAVE_SHARED, sharedSchema } from "../_shared.ts";
import { saslHandshake as codec } from "../../protocol/apis/sasl_handshake.ts";

function encodeRequest<Req, Res>(c: ApiCodec<Req, Res>, req: Req, v: number): Uint8Array {
  const w = new Writer();
  c.encodeRequest(w, req, v);
  return w.finish().slice();
}

function encodeResponse<Req, Res>(c: ApiCodec<Req, Res>, res: Res, v: number): Uint8Array {
  const w = new Writer();
  c.encodeResponse(w, res, v);
  return w.finish().slice();
}

function decodeAll<T>(bytes: Uint8Array, read: (r: Reader) => T): T {
  const r = new Reader(bytes);
  const out = read(r);
  r.done();
  return out;
}

function assertEveryPrefixFails(bytes: Uint8Array, read: (r: Reader) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => read(new Reader(bytes.subarray(0, n))), ProtocolError, `prefix of ${n} bytes`);
  }
}

/** Checks key, versions (the request's unstable top excluded) and flexibility against the schema files. */
function assertMatchesSchema<Req, Res>(c: ApiCodec<Req, Res>, name: string): void {
  const req = sharedSchema(`${name}Request.json`);
  for (const s of [req, sharedSchema(`${name}Response.json`)]) {
    assert.equal(s.apiKey, c.apiKey);
    const [lo, hi] = String(s.validVersions).split("-").map(Number);
    assert.equal(c.minVersion, lo);
    assert.equal(c.maxVersion, req.latestVersionUnstable === true ? hi - 1 : hi);
    assert.equal(
      c.flexibleFrom,
      s.flexibleVersions === "none" ? Infinity : parseInt(String(s.flexibleVersions)),
    );
  }
}

function roundTrip<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assert.deepStrictEqual(decodeAll(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v)), req);
  assert.deepStrictEqual(decodeAll(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v)), res);
}

function assertTruncationFails<Req, Res>(c: ApiCodec<Req, Res>, v: number, req: Req, res: Res): void {
  assertEveryPrefixFails(encodeRequest(c, req, v), (r) => c.decodeRequest(r, v));
  assertEveryPrefixFails(encodeResponse(c, res, v), (r) => c.decodeResponse(r, v));
}

const bytes = (...b: number[]) => new Uint8Array(b);

const request = { mechanism: "SCRAM-SHA-512" };
const response = { errorCode: 0, mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] };

Deno.test("saslHandshake codec", async (t) => {
  await t.step("declares key 17, versions 0-1, never flexible", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [17, "SaslHandshake", 0, 1, Infinity],
    );
  });

  for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
    await t.step(
      `round-trips a full request and response at v${v}`,
      () => roundTrip(codec, v, request, response),
    );
    await t.step(
      `rejects a truncated body at v${v}`,
      () => assertTruncationFails(codec, v, request, response),
    );
  }

  await t.step("round-trips an empty mechanism list", () => {
    roundTrip(codec, 1, request, { errorCode: 33, mechanisms: [] });
  });

  await t.step("matches hand-derived bytes", () => {
    // string "PLAIN".
    assert.deepStrictEqual(
      encodeRequest(codec, { mechanism: "PLAIN" }, 1),
      bytes(0, 5, 0x50, 0x4c, 0x41, 0x49, 0x4e),
    );
    // int16 33 (UNSUPPORTED_SASL_MECHANISM), array of one string "PLAIN".
    const golden = bytes(0, 33, 0, 0, 0, 1, 0, 5, 0x50, 0x4c, 0x41, 0x49, 0x4e);
    assert.deepStrictEqual(encodeResponse(codec, { errorCode: 33, mechanisms: ["PLAIN"] }, 0), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeResponse(r, 0)), {
      errorCode: 33,
      mechanisms: ["PLAIN"],
    });
  });
});

Deno.test({
  name: "saslHandshake codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "SaslHandshake"),
});
