/**
 * The cost of metrics: the same build with `metrics: true` (the default) and
 * `metrics: false`, in one process, alternating round by round (the order
 * swapped each round) so that load from elsewhere on the machine hits both
 * alike; prints the medians.
 *
 *     KAFKA_BROKERS=127.0.0.1:9092 deno run -A bench/metrics_onoff.ts [--rounds=5] [--records=200000] [--only=text]
 *
 * `--only` keeps the cases whose label contains the text (e.g. `--only=1000x16`).
 *
 * Producer: 100 B values, 1,000 records per `send()` with 16 outstanding (acks=all none, acks=1
 * none, acks=all lz4), and 10,000 single-record calls outstanding. Consumer: `--records` 100 B
 * records pre-produced into a 6-partition topic, drained in a fresh group with the record
 * iterator and with `batches()`, timed from the first record to the last. Share consumer: the same
 * records drained by one member of a fresh share group (implicit acknowledgement), timed likewise.
 *
 * Besides records/s (wall clock, which on a shared machine swings more than the effect being
 * measured), it reports this process's CPU time per record (user + system, `process.cpuUsage()`)
 * over the same span: the client's own cost, which the broker's and other programs' load
 * disturb far less.
 *
 * @module
 */

import process from "node:process";
import { type Client, connect } from "../mod.ts";
import { payloadText } from "./contenders/common.ts";
import { produceWith } from "./contenders/deno_produce.ts";

const flag = (name: string, dflt: number) => {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : dflt;
};
const ROUNDS = flag("rounds", 5);
const RECORDS = flag("records", 200_000);
const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");

const modes: { name: "on" | "off"; client: Client }[] = [
  { name: "on", client: await connect({ brokers, clientId: "bench-metrics-on", metrics: true }) },
  { name: "off", client: await connect({ brokers, clientId: "bench-metrics-off", metrics: false }) },
];
const admin = modes[0].client.admin();
const enc = new TextEncoder();
const values = Array.from({ length: 1000 }, (_, i) => enc.encode(payloadText(100, i)));
const runId = Date.now().toString(36);
let seq = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function cpuNow(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface Case {
  label: string;
  /** Records/s and CPU microseconds per record. */
  run(client: Client): Promise<[number, number]>;
}

function produceCase(label: string, acks: 1 | -1, codec: string, chunk: number, outstanding: number): Case {
  return {
    label,
    async run(client) {
      const topic = `bench-metrics-${runId}-${seq++}`;
      await admin.createTopics([{ topic, partitions: 6, replicationFactor: 1 }]);
      try {
        const records = chunk === 1 ? RECORDS / 4 : RECORDS;
        const cpu0 = cpuNow();
        const r = await produceWith(client, {
          brokers,
          topic,
          records,
          valueSize: 100,
          acks,
          codec,
          batchBytes: 65536,
          chunk,
          maxOutstanding: outstanding,
        }, values);
        return [r.records! / r.seconds!, (cpuNow() - cpu0) / records];
      } finally {
        await admin.deleteTopics([topic], { ifExists: true }).catch(() => {});
      }
    },
  };
}

let consumeTopic = "";
function consumeCase(label: string, batches: boolean): Case {
  return {
    label,
    async run(client) {
      const consumer = client.consumer({
        groupId: `bench-metrics-${crypto.randomUUID()}`,
        topics: [consumeTopic],
        fromBeginning: true,
        autoCommit: false,
      });
      let count = 0;
      let first = 0;
      let cpu0 = 0;
      if (batches) {
        for await (const b of consumer.batches()) {
          if (count === 0) {
            first = performance.now();
            cpu0 = cpuNow();
          }
          count += b.records.length;
          if (count >= RECORDS) break;
        }
      } else {
        for await (const _ of consumer) {
          if (count === 0) {
            first = performance.now();
            cpu0 = cpuNow();
          }
          if (++count >= RECORDS) break;
        }
      }
      return [count / ((performance.now() - first) / 1000), (cpuNow() - cpu0) / count];
    },
  };
}

function shareCase(label: string): Case {
  return {
    label,
    async run(client) {
      const groupId = `bench-metrics-share-${crypto.randomUUID()}`;
      await client.admin().alterShareGroupConfigs(groupId, { "share.auto.offset.reset": "earliest" });
      const queue = client.shareConsumer({ groupId, topics: [consumeTopic] });
      let count = 0;
      let first = 0;
      let cpu0 = 0;
      try {
        for await (const _ of queue) {
          if (count === 0) {
            first = performance.now();
            cpu0 = cpuNow();
          }
          if (++count >= RECORDS) break;
        }
      } finally {
        await queue.close();
      }
      return [count / ((performance.now() - first) / 1000), (cpuNow() - cpu0) / count];
    },
  };
}

const only = Deno.args.find((x) => x.startsWith("--only="))?.slice("--only=".length);
const allCases: Case[] = [
  produceCase("produce 100 B acks=all none 1000x16", -1, "none", 1000, 16),
  produceCase("produce 100 B acks=1 none 1000x16", 1, "none", 1000, 16),
  produceCase("produce 100 B acks=all lz4 1000x16", -1, "lz4", 1000, 16),
  produceCase("produce 100 B acks=all single x10000", -1, "none", 1, 10_000),
  consumeCase("consume 100 B records()", false),
  consumeCase("consume 100 B batches()", true),
  shareCase("consume 100 B share consumer"),
];
const cases = allCases.filter((c) => only === undefined || c.label.includes(only));

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(
  `metrics on vs off; ${ROUNDS} rounds (alternating, order swapped each round); medians of records/s and of ` +
    `this process's CPU µs per record`,
);
try {
  for (const c of cases) {
    if (c.label.startsWith("consume") && consumeTopic === "") {
      consumeTopic = `bench-metrics-${runId}-consume`;
      await admin.createTopics([{ topic: consumeTopic, partitions: 6, replicationFactor: 1 }]);
      await produceWith(modes[1].client, {
        brokers,
        topic: consumeTopic,
        records: RECORDS,
        valueSize: 100,
        acks: 1,
        codec: "none",
        batchBytes: 65536,
        chunk: 1000,
        maxOutstanding: 16,
      }, values);
    }
    const rates: Record<string, number[]> = { on: [], off: [] };
    const cpus: Record<string, number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const m of order) {
        const [rate, cpu] = await c.run(m.client);
        rates[m.name].push(rate);
        cpus[m.name].push(cpu);
      }
    }
    const [on, off] = [median(rates.on), median(rates.off)];
    const [cpuOn, cpuOff] = [median(cpus.on), median(cpus.off)];
    console.log(
      `${c.label.padEnd(38)} records/s on ${fmt(on).padStart(9)} off ${fmt(off).padStart(9)} on/off ${
        (on / off).toFixed(3)
      } | CPU µs/record on ${cpuOn.toFixed(3)} off ${cpuOff.toFixed(3)} on/off ${
        (cpuOn / cpuOff).toFixed(3)
      }`,
    );
    console.log(`    records/s on: ${rates.on.map(fmt).join(", ")}; off: ${rates.off.map(fmt).join(", ")}`);
  }
} finally {
  if (consumeTopic) await admin.deleteTopics([consumeTopic], { ifExists: true }).catch(() => {});
  for (const m of modes) await m.client.close();
}
