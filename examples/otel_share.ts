// OpenTelemetry with a share consumer (queues): run with OTEL_DENO=true and an OTLP endpoint, e.g.
//   OTEL_DENO=true OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 deno run -A examples/otel_share.ts
// Each record handed out is a "process <topic>" CONSUMER span, a child of the "send <topic>" span
// that wrote it; it ends when the record is acknowledged, with the acknowledgement type as the
// attribute messaging.kafka.acknowledgement.type. The share consumer's metrics are exported too.
// test/integration/otel_test.ts runs this file against a local OTLP receiver.
import { connect } from "../mod.ts";

const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
await using client = await connect({ brokers, clientId: "otel-share-example" });

const topic = Deno.args[0] ?? `otel-share-example-${crypto.randomUUID()}`;
const group = `${topic}-jobs`;
await client.admin().createTopics([{ topic, partitions: 1 }]);
await client.admin().alterShareGroupConfigs(group, { "share.auto.offset.reset": "earliest" });
try {
  await using producer = client.producer();
  await producer.send({ topic, messages: [{ key: "job-1", value: "resize" }] });
  await producer.send({ topic, messages: [{ key: "job-2", value: "poison" }] });
  await producer.send({ topic, messages: [{ key: "job-3", value: "resize" }] });

  await using queue = client.shareConsumer({
    groupId: group,
    topics: [topic],
    acknowledgementMode: "explicit",
  });
  // Three records, stepping the iterator by hand (a `for await` loop's `break` would close the
  // consumer): job-1 accepted, job-2 rejected, job-3 kept in hand, so closing releases it.
  const records = queue.records({ signal: AbortSignal.timeout(120_000) })[Symbol.asyncIterator]();
  for (let done = 0; done < 3;) {
    const { value: record, done: ended } = await records.next();
    if (ended) break;
    if (record.keyText() === "job-1") record.accept();
    else if (record.keyText() === "job-2") record.reject();
    console.log(`${record.keyText()} at offset ${record.offset}: ${record.acknowledged}`);
    done++;
  }
  await queue.commit();
  // Give the periodic metric export (OTEL_METRIC_EXPORT_INTERVAL, default 60 s) a turn while the
  // consumer is still open.
  const interval = Number(Deno.env.get("OTEL_METRIC_EXPORT_INTERVAL") ?? "0");
  if (interval > 0 && interval <= 10_000) await new Promise((r) => setTimeout(r, interval * 8));
} finally {
  await client.admin().deleteTopics([topic]);
}
