// Runs examples/otel.ts with Deno's built-in OpenTelemetry (OTEL_DENO=true) against a local OTLP
// receiver (OTLP/HTTP with JSON bodies) and checks the spans, their parent-child link across Kafka,
// and the exported metrics.
import assert from "node:assert/strict";
import { BROKERS, requires, uniqueName } from "../_broker.ts";

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttr {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttr[];
  links?: { traceId: string; spanId: string }[];
}
interface OtlpPoint {
  asInt?: string | number;
  asDouble?: number;
  attributes: OtlpAttr[];
}
interface OtlpMetric {
  name: string;
  gauge?: { dataPoints: OtlpPoint[] };
  sum?: { dataPoints: OtlpPoint[] };
}

/** OTLP span kinds (the protocol's enum, one above the API's). */
const PRODUCER = 4;
const CONSUMER = 5;

function attrs(list: OtlpAttr[]): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const a of list) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
      v.doubleValue ??
      v.boolValue;
  }
  return out;
}

function pointValue(p: OtlpPoint): number {
  return p.asDouble ?? Number(p.asInt);
}

/** What a run of an example exported: the spans and the metric points by name. */
interface Exported {
  spans: OtlpSpan[];
  metrics: Map<string, OtlpPoint[]>;
}

/**
 * Runs an example with OTEL_DENO=true against a local OTLP receiver (OTLP/HTTP with JSON bodies)
 * and returns what it exported; fails when the example fails.
 */
async function runExample(example: string, topic: string): Promise<Exported> {
  const bodies = new Map<string, unknown[]>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const list = bodies.get(path) ?? [];
    list.push(await req.json());
    bodies.set(path, list);
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(`../../examples/${example}`, import.meta.url).pathname, topic],
      cwd: new URL("../..", import.meta.url).pathname,
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_METRIC_EXPORT_INTERVAL: "500",
        OTEL_SERVICE_NAME: "kafka-deno-otel-test",
        KAFKA_BROKERS: BROKERS.join(","),
      },
      stdout: "piped",
      stderr: "piped",
    });
    const proc = child.spawn();
    const timer = setTimeout(() => proc.kill(), 180_000);
    const out = await proc.output();
    clearTimeout(timer);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
  } finally {
    await server.shutdown();
  }
  const spans: OtlpSpan[] = [];
  for (const b of bodies.get("/v1/traces") ?? []) {
    for (const rs of (b as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans) {
      for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
  }
  const metrics = new Map<string, OtlpPoint[]>();
  for (const b of bodies.get("/v1/metrics") ?? []) {
    for (
      const rm of (b as { resourceMetrics: { scopeMetrics: { metrics: OtlpMetric[] }[] }[] })
        .resourceMetrics
    ) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const points = m.gauge?.dataPoints ?? m.sum?.dataPoints ?? [];
          metrics.set(m.name, [...(metrics.get(m.name) ?? []), ...points]);
        }
      }
    }
  }
  return { spans, metrics };
}

/** The largest value of a metric's points (those `filter` keeps); fails when there is none. */
function maxOf(
  metrics: Map<string, OtlpPoint[]>,
  name: string,
  filter: (a: Record<string, unknown>) => boolean = () => true,
): number {
  const points = (metrics.get(name) ?? []).filter((p) => filter(attrs(p.attributes)));
  assert.ok(points.length > 0, `no points of ${name}; got ${[...metrics.keys()].join(", ")}`);
  return Math.max(...points.map(pointValue));
}

