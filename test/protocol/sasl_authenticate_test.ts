import assert from "node:assert/strict";
import { HAVE_SHARED } from "../_shared.ts";
import {
  saslAuthenticate as codec,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
} from "../../protocol/apis/sasl_authenticate.ts";
import {
  assertMatchesSchema,
  assertTruncationFails,
  bytes,
  decodeAll,
  encodeRequest,
  encodeResponse,
  roundTrip,
  unknownTags,
} from "./_codec.ts";

const token = new TextEncoder().encode("\0alice\0secret");

function request(): SaslAuthenticateRequest {
  return { authBytes: token };
}

function response(v: number): SaslAuthenticateResponse {
  return {
    errorCode: 0,
    errorMessage: null,
    authBytes: new TextEncoder().encode("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    sessionLifetimeMs: v >= 1 ? 3_600_000n : 0n,
  };
}

Deno.test("saslAuthenticate codec", async (t) => {
  await t.step("declares key 36, versions 0-2, flexible from 2", () => {
    assert.deepStrictEqual(
      [codec.apiKey, codec.name, codec.minVersion, codec.maxVersion, codec.flexibleFrom],
      [36, "SaslAuthenticate", 0, 2, 2],
    );
  });

  for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
    await t.step(
      `round-trips a full request and response at v${v}`,
      () => roundTrip(codec, v, request(), response(v)),
    );
    await t.step(
      `rejects a truncated body at v${v}`,
      () => assertTruncationFails(codec, v, request(), response(v)),
    );
  }

  await t.step("round-trips an error message", () => {
    const res = {
      ...response(2),
      errorCode: 58,
      errorMessage: "Authentication failed",
      authBytes: new Uint8Array(0),
    };
    roundTrip(codec, 2, request(), res);
  });

  await t.step("keeps unknown tagged fields at v2", () => {
    roundTrip(codec, 2, { ...request(), taggedFields: unknownTags }, {
      ...response(2),
      taggedFields: unknownTags,
    });
  });

  await t.step("decodes auth bytes as a view into the input", () => {
    const encoded = encodeRequest(codec, request(), 2);
    assert.strictEqual(decodeAll(encoded, (r) => codec.decodeRequest(r, 2)).authBytes.buffer, encoded.buffer);
  });

  await t.step("matches hand-derived bytes", () => {
    // v0: bytes [1, 2] with an int32 length; v2: compact bytes, no tags.
    assert.deepStrictEqual(encodeRequest(codec, { authBytes: bytes(1, 2) }, 0), bytes(0, 0, 0, 2, 1, 2));
    assert.deepStrictEqual(encodeRequest(codec, { authBytes: bytes(1, 2) }, 2), bytes(3, 1, 2, 0));
    // v0 response: int16 58, string "bad", empty bytes.
    const res = { errorCode: 58, errorMessage: "bad", authBytes: new Uint8Array(0), sessionLifetimeMs: 0n };
    const golden = bytes(0, 58, 0, 3, 0x62, 0x61, 0x64, 0, 0, 0, 0);
    assert.deepStrictEqual(encodeResponse(codec, res, 0), golden);
    assert.deepStrictEqual(decodeAll(golden, (r) => codec.decodeResponse(r, 0)), res);
    // v1 appends int64 session lifetime.
    assert.deepStrictEqual(
      encodeResponse(codec, { ...res, sessionLifetimeMs: 1000n }, 1),
      bytes(...golden, 0, 0, 0, 0, 0, 0, 3, 0xe8),
    );
  });
});

Deno.test({
  name: "saslAuthenticate codec matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn: () => assertMatchesSchema(codec, "SaslAuthenticate"),
});
