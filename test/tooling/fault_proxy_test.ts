// The fault proxy (scripts/fault_proxy.ts) on loopback, without Kafka: each
// fault does what it says. The delays asserted are lower bounds set by the
// fault itself (a correctness property of the proxy), never speed.
import assert from "node:assert/strict";
import { type FaultProxy, startFaultProxy } from "../../scripts/fault_proxy.ts";

/** An echo server (or a sink that counts bytes when `echo` is false) on a free loopback port. */
function server(echo = true): { port: number; received: () => number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  let received = 0;
  const loop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conns.add(conn);
      tasks.push((async () => {
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            received += n;
            if (echo) {
              let off = 0;
              while (off < n) off += await conn.write(buf.subarray(off, n));
            }
          }
        } catch {
          // closed
        }
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed
        }
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received: () => received,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await loop;
      await Promise.all(tasks);
    },
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function withProxy(
  echo: boolean,
  fn: (proxy: FaultProxy, conn: Deno.TcpConn, srv: ReturnType<typeof server>) => Promise<void>,
): Promise<void> {
  const srv = server(echo);
  const proxy = await startFaultProxy({ routes: [{ listenPort: freePort(), targetPort: srv.port }] });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.routes[0].listenPort });
  try {
    await fn(proxy, conn, srv);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the test
    }
    await proxy.close();
    await srv.close();
  }
}

/** Reads exactly `n` bytes, or fails after `timeoutMs`; resolves null on end of stream. */
async function readN(conn: Deno.Conn, n: number, timeoutMs = 10_000): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
  try {
    while (got < n) {
      const r = await Promise.race([conn.read(out.subarray(got)), timeout]);
      if (r === "timeout") throw new Error(`read ${got} of ${n} bytes in ${timeoutMs} ms`);
      if (r === null) return null;
      got += r;
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

Deno.test("fault proxy: forwards bytes both ways without faults", async () => {
  await withProxy(true, async (proxy, conn) => {
    const data = crypto.getRandomValues(new Uint8Array(50_000));
    await writeAll(conn, data);
    assert.deepEqual(await readN(conn, data.length), data);
    assert.equal(proxy.stats().bytesUp, data.length);
    assert.equal(proxy.stats().bytesDown, data.length);
  });
});

Deno.test("fault proxy: latency delays each way", async () => {
  await withProxy(true, async (proxy, conn) => {
    proxy.setFaults({ latencyMs: 150 });
    const t0 = performance.now();
    await writeAll(conn, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await readN(conn, 3), new Uint8Array([1, 2, 3]));
    const rtt = performance.now() - t0;
    assert.ok(rtt >= 295, `round trip ${rtt.toFixed(0)} ms through a proxy adding 150 ms each way`);
  });
});

Deno.test("fault proxy: resetEveryMs cuts open connections", async () => {
  await withProxy(true, async (proxy, conn) => {
    proxy.setFaults({ resetEveryMs: 200 });
    let ended = false;
    try {
      ended = await readN(conn, 1, 5_000) === null;
    } catch (err) {
      ended = !(err as Error).message.startsWith("read 0 of"); // ECONNRESET is a cut too
    }
    assert.ok(ended, "the connection was cut");
    assert.ok(proxy.stats().resets >= 1);
    proxy.setFaults({ resetEveryMs: 0 });
  });
});

Deno.test("fault proxy: a black hole holds bytes, then delivers them", async () => {
  await withProxy(true, async (proxy, conn) => {
    await writeAll(conn, new Uint8Array([9]));
    assert.deepEqual(await readN(conn, 1), new Uint8Array([9]));
    // Holes long enough that a loaded machine's late timers still look inside them.
    proxy.blackHole(3_000);
    assert.ok(proxy.inBlackHole());
    await writeAll(conn, new Uint8Array([7, 7]));
    for (let i = 0; i < 100 && proxy.stats().queuedBytes < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(proxy.inBlackHole());
    assert.equal(proxy.stats().bytesUp, 1, "nothing forwarded during the black hole");
    assert.equal(proxy.stats().queuedBytes, 2, "the bytes are held");
    assert.deepEqual(await readN(conn, 2, 10_000), new Uint8Array([7, 7]));
    assert.ok(!proxy.inBlackHole());
    // A connection made during a black hole is accepted but forwards nothing.
    proxy.blackHole(3_000);
    const late = await Deno.connect({ hostname: "127.0.0.1", port: proxy.routes[0].listenPort });
    try {
      await writeAll(late, new Uint8Array([5]));
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(proxy.inBlackHole());
      assert.equal(proxy.stats().bytesUp, 3, "nothing forwarded during the black hole");
      assert.deepEqual(await readN(late, 1, 10_000), new Uint8Array([5]));
    } finally {
      late.close();
    }
  });
});

Deno.test("fault proxy: bandwidth limit paces the bytes", async () => {
  await withProxy(false, async (proxy, conn, srv) => {
    proxy.setFaults({ bandwidthBytesPerSec: 20_000 });
    const t0 = performance.now();
    await writeAll(conn, new Uint8Array(12_000));
    for (let i = 0; i < 200 && srv.received() < 12_000; i++) await new Promise((r) => setTimeout(r, 50));
    const ms = performance.now() - t0;
    assert.equal(srv.received(), 12_000);
    assert.ok(ms >= 500, `12,000 bytes at 20,000 B/s took ${ms.toFixed(0)} ms`);
  });
});

Deno.test("fault proxy: half-close toClient ends the client's reads, its writes still arrive", async () => {
  await withProxy(false, async (proxy, conn, srv) => {
    await writeAll(conn, new Uint8Array(10));
    for (let i = 0; i < 100 && srv.received() < 10; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(proxy.halfClose("toClient"), 1);
    assert.equal(await readN(conn, 1), null, "the client reads end of stream");
    await writeAll(conn, new Uint8Array(5));
    for (let i = 0; i < 100 && srv.received() < 15; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(srv.received(), 15);
  });
});

Deno.test("fault proxy: half-close toBroker makes the broker side end the connection", async () => {
  await withProxy(true, async (proxy, conn) => {
    await writeAll(conn, new Uint8Array([1]));
    assert.deepEqual(await readN(conn, 1), new Uint8Array([1]));
    assert.equal(proxy.halfClose("toBroker"), 1);
    // The echo server sees end of stream and closes; the client then reads end of stream.
    assert.equal(await readN(conn, 1), null);
  });
});

Deno.test("fault proxy: bad faults are TypeErrors", async () => {
  const proxy = await startFaultProxy({ routes: [{ listenPort: freePort(), targetPort: 1 }] });
  try {
    assert.throws(() => proxy.setFaults({ latencyMs: -1 }), TypeError);
    assert.throws(() => proxy.setFaults({ latency: 5 } as never), /unknown fault "latency"/);
    assert.throws(() => proxy.halfClose("sideways" as never), TypeError);
    assert.throws(() => proxy.blackHole(Number.NaN), TypeError);
  } finally {
    await proxy.close();
  }
});
