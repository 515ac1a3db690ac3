/**
 * The comparison benchmark: kafka-deno against Kafka's Java client (its own
 * perf tools), librdkafka (kcat), kafkajs and @platformatic/kafka, on one
 * local broker, one contender at a time, each in its own process.
 *
 *     deno task bench [--quick] [--records=N] [--scenarios=producer,awaited,consumer,latency]
 *                     [--contenders=kafka-deno,java,kcat,kafkajs,platformatic]
 *                     [--rate=5000] [--duration=30] [--keep-broker]
 *
 * Uses `KAFKA_BROKERS` when set, else starts (or reuses) the project's broker
 * with scripts/kafka.ts. Prints one table per scenario, writes the raw numbers
 * to bench/results/<date>.json and a markdown rendering to
 * bench/results/latest.md. What each scenario measures, and how each contender
 * is configured, is in bench/README.md.
 *
 * @module
 */

import { type Client, connect, VERSION } from "../mod.ts";
import { listOffsets } from "../protocol/apis/list_offsets.ts";
import * as kafka from "../scripts/kafka.ts";
import { apiVersions } from "../protocol/apis/api_versions.ts";
import { type Job, payloadText, type Percentiles, percentiles, type Result } from "./contenders/common.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const NODE_DIR = `${ROOT}/bench/node`;
const RESULTS_DIR = `${ROOT}/bench/results`;
const PARTITIONS = 6;
const LINGER_MS = 5;
const BATCH_BYTES = 64 * 1024;
const CHUNK = 1000;
const MAX_OUTSTANDING = 16;
const TIME = "/usr/bin/time";

/** One contender's outcome in one case. */
export interface Row {
  /** The contender's id. */
  contender: string;
  /** Whether it ran; otherwise `reason` says why not. */
  ok: boolean;
  /** Why it did not run ("n/a (...)") or what failed. */
  reason?: string;
  /** Records per second. */
  recordsPerSec?: number;
  /** Value megabytes (10^6 bytes) per second. */
  mbPerSec?: number;
  /** End-to-end latency percentiles in ms (latency scenario). */
  latency?: Percentiles;
  /** Offered rate in the latency scenario. */
  achievedRate?: number;
  /** Peak resident set size of the contender's process, MiB. */
  rssMiB?: number;
  /** Seconds the contender measured. */
  seconds?: number;
  /** Wall-clock seconds of the whole child process (start-up included). */
  wallSeconds?: number;
  /** Anything else worth showing. */
  note?: string;
}

/** One table: a scenario with fixed parameters. */
export interface Case {
  /** Stable id, e.g. "produce-100B-acks1-lz4". */
  id: string;
  /** "producer", "awaited", "consumer" or "latency". */
  scenario: "producer" | "awaited" | "consumer" | "latency";
  /** Human title. */
  title: string;
  /** Value size in bytes. */
  valueSize: number;
  /** 1 or -1. */
  acks: 1 | -1;
  /** Codec name. */
  codec: string;
  /** Records (or, for latency, rate × duration). */
  records: number;
  /** Records per send() call (awaited scenario). */
  chunk?: number;
  /** The rows, one per contender. */
  rows: Row[];
}

interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  rssKiB: number | null;
  outBytes: number;
  firstOutMs: number | null;
  lastOutMs: number | null;
  timedOut: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function capture(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
  } catch (err) {
    return `unavailable (${err instanceof Error ? err.message : err})`;
  }
}

