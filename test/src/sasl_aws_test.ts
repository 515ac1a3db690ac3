/**
 * SigV4 against AWS's published examples, and the AWS_MSK_IAM mechanism and
 * MSK's OAUTHBEARER token against a scripted fake broker that verifies the
 * signature the way MSK documents it (a presigned `kafka-cluster:Connect`
 * GET to the broker's host). No real AWS service is involved.
 *
 * Vectors (public, from AWS's documentation):
 * - "get-vanilla" and "get-vanilla-query-order-key-case" of the Signature
 *   Version 4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html;
 *   AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service").
 * - The Amazon S3 API reference's SigV4 examples (sig-v4-header-based-auth.html "GET Object"
 *   and sigv4-query-string-auth.html presigned URL; AKIAIOSFODNN7EXAMPLE, 20130524T000000Z).
 */

import assert from "node:assert/strict";
import {
  amzDate,
  canonicalQuery,
  EMPTY_SHA256,
  presign,
  sha256Hex,
  sigV4Signature,
  uriEncode,
} from "../../src/net/sasl/sigv4.ts";
import { awsCredentials, awsRegion, mskIamPayload, mskOAuthToken } from "../../src/net/sasl/aws_msk_iam.ts";
import { Connection } from "../../src/connection.ts";
import { saslAuthenticate } from "../../protocol/apis/sasl_authenticate.ts";
import { saslHandshake } from "../../protocol/apis/sasl_handshake.ts";
import { apiVersionsReply, fakeBroker, reply } from "../_fake_broker.ts";
import { AuthenticationError, mskIamTokenProvider } from "../../mod.ts";

const SUITE = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const SUITE_SCOPE = { region: "us-east-1", service: "service", amzDate: "20150830T123600Z" };

Deno.test("sigV4Signature() matches the test suite's get-vanilla", async () => {
  assert.equal(await sha256Hex(""), EMPTY_SHA256);
  const sig = await sigV4Signature(
    {
      method: "GET",
      host: "example.amazonaws.com",
      path: "/",
      query: [],
      headers: [["X-Amz-Date", "20150830T123600Z"]],
      payloadHash: EMPTY_SHA256,
    },
    SUITE_SCOPE,
    SUITE.secretAccessKey,
  );
  assert.equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
});

