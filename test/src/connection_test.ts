import assert from "node:assert/strict";
import { apiVersions } from "../../protocol/apis/api_versions.ts";
import { metadata } from "../../protocol/apis/metadata.ts";
import { offsetFetch } from "../../protocol/apis/offset_fetch.ts";
import { produce } from "../../protocol/apis/produce.ts";
import { Connection } from "../../src/connection.ts";
import { ConnectionError, ProtocolError, TimeoutError, UnsupportedVersionError } from "../../src/errors.ts";
import { apiVersionsReply, fakeBroker, reply } from "../_fake_broker.ts";

const EMPTY_METADATA = {
  throttleTimeMs: 0,
  brokers: [],
  clusterId: null,
  controllerId: -1,
  topics: [],
  clusterAuthorizedOperations: -2147483648,
  errorCode: 0,
};

Deno.test("the handshake retries ApiVersions with the broker's version after UNSUPPORTED_VERSION", async () => {
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18 && h.apiVersion > 2) {
      // An older broker answers in v0 with error 35 and its own range (KIP-511).
      const frame = apiVersionsReply({ ...h, apiVersion: 0 }, [[18, 0, 2]]);
      frame[9] = 35; // error code low byte, after size(4) + correlation(4) + error high byte
      return frame;
    }
    if (h.apiKey === 18) return apiVersionsReply(h, [[18, 0, 2], [3, 0, 8]]);
    return null;
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    assert.deepEqual(broker.requests.map((r) => r.apiVersion), [4, 2]);
    assert.equal(conn.versionFor(metadata), 8);
  } finally {
    conn.close();
  }
});

Deno.test("version negotiation fails clearly when the ranges do not overlap", async () => {
  await using broker = fakeBroker((h) =>
    h.apiKey === 18 ? apiVersionsReply(h, [[18, 0, 4], [3, 14, 20]]) : null
  );
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    assert.throws(() => conn.versionFor(metadata), UnsupportedVersionError);
    await assert.rejects(() => conn.request(metadata, { topics: null }), /Metadata v14-20, we speak v0-13/);
  } finally {
    conn.close();
  }
});

Deno.test("responses are matched by correlation id even when they arrive out of order", async () => {
  const held: Uint8Array[] = [];
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18) return apiVersionsReply(h);
    held.push(reply(metadata, h, { ...EMPTY_METADATA, controllerId: h.correlationId }));
    // Answer the three requests in reverse once all have arrived.
    return held.length === 3 ? held.reverse() : null;
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    const results = await Promise.all([0, 1, 2].map(() => conn.request(metadata, { topics: [] })));
    const ids = results.map((r) => r.controllerId);
    assert.deepEqual([...ids].sort(), ids, "each caller got its own response");
  } finally {
    conn.close();
  }
});

Deno.test("a response with an unknown correlation id is a ProtocolError and fails the connection", async () => {
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18) return apiVersionsReply(h);
    return reply(metadata, { ...h, correlationId: h.correlationId + 1000 }, EMPTY_METADATA);
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  await assert.rejects(() => conn.request(metadata, { topics: [] }), ProtocolError);
  assert.ok(conn.isClosed);
});

Deno.test("a truncated response body is a ProtocolError naming the API", async () => {
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18) return apiVersionsReply(h);
    const full = reply(metadata, h, EMPTY_METADATA);
    const cut = full.slice(0, full.length - 3);
    new DataView(cut.buffer).setInt32(0, cut.length - 4);
    return cut;
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    await assert.rejects(() => conn.request(metadata, { topics: [] }), (e: Error) => {
      assert.ok(e instanceof ProtocolError);
      assert.match(e.message, /Metadata v13 response/);
      return true;
    });
  } finally {
    conn.close();
  }
});

Deno.test("a giant frame length is refused without allocating it", async () => {
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18) return apiVersionsReply(h);
    return new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  await assert.rejects(() => conn.request(metadata, { topics: [] }), ProtocolError);
  assert.ok(conn.isClosed);
});

Deno.test("a request that gets no answer times out and the connection is dropped", async () => {
  await using broker = fakeBroker((h) => h.apiKey === 18 ? apiVersionsReply(h) : null);
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  await assert.rejects(() => conn.request(metadata, { topics: [] }, { timeoutMs: 100 }), TimeoutError);
  assert.ok(conn.isClosed);
});