Deno.test("OTEL_DENO=true: send and process spans linked through traceparent headers, and metrics", async () => {
  const topic = uniqueName("otel");
  const { spans, metrics } = await runExample("otel.ts", topic);
  const sends = spans.filter((s) => s.name === `send ${topic}`);
  const processes = spans.filter((s) => s.name === `process ${topic}`);
  assert.equal(sends.length, 2, `spans: ${spans.map((s) => s.name).join(", ")}`);
  assert.equal(processes.length, 3);

  const [one, two] = sends.sort((a, b) =>
    (attrs(a.attributes)["messaging.batch.message_count"] ?? 1) <
        (attrs(b.attributes)["messaging.batch.message_count"] ?? 1)
      ? -1
      : 1
  );
  for (const s of sends) {
    assert.equal(s.kind, PRODUCER);
    const a = attrs(s.attributes);
    assert.equal(a["messaging.system"], "kafka");
    assert.equal(a["messaging.operation.type"], "send");
    assert.equal(a["messaging.destination.name"], topic);
    assert.equal(a["messaging.destination.partition.id"], "0");
    assert.equal(a["messaging.client.id"], "otel-example");
  }
  assert.equal(attrs(one.attributes)["messaging.kafka.message.key"], "order-1");
  assert.equal(attrs(one.attributes)["messaging.kafka.offset"], 0);
  assert.equal(attrs(two.attributes)["messaging.batch.message_count"], 2);

  const byOffset = new Map(processes.map((s) => [attrs(s.attributes)["messaging.kafka.offset"], s]));
  const expected: [number, OtlpSpan, string][] = [[0, one, "order-1"], [1, two, "order-2"], [
    2,
    two,
    "order-3",
  ]];
  for (const [offset, parent, key] of expected) {
    const s = byOffset.get(offset);
    assert.ok(s, `no process span for offset ${offset}`);
    assert.equal(s.kind, CONSUMER);
    const a = attrs(s.attributes);
    assert.equal(a["messaging.system"], "kafka");
    assert.equal(a["messaging.operation.type"], "process");
    assert.equal(a["messaging.destination.name"], topic);
    assert.equal(a["messaging.destination.partition.id"], "0");
    assert.equal(a["messaging.kafka.message.key"], key);
    assert.match(String(a["messaging.consumer.group.name"]), /^otel-example-/);
    // Across Kafka: same trace, the send span is the parent (through the traceparent header) and a link.
    assert.equal(s.traceId, parent.traceId);
    assert.equal(s.parentSpanId, parent.spanId);
    assert.ok(s.links?.some((l) => l.traceId === parent.traceId && l.spanId === parent.spanId));
  }

  const max = (name: string, filter?: (a: Record<string, unknown>) => boolean) =>
    maxOf(metrics, name, filter);
  assert.equal(max("messaging.client.sent.messages"), 3);
  assert.ok(max("messaging.client.consumed.messages") >= 3);
  // The last export's lag (an export between a fetch and handing its records out sees them as lag).
  const lags = (metrics.get("kafka.consumer.lag") ?? []).filter((p) =>
    attrs(p.attributes)["messaging.destination.name"] === topic
  );
  assert.ok(lags.length > 0, "no kafka.consumer.lag points");
  assert.equal(pointValue(lags[lags.length - 1]), 0);
  assert.ok(max("kafka.consumer.rebalances") >= 1);
  assert.ok(max("kafka.client.request.duration", (a) => a["messaging.operation.name"] === "Produce") > 0);
  assert.ok(max("kafka.producer.request.duration", (a) => a["kafka.quantile"] === "p99") > 0);
  assert.ok(max("kafka.client.requests") > 0);
});

Deno.test(
  "OTEL_DENO=true: a share consumer's process spans are children of the send spans, end at acknowledgement, and its metrics are exported",
  { ignore: requires("share-groups") },
  async () => {
    const topic = uniqueName("otel-share");
    const { spans, metrics } = await runExample("otel_share.ts", topic);
    const sends = spans.filter((s) => s.name === `send ${topic}`);
    const processes = spans.filter((s) => s.name === `process ${topic}`);
    assert.equal(sends.length, 3, `spans: ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(processes.length, 3, `spans: ${spans.map((s) => s.name).join(", ")}`);
    const sendOf = new Map(sends.map((s) => [attrs(s.attributes)["messaging.kafka.message.key"], s]));
    // job-3 was in hand when the consumer closed: released.
    const ackOf: Record<string, string> = { "job-1": "accept", "job-2": "reject", "job-3": "release" };
    for (const s of processes) {
      assert.equal(s.kind, CONSUMER);
      const a = attrs(s.attributes);
      const key = String(a["messaging.kafka.message.key"]);
      const parent = sendOf.get(key);
      assert.ok(parent, `no send span for ${key}`);
      assert.equal(a["messaging.system"], "kafka");
      assert.equal(a["messaging.operation.type"], "process");
      assert.equal(a["messaging.destination.name"], topic);
      assert.equal(a["messaging.consumer.group.name"], `${topic}-jobs`);
      assert.equal(a["messaging.kafka.delivery_count"], 1);
      assert.equal(a["messaging.kafka.acknowledgement.type"], ackOf[key]);
      assert.equal(s.traceId, parent.traceId);
      assert.equal(s.parentSpanId, parent.spanId);
      assert.ok(s.links?.some((l) => l.traceId === parent.traceId && l.spanId === parent.spanId));
    }
    const share = (a: Record<string, unknown>) => String(a["kafka.instance"]).startsWith("share-consumer-");
    assert.ok(maxOf(metrics, "messaging.client.consumed.messages", share) >= 2);
    assert.ok(maxOf(metrics, "kafka.consumer.fetch.duration", share) >= 0);
    const acked = (type: string) => (a: Record<string, unknown>) =>
      share(a) && a["messaging.kafka.acknowledgement.type"] === type;
    assert.equal(maxOf(metrics, "kafka.share_consumer.acknowledged", acked("accept")), 1);
    assert.equal(maxOf(metrics, "kafka.share_consumer.acknowledged", acked("reject")), 1);
  },
);