Deno.test("sigV4Signature() matches get-vanilla-query-order-key-case (query sorted)", async () => {
  const sig = await sigV4Signature(
    {
      method: "GET",
      host: "example.amazonaws.com",
      path: "/",
      query: [["Param2", "value2"], ["Param1", "value1"]],
      headers: [["X-Amz-Date", "20150830T123600Z"]],
      payloadHash: EMPTY_SHA256,
    },
    SUITE_SCOPE,
    SUITE.secretAccessKey,
  );
  assert.equal(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
});

const S3 = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const S3_SCOPE = { region: "us-east-1", service: "s3", amzDate: "20130524T000000Z" };

Deno.test("sigV4Signature() matches the S3 reference's header-signed GET Object", async () => {
  const sig = await sigV4Signature(
    {
      method: "GET",
      host: "examplebucket.s3.amazonaws.com",
      path: "/test.txt",
      query: [],
      headers: [["Range", "bytes=0-9"], ["x-amz-content-sha256", EMPTY_SHA256], [
        "x-amz-date",
        "20130524T000000Z",
      ]],
      payloadHash: EMPTY_SHA256,
    },
    S3_SCOPE,
    S3.secretAccessKey,
  );
  assert.equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
});

Deno.test("presign() matches the S3 reference's presigned URL", async () => {
  const q = await presign(
    { host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [], payloadHash: "UNSIGNED-PAYLOAD" },
    S3_SCOPE,
    S3,
    86400,
  );
  assert.equal(
    canonicalQuery(q.filter(([k]) => k !== "X-Amz-Signature")),
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
  );
  assert.deepEqual(q.at(-1), [
    "X-Amz-Signature",
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
  ]);
});

Deno.test("uriEncode() and amzDate() follow SigV4's rules", () => {
  assert.equal(uriEncode("kafka-cluster:Connect a/b~"), "kafka-cluster%3AConnect%20a%2Fb~");
  assert.equal(uriEncode("é"), "%C3%A9");
  assert.equal(amzDate(new Date("2013-05-24T00:00:00.123Z")), "20130524T000000Z");
});

const CREDS = {
  accessKeyId: "AKIAFAKEFAKEFAKE",
  secretAccessKey: "fake-secret-key-for-tests",
  sessionToken: "tok/en+1",
};

/** What MSK does with an AWS_MSK_IAM payload: recompute the presigned request's signature from the secret it knows. */
async function verifyMskPayload(
  p: Record<string, string>,
  host: string,
  secret: string,
): Promise<string | null> {
  if (p.version !== "2020_10_22") return "bad version";
  if (p.action !== "kafka-cluster:Connect") return "bad action";
  if (p.host !== host) return `host ${p.host} is not ${host}`;
  if (p["x-amz-algorithm"] !== "AWS4-HMAC-SHA256") return "bad algorithm";
  const [, day, region, service, term] = p["x-amz-credential"].split("/");
  if (service !== "kafka-cluster" || term !== "aws4_request" || p["x-amz-date"].slice(0, 8) !== day) {
    return "bad credential scope";
  }
  const query: [string, string][] = [
    ["Action", p.action],
    ["X-Amz-Algorithm", p["x-amz-algorithm"]],
    ["X-Amz-Credential", p["x-amz-credential"]],
    ["X-Amz-Date", p["x-amz-date"]],
    ["X-Amz-Expires", p["x-amz-expires"]],
    ["X-Amz-SignedHeaders", p["x-amz-signedheaders"]],
  ];
  if (p["x-amz-security-token"]) query.push(["X-Amz-Security-Token", p["x-amz-security-token"]]);
  const expected = await sigV4Signature(
    { method: "GET", host, path: "/", query, headers: [], payloadHash: EMPTY_SHA256 },
    { region, service, amzDate: p["x-amz-date"] },
    secret,
  );
  return expected === p["x-amz-signature"] ? null : "signature mismatch";
}

Deno.test("mskIamPayload() carries a signature a verifier recomputes", async () => {
  const p = await mskIamPayload("b-1.example.kafka.us-east-1.amazonaws.com", "us-east-1", CREDS);
  assert.equal(p["x-amz-expires"], "900");
  assert.equal(p["x-amz-signedheaders"], "host");
  assert.equal(p["x-amz-security-token"], "tok/en+1");
  assert.equal(
    await verifyMskPayload(p, "b-1.example.kafka.us-east-1.amazonaws.com", CREDS.secretAccessKey),
    null,
  );
  assert.equal(
    await verifyMskPayload(p, "b-1.example.kafka.us-east-1.amazonaws.com", "other"),
    "signature mismatch",
  );
  assert.equal(
    await verifyMskPayload(p, "b-2.example", CREDS.secretAccessKey),
    `host ${p.host} is not b-2.example`,
  );
});

/** A fake MSK broker: SASL handshake for AWS_MSK_IAM, then verifies the payload with `secret`. */
function fakeMsk(secret: string, seen: Record<string, string>[]) {
  return fakeBroker(async (header, body) => {
    if (header.apiKey === 18) {
      return apiVersionsReply(header, [[18, 0, 3], [3, 0, 12], [17, 1, 1], [36, 0, 2]]);
    }
    if (header.apiKey === 17) {
      const req = saslHandshake.decodeRequest(body, header.apiVersion);
      return reply(saslHandshake, header, {
        errorCode: req.mechanism === "AWS_MSK_IAM" ? 0 : 33,
        mechanisms: ["AWS_MSK_IAM"],
      });
    }
    if (header.apiKey === 36) {
      const req = saslAuthenticate.decodeRequest(body, header.apiVersion);
      const payload = JSON.parse(new TextDecoder().decode(req.authBytes));
      seen.push(payload);
      const problem = await verifyMskPayload(payload, "127.0.0.1", secret);
      return reply(saslAuthenticate, header, {
        errorCode: problem ? 58 : 0,
        errorMessage: problem ? `[${payload["x-amz-credential"].split("/")[0]}] Access denied` : null,
        authBytes: problem
          ? new Uint8Array()
          : new TextEncoder().encode('{"version":"2020_10_22","request-id":"r-1"}'),
        sessionLifetimeMs: problem ? 0n : 60_000n,
      });
    }
    return "close";
  }, (k, v) => k === 18 ? v >= 3 : k === 36 ? v >= 2 : false);
}

Deno.test("AWS_MSK_IAM: a fake broker verifies the signed payload; a wrong secret is an AuthenticationError without it", async () => {
  const seen: Record<string, string>[] = [];
  await using broker = fakeMsk(CREDS.secretAccessKey, seen);
  let calls = 0;
  const conn = await Connection.connect({
    host: "127.0.0.1",
    port: broker.port,
    sasl: {
      mechanism: "AWS_MSK_IAM",
      region: "eu-west-1",
      credentials: () => {
        calls++;
        return Promise.resolve(CREDS);
      },
    },
  });
  conn.close();
  assert.equal(calls, 1);
  assert.equal(seen.length, 1);
  assert.match(
    seen[0]["x-amz-credential"],
    /^AKIAFAKEFAKEFAKE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
  );

  const err = await Connection.connect({
    host: "127.0.0.1",
    port: broker.port,
    sasl: {
      mechanism: "AWS_MSK_IAM",
      region: "eu-west-1",
      credentials: { ...CREDS, secretAccessKey: "wrong-secret-key" },
    },
  }).then((c) => {
    c.close();
    return null;
  }, (e: Error) => e);
  assert.ok(err instanceof AuthenticationError, String(err));
  assert.match(
    err.message,
    new RegExp(`SASL AWS_MSK_IAM authentication with broker ${broker.address} failed`),
  );
  assert.ok(!Deno.inspect(err, { depth: 10 }).includes("wrong-secret-key"));
});

Deno.test("AWS_MSK_IAM without credentials or region names what to set", async () => {
  await using broker = fakeMsk(CREDS.secretAccessKey, []);
  const err = await Connection.connect({
    host: "127.0.0.1",
    port: broker.port,
    sasl: {
      mechanism: "AWS_MSK_IAM",
      region: "eu-west-1",
      credentials: () => Promise.reject(new Error("no profile")),
    },
  }).then((c) => {
    c.close();
    return null;
  }, (e: Error) => e);
  assert.ok(err instanceof AuthenticationError, String(err));
  assert.match(err.message, /AWS_MSK_IAM authentication with broker .* failed: no profile/);
});

Deno.test("MSK OAUTHBEARER token: a base64url presigned URL for kafka.<region>.amazonaws.com that verifies", async () => {
  const now = new Date("2026-01-02T03:04:05Z");
  const t = await mskOAuthToken("us-west-2", CREDS, now);
  assert.equal(t.lifetimeMs, now.getTime() + 900_000);
  assert.match(t.value, /^[A-Za-z0-9_-]+$/);
  const url = new URL(atob(t.value.replaceAll("-", "+").replaceAll("_", "/")));
  assert.equal(url.origin, "https://kafka.us-west-2.amazonaws.com");
  const q = url.searchParams;
  assert.equal(q.get("Action"), "kafka-cluster:Connect");
  assert.equal(q.get("X-Amz-Date"), "20260102T030405Z");
  assert.equal(q.get("X-Amz-Credential"), "AKIAFAKEFAKEFAKE/20260102/us-west-2/kafka-cluster/aws4_request");
  assert.equal(q.get("X-Amz-Security-Token"), "tok/en+1");
  assert.equal(q.get("User-Agent"), "kafka-deno");
  const signed: [string, string][] = [...q].filter(([k]) => k !== "X-Amz-Signature" && k !== "User-Agent");
  const sig = await sigV4Signature(
    { method: "GET", host: url.host, path: "/", query: signed, headers: [], payloadHash: EMPTY_SHA256 },
    { region: "us-west-2", service: "kafka-cluster", amzDate: "20260102T030405Z" },
    CREDS.secretAccessKey,
  );
  assert.equal(q.get("X-Amz-Signature"), sig);
  const p = mskIamTokenProvider({ region: "us-west-2", credentials: CREDS });
  assert.ok((await p()).lifetimeMs > Date.now());
});

Deno.test("AWS credentials and region come from the environment when not given", async () => {
  const names = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
  ];
  const saved = new Map(names.map((n) => [n, Deno.env.get(n)]));
  try {
    for (const n of names) Deno.env.delete(n);
    await assert.rejects(
      () => awsCredentials({}),
      /No AWS credentials: pass credentials or set AWS_ACCESS_KEY_ID/,
    );
    assert.throws(() => awsRegion({}), /No AWS region/);
    Deno.env.set("AWS_ACCESS_KEY_ID", "AKIAENV");
    Deno.env.set("AWS_SECRET_ACCESS_KEY", "env-secret");
    Deno.env.set("AWS_SESSION_TOKEN", "env-token");
    Deno.env.set("AWS_DEFAULT_REGION", "ap-south-1");
    assert.deepEqual(await awsCredentials({}), {
      accessKeyId: "AKIAENV",
      secretAccessKey: "env-secret",
      sessionToken: "env-token",
    });
    assert.equal(awsRegion({}), "ap-south-1");
    Deno.env.set("AWS_REGION", "eu-north-1");
    assert.equal(awsRegion({}), "eu-north-1");
    assert.equal(awsRegion({ region: "us-east-2" }), "us-east-2");
    // An explicit object wins over the environment.
    assert.equal((await awsCredentials({ credentials: CREDS })).accessKeyId, CREDS.accessKeyId);
  } finally {
    for (const [n, v] of saved) v === undefined ? Deno.env.delete(n) : Deno.env.set(n, v);
  }
});
