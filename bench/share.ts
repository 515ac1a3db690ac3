/**
 * Share-consumer throughput (KIP-932 queues):
 *
 *     deno run -A bench/share.ts                 # 100,000 records per case
 *     BENCH_RECORDS=20000 deno run -A bench/share.ts
 *     BENCH_JAVA=0 deno run -A bench/share.ts    # without the Java tool
 *
 * Pre-produces `BENCH_RECORDS` records of 100 B into a fresh 1-partition topic, then for 1, 2
 * and 4 share consumers (each with its own client, all in this process, implicit
 * acknowledgement) reads them all in a fresh share group that starts at the earliest offset.
 * The rate runs from the first record received to the last accepted one (`commit()` included).
 * Then Kafka's own `ShareConsumerPerformance` (the Java share consumer, 1, 2 and 4 threads) reads
 * the same topic in fresh groups; its rate is the tool's own `nMsg.sec` (it includes its start-up
 * fetches, not the JVM start). Prints one JSON line per case.
 *
 * Uses `KAFKA_BROKERS` when set, else starts (or reuses) the project's broker.
 *
 * @module
 */

import { connect, type ShareConsumer } from "../mod.ts";
import * as kafka from "../scripts/kafka.ts";

const RECORDS = Number(Deno.env.get("BENCH_RECORDS") ?? 100_000);
if (!Number.isInteger(RECORDS) || RECORDS < 1) throw new Error("BENCH_RECORDS must be a positive integer");

async function brokers(): Promise<string[]> {
  const env = Deno.env.get("KAFKA_BROKERS");
  if (env) return env.split(",");
  await kafka.start();
  return [`${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`];
}

async function ours(list: string[], topic: string, consumers: number): Promise<Record<string, unknown>> {
  const group = `bench-share-${crypto.randomUUID().slice(0, 8)}`;
  const admin = await connect({ brokers: list, clientId: "bench-share-admin" });
  await admin.admin().alterShareGroupConfigs(group, { "share.auto.offset.reset": "earliest" });
  const clients = await Promise.all(
    Array.from({ length: consumers }, () => connect({ brokers: list, clientId: "bench-share" })),
  );
  const queues: ShareConsumer[] = clients.map((c) => c.shareConsumer({ groupId: group, topics: [topic] }));
  let total = 0;
  let first = 0;
  const per = queues.map(() => 0);
  const deadline = Date.now() + 600_000;
  await Promise.all(queues.map(async (q, i) => {
    // One next() at a time: a pending one is kept across the timeouts that let this loop see `total`.
    let pending: ReturnType<ShareConsumer["next"]> | null = null;
    while (total < RECORDS && Date.now() < deadline) {
      pending ??= q.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        pending,
        new Promise<null>((res) => timer = setTimeout(() => res(null), 500)),
      ]);
      clearTimeout(timer);
      if (r === null) continue;
      pending = null;
      if (r.done) break;
      if (first === 0) first = performance.now();
      per[i]++;
      total++;
    }
    await q.commit();
  }));
  const seconds = (performance.now() - first) / 1000;
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all(clients.map((c) => c.close()));
  await admin.admin().deleteShareGroups([group]).catch(() => {});
  await admin.close();
  return {
    client: "kafka-deno",
    consumers,
    records: total,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSec: Math.round(total / seconds),
    perConsumer: per,
  };
}

async function java(list: string[], topic: string, threads: number): Promise<Record<string, unknown>> {
  const group = `bench-share-java-${crypto.randomUUID().slice(0, 8)}`;
  const admin = await connect({ brokers: list, clientId: "bench-share-admin" });
  await admin.admin().alterShareGroupConfigs(group, { "share.auto.offset.reset": "earliest" });
  await admin.close();
  const out = await new Deno.Command("java", {
    args: kafka.toolArgs("org.apache.kafka.tools.ShareConsumerPerformance", [
      "--bootstrap-server",
      list.join(","),
      "--topic",
      topic,
      "--group",
      group,
      "--num-records",
      String(RECORDS),
      "--threads",
      String(threads),
      "--timeout",
      "60000",
    ]),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(600_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const lines = text.trim().split("\n");
  const header = lines.find((l) => l.includes("nMsg.sec"))?.split(",").map((s) => s.trim()) ?? [];
  const row = lines[lines.length - 1].split(",").map((s) => s.trim());
  const at = (name: string) => Number(row[header.indexOf(name)]);
  return {
    client: "java ShareConsumerPerformance",
    consumers: threads,
    records: at("data.consumed.in.nMsg"),
    recordsPerSec: Math.round(at("nMsg.sec")),
    ok: out.success,
    ...(out.success ? {} : { stderr: new TextDecoder().decode(out.stderr).slice(-2000) }),
  };
}

if (import.meta.main) {
  const list = await brokers();
  const client = await connect({ brokers: list, clientId: "bench-share-setup" });
  const topic = `bench-share-${crypto.randomUUID().slice(0, 8)}`;
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const producer = client.producer({ lingerMs: 5 });
  const value = "x".repeat(100);
  for (let i = 0; i < RECORDS; i += 1000) {
    await producer.send({
      topic,
      messages: Array.from({ length: Math.min(1000, RECORDS - i) }, () => ({ value })),
    });
  }
  await producer.close();
  try {
    for (const n of [1, 2, 4]) console.log(JSON.stringify(await ours(list, topic, n)));
    if (Deno.env.get("BENCH_JAVA") !== "0") {
      for (const n of [1, 2, 4]) console.log(JSON.stringify(await java(list, topic, n)));
    }
  } finally {
    await client.admin().deleteTopics([topic]).catch(() => {});
    await client.close();
  }
}
