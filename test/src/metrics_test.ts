import assert from "node:assert/strict";
import { metadata } from "../../protocol/apis/metadata.ts";
import { Connection } from "../../src/connection.ts";
import {
  ClientRecorder,
  ConsumerRecorder,
  ErrorCounts,
  Histogram,
  Meter,
  ProducerRecorder,
  ShareConsumerRecorder,
} from "../../src/observe/metrics.ts";
import { loadTelemetry, telemetryWanted } from "../../src/observe/otel.ts";
import { BrokerError, TimeoutError } from "../../src/errors.ts";
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

Deno.test("Histogram percentiles of 1..10,000 are within 5% and max is exact", () => {
  const h = new Histogram();
  for (let i = 1; i <= 10_000; i++) h.record(i);
  const s = h.summary();
  assert.equal(s.count, 10_000);
  assert.equal(s.max, 10_000);
  assert.equal(s.mean, 5000.5);
  assert.ok(Math.abs(s.p50 - 5000) / 5000 < 0.05, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.p99 - 9900) / 9900 < 0.05, `p99 ${s.p99}`);
});

Deno.test("Histogram handles sub-millisecond, zero and huge values, and stays empty when unused", () => {
  assert.deepEqual(new Histogram().summary(), { count: 0, mean: 0, p50: 0, p99: 0, max: 0 });
  const h = new Histogram();
  for (let i = 0; i < 60; i++) h.record(0);
  for (let i = 0; i < 39; i++) h.record(0.05);
  h.record(1e15);
  const s = h.summary();
  assert.equal(s.p50, 0);
  assert.ok(s.p99 > 0.045 && s.p99 < 0.055, `p99 ${s.p99}`);
  assert.equal(s.max, 1e15);
});

Deno.test("Meter counts a total and a positive rate", () => {
  const m = new Meter();
  m.add(100);
  m.add(50);
  assert.equal(m.total, 150);
  assert.ok(m.rate() > 0);
});

Deno.test("ErrorCounts names broker errors by Kafka name and others by class", () => {
  const e = new ErrorCounts();
  e.add(new BrokerError(6));
  e.add(new BrokerError(6));
  e.add(new TimeoutError("x"));
  assert.deepEqual(e.toRecord(), { NOT_LEADER_OR_FOLLOWER: 2, TimeoutError: 1 });
});

Deno.test("ProducerRecorder sums batches and computes the compression ratio", () => {
  const p = new ProducerRecorder();
  p.batch(10, 100, 400);
  p.batch(30, 300, 1200);
  p.failed(5, new TimeoutError("late"));
  const s = p.snapshot(0, 0, 1024);
  assert.equal(s.recordsSent, 40);
  assert.equal(s.bytesSent, 400);
  assert.equal(s.uncompressedBytes, 1600);
  assert.equal(s.compressionRatio, 0.25);
  assert.equal(s.batches, 2);
  assert.equal(s.batchRecords.max, 30);
  assert.equal(s.recordsFailed, 5);
  assert.deepEqual(s.errors, { TimeoutError: 1 });
});

Deno.test("ConsumerRecorder: records per fetch, lag from high watermark minus position", () => {
  const c = new ConsumerRecorder();
  c.partition(3, 300);
  c.partition(4, 400);
  c.fetched(12);
  c.fetched(500);
  c.rebalanced(40);
  c.rebalanced(60);
  const s = c.snapshot([
    { topic: "t", partition: 1, position: 5n, highWatermark: 9n },
    { topic: "t", partition: 0, position: 10n, highWatermark: 10n },
    { topic: "t", partition: 2, position: 0n, highWatermark: -1n },
  ]);
  assert.equal(s.recordsReceived, 7);
  assert.equal(s.fetches, 2);
  assert.equal(s.recordsPerFetch.max, 7);
  assert.equal(s.fetchLatencyMs.max, 500);
  assert.deepEqual(s.lag.map((p) => [p.partition, p.lag]), [[0, 0], [1, 4], [2, -1]]);
  assert.equal(s.totalLag, 4);
  assert.equal(s.rebalances, 2);
  assert.equal(s.rebalanceTotalMs, 100);
  assert.equal(s.lastRebalanceMs, 60);
});