Deno.test("a broker that closes mid-request fails every request in flight with ConnectionError", async () => {
  await using broker = fakeBroker((h, _r, n) =>
    h.apiKey === 18 ? apiVersionsReply(h) : n >= 3 ? "close" : null
  );
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  const results = await Promise.allSettled([0, 1, 2].map(() => conn.request(metadata, { topics: [] })));
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok((r as PromiseRejectedResult).reason instanceof ConnectionError);
  }
});

Deno.test("the handshake times out against a silent broker", async () => {
  await using broker = fakeBroker(() => null);
  await assert.rejects(
    () => Connection.connect({ host: "127.0.0.1", port: broker.port, connectTimeoutMs: 200 }),
    TimeoutError,
  );
});

Deno.test("close() rejects requests in flight with ClosedError and is idempotent", async () => {
  await using broker = fakeBroker((h) => h.apiKey === 18 ? apiVersionsReply(h) : null);
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  const p = conn.request(metadata, { topics: [] });
  conn.close();
  conn.close();
  await assert.rejects(() => p, { name: "ClosedError" });
  await assert.rejects(() => conn.request(apiVersions, {}), { name: "ClosedError" });
});

/** A raw flexible response frame (response header v1: correlation id, no tags) with `body`. */
function rawFlexibleFrame(correlationId: number, body: number[]): Uint8Array {
  const size = 4 + 1 + body.length;
  const out = new Uint8Array(4 + size);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, size);
  dv.setInt32(4, correlationId);
  out[8] = 0; // no header tags
  out.set(body, 9);
  return out;
}

Deno.test("a null where the schema forbids it: accepted as empty where unambiguous, else a ProtocolError naming broker, API, version and field", async () => {
  // OffsetFetch v7 with a null topic list (tansu 0.6 for a group without commits), v8 with a null group list.
  await using broker = fakeBroker(
    (h) => {
      if (h.apiKey === 18) return apiVersionsReply(h, [[18, 0, 4], [9, 1, 8]]);
      if (h.apiKey === 9 && h.apiVersion === 7) {
        return rawFlexibleFrame(h.correlationId, [0, 0, 0, 0, 0, 0, 0, 0]);
      }
      if (h.apiKey === 9 && h.apiVersion === 8) return rawFlexibleFrame(h.correlationId, [0, 0, 0, 0, 0, 0]);
      return null;
    },
    (k, v) => k === 18 ? v >= 3 : k === 9 ? v >= 6 : false,
  );
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    const v7 = await conn.request(offsetFetch, { groupId: "g", topics: null }, { version: 7 });
    assert.deepEqual([v7.topics, v7.errorCode], [[], 0], "null topics read as none");
    const err = await conn.request(offsetFetch, { groups: [{ groupId: "g", topics: null }] }, { version: 8 })
      .then(
        () => null,
        (e) => e,
      );
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(
      err.message,
      `OffsetFetch v8 response from 127.0.0.1:${broker.port}: ` +
        "Null in the non-nullable compact array OffsetFetchResponse.Groups",
    );
  } finally {
    conn.close();
  }
});

Deno.test("waitForWrite: a request whose write is stuck settles once the connection fails and the write has ended", async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  await using broker = fakeBroker(async (h) => {
    if (h.apiKey === 18) return apiVersionsReply(h, [[18, 0, 2], [3, 0, 8], [0, 3, 8]]);
    await gate; // stops reading this connection: the socket fills up
    return null;
  });
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = conn.request(metadata, { topics: [] }, { timeoutMs: 60_000 }).catch((e) => e);
    const records = new Uint8Array(64 * 1024 * 1024); // far more than the socket buffers hold
    const big = conn.request(produce, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records }] }],
    }, { timeoutMs: 300, sizeHint: records.length + 256, waitForWrite: true }).catch((e) => e);
    // Bounded: if closing the socket did not end the pending write, this would wait forever.
    const bound = new Promise((r) => timer = setTimeout(() => r("still pending after 30 s"), 30_000));
    const err = await Promise.race([big, bound]);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.match(err.message, /Produce request .* timed out after 300 ms/);
    assert.ok((await first) instanceof TimeoutError, "the connection's other requests fail with it");
  } finally {
    clearTimeout(timer);
    open();
    conn.close();
  }
});
