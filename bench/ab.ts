/**
 * A/B comparison of this checkout's producer against another checkout's, in
 * one process, alternating runs so that load from elsewhere on the machine
 * hits both alike (medians of the rounds are printed):
 *
 *     git -C . archive <commit> | tar -x -C /tmp/baseline
 *     KAFKA_BROKERS=127.0.0.1:9092 deno run -A bench/ab.ts /tmp/baseline/mod.ts [--rounds=5] [--records=200000]
 *
 * Cases: the throughput cases of bench/produce.ts that matter most (1,000
 * records per call, 16 calls outstanding) and the awaited loops (one record
 * per call; 1,000 records per call), each producer with its own defaults.
 * Each run gets a fresh 6-partition topic.
 *
 * @module
 */

import { type Client, connect } from "../mod.ts";
import { type Job, payloadText, type Result } from "./contenders/common.ts";
import { awaitedWith, produceWith } from "./contenders/deno_produce.ts";

const baselinePath = Deno.args.find((a) => !a.startsWith("--"));
if (!baselinePath) throw new Error("usage: bench/ab.ts <baseline mod.ts> [--rounds=N] [--records=N]");
const flag = (name: string, dflt: number) => {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : dflt;
};
const ROUNDS = flag("rounds", 5);
const RECORDS = flag("records", 200_000);
const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");

const baseline = await import(new URL(baselinePath, `file://${Deno.cwd()}/`).href) as {
  connect: typeof connect;
};
const impls: { name: string; client: Client }[] = [
  { name: "baseline", client: await baseline.connect({ brokers, clientId: "bench-ab-base" }) },
  { name: "current", client: await connect({ brokers, clientId: "bench-ab-cur" }) },
];
const admin = impls[1].client.admin();
const enc = new TextEncoder();
const values = new Map<number, Uint8Array[]>();
for (const size of [100, 1024]) {
  values.set(
    size,
    Array.from({ length: 1000 }, (_, i) => enc.encode(payloadText(size, i))),
  );
}

interface AbCase {
  label: string;
  valueSize: number;
  acks: 1 | -1;
  codec: string;
  chunk: number;
  maxOutstanding: number;
  records: number;
  awaited: boolean;
}
const cases: AbCase[] = [
  {
    label: "100 B acks=all none 1000x16",
    valueSize: 100,
    acks: -1,
    codec: "none",
    chunk: 1000,
    maxOutstanding: 16,
    records: RECORDS,
    awaited: false,
  },
  {
    label: "100 B acks=1 none 1000x16",
    valueSize: 100,
    acks: 1,
    codec: "none",
    chunk: 1000,
    maxOutstanding: 16,
    records: RECORDS,
    awaited: false,
  },
  {
    label: "100 B acks=all lz4 1000x16",
    valueSize: 100,
    acks: -1,
    codec: "lz4",
    chunk: 1000,
    maxOutstanding: 16,
    records: RECORDS,
    awaited: false,
  },
  {
    label: "1 KiB acks=all none 1000x16",
    valueSize: 1024,
    acks: -1,
    codec: "none",
    chunk: 1000,
    maxOutstanding: 16,
    records: RECORDS / 4,
    awaited: false,
  },
  {
    label: "100 B acks=all single x10000",
    valueSize: 100,
    acks: -1,
    codec: "none",
    chunk: 1,
    maxOutstanding: 10_000,
    records: RECORDS / 4,
    awaited: false,
  },
  {
    label: "awaited 1 record/call",
    valueSize: 100,
    acks: -1,
    codec: "none",
    chunk: 1,
    maxOutstanding: 1,
    records: 2_000,
    awaited: true,
  },
  {
    label: "awaited 1000 records/call",
    valueSize: 100,
    acks: -1,
    codec: "none",
    chunk: 1000,
    maxOutstanding: 1,
    records: RECORDS / 2,
    awaited: true,
  },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let seq = 0;
const runId = Date.now().toString(36);
console.log(
  `A/B: baseline ${baselinePath} vs this checkout; ${ROUNDS} rounds, medians; brokers ${brokers.join(",")}`,
);
try {
  for (const c of cases) {
    const rate: Record<string, number[]> = { baseline: [], current: [] };
    const p50: Record<string, number[]> = { baseline: [], current: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? impls : [...impls].reverse();
      for (const impl of order) {
        const topic = `bench-ab-${runId}-${++seq}`;
        await admin.createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
        try {
          const job: Job = {
            brokers,
            topic,
            records: c.records,
            valueSize: c.valueSize,
            acks: c.acks,
            codec: c.codec,
            batchBytes: 64 * 1024,
            chunk: c.chunk,
            maxOutstanding: c.maxOutstanding,
          };
          const res: Result = c.awaited
            ? await awaitedWith(impl.client, job, values.get(c.valueSize))
            : await produceWith(impl.client, job, values.get(c.valueSize));
          rate[impl.name].push(c.records / res.seconds!);
          if (res.latency) p50[impl.name].push(res.latency.p50);
        } finally {
          await admin.deleteTopics([topic], { ifExists: true, timeoutMs: 60_000 }).catch(() => {});
        }
      }
    }
    const b = median(rate.baseline);
    const cur = median(rate.current);
    const lat = p50.current.length
      ? `  p50 ${median(p50.baseline).toFixed(3)} -> ${median(p50.current).toFixed(3)} ms`
      : "";
    console.log(
      `${c.label.padEnd(30)} ${Math.round(b).toLocaleString("en-US").padStart(10)} -> ${
        Math.round(cur).toLocaleString("en-US").padStart(10)
      } records/s (${(cur / b).toFixed(2)}x)${lat}   [rounds: ${rate.baseline.map(Math.round).join(",")} | ${
        rate.current.map(Math.round).join(",")
      }]`,
    );
  }
} finally {
  for (const i of impls) await i.client.close();
}