Deno.test("ShareConsumerRecorder: records per fetch, redeliveries, confirmed acknowledgements by type, failures", () => {
  const r = new ShareConsumerRecorder();
  r.partition(3, 300, 1);
  r.partition(2, 200, 0);
  r.fetched(20);
  r.fetched(500);
  r.fetchFailed(new TimeoutError("slow"));
  // Wire types: 0 gap (not counted), 1 accept, 2 release, 3 reject, 4 renew.
  r.confirmed([9, 3, 1, 1, 0]);
  r.confirmed([0, 0, 0, 0, 2]);
  r.ackLatency.record(7);
  r.ackFailed(new BrokerError(121, { api: "ShareAcknowledge" }));
  r.locksExpired++;
  const s = r.snapshot(4);
  assert.equal(s.recordsReceived, 5);
  assert.equal(s.bytesReceived, 500);
  assert.equal(s.redeliveries, 1);
  assert.equal(s.fetches, 2);
  assert.equal(s.recordsPerFetch.max, 5);
  assert.equal(s.recordsPerFetch.count, 2);
  assert.equal(s.fetchLatencyMs.max, 500);
  assert.equal(s.fetchErrors, 1);
  assert.deepEqual(
    [s.recordsAccepted, s.recordsReleased, s.recordsRejected, s.recordsRenewed],
    [3, 1, 1, 2],
  );
  assert.equal(s.acknowledgeRequests, 1);
  assert.equal(s.acknowledgeErrors, 1);
  assert.equal(s.locksExpired, 1);
  assert.equal(s.buffered, 4);
  assert.deepEqual(s.errors, { TimeoutError: 1, INVALID_RECORD_STATE: 1 });
  // A fresh recorder (what metrics: false reports) is all zeros.
  const off = new ShareConsumerRecorder().snapshot(0);
  assert.equal(off.recordsReceived + off.fetches + off.recordsAccepted + off.acknowledgeRequests, 0);
});

Deno.test("a connection counts requests, latency and failures; in flight returns to 0 after a timeout", async () => {
  let n = 0;
  await using broker = fakeBroker((h) => {
    if (h.apiKey === 18) return apiVersionsReply(h);
    // The first Metadata is answered, the next ones never are.
    return ++n === 1 ? reply(metadata, h, EMPTY_METADATA) : null;
  });
  const client = new ClientRecorder();
  const rec = client.broker(broker.address);
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port, metrics: rec });
  try {
    await conn.request(metadata, { topics: [] });
    const pending = [
      conn.request(metadata, { topics: [] }, { timeoutMs: 200 }),
      conn.request(metadata, { topics: [] }, { timeoutMs: 5_000 }),
    ];
    assert.equal(client.snapshot().inFlight, 2);
    for (const p of pending) await assert.rejects(p, TimeoutError);
  } finally {
    conn.close();
  }
  const s = client.snapshot();
  assert.equal(s.inFlight, 0);
  assert.equal(s.connects, 1);
  assert.equal(s.requests, 4); // ApiVersions + three Metadata
  assert.deepEqual(s.errors, { TimeoutError: 2 });
  const md = s.requestsByApi.find((r) => r.api === "Metadata")!;
  assert.equal(md.responses, 1);
  assert.equal(md.failures, 2);
  assert.equal(md.inFlight, 0);
  assert.ok(md.latencyMs.count === 1 && md.latencyMs.max > 0);
  const av = s.requestsByApi.find((r) => r.api === "ApiVersions")!;
  assert.equal(av.responses, 1);
  assert.ok(s.bytesSent > 0 && s.bytesReceived > 0);
  assert.equal(s.brokers[0].broker, broker.address);
});

Deno.test("a failed connect is counted", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const client = new ClientRecorder();
  await assert.rejects(
    Connection.connect({ host: "127.0.0.1", port, metrics: client.broker(`127.0.0.1:${port}`) }),
  );
  assert.equal(client.snapshot().connectFailures, 1);
});

Deno.test("telemetry is off unless asked for or OTEL_DENO is true; a bad setting is a TypeError", async () => {
  assert.equal(telemetryWanted(false), false);
  assert.equal(telemetryWanted(true), true);
  assert.equal(await loadTelemetry(false, "x"), null);
  await assert.rejects(loadTelemetry("yes" as unknown as boolean, "x"), /Invalid telemetry "yes"/);
  const env = Deno.env.get("OTEL_DENO");
  try {
    Deno.env.delete("OTEL_DENO");
    assert.equal(telemetryWanted(undefined), false);
    Deno.env.set("OTEL_DENO", "true");
    assert.equal(telemetryWanted(undefined), true);
  } finally {
    if (env === undefined) Deno.env.delete("OTEL_DENO");
    else Deno.env.set("OTEL_DENO", env);
  }
});
