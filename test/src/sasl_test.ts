import assert from "node:assert/strict";
import { checkSasl, plain, scram } from "../../src/sasl.ts";
import { describeTlsError, resolveTls } from "../../src/tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// RFC 7677 section 3: user "user", password "pencil", the client nonce fixed.
const RFC7677 = {
  nonce: "rOprNGfwEbeRWgbNEkqO",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

Deno.test("scram() reproduces the SCRAM-SHA-256 exchange of RFC 7677", async () => {
  const c = scram("SHA-256", "user", "pencil", RFC7677.nonce);
  assert.equal(dec.decode(await c.start()), RFC7677.clientFirst);
  const final = await c.next(enc.encode(RFC7677.serverFirst));
  assert.equal(dec.decode(final!), RFC7677.clientFinal);
  assert.equal(await c.next(enc.encode(RFC7677.serverFinal)), null);
});

Deno.test("scram() rejects a server that cannot prove it knows the password", async (t) => {
  const started = async () => {
    const c = scram("SHA-256", "user", "pencil", RFC7677.nonce);
    await c.start();
    return c;
  };
  await t.step("a wrong server signature", async () => {
    const c = await started();
    await c.next(enc.encode(RFC7677.serverFirst));
    await assert.rejects(
      () => c.next(enc.encode("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
      /signature is wrong/,
    );
  });
  await t.step("a server nonce that does not extend ours", async () => {
    const c = await started();
    await assert.rejects(
      () => c.next(enc.encode("r=somebodyElse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")),
      /nonce does not extend ours/,
    );
  });
  await t.step("fewer than 4096 iterations", async () => {
    const c = await started();
    await assert.rejects(
      () => c.next(enc.encode(`r=${RFC7677.nonce}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1`)),
      /1 iterations/,
    );
  });
  await t.step("a server error attribute", async () => {
    const c = await started();
    await c.next(enc.encode(RFC7677.serverFirst));
    await assert.rejects(() => c.next(enc.encode("e=invalid-proof")), /invalid-proof/);
  });
});

Deno.test("scram() escapes '=' and ',' in the user name (RFC 5802 saslname)", async () => {
  const c = scram("SHA-512", "a=b,c", "x", "nonce");
  assert.equal(dec.decode(await c.start()), "n,,n=a=3Db=2Cc,r=nonce");
});

Deno.test("plain() sends an empty authzid, the user and the password", async () => {
  assert.deepEqual(await plain("alice", "pw").start(), enc.encode("\0alice\0pw"));
});

Deno.test("checkSasl() rejects bad options without echoing the password", () => {
  assert.throws(
    () => checkSasl({ mechanism: "GSSAPI" as "PLAIN", username: "u", password: "hunter2" }),
    (e: Error) => e instanceof TypeError && /GSSAPI/.test(e.message) && !e.message.includes("hunter2"),
  );
  assert.throws(() => checkSasl({ mechanism: "PLAIN", username: "", password: "hunter2" }), TypeError);
  assert.throws(
    () => checkSasl({ mechanism: "PLAIN", username: "u", password: 42 as unknown as string }),
    (e: Error) => e instanceof TypeError && !e.message.includes("42"),
  );
});

Deno.test("resolveTls() checks its options", () => {
  assert.equal(resolveTls(undefined), null);
  assert.equal(resolveTls(false), null);
  assert.deepEqual(resolveTls(true), {
    caCerts: [],
    clientCert: null,
    serverName: null,
    unsafelyDisableHostnameVerification: false,
  });
  assert.throws(() => resolveTls({ ca: "not a pem" }), /tls\.ca\[0\]/);
  assert.throws(() => resolveTls({ cert: "-----BEGIN CERTIFICATE-----" }), /both tls\.cert and tls\.key/);
  const secretKey = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nsecret\n-----END ENCRYPTED PRIVATE KEY-----";
  assert.throws(
    () => resolveTls({ cert: "-----BEGIN CERTIFICATE-----", key: secretKey }),
    (e: Error) => /encrypted/.test(e.message) && !e.message.includes("secret\n"),
  );
  assert.throws(
    () =>
      resolveTls({
        cert: "-----BEGIN CERTIFICATE-----",
        key: "-----BEGIN PRIVATE KEY-----",
        serverName: "kafka",
      }),
    /serverName cannot be combined/,
  );
});

Deno.test("describeTlsError() names the check that failed", () => {
  const d = (m: string, cert = false) => describeTlsError(new Error(m), "h:1", cert);
  assert.match(d("invalid peer certificate: UnknownIssuer"), /not signed by a trusted CA/);
  assert.match(
    d('invalid peer certificate: certificate not valid for name "x"'),
    /hostname verification failed/,
  );
  assert.match(d("invalid peer certificate: Expired"), /expired/);
  assert.match(d("received fatal alert: CertificateRequired"), /requires a client certificate/);
  assert.match(d("received fatal alert: BadCertificate", true), /rejected the client certificate/);
  assert.match(d("unexpected end of file"), /closed the connection during the TLS handshake/);
});
