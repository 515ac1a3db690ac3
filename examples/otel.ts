// OpenTelemetry with Deno's built-in support: run with OTEL_DENO=true and an OTLP endpoint, e.g.
//   OTEL_DENO=true OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 deno run -A examples/otel.ts
// Each send() is a "send <topic>" PRODUCER span whose context travels in the records' traceparent
// header; each record read is a "process <topic>" CONSUMER span, a child of the send span that wrote
// it. The metrics (client, producer, consumer) are exported as OpenTelemetry instruments.
// test/integration/otel_test.ts runs this file against a local OTLP receiver.
import { connect } from "../mod.ts";

const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
// telemetry defaults to on when OTEL_DENO=true; `telemetry: true` insists (connect() fails without it).
await using client = await connect({ brokers, clientId: "otel-example" });

const topic = Deno.args[0] ?? `otel-example-${crypto.randomUUID()}`;
await client.admin().createTopics([{ topic, partitions: 1 }]);
try {
  await using producer = client.producer();
  await producer.send({ topic, messages: [{ key: "order-1", value: "created" }] });
  await producer.send({
    topic,
    messages: [{ key: "order-2", value: "paid" }, { key: "order-3", value: "paid" }],
  });

  await using consumer = client.consumer({
    groupId: `otel-example-${crypto.randomUUID()}`,
    topics: [topic],
    fromBeginning: true,
  });
  let read = 0;
  for await (const record of consumer) {
    console.log(`read ${record.keyText()} at offset ${record.offset}`);
    if (++read === 3) {
      // Give the periodic metric export (OTEL_METRIC_EXPORT_INTERVAL, default 60 s) a turn while the
      // producer and consumer are still open.
      const interval = Number(Deno.env.get("OTEL_METRIC_EXPORT_INTERVAL") ?? "0");
      if (interval > 0 && interval <= 10_000) await new Promise((r) => setTimeout(r, interval * 6));
      break;
    }
  }
} finally {
  await client.admin().deleteTopics([topic]);
}
