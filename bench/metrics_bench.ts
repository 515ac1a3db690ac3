/**
 * Micro-benchmarks of the metrics recorders (no broker): what one request, one
 * batch and one fetch cost when metrics are on. Run with
 * `deno bench --allow-read bench/metrics_bench.ts`.
 *
 * @module
 */

import {
  ClientRecorder,
  ConsumerRecorder,
  Histogram,
  Meter,
  ProducerRecorder,
} from "../src/observe/metrics.ts";

const h = new Histogram();
let v = 0.37;
Deno.bench("Histogram.record", () => {
  v = v * 1.37 % 5000 + 0.01;
  h.record(v);
});

const m = new Meter();
Deno.bench("Meter.add", () => {
  m.add(1000);
});

const broker = new ClientRecorder().broker("127.0.0.1:9092");
Deno.bench("a request and its response (connection hooks, with the two performance.now() calls)", () => {
  const start = performance.now();
  broker.request(0, "Produce", 65_000, true, start);
  broker.response(0, "Produce", start, 120);
});

const producer = new ProducerRecorder();
Deno.bench("a batch acknowledged (sender hook)", () => {
  producer.batch(1000, 60_000, 120_000);
});

const consumer = new ConsumerRecorder();
Deno.bench("a fetch of 6 partitions (fetcher hooks)", () => {
  for (let i = 0; i < 6; i++) consumer.partition(1000, 100_000);
  consumer.fetched(3.5);
});
