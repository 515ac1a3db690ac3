import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { ConnectionError } from "../../src/errors.ts";

// Options that are wrong are reported before anything connects, with what to pass instead.

Deno.test("connect() without options says what to pass", async () => {
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect(),
    (e: unknown) =>
      e instanceof TypeError && /connect\(\) needs an options object, got no options/.test(e.message) &&
      e.message.includes('connect({ brokers: ["127.0.0.1:9092"] })'),
  );
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect(null),
    /connect\(\) needs an options object, got null/,
  );
});

Deno.test("connect() with brokers as a string says to pass an array", async () => {
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect({ brokers: "host-a:9092, host-b:9092" }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.includes('brokers must be an array of "host:port" strings, not a string') &&
      e.message.includes('brokers: ["host-a:9092","host-b:9092"]'),
  );
  await assert.rejects(() => connect({ brokers: [] }), /brokers is empty or not an array/);
  // @ts-expect-error: the mistake under test
  await assert.rejects(() => connect({ clientId: "x" }), /brokers is missing/);
  // @ts-expect-error: the mistake under test
  await assert.rejects(() => connect({ brokers: [9092] }), /brokers\[0\] must be a "host:port" string/);
});

Deno.test("an unknown client option names the key and the close match", async () => {
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect({ brokers: ["127.0.0.1:1"], requestTimeoutMS: 100 }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('Unknown client option key "requestTimeoutMS" (did you mean "requestTimeoutMs"?)'),
  );
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect({ brokers: ["127.0.0.1:1"], ssl: true }),
    (e: unknown) => e instanceof TypeError && e.message.startsWith('Unknown client option key "ssl"'),
  );
});

Deno.test("unknown keys in the nested tls and sasl options are named too", async () => {
  await assert.rejects(
    // @ts-expect-error: the mistake under test
    () => connect({ brokers: ["127.0.0.1:1"], tls: { servername: "kafka" } }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('Unknown tls option key "servername" (did you mean "serverName"?)'),
  );
  await assert.rejects(
    () =>
      connect({
        brokers: ["127.0.0.1:1"],
        // @ts-expect-error: the mistake under test
        sasl: { mechanism: "PLAIN", username: "u", password: "p", userName: "u" },
      }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('Unknown sasl option key "userName" (did you mean "username"?)') &&
      !e.message.includes('"p"'),
  );
});

/** A local HTTP server; returns its port and a stop function. */
function httpServer(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("hello"));
}

Deno.test("a bootstrap address that answers HTTP is reported as not speaking Kafka", async () => {
  const server = httpServer();
  try {
    const address = `127.0.0.1:${server.addr.port}`;
    await assert.rejects(
      () => connect({ brokers: [address], connectTimeoutMs: 10_000 }),
      (e: unknown) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.match(
          e.message,
          new RegExp(`${address} does not speak Kafka: its answer looks like HTTP \\("HTTP/1\\.1 `),
        );
        assert.doesNotMatch(e.message, /Frame size/);
        return true;
      },
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("a bootstrap address that answers other bytes shows them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"));
    conn.close();
  })();
  try {
    await assert.rejects(
      () => connect({ brokers: [`127.0.0.1:${listener.addr.port}`] }),
      /does not speak Kafka: its answer looks like SSH \("SSH-2\.0-OpenSSH_9\.2"\)/,
    );
  } finally {
    listener.close();
    await served;
  }
});

Deno.test("a bootstrap address that answers binary that is no Kafka frame shows its first bytes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00]));
    conn.close();
  })();
  try {
    await assert.rejects(
      () => connect({ brokers: [`127.0.0.1:${listener.addr.port}`] }),
      /does not speak Kafka: it answered bytes that are no Kafka frame \(7f 45 4c 46 02 01 01 00 00 00\)/,
    );
  } finally {
    listener.close();
    await served;
  }
});