async function vmHwmKiB(pid: number): Promise<number | null> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await Deno.readTextFile(`/proc/${pid}/status`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function childOf(pid: number): Promise<number | null> {
  try {
    const first = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`)).trim().split(/\s+/)[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

const haveTime = await exists(TIME);

/**
 * Runs one contender process, bounded by `timeoutMs`. Peak RSS comes from GNU
 * time's %M (getrusage of the child) when /usr/bin/time exists, and from
 * polling /proc/<pid>/status VmHWM otherwise (the larger of the two is kept).
 * With `countOnly`, stdout is counted, not kept, and the times of its first and
 * last bytes are recorded (kcat's consumer prints one byte per record).
 */
async function runChild(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; countOnly?: boolean; env?: Record<string, string> },
): Promise<ChildRun> {
  const rssFile = await Deno.makeTempFile({ prefix: "bench-rss-" });
  const argv = haveTime ? [TIME, "-f", "%M", "-o", rssFile, cmd, ...args] : [cmd, ...args];
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
    env: opts.env,
  }).spawn();
  let polled = 0;
  let target: number | null = haveTime ? null : child.pid;
  let done = false;
  let timedOut = false;
  const poller = (async () => {
    while (!done) {
      if (target === null) target = await childOf(child.pid);
      if (target !== null) polled = Math.max(polled, (await vmHwmKiB(target)) ?? 0);
      await sleep(100);
    }
  })();
  const timer = setTimeout(async () => {
    timedOut = true;
    const pid = haveTime ? (target ?? await childOf(child.pid)) : child.pid;
    try {
      if (pid !== null) Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs);
  let outBytes = 0;
  let firstOutMs: number | null = null;
  let lastOutMs: number | null = null;
  const outChunks: Uint8Array[] = [];
  const readOut = (async () => {
    for await (const chunk of child.stdout) {
      const t = performance.now();
      firstOutMs ??= t;
      lastOutMs = t;
      outBytes += chunk.length;
      if (!opts.countOnly) outChunks.push(chunk);
    }
  })();
  const errText = new Response(child.stderr).text();
  const status = await child.status;
  const wallMs = performance.now() - t0;
  clearTimeout(timer);
  done = true;
  await readOut;
  await poller;
  const stderr = await errText;
  let rssKiB: number | null = polled || null;
  if (haveTime) {
    const m = /(\d+)\s*$/.exec(await Deno.readTextFile(rssFile).catch(() => ""));
    if (m) rssKiB = Math.max(rssKiB ?? 0, Number(m[1]));
  }
  await Deno.remove(rssFile).catch(() => {});
  const stdout = new TextDecoder().decode(concat(outChunks));
  return {
    code: status.code,
    stdout,
    stderr,
    wallMs,
    rssKiB,
    outBytes,
    firstOutMs,
    lastOutMs,
    timedOut,
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tail(text: string, n = 600): string {
  const t = text.trim();
  return t.length > n ? `…${t.slice(-n)}` : t;
}

function parseResult(run: ChildRun): Result {
  const line = run.stdout.split("\n").reverse().find((l) => l.startsWith("RESULT "));
  if (line) return JSON.parse(line.slice(7)) as Result;
  return {
    ok: false,
    reason: run.timedOut ? "timed out" : `exit ${run.code}, no result: ${tail(run.stderr, 300)}`,
  };
}

function rowFrom(contender: string, run: ChildRun, r: Result): Row {
  const row: Row = { contender, ok: r.ok, rssMiB: run.rssKiB ? run.rssKiB / 1024 : undefined };
  row.wallSeconds = run.wallMs / 1000;
  if (!r.ok) {
    row.reason = r.reason ?? "failed";
    return row;
  }
  row.seconds = r.seconds;
  if (r.records && r.seconds) {
    row.recordsPerSec = r.records / r.seconds;
    row.mbPerSec = (r.bytes ?? 0) / r.seconds / 1e6;
  }
  row.latency = r.latency;
  row.achievedRate = r.achievedRate;
  row.note = r.note;
  return row;
}

// ---------------------------------------------------------------- options

/** `--name` and `--name=value` flags; anything else is an error. */
function parseFlags(argv: string[]): Record<string, string | boolean> {
  const known = ["quick", "keep-broker", "help", "records", "scenarios", "contenders", "rate", "duration"];
  const out: Record<string, string | boolean> = {};
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !known.includes(m[1])) throw new Error(`Unknown argument ${a}; try --help`);
    out[m[1]] = m[2] ?? true;
  }
  return out;
}
const flags = parseFlags(Deno.args);
const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
const args = {
  help: flags.help === true,
  quick: flags.quick === true,
  "keep-broker": flags["keep-broker"] === true,
  records: str("records"),
  scenarios: str("scenarios"),
  contenders: str("contenders"),
  rate: str("rate"),
  duration: str("duration"),
};
if (args.help) {
  console.log(
    "deno task bench [--quick] [--records=N] [--scenarios=producer,awaited,consumer,latency] " +
      "[--contenders=kafka-deno,java,kcat,kafkajs,platformatic] [--rate=5000] [--duration=30] [--keep-broker]",
  );
  Deno.exit(0);
}
const QUICK = args.quick;
const RECORDS = Number(args.records ?? Deno.env.get("BENCH_RECORDS") ?? (QUICK ? 100_000 : 1_000_000));
const RATE = Number(args.rate ?? 5000);
const DURATION = Number(args.duration ?? (QUICK ? 10 : 30));
const SCENARIOS = (args.scenarios ?? "producer,awaited,consumer,latency").split(",");
const ALL_CONTENDERS = ["kafka-deno", "java", "kcat", "kafkajs", "platformatic"];
const CONTENDERS = (args.contenders ?? ALL_CONTENDERS.join(",")).split(",");
for (const c of CONTENDERS) {
  if (!ALL_CONTENDERS.includes(c)) {
    throw new Error(`Unknown contender ${c}: use ${ALL_CONTENDERS.join(", ")}`);
  }
}
if (!Number.isInteger(RECORDS) || RECORDS < 1000) throw new Error(`--records must be ≥ 1000, got ${RECORDS}`);

// ---------------------------------------------------------------- set-up

let startedBroker = false;
const external = kafka.brokersFromEnv();
if (!external) startedBroker = await kafka.start();
const BROKERS = external
  ? external.split(",").map((s) => s.trim())
  : [`${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`];
await kafka.ensureJars();

if (
  CONTENDERS.some((c) => c === "kafkajs" || c === "platformatic") && !await exists(`${NODE_DIR}/node_modules`)
) {
  console.error("bench: installing the Node contenders (npm ci --prefix bench/node)");
  const out = await new Deno.Command("npm", {
    args: ["ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("npm ci failed");
}

const tmp = await Deno.makeTempDir({ prefix: "kafka-deno-bench-" });
const client: Client = await connect({ brokers: BROKERS, clientId: "bench-harness" });
const admin = client.admin();
const runId = Date.now().toString(36);
let topicSeq = 0;

const payloadFiles = new Map<number, string>();
async function payloadFile(size: number): Promise<string> {
  let f = payloadFiles.get(size);
  if (!f) {
    f = `${tmp}/payloads-${size}.txt`;
    const lines = Array.from({ length: 1000 }, (_, i) => payloadText(size, i));
    await Deno.writeTextFile(f, lines.join("\n") + "\n");
    payloadFiles.set(size, f);
  }
  return f;
}

/** kcat -l needs one line per record: the 1,000 payloads repeated to `records` lines. */
const kcatFiles = new Map<string, string>();
async function kcatFile(size: number, records: number): Promise<string> {
  const key = `${size}-${records}`;
  let f = kcatFiles.get(key);
  if (!f) {
    f = `${tmp}/kcat-${key}.txt`;
    const block = new TextEncoder().encode(
      Array.from({ length: 1000 }, (_, i) => payloadText(size, i)).join("\n") + "\n",
    );
    const file = await Deno.open(f, { write: true, create: true, truncate: true });
    try {
      const full = Math.floor(records / 1000);
      for (let i = 0; i < full; i++) await writeAll(file, block);
      const rest = records % 1000;
      if (rest) await writeAll(file, block.subarray(0, rest * (size + 1)));
    } finally {
      file.close();
    }
    kcatFiles.set(key, f);
  }
  return f;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

async function freshTopic(tag: string): Promise<string> {
  const topic = `bench-${runId}-${++topicSeq}-${tag}`;
  await admin.createTopics([{ topic, partitions: PARTITIONS, replicationFactor: 1 }]);
  return topic;
}

async function dropTopic(topic: string): Promise<void> {
  await admin.deleteTopics([topic], { ifExists: true, timeoutMs: 60_000 }).catch((e) =>
    console.error(`bench: could not delete ${topic}: ${e instanceof Error ? e.message : e}`)
  );
}

/** Sum of the partitions' end offsets: how many records a producer really wrote. */
async function endOffsetSum(topic: string): Promise<number> {
  const conn = await client.cluster.anyConnection();
  const res = await conn.request(listOffsets, {
    topics: [{
      name: topic,
      partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, timestamp: -1n })),
    }],
  });
  let sum = 0;
  for (const t of res.topics) for (const p of t.partitions) sum += Number(p.offset);
  return sum;
}

function timeoutFor(records: number, valueSize: number): number {
  // Bounded: start-up plus 2,000 records/s or 2 MB/s, whichever is slower, at worst.
  return 120_000 + Math.max(records / 2, (records * valueSize) / 2_000);
}

// ---------------------------------------------------------------- contenders

const ACKS_JAVA = (acks: 1 | -1) => (acks === -1 ? "all" : "1");
const javaBin = "java";
const denoBin = Deno.execPath();
const denoRun = (script: string, job: Job) => [
  "run",
  "--quiet",
  "--allow-net",
  "--allow-read",
  "--allow-env",
  `${ROOT}/bench/contenders/${script}`,
  JSON.stringify(job),
];
const NODE_ENV = { KAFKAJS_NO_PARTITIONER_WARNING: "1" };

function baseJob(c: Case, topic: string, payload: string): Job {
  return {
    brokers: BROKERS,
    topic,
    records: c.records,
    valueSize: c.valueSize,
    acks: c.acks,
    codec: c.codec,
    lingerMs: LINGER_MS,
    batchBytes: BATCH_BYTES,
    chunk: CHUNK,
    maxOutstanding: MAX_OUTSTANDING,
    payloadFile: payload,
  };
}

async function produceRow(contender: string, c: Case): Promise<Row> {
  const topic = await freshTopic(`p-${contender}`);
  try {
    const payload = await payloadFile(c.valueSize);
    const job = baseJob(c, topic, payload);
    const timeoutMs = timeoutFor(c.records, c.valueSize);
    let row: Row;
    switch (contender) {
      case "kafka-deno": {
        // Its own defaults (natural batching, lingerMs 0); the other clients get LINGER_MS.
        delete job.lingerMs;
        const run = await runChild(denoBin, denoRun("deno_produce.ts", job), { timeoutMs });
        row = rowFrom(contender, run, parseResult(run));
        break;
      }
      case "kafkajs":
      case "platformatic": {
        const run = await runChild("node", [`${NODE_DIR}/${contender}.mjs`, "produce", JSON.stringify(job)], {
          timeoutMs,
          env: NODE_ENV,
        });
        row = rowFrom(contender, run, parseResult(run));
        break;
      }
      case "java": {
        const run = await runChild(
          javaBin,
          kafka.toolArgs("org.apache.kafka.tools.ProducerPerformance", [
            "--topic",
            topic,
            "--num-records",
            String(c.records),
            "--throughput",
            "-1",
            "--payload-file",
            payload,
            "--producer-props",
            `bootstrap.servers=${BROKERS.join(",")}`,
            `acks=${ACKS_JAVA(c.acks)}`,
            `linger.ms=${LINGER_MS}`,
            `batch.size=${BATCH_BYTES}`,
            `compression.type=${c.codec}`,
          ]),
          { timeoutMs },
        );
        const m = [...run.stdout.matchAll(
          /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/g,
        )].pop();
        if (!m) {
          row = { contender, ok: false, reason: `no summary: ${tail(run.stdout + run.stderr, 300)}` };
        } else {
          const rps = Number(m[2]);
          row = rowFrom(contender, run, {
            ok: true,
            records: Number(m[1]),
            bytes: Number(m[1]) * c.valueSize,
            seconds: Number(m[1]) / rps,
          });
          row.note = `send→ack p50 ${m[6]} ms, p99 ${m[8]} ms under full load`;
        }
        break;
      }
      case "kcat": {
        const file = await kcatFile(c.valueSize, c.records);
        const x = [
          "-X",
          `linger.ms=${LINGER_MS}`,
          "-X",
          `batch.size=${BATCH_BYTES}`,
          "-X",
          `acks=${ACKS_JAVA(c.acks)}`,
          "-X",
          `compression.codec=${c.codec}`,
        ];
        if (c.acks === -1) x.push("-X", "enable.idempotence=true");
        const run = await runChild("kcat", ["-P", "-b", BROKERS.join(","), "-t", topic, "-l", ...x, file], {
          timeoutMs,
        });
        row = run.code === 0 && !/fail|error/i.test(run.stderr)
          ? rowFrom(contender, run, {
            ok: true,
            records: c.records,
            bytes: c.records * c.valueSize,
            seconds: run.wallMs / 1000,
          })
          : { contender, ok: false, reason: `exit ${run.code}: ${tail(run.stderr, 300)}` };
        if (row.ok) row.note = "wall clock of the kcat process (start-up included)";
        break;
      }
      default:
        throw new Error(contender);
    }
    if (row.ok) {
      const written = await endOffsetSum(topic);
      if (written !== c.records) {
        row = { ...row, ok: false, reason: `wrote ${written} records, expected ${c.records}` };
      }
    }
    return row;
  } finally {
    await dropTopic(topic);
  }
}

/**
 * Awaited loops: each `send()` call awaited before the next, with every client's defaults
 * (no linger or batch setting passed). kafkajs and @platformatic/kafka run on Deno here,
 * the same runtime as kafka-deno.
 */
async function awaitedRow(contender: string, c: Case): Promise<Row> {
  if (contender === "java" || contender === "kcat") {
    return { contender, ok: false, reason: "n/a (no awaited send() loop in its tools)" };
  }
  const topic = await freshTopic(`a-${contender}`);
  try {
    const job: Job = { ...baseJob(c, topic, await payloadFile(c.valueSize)), chunk: c.chunk!, awaited: true };
    delete job.lingerMs;
    const timeoutMs = timeoutFor(c.records, c.valueSize) + c.records * (c.chunk === 1 ? 20 : 0.05);
    let row: Row;
    if (contender === "kafka-deno") {
      const run = await runChild(denoBin, denoRun("deno_produce.ts", job), { timeoutMs });
      row = rowFrom(contender, run, parseResult(run));
    } else {
      const run = await runChild(
        denoBin,
        ["run", "--quiet", "-A", `${NODE_DIR}/${contender}.mjs`, "awaited", JSON.stringify(job)],
        { timeoutMs, env: NODE_ENV },
      );
      row = rowFrom(contender, run, parseResult(run));
      if (row.ok) row.note = `on Deno ${Deno.version.deno}`;
    }
    if (row.ok) {
      // The warm-up sends 20 records before the timed loop.
      const written = await endOffsetSum(topic);
      if (written !== c.records + 20) {
        row = { ...row, ok: false, reason: `wrote ${written} records, expected ${c.records + 20}` };
      }
    }
    return row;
  } finally {
    await dropTopic(topic);
  }
}

/** p50 of a request's round trip (ApiVersions) on the loopback connection: the floor for an awaited send(). */
async function roundTripMs(): Promise<number> {
  const conn = await client.cluster.anyConnection();
  const n = 2000;
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await conn.request(apiVersions, { clientSoftwareName: "bench", clientSoftwareVersion: VERSION });
    lat[i] = performance.now() - t;
  }
  return percentiles(lat, n).p50;
}

async function consumeRow(contender: string, c: Case, topic: string): Promise<Row> {
  const groupId = `bench-${runId}-${++topicSeq}-${contender}`;
  const job = { ...baseJob(c, topic, ""), groupId };
  delete job.payloadFile;
  const timeoutMs = timeoutFor(c.records, c.valueSize);
  switch (contender) {
    case "kafka-deno": {
      const run = await runChild(denoBin, denoRun("deno_consume.ts", job), { timeoutMs });
      return rowFrom(contender, run, parseResult(run));
    }
    case "kafkajs":
    case "platformatic": {
      const run = await runChild("node", [`${NODE_DIR}/${contender}.mjs`, "consume", JSON.stringify(job)], {
        timeoutMs,
        env: NODE_ENV,
      });
      return rowFrom(contender, run, parseResult(run));
    }
    case "java": {
      const run = await runChild(
        javaBin,
        kafka.toolArgs("org.apache.kafka.tools.ConsumerPerformance", [
          "--bootstrap-server",
          BROKERS.join(","),
          "--topic",
          topic,
          "--messages",
          String(c.records),
          "--group",
          groupId,
          "--timeout",
          "60000",
        ]),
        { timeoutMs },
      );
      const lines = run.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
      const h = lines.findIndex((l) => l.startsWith("start.time"));
      if (h < 0 || !lines[h + 1]) {
        return { contender, ok: false, reason: `no summary: ${tail(run.stdout + run.stderr, 300)}` };
      }
      const names = lines[h].split(",").map((s) => s.trim());
      const vals = lines[h + 1].split(",").map((s) => s.trim());
      const get = (n: string) => Number(vals[names.indexOf(n)]);
      const n = get("data.consumed.in.nMsg");
      const fetchMs = get("fetch.time.ms");
      if (n < c.records) return { contender, ok: false, reason: `consumed ${n} of ${c.records}` };
      const row = rowFrom(contender, run, {
        ok: true,
        records: n,
        bytes: n * c.valueSize,
        seconds: fetchMs / 1000,
      });
      row.note = `fetch.time.ms (group join ${get("rebalance.time.ms")} ms excluded)`;
      return row;
    }
    case "kcat": {
      const run = await runChild(
        "kcat",
        [
          "-C",
          "-b",
          BROKERS.join(","),
          "-G",
          groupId,
          "-o",
          "beginning",
          "-c",
          String(c.records),
          "-f",
          ".",
          topic,
        ],
        { timeoutMs, countOnly: true },
      );
      if (run.outBytes < c.records || run.firstOutMs === null || run.lastOutMs === null) {
        return {
          contender,
          ok: false,
          reason: `read ${run.outBytes} of ${c.records} (exit ${run.code}) ${tail(run.stderr, 200)}`,
        };
      }
      const row = rowFrom(contender, run, {
        ok: true,
        records: c.records,
        bytes: c.records * c.valueSize,
        seconds: (run.lastOutMs - run.firstOutMs) / 1000,
      });
      row.note = "first to last output byte (one byte per record)";
      return row;
    }
  }
  throw new Error(contender);
}

async function latencyRow(contender: string, c: Case): Promise<Row> {
  if (contender === "java") {
    return {
      contender,
      ok: false,
      reason:
        "n/a (Kafka's tools have no fixed-rate end-to-end test; EndToEndLatency is one record at a time)",
    };
  }
  if (contender === "kcat") return { contender, ok: false, reason: "n/a (kcat cannot send at a fixed rate)" };
  const topic = await freshTopic(`l-${contender}`);
  try {
    const job: Job = {
      ...baseJob(c, topic, ""),
      groupId: `bench-${runId}-${++topicSeq}-${contender}`,
      rate: RATE,
      durationS: DURATION,
    };
    delete job.payloadFile;
    const timeoutMs = 120_000 + DURATION * 1000;
    const run = contender === "kafka-deno"
      ? await runChild(denoBin, denoRun("deno_latency.ts", job), { timeoutMs })
      : await runChild("node", [`${NODE_DIR}/${contender}.mjs`, "latency", JSON.stringify(job)], {
        timeoutMs,
        env: NODE_ENV,
      });
    const row = rowFrom(contender, run, parseResult(run));
    if (row.ok && row.achievedRate !== undefined) {
      row.note = `offered ${Math.round(row.achievedRate)} records/s`;
    }
    return row;
  } finally {
    await dropTopic(topic);
  }
}

// ---------------------------------------------------------------- rendering

function fmtNum(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ratio(row: Row, base: Row | undefined, latency: boolean): string {
  if (!row.ok || !base?.ok) return "—";
  if (latency) {
    if (!row.latency || !base.latency) return "—";
    return `${(row.latency.p99 / base.latency.p99).toFixed(2)}× p99`;
  }
  if (!row.recordsPerSec || !base.recordsPerSec) return "—";
  return `${(row.recordsPerSec / base.recordsPerSec).toFixed(2)}×`;
}

const HEAD = [
  "contender",
  "records/s",
  "MB/s",
  "p50 ms",
  "p99 ms",
  "p99.9 ms",
  "peak RSS MiB",
  "vs kafka-deno",
  "notes",
];

function cells(c: Case, row: Row): string[] {
  const base = c.rows.find((r) => r.contender === "kafka-deno");
  const lat = c.scenario === "latency";
  if (!row.ok) return [row.contender, row.reason ?? "n/a", "", "", "", "", fmtNum(row.rssMiB), "—", ""];
  return [
    row.contender,
    fmtNum(row.recordsPerSec),
    fmtNum(row.mbPerSec, 1),
    fmtNum(row.latency?.p50, 2),
    fmtNum(row.latency?.p99, 2),
    fmtNum(row.latency?.p999, 2),
    fmtNum(row.rssMiB),
    ratio(row, base, lat),
    row.note ?? "",
  ];
}

function textTable(c: Case): string {
  const rows = [HEAD, ...c.rows.map((r) => cells(c, r))];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((s, i) => (i === 0 || i === r.length - 1 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [`== ${c.title}`, line(rows[0]), ...rows.slice(1).map(line)].join("\n");
}

function mdTable(c: Case): string {
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    `#### ${c.title}`,
    "",
    `| ${HEAD.join(" | ")} |`,
    `| ${HEAD.map((_, i) => (i === 0 || i === HEAD.length - 1 ? "---" : "---:")).join(" | ")} |`,
    ...c.rows.map((r) => `| ${cells(c, r).map(esc).join(" | ")} |`),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- metadata

async function machine(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  return {
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    kernel: await capture("uname", ["-sr"]),
  };
}

async function nodePkgVersion(name: string): Promise<string> {
  try {
    return JSON.parse(await Deno.readTextFile(`${NODE_DIR}/node_modules/${name}/package.json`)).version;
  } catch {
    return "not installed";
  }
}

async function versions(): Promise<Record<string, string>> {
  const kcatV = await capture("kcat", ["-V"]);
  const m = /Version (\S+) .*librdkafka (\S+)/.exec(kcatV);
  const java = (await capture(javaBin, ["-version"])).split("\n")[0];
  return {
    "kafka-deno": `${VERSION} (Deno ${Deno.version.deno}, V8 ${Deno.version.v8})`,
    java: `Kafka clients/tools ${kafka.KAFKA_VERSION} (${java})`,
    kcat: m ? `kcat ${m[1]}, librdkafka ${m[2]}` : kcatV.split("\n")[0],
    kafkajs: `${await nodePkgVersion("kafkajs")} (Node ${(await capture("node", ["-v"])).replace(/^v/, "")})`,
    platformatic: `@platformatic/kafka ${await nodePkgVersion("@platformatic/kafka")}`,
    broker: external
      ? `external (KAFKA_BROKERS=${external}); local jars are Kafka ${kafka.KAFKA_VERSION}`
      : `Apache Kafka ${kafka.KAFKA_VERSION}, single KRaft node from scripts/kafka.ts`,
  };
}

// ---------------------------------------------------------------- main

const cases: Case[] = [];
const started = new Date();
const sizeLabel = (s: number) => (s === 100 ? "100 B" : "1 KiB");
const acksLabel = (a: 1 | -1) => (a === -1 ? "all" : "1");

function report(c: Case): void {
  console.log(`\n${textTable(c)}\n`);
}

async function runCase(c: Case, one: (contender: string) => Promise<Row>): Promise<void> {
  cases.push(c);
  for (const contender of CONTENDERS) {
    console.error(`bench: ${c.title}: ${contender}…`);
    let row: Row;
    try {
      row = await one(contender);
    } catch (err) {
      row = { contender, ok: false, reason: `error: ${err instanceof Error ? err.message : err}` };
    }
    c.rows.push(row);
  }
  report(c);
  await saveResults(false);
}

const stamp = started.toISOString().slice(0, 16).replace(":", "-");
// A run of some scenarios or contenders is "partial": the README's summary keeps showing the newest full run.
const ALL_SCENARIOS = ["producer", "awaited", "consumer", "latency"];
const MODE = QUICK
  ? "quick"
  : ALL_SCENARIOS.every((s) => SCENARIOS.includes(s)) && ALL_CONTENDERS.every((c) => CONTENDERS.includes(c))
  ? "full"
  : "partial";
const jsonPath = `${RESULTS_DIR}/${stamp}${MODE === "full" ? "" : `-${MODE}`}.json`;
const meta = { machine: await machine(), versions: await versions() };

async function saveResults(final: boolean): Promise<void> {
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const doc = {
    date: started.toISOString(),
    finished: final ? new Date().toISOString() : null,
    mode: MODE,
    scenarios: SCENARIOS,
    records: RECORDS,
    latency: { rate: RATE, durationS: DURATION },
    settings: {
      partitions: PARTITIONS,
      lingerMs: LINGER_MS,
      batchBytes: BATCH_BYTES,
      chunk: CHUNK,
      maxOutstanding: MAX_OUTSTANDING,
    },
    ...meta,
    cases,
  };
  await Deno.writeTextFile(jsonPath, JSON.stringify(doc, null, 2) + "\n");
  const v = meta.versions as Record<string, string>;
  const m = meta.machine as Record<string, unknown>;
  const md = [
    `### Benchmark results (${MODE} run, ${started.toISOString().slice(0, 10)})`,
    "",
    `${
      RECORDS.toLocaleString("en-US")
    } records per throughput case, ${PARTITIONS} partitions, one broker on loopback; ` +
    `latency at ${RATE.toLocaleString("en-US")} records/s for ${DURATION} s. ` +
    `Machine: ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpu}. MB = 10^6 bytes of values.`,
    "",
    ...Object.entries(v).map(([k, s]) => `- ${k}: ${s}`),
    "",
    "Generated by `deno task bench` (bench/run.ts); raw numbers in " +
    `\`bench/results/${jsonPath.split("/").pop()}\`. See bench/README.md for what each case measures.`,
    "",
    ...cases.map(mdTable),
  ].join("\n");
  await Deno.writeTextFile(`${RESULTS_DIR}/latest.md`, md);
}

try {
  console.error(
    `bench: ${RECORDS} records per case, brokers ${BROKERS.join(",")}, contenders ${CONTENDERS.join(", ")}`,
  );
  if (SCENARIOS.includes("producer")) {
    for (const size of [100, 1024]) {
      for (const acks of [1, -1] as const) {
        for (const codec of ["none", "lz4", "zstd"]) {
          const c: Case = {
            id: `produce-${size}B-acks${acksLabel(acks)}-${codec}`,
            scenario: "producer",
            title: `Producer: ${sizeLabel(size)} values, acks=${acksLabel(acks)}, ${codec}`,
            valueSize: size,
            acks,
            codec,
            records: RECORDS,
            rows: [],
          };
          await runCase(c, (contender) => produceRow(contender, c));
        }
      }
    }
  }
  if (SCENARIOS.includes("awaited")) {
    const rtt = await roundTripMs();
    console.error(`bench: loopback round trip (ApiVersions) p50 ${rtt.toFixed(3)} ms`);
    for (const chunk of [1, 1000]) {
      const records = chunk === 1 ? (QUICK ? 2_000 : 10_000) : Math.min(RECORDS, QUICK ? 100_000 : 300_000);
      const c: Case = {
        id: `awaited-${chunk}-100B-acksall-none`,
        scenario: "awaited",
        title: `Awaited send() loop: ${chunk.toLocaleString("en-US")} record${
          chunk === 1 ? "" : "s"
        } per call, 100 B values, acks=all, none, client defaults (loopback round trip p50 ${
          rtt.toFixed(3)
        } ms; p50/p99 are per send() call)`,
        valueSize: 100,
        acks: -1,
        codec: "none",
        records,
        chunk,
        rows: [],
      };
      await runCase(c, (contender) => awaitedRow(contender, c));
    }
  }
  if (SCENARIOS.includes("consumer")) {
    for (const size of [100, 1024]) {
      const c: Case = {
        id: `consume-${size}B`,
        scenario: "consumer",
        title: `Consumer (group, from the beginning): ${sizeLabel(size)} values, uncompressed`,
        valueSize: size,
        acks: 1,
        codec: "none",
        records: RECORDS,
        rows: [],
      };
      const topic = await freshTopic("c");
      try {
        // Pre-produce with kcat (fast and independent of the contenders).
        const file = await kcatFile(size, RECORDS);
        const pre = await runChild(
          "kcat",
          [
            "-P",
            "-b",
            BROKERS.join(","),
            "-t",
            topic,
            "-l",
            "-X",
            "linger.ms=5",
            "-X",
            "batch.size=65536",
            file,
          ],
          { timeoutMs: timeoutFor(RECORDS, size) },
        );
        const written = await endOffsetSum(topic);
        if (pre.code !== 0 || written !== RECORDS) {
          throw new Error(`pre-producing failed: ${written} of ${RECORDS} written; ${tail(pre.stderr, 300)}`);
        }
        await runCase(c, (contender) => consumeRow(contender, c, topic));
      } finally {
        await dropTopic(topic);
      }
    }
  }
  if (SCENARIOS.includes("latency")) {
    const c: Case = {
      id: "latency-100B-acksall",
      scenario: "latency",
      title:
        `End-to-end latency: ${RATE.toLocaleString("en-US")} records/s for ${DURATION} s, 100 B values, ` +
        `acks=all, uncompressed`,
      valueSize: 100,
      acks: -1,
      codec: "none",
      records: RATE * DURATION,
      rows: [],
    };
    await runCase(c, (contender) => latencyRow(contender, c));
  }
  await saveResults(true);
  console.error(`bench: wrote ${jsonPath} and ${RESULTS_DIR}/latest.md`);
} finally {
  await client.close();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  if (startedBroker && !args["keep-broker"]) {
    console.error("bench: stopping the broker this run started");
    await kafka.stop();
  }
}
