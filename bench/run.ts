/**
 * The comparison benchmark: kafka-deno against @platformatic/kafka and kafkajs
 * (on Deno and on Node 24), franz-go, librdkafka (kcat) and Kafka's Java
 * client (its own perf tools), on one local broker, one contender at a time,
 * each in its own process, alternated round by round.
 *
 *     deno task bench [--quick] [--rounds=N] [--records=N] [--consumer-records=N]
 *                     [--scenarios=...] [--contenders=...]
 *                     [--codecs=none,zstd] [--rates=5000,50000] [--duration=S]
 *                     [--memory-counts=1000000,3000000,10000000] [--keep-broker]
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
import * as kafka from "../scripts/kafka.ts";
import * as kafkaCluster from "../scripts/kafka_cluster.ts";
import { apiVersions } from "../protocol/apis/api_versions.ts";
import { type Job, payloadText, type Percentiles, percentiles, type Result } from "./contenders/common.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The npm contenders' sources and pinned versions (package.json and its lock); installed elsewhere. */
const NODE_SRC = `${ROOT}/bench/node`;
/** The franz-go contender's sources (its own go.mod and go.sum). */
const FRANZ_SRC = `${ROOT}/bench/franz`;
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
  /** Rounds that ran and succeeded, of those attempted. */
  rounds?: { ok: number; of: number };
  /** The scenario's metric (records/s; p99 ms for latency) of every successful round. */
  samples?: number[];
}

/** One table: a scenario with fixed parameters. */
export interface Case {
  /** Stable id, e.g. "produce-100B-acks1-lz4". */
  id: string;
  /** The scenario (see bench/README.md). */
  scenario: "producer" | "awaited" | "consumer" | "latency" | "memory-produce" | "memory-consume";
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
  /** Consumer scenario: one record per iteration (`for await`) rather than one batch. */
  perRecord?: boolean;
  /** Latency scenario: records per second offered. */
  rate?: number;
  /** The loopback round trip (ApiVersions p50, ms), for the awaited scenario. */
  rttMs?: number;
  /** Load averages (1, 5, 15 min) when the case started and ended. */
  load?: { start: number[]; end: number[] };
  /** The rows, one per contender: the median round (see Row.samples). */
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
  opts: { timeoutMs: number; countOnly?: boolean; env?: Record<string, string>; cwd?: string },
): Promise<ChildRun> {
  const rssFile = await Deno.makeTempFile({ prefix: "bench-rss-" });
  const argv = haveTime ? [TIME, "-f", "%M", "-o", rssFile, cmd, ...args] : [cmd, ...args];
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: opts.cwd ?? ROOT,
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

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
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
  const known = [
    "quick",
    "keep-broker",
    "help",
    "records",
    "consumer-records",
    "scenarios",
    "contenders",
    "rate",
    "rates",
    "duration",
    "rounds",
    "codecs",
    "memory-counts",
    "merge",
  ];
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
const ALL_SCENARIOS = ["producer", "awaited", "consumer", "latency", "proxy", "memory"];
/** The contenders of the memory scenario (10M records take minutes per contender). */
const MEMORY_CONTENDERS = ["kafka-deno", "franz-go"];
/** Proxy scenario: the delay the fault proxy adds each way, in ms (cross-zone, cross-region). */
const PROXY_MS = [20, 100];
const ALL_CONTENDERS = [
  "kafka-deno",
  "platformatic",
  "kafkajs",
  "platformatic-node",
  "kafkajs-node",
  "franz-go",
  "kcat",
  "java",
];
const USAGE = "deno task bench [--quick] [--rounds=N] [--records=N] [--consumer-records=N] " +
  `[--scenarios=${ALL_SCENARIOS.join(",")}] [--contenders=${ALL_CONTENDERS.join(",")}] ` +
  "[--codecs=none,zstd] [--rates=5000,50000] [--duration=S] " +
  "[--memory-counts=1000000,3000000,10000000] [--keep-broker] [--merge=a.json,b.json,...]";
if (flags.help === true) {
  console.log(USAGE);
  Deno.exit(0);
}
const QUICK = flags.quick === true;
const KEEP_BROKER = flags["keep-broker"] === true;
const RECORDS = Number(str("records") ?? Deno.env.get("BENCH_RECORDS") ?? (QUICK ? 100_000 : 1_000_000));
/** 1 KiB cases move a fifth of the records (the same order of bytes as 200 B would, in less time). */
const recordsFor = (size: number) => (size >= 1024 ? Math.max(1000, Math.round(RECORDS / 5)) : RECORDS);
/**
 * Records in the consumer scenario's topics (1 KiB: a fifth): 1M unless given, whatever `--records`
 * is, so that the rate is not dominated by warm-up and by what a client prefetched before its first
 * record.
 */
const CONSUMER_RECORDS = Number(str("consumer-records") ?? (QUICK ? 100_000 : 1_000_000));
const consumerRecordsFor = (size: number) =>
  size >= 1024 ? Math.max(1000, Math.round(CONSUMER_RECORDS / 5)) : CONSUMER_RECORDS;
const ROUNDS = Number(str("rounds") ?? (QUICK ? 1 : 3));
const RATES = (str("rates") ?? str("rate") ?? "5000,50000").split(",").map(Number);
const DURATION = Number(str("duration") ?? (QUICK ? 5 : 10));
const CODECS = (str("codecs") ?? (QUICK ? "none" : "none,zstd")).split(",");
const MEMORY_COUNTS = (str("memory-counts") ?? (QUICK ? "300000,1000000" : "1000000,3000000,10000000"))
  .split(",").map(Number);
const SCENARIOS = (str("scenarios") ?? ALL_SCENARIOS.join(",")).split(",");
/**
 * `--merge=a.json,b.json`: runs nothing; writes one result (JSON and latest.md) from the cases of
 * runs made side by side (a later file's case replaces an earlier one with the same id).
 */
const MERGE = str("merge")?.split(",") ?? null;
const SCENARIOS_RUN = MERGE ? [] : SCENARIOS;
const CONTENDERS = (str("contenders") ?? ALL_CONTENDERS.join(",")).split(",");
for (const c of CONTENDERS) {
  if (!ALL_CONTENDERS.includes(c)) {
    throw new Error(`Unknown contender ${c}: use ${ALL_CONTENDERS.join(", ")}`);
  }
}
for (const s of SCENARIOS) {
  if (!ALL_SCENARIOS.includes(s)) throw new Error(`Unknown scenario ${s}: use ${ALL_SCENARIOS.join(", ")}`);
}
for (const c of CODECS) {
  if (!["none", "gzip", "snappy", "lz4", "zstd"].includes(c)) throw new Error(`Unknown codec ${c}`);
}
if (!Number.isInteger(RECORDS) || RECORDS < 1000) throw new Error(`--records must be ≥ 1000, got ${RECORDS}`);
if (!Number.isInteger(CONSUMER_RECORDS) || CONSUMER_RECORDS < 1000) {
  throw new Error(`--consumer-records must be ≥ 1000, got ${CONSUMER_RECORDS}`);
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) throw new Error(`--rounds must be 1-20`);
if (RATES.some((r) => !(r > 0 && r <= 1_000_000))) throw new Error(`--rates must be 1-1000000 records/s`);
if (!(DURATION > 0 && DURATION <= 600)) throw new Error(`--duration must be 1-600 s`);
if (MEMORY_COUNTS.some((n) => !Number.isInteger(n) || n < 1000)) {
  throw new Error(`--memory-counts: ≥ 1000 each`);
}

// ---------------------------------------------------------------- set-up

let startedBroker = false;
const external = kafka.brokersFromEnv();
if (!external) startedBroker = await kafka.start();
const BROKERS = external
  ? external.split(",").map((s) => s.trim())
  : [`${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`];
await kafka.ensureJars();

/** A short digest of some files' contents: the install folder's name, so a version bump installs afresh. */
async function digest(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => Deno.readFile(f)));
  const hash = await crypto.subtle.digest("SHA-256", concat(parts));
  return Array.from(new Uint8Array(hash).subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function runOrThrow(
  cmd: string,
  args: string[],
  cwd: string,
  env?: Record<string, string>,
): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "inherit", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code})`);
}

/**
 * The npm contenders (@platformatic/kafka, kafkajs, and Node 24 itself as the npm package `node`),
 * installed with `npm ci` from bench/node's package.json and lock into the cache, outside the
 * repository; the contender scripts are copied next to their node_modules so that both Node and
 * Deno resolve the packages from there. Returns the folder, or null with the reason.
 */
async function ensureNpm(): Promise<{ dir: string; node: string } | { error: string }> {
  try {
    const files = [`${NODE_SRC}/package.json`, `${NODE_SRC}/package-lock.json`];
    const dir = `${kafka.cacheDir()}/bench-node-${await digest(files)}`;
    const node = `${dir}/node_modules/node/bin/node`;
    if (!await exists(`${dir}/.installed`)) {
      console.error(`bench: installing the npm contenders and Node into ${dir} (npm ci)`);
      await Deno.mkdir(dir, { recursive: true });
      for (const f of files) await Deno.copyFile(f, `${dir}/${f.split("/").pop()}`);
      await runOrThrow("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], dir);
      if (!await exists(node)) throw new Error(`npm ci left no ${node}`);
      await Deno.writeTextFile(`${dir}/.installed`, new Date().toISOString() + "\n");
    }
    for await (const e of Deno.readDir(NODE_SRC)) {
      if (e.isFile && e.name.endsWith(".mjs")) {
        await Deno.copyFile(`${NODE_SRC}/${e.name}`, `${dir}/${e.name}`);
      }
    }
    return { dir, node };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** The franz-go contender, built with `go build` (modules from the Go module proxy) into the cache. */
async function ensureFranz(): Promise<{ bin: string } | { error: string }> {
  try {
    const files = [`${FRANZ_SRC}/go.mod`, `${FRANZ_SRC}/go.sum`, `${FRANZ_SRC}/main.go`];
    const bin = `${kafka.cacheDir()}/bench-franz-${await digest(files)}/franz`;
    if (!await exists(bin)) {
      console.error(`bench: building the franz-go contender into ${bin} (go build)`);
      await runOrThrow("go", ["build", "-mod=readonly", "-o", bin, "."], FRANZ_SRC);
    }
    return { bin };
  } catch (err) {
    return { error: `n/a (go build failed: ${err instanceof Error ? err.message : err})` };
  }
}

const NPM_CONTENDERS: Record<string, { pkg: string; runtime: "deno" | "node" }> = {
  platformatic: { pkg: "platformatic", runtime: "deno" },
  kafkajs: { pkg: "kafkajs", runtime: "deno" },
  "platformatic-node": { pkg: "platformatic", runtime: "node" },
  "kafkajs-node": { pkg: "kafkajs", runtime: "node" },
};
const npm = CONTENDERS.some((c) => c in NPM_CONTENDERS) ? await ensureNpm() : { error: "not selected" };
const franz = CONTENDERS.includes("franz-go") ? await ensureFranz() : { error: "not selected" };

const tmp = await Deno.makeTempDir({ prefix: "kafka-deno-bench-" });
const client: Client = await connect({ brokers: BROKERS, clientId: "bench-harness" });
/**
 * Where the producer cases send: the single broker, or (proxy scenario) the 3-node cluster
 * through the fault proxy, with a client straight to the brokers for topics and checks.
 */
let target = { brokers: BROKERS, client, admin: client.admin(), replicationFactor: 1 };
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
  await target.admin.createTopics([{
    topic,
    partitions: PARTITIONS,
    replicationFactor: target.replicationFactor,
  }]);
  return topic;
}

async function dropTopic(topic: string): Promise<void> {
  await target.admin.deleteTopics([topic], { ifExists: true, timeoutMs: 60_000 }).catch((e) =>
    console.error(`bench: could not delete ${topic}: ${e instanceof Error ? e.message : e}`)
  );
}

/** Sum of the partitions' end offsets: how many records a producer really wrote. */
async function endOffsetSum(topic: string): Promise<number> {
  // Each partition's leader answers for it (the admin client routes the lookups).
  const offsets = await target.admin.listOffsets([topic], { at: "latest", timeoutMs: 60_000 });
  let sum = 0;
  for (const p of offsets) {
    if (p.error) throw new Error(`end offset of ${topic}[${p.partition}]: ${p.error.message}`);
    sum += Number(p.offset);
  }
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
    brokers: target.brokers,
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

/**
 * Runs an npm contender (on Deno or on Node 24) or franz-go in `mode` ("produce", "awaited",
 * "consume", "latency"); null for the other contenders.
 */
async function peerRow(contender: string, mode: string, job: Job, timeoutMs: number): Promise<Row | null> {
  const spec = NPM_CONTENDERS[contender];
  if (spec) {
    if ("error" in npm) return { contender, ok: false, reason: `n/a (npm install failed: ${npm.error})` };
    const script = `${npm.dir}/${spec.pkg}.mjs`;
    const run = spec.runtime === "node"
      ? await runChild(npm.node, [script, mode, JSON.stringify(job)], {
        timeoutMs,
        env: NODE_ENV,
        cwd: npm.dir,
      })
      : await runChild(denoBin, ["run", "--quiet", "-A", script, mode, JSON.stringify(job)], {
        timeoutMs,
        env: NODE_ENV,
        cwd: npm.dir,
      });
    return rowFrom(contender, run, parseResult(run));
  }
  if (contender === "franz-go") {
    if ("error" in franz) return { contender, ok: false, reason: franz.error };
    const run = await runChild(franz.bin, [mode, JSON.stringify(job)], { timeoutMs });
    return rowFrom(contender, run, parseResult(run));
  }
  return null;
}

async function produceRow(contender: string, c: Case): Promise<Row> {
  const topic = await freshTopic(`p-${contender}`);
  try {
    const payload = await payloadFile(c.valueSize);
    const job = baseJob(c, topic, payload);
    const timeoutMs = timeoutFor(c.records, c.valueSize);
    let row: Row;
    const peer = await peerRow(contender, "produce", job, timeoutMs);
    switch (peer === null ? contender : "peer") {
      case "peer":
        row = peer!;
        break;
      case "kafka-deno": {
        // Its own defaults (natural batching, lingerMs 0); the other clients get LINGER_MS.
        delete job.lingerMs;
        const run = await runChild(denoBin, denoRun("deno_produce.ts", job), { timeoutMs });
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
            `bootstrap.servers=${target.brokers.join(",")}`,
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
        const run = await runChild("kcat", [
          "-P",
          "-b",
          target.brokers.join(","),
          "-t",
          topic,
          "-l",
          ...x,
          file,
        ], {
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
 * (no linger or batch setting passed).
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
      row = (await peerRow(contender, "awaited", job, timeoutMs))!;
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
  const job: Job = { ...baseJob(c, topic, ""), groupId, perRecord: c.perRecord };
  delete job.payloadFile;
  // Group join plus 5,000 records/s at worst.
  const timeoutMs = 60_000 + c.records / 5;
  if (c.perRecord && ["java", "kcat", "franz-go"].includes(contender)) {
    return { contender, ok: false, reason: "n/a (one poll loop: see the per-batch case)" };
  }
  if (!c.perRecord && contender.startsWith("platformatic")) {
    return { contender, ok: false, reason: "n/a (a stream of records, no per-batch API)" };
  }
  const peer = await peerRow(contender, "consume", job, timeoutMs);
  if (peer !== null) return peer;
  switch (contender) {
    case "kafka-deno": {
      const run = await runChild(denoBin, denoRun("deno_consume.ts", job), { timeoutMs });
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
      rate: c.rate,
      durationS: DURATION,
    };
    delete job.payloadFile;
    const timeoutMs = 120_000 + DURATION * 1000;
    let row: Row;
    if (contender === "kafka-deno") {
      const run = await runChild(denoBin, denoRun("deno_latency.ts", job), { timeoutMs });
      row = rowFrom(contender, run, parseResult(run));
    } else {
      row = (await peerRow(contender, "latency", job, timeoutMs))!;
    }
    if (row.ok && row.achievedRate !== undefined) {
      row.note = `offered ${Math.round(row.achievedRate)} records/s`;
    }
    return row;
  } finally {
    await dropTopic(topic);
  }
}

/**
 * Memory: one contender produces `c.records` records (100 B, its defaults, 1,000 per call with 16
 * outstanding for the JavaScript clients) into a fresh topic, then consumes them back in a fresh
 * group; the peak RSS of each process is the figure. Returns the two rows.
 */
async function memoryRows(contender: string, records: number): Promise<[Row, Row]> {
  if (!MEMORY_CONTENDERS.includes(contender)) {
    const na: Row = {
      contender,
      ok: false,
      reason: "n/a (memory is measured for kafka-deno, with franz-go for reference)",
    };
    return [na, na];
  }
  const topic = await freshTopic(`m-${contender}`);
  try {
    const job: Job = { ...baseJob({ valueSize: 100, acks: -1, codec: "none", records } as Case, topic, "") };
    job.payloadFile = await payloadFile(100);
    delete job.lingerMs;
    const timeoutMs = timeoutFor(records, 100);
    let produced: Row;
    if (contender === "kafka-deno") {
      const run = await runChild(denoBin, denoRun("deno_produce.ts", job), { timeoutMs });
      produced = rowFrom(contender, run, parseResult(run));
    } else {
      produced = (await peerRow(contender, "produce", job, timeoutMs))!;
    }
    if (produced.ok) {
      const written = await endOffsetSum(topic);
      if (written !== records) {
        produced = { ...produced, ok: false, reason: `wrote ${written} of ${records}` };
      }
    }
    if (!produced.ok) return [produced, { contender, ok: false, reason: "n/a (producing failed)" }];
    const cjob: Job = { ...job, groupId: `bench-${runId}-${++topicSeq}-${contender}`, perRecord: true };
    delete cjob.payloadFile;
    let consumed: Row;
    if (contender === "kafka-deno") {
      const run = await runChild(denoBin, denoRun("deno_consume.ts", cjob), { timeoutMs });
      consumed = rowFrom(contender, run, parseResult(run));
    } else {
      consumed = (await peerRow(contender, "consume", cjob, timeoutMs))!;
    }
    return [produced, consumed];
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

/** The spread of the rounds around the median: "-8%/+5%", or "" for one round. */
function spread(row: Row, latency: boolean): string {
  const xs = row.samples ?? [];
  if (!row.ok || xs.length < 2) return "";
  const med = latency ? row.latency?.p99 : row.recordsPerSec;
  if (!med) return "";
  const pc = (x: number) => `${x >= med ? "+" : ""}${Math.round((x / med - 1) * 100)}%`;
  return `${pc(Math.min(...xs))}/${pc(Math.max(...xs))}`;
}

const HEAD = [
  "contender",
  "records/s",
  "spread",
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
  if (!row.ok) {
    // One line, without terminal colours: a reason may carry a stack trace.
    // deno-lint-ignore no-control-regex
    const reason = (row.reason ?? "n/a").replace(/\x1b\[[0-9;]*m/g, "").replace(/\s+/g, " ").slice(0, 200);
    return [row.contender, reason, "", "", "", "", "", fmtNum(row.rssMiB), "—", ""];
  }
  const rounds = row.rounds && row.rounds.ok < row.rounds.of
    ? `${row.rounds.of - row.rounds.ok} of ${row.rounds.of} rounds failed`
    : "";
  return [
    row.contender,
    fmtNum(row.recordsPerSec),
    spread(row, lat),
    fmtNum(row.mbPerSec, 1),
    fmtNum(row.latency?.p50, 2),
    fmtNum(row.latency?.p99, 2),
    fmtNum(row.latency?.p999, 2),
    fmtNum(row.rssMiB),
    ratio(row, base, lat),
    [row.note, rounds].filter(Boolean).join("; "),
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
  if ("error" in npm) return "not installed";
  try {
    return JSON.parse(await Deno.readTextFile(`${npm.dir}/node_modules/${name}/package.json`)).version;
  } catch {
    return "not installed";
  }
}

async function franzVersion(): Promise<string> {
  const mod = await Deno.readTextFile(`${FRANZ_SRC}/go.mod`).catch(() => "");
  const v = /github\.com\/twmb\/franz-go (v\S+)/.exec(mod)?.[1] ?? "unknown";
  return `franz-go ${v} (kgo), ${await capture("go", ["version"])}`;
}

/** The load averages (1, 5, 15 min) from /proc/loadavg. */
async function loadAvg(): Promise<number[]> {
  const t = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return t.split(" ").slice(0, 3).map(Number);
}

async function versions(): Promise<Record<string, string>> {
  const kcatV = await capture("kcat", ["-V"]);
  const m = /Version (\S+) .*librdkafka (\S+)/.exec(kcatV);
  const java = (await capture(javaBin, ["-version"])).split("\n")[0];
  return {
    "kafka-deno": `${VERSION} (Deno ${Deno.version.deno}, V8 ${Deno.version.v8})`,
    java: `Kafka clients/tools ${kafka.KAFKA_VERSION} (${java})`,
    kcat: m ? `kcat ${m[1]}, librdkafka ${m[2]}` : kcatV.split("\n")[0],
    "platformatic, kafkajs (on Deno)": `@platformatic/kafka ${await nodePkgVersion(
      "@platformatic/kafka",
    )}, kafkajs ${await nodePkgVersion("kafkajs")} on Deno ${Deno.version.deno} (\`deno run -A\`)`,
    "platformatic-node, kafkajs-node": `the same packages on Node ${
      "error" in npm ? "not installed" : (await capture(npm.node, ["-v"])).replace(/^v/, "")
    } (the npm package node)`,
    "franz-go": await franzVersion(),
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

/** The median round of one contender (by records/s; by p99 in the latency scenario), with the spread. */
function aggregate(c: Case, contender: string, runs: Row[]): Row {
  const lat = c.scenario === "latency";
  const ok = runs.filter((r) => r.ok && (lat ? r.latency !== undefined : r.recordsPerSec !== undefined));
  if (ok.length === 0) return { ...runs[0], rounds: { ok: 0, of: runs.length } };
  const metric = (r: Row) => (lat ? r.latency!.p99 : r.recordsPerSec!);
  ok.sort((a, b) => metric(a) - metric(b));
  const med = ok[Math.floor((ok.length - 1) / 2)];
  return {
    ...med,
    contender,
    rssMiB: Math.max(...runs.map((r) => r.rssMiB ?? 0)) || undefined,
    rounds: { ok: ok.length, of: runs.length },
    samples: ok.map(metric),
  };
}

/**
 * Runs a case: ROUNDS rounds, each contender once per round in an order that rotates round by
 * round (so load from outside affects each alike), and keeps the median round per contender.
 */
async function runCase(c: Case, one: (contender: string) => Promise<Row>, rounds = ROUNDS): Promise<void> {
  cases.push(c);
  const start = await loadAvg();
  const runs = new Map<string, Row[]>(CONTENDERS.map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]);
    for (const contender of order) {
      if (!runs.has(contender)) continue;
      console.error(`bench: ${c.title}: ${contender} (round ${round + 1}/${rounds})…`);
      let row: Row;
      try {
        row = await one(contender);
      } catch (err) {
        row = { contender, ok: false, reason: `error: ${err instanceof Error ? err.message : err}` };
      }
      runs.get(contender)!.push(row);
      // A contender that cannot run the case (n/a) or timed out is not retried in later rounds.
      if (!row.ok && (row.reason?.startsWith("n/a") || /timed out/.test(row.reason ?? ""))) {
        runs.delete(contender);
      }
      if (!runs.has(contender)) c.rows.push(row);
    }
  }
  c.rows = CONTENDERS.map((k) => {
    const r = runs.get(k);
    return r ? aggregate(c, k, r) : c.rows.find((x) => x.contender === k)!;
  });
  c.load = { start, end: await loadAvg() };
  report(c);
  await saveResults(false);
}

// To the second: runs started side by side in the same minute must not write the same file.
const stamp = started.toISOString().slice(0, 19).replaceAll(":", "-");
// A run of some scenarios or contenders is "partial": the README's summary keeps showing the newest full run.
const merged: { file: string; date: string; load: unknown }[] = [];
if (MERGE) {
  for (const f of MERGE) {
    const doc = JSON.parse(await Deno.readTextFile(f));
    merged.push({ file: f.split("/").pop()!, date: doc.date, load: doc.load });
    for (const c of doc.cases as Case[]) {
      const i = cases.findIndex((x) => x.id === c.id);
      if (i >= 0) cases[i] = c;
      else cases.push(c);
    }
  }
}
const MODE = MERGE
  ? (ALL_SCENARIOS.every((s) =>
      cases.some((c) => c.scenario.startsWith(s) || (s === "proxy" && c.id.startsWith("proxy")))
    )
    ? "full"
    : "partial")
  : QUICK
  ? "quick"
  : ALL_SCENARIOS.every((s) => SCENARIOS.includes(s)) && ALL_CONTENDERS.every((c) => CONTENDERS.includes(c))
  ? "full"
  : "partial";
const jsonPath = `${RESULTS_DIR}/${stamp}${MODE === "full" ? "" : `-${MODE}`}.json`;
const meta = { machine: await machine(), versions: await versions() };
const loadAtStart = await loadAvg();
const uptimeAtStart = await capture("uptime", []);

const JS_PEERS = ["platformatic", "kafkajs", "platformatic-node", "kafkajs-node"];
/** kafka-deno over franz-go at least this in the throughput cases (within 1.2x). */
const FRANZ_MIN = 1 / 1.2;

/** One line of the targets table. */
interface TargetLine {
  case: string;
  kafkaDeno: string;
  bestJs: string;
  vsBestJs: string;
  vsJava: string;
  vsFranz: string;
  met: string;
}

/** The issue's targets, case by case (throughput: ratios of records/s; latency: of p99, inverted). */
function targets(): TargetLine[] {
  const out: TargetLine[] = [];
  const fmtR = (x: number | undefined, min: number) =>
    x === undefined ? "—" : `${x.toFixed(2)}× ${x >= min ? "✓" : "✗"} (≥ ${min.toFixed(2)})`;
  for (const c of cases) {
    const get = (k: string) => c.rows.find((r) => r.contender === k && r.ok);
    const kd = get("kafka-deno");
    if (c.scenario === "memory-produce" || c.scenario === "memory-consume") {
      const rss = kd?.rssMiB;
      out.push({
        case: c.title,
        kafkaDeno: rss === undefined ? "failed" : `${Math.round(rss)} MiB peak RSS`,
        bestJs: "",
        vsBestJs: "",
        vsJava: "",
        vsFranz: "",
        met: rss === undefined ? "—" : rss < 120 ? "✓ (< 120 MiB)" : "✗ (≥ 120 MiB)",
      });
      continue;
    }
    if (!kd) {
      out.push({
        case: c.title,
        kafkaDeno: "failed",
        bestJs: "",
        vsBestJs: "",
        vsJava: "",
        vsFranz: "",
        met: "✗",
      });
      continue;
    }
    const lat = c.scenario === "latency";
    // Higher is better: records/s, or for latency 1/p99.
    const score = (r: Row | undefined) =>
      r === undefined ? undefined : lat ? 1 / r.latency!.p99 : r.recordsPerSec;
    const js = JS_PEERS.map(get).filter((r): r is Row =>
      r !== undefined
    ).sort((a, b) => score(b)! - score(a)!)[0];
    const ratioTo = (r: Row | undefined) => r === undefined ? undefined : score(kd)! / score(r)!;
    const checks: boolean[] = [];
    const vsJs = ratioTo(js);
    if (vsJs !== undefined) checks.push(vsJs >= 1.5);
    const vsJava = ratioTo(get("java"));
    if (vsJava !== undefined) checks.push(vsJava >= 1);
    const throughput = c.scenario === "producer" || c.scenario === "consumer";
    const vsFranz = ratioTo(get("franz-go"));
    if (throughput && vsFranz !== undefined) checks.push(vsFranz >= FRANZ_MIN);
    let extra = "";
    if (c.scenario === "awaited" && c.chunk === 1 && c.rttMs !== undefined && kd.latency) {
      extra = `; p50 ${kd.latency.p50.toFixed(2)} ms = ${
        (kd.latency.p50 / c.rttMs).toFixed(1)
      }× loopback RTT`;
      const fz = get("franz-go");
      if (fz?.latency) {
        const ok = kd.latency.p50 <= fz.latency.p50 * 1.2;
        checks.push(ok);
        extra += ` (franz-go ${fz.latency.p50.toFixed(2)} ms ${ok ? "✓" : "✗"})`;
      }
    }
    out.push({
      case: c.title.replace(/ \(loopback.*$/, "").replace(/ \((≤|group)[^)]*\)/, "").replace(
        /, client defaults$/,
        "",
      ),
      kafkaDeno: (lat ? `p99 ${fmtNum(kd.latency!.p99, 2)} ms` : `${fmtNum(kd.recordsPerSec)}/s`) + extra,
      bestJs: js
        ? `${js.contender}: ${lat ? `p99 ${fmtNum(js.latency!.p99, 2)} ms` : `${fmtNum(js.recordsPerSec)}/s`}`
        : "—",
      vsBestJs: fmtR(vsJs, 1.5),
      vsJava: fmtR(vsJava, 1),
      vsFranz: throughput
        ? fmtR(vsFranz, FRANZ_MIN)
        : vsFranz === undefined
        ? "—"
        : `${vsFranz.toFixed(2)}× (info)`,
      met: checks.length === 0 ? "—" : checks.every(Boolean) ? "✓" : "✗",
    });
  }
  return out;
}

function targetsMd(): string {
  const head = ["case", "kafka-deno", "best JS peer", "vs best JS", "vs Java", "vs franz-go", "met"];
  const esc = (x: string) => x.replaceAll("|", "\\|");
  return [
    "#### Targets (issue 17): kafka-deno's median against the others' medians",
    "",
    "Throughput: ratio of records/s (higher is better for kafka-deno); latency: the other's p99 over " +
    "kafka-deno's p99. ✓/✗ per target; a single run on a shared machine is not proof of either.",
    "",
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...targets().map((t) =>
      `| ${[t.case, t.kafkaDeno, t.bestJs, t.vsBestJs, t.vsJava, t.vsFranz, t.met].map(esc).join(" | ")} |`
    ),
    "",
  ].join("\n");
}

async function saveResults(final: boolean): Promise<void> {
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const loadAtEnd = await loadAvg();
  const doc = {
    date: started.toISOString(),
    finished: final ? new Date().toISOString() : null,
    mode: MODE,
    scenarios: SCENARIOS,
    records: RECORDS,
    consumerRecords: CONSUMER_RECORDS,
    rounds: ROUNDS,
    codecs: CODECS,
    latency: { rates: RATES, durationS: DURATION },
    memoryCounts: MEMORY_COUNTS,
    settings: {
      partitions: PARTITIONS,
      lingerMs: LINGER_MS,
      batchBytes: BATCH_BYTES,
      chunk: CHUNK,
      maxOutstanding: MAX_OUTSTANDING,
    },
    load: { uptimeAtStart, start: loadAtStart, now: loadAtEnd },
    merged,
    ...meta,
    targets: targets(),
    cases,
  };
  await Deno.writeTextFile(jsonPath, JSON.stringify(doc, null, 2) + "\n");
  const v = meta.versions as Record<string, string>;
  const m = meta.machine as Record<string, unknown>;
  const md = [
    `### Benchmark results (${MODE} run, ${started.toISOString().slice(0, 10)})`,
    "",
    `${RECORDS.toLocaleString("en-US")} records per 100 B producer case and ` +
    `${CONSUMER_RECORDS.toLocaleString("en-US")} per 100 B consumer case (a fifth of that at 1 KiB), ` +
    `${PARTITIONS} partitions, one broker on loopback; ${ROUNDS} round${ROUNDS === 1 ? "" : "s"} per case, ` +
    "contenders alternated round by round, median shown with the spread of the rounds around it; " +
    `latency at ${RATES.map((r) => r.toLocaleString("en-US")).join(" and ")} records/s for ${DURATION} s. ` +
    `Machine: ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpu}. MB = 10^6 bytes of values.`,
    "",
    merged.length
      ? `Merged from runs made side by side (each case was run by one of them; their load figures): ${
        merged.map((x) => {
          const l = x.load as { start?: number[]; now?: number[] } | undefined;
          return `\`${x.file}\` (load average ${l?.start?.join(", ") ?? "?"} at its start, ${
            l?.now?.join(", ") ?? "?"
          } at its end)`;
        }).join("; ")
      }. The machine was shared with other work throughout; the broker and every client share the same ${m.cores} cores.`
      : `Load (\`uptime\` at the start: ` +
        `${uptimeAtStart.replace(/^.*load average:\s*/, "load average ")}; load average ${
          loadAtEnd.join(", ")
        } at the last write). The broker and every client share the same ${m.cores} cores.`,
    "",
    ...Object.entries(v).map(([k, s]) => `- ${k}: ${s}`),
    "",
    "Generated by `deno task bench` (bench/run.ts); raw numbers in " +
    `\`bench/results/${jsonPath.split("/").pop()}\`. See bench/README.md for what each case measures.`,
    "",
    targetsMd(),
    ...cases.map(mdTable),
  ].join("\n");
  // BENCH_LATEST=0: a run beside another (e.g. one scenario at a time) leaves latest.md to the other.
  if (Deno.env.get("BENCH_LATEST") !== "0") await Deno.writeTextFile(`${RESULTS_DIR}/latest.md`, md);
}

try {
  console.error(
    `bench: ${RECORDS} records per case, ${ROUNDS} rounds, brokers ${BROKERS.join(",")}, ` +
      `contenders ${CONTENDERS.join(", ")}`,
  );
  if (SCENARIOS_RUN.includes("producer")) {
    for (const size of [100, 1024]) {
      for (const acks of [1, -1] as const) {
        for (const codec of CODECS) {
          const c: Case = {
            id: `produce-${size}B-acks${acksLabel(acks)}-${codec}`,
            scenario: "producer",
            title: `Producer, pipelined (≤ ${MAX_OUTSTANDING} calls of ${CHUNK} records outstanding): ${
              sizeLabel(size)
            } values, acks=${acksLabel(acks)}, ${codec}`,
            valueSize: size,
            acks,
            codec,
            records: recordsFor(size),
            rows: [],
          };
          await runCase(c, (contender) => produceRow(contender, c));
        }
      }
    }
  }
  if (SCENARIOS_RUN.includes("awaited")) {
    const rtt = await roundTripMs();
    console.error(`bench: loopback round trip (ApiVersions) p50 ${rtt.toFixed(3)} ms`);
    for (const chunk of [1, 1000]) {
      for (const acks of [1, -1] as const) {
        const records = chunk === 1
          ? Math.min(QUICK ? 1_000 : 5_000, Math.max(500, Math.round(RECORDS / 50)))
          : Math.min(RECORDS, QUICK ? 50_000 : 200_000);
        const c: Case = {
          id: `awaited-${chunk}-100B-acks${acksLabel(acks)}-none`,
          scenario: "awaited",
          title: `Awaited send() loop: ${chunk.toLocaleString("en-US")} record${
            chunk === 1 ? "" : "s"
          } per call, 100 B values, acks=${acksLabel(acks)}, none, client defaults (loopback round trip p50 ${
            rtt.toFixed(3)
          } ms; p50/p99 are per send() call)`,
          valueSize: 100,
          acks,
          codec: "none",
          records,
          chunk,
          rttMs: rtt,
          rows: [],
        };
        await runCase(c, (contender) => awaitedRow(contender, c));
      }
    }
  }
  if (SCENARIOS_RUN.includes("consumer")) {
    for (const size of [100, 1024]) {
      const records = consumerRecordsFor(size);
      const topic = await freshTopic("c");
      try {
        // Pre-produce with kcat (fast and independent of the contenders).
        const file = await kcatFile(size, records);
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
          { timeoutMs: timeoutFor(records, size) },
        );
        const written = await endOffsetSum(topic);
        if (pre.code !== 0 || written !== records) {
          throw new Error(`pre-producing failed: ${written} of ${records} written; ${tail(pre.stderr, 300)}`);
        }
        for (const perRecord of [true, false]) {
          const c: Case = {
            id: `consume-${size}B-${perRecord ? "record" : "batch"}`,
            scenario: "consumer",
            title: `Consumer (group, from the beginning), ${perRecord ? "per record" : "per batch"}: ${
              sizeLabel(size)
            } values, uncompressed`,
            valueSize: size,
            acks: 1,
            codec: "none",
            records,
            perRecord,
            rows: [],
          };
          await runCase(c, (contender) => consumeRow(contender, c, topic));
        }
      } finally {
        await dropTopic(topic);
      }
    }
  }
  if (SCENARIOS_RUN.includes("latency")) {
    for (const rate of RATES) {
      const c: Case = {
        id: `latency-${rate}-100B-acksall`,
        scenario: "latency",
        title:
          `End-to-end latency: ${rate.toLocaleString("en-US")} records/s for ${DURATION} s, 100 B values, ` +
          `acks=all, uncompressed`,
        valueSize: 100,
        acks: -1,
        codec: "none",
        records: rate * DURATION,
        rate,
        rows: [],
      };
      await runCase(c, (contender) => latencyRow(contender, c));
    }
  }
  if (SCENARIOS_RUN.includes("proxy")) {
    // The 3-node cluster (KAFKA_DENO_CLUSTER_PORT) advertises the fault proxy's ports, so every
    // client's traffic goes through the proxy; topics have 3 replicas.
    const startedCluster = await kafkaCluster.startCluster();
    const proxy = await kafkaCluster.startClusterProxy();
    const direct = await connect({
      brokers: kafkaCluster.directBootstrap(),
      clientId: "bench-harness-cluster",
    });
    const saved = target;
    target = {
      brokers: kafkaCluster.proxyBootstrap(),
      client: direct,
      admin: direct.admin(),
      replicationFactor: 3,
    };
    try {
      for (const ms of PROXY_MS) {
        proxy.setFaults({ latencyMs: ms });
        const via = `through the fault proxy, +${ms} ms each way, 3 brokers, 3 replicas`;
        const p: Case = {
          id: `proxy${ms}-produce-100B-acksall-none`,
          scenario: "producer",
          title: `Producer, pipelined, ${via}: 100 B values, acks=all, none`,
          valueSize: 100,
          acks: -1,
          codec: "none",
          records: Math.min(RECORDS, QUICK ? 20_000 : 50_000),
          rows: [],
        };
        await runCase(p, (contender) => produceRow(contender, p));
        for (const chunk of [1, 1000]) {
          const records = chunk === 1 ? (QUICK ? 20 : 50) : (QUICK ? 10_000 : 20_000);
          const c: Case = {
            id: `proxy${ms}-awaited-${chunk}-100B-acksall-none`,
            scenario: "awaited",
            title: `Awaited send() loop, ${via}: ${chunk.toLocaleString("en-US")} record${
              chunk === 1 ? "" : "s"
            } per call, 100 B values, acks=all, client defaults (p50/p99 per send() call)`,
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
    } finally {
      target = saved;
      await direct.close();
      await proxy.close();
      if (startedCluster && !KEEP_BROKER) {
        console.error("bench: stopping the cluster this run started");
        await kafkaCluster.stopCluster();
      }
    }
  }
  if (SCENARIOS_RUN.includes("memory")) {
    // One round: a peak RSS varies far less with load than a rate does, and 10M records take minutes.
    for (const n of MEMORY_COUNTS) {
      const label = n.toLocaleString("en-US");
      const produced: Case = {
        id: `memory-produce-${n}`,
        scenario: "memory-produce",
        title: `Memory: producing ${label} records (100 B, acks=all, defaults)`,
        valueSize: 100,
        acks: -1,
        codec: "none",
        records: n,
        rows: [],
      };
      const consumed: Case = {
        id: `memory-consume-${n}`,
        scenario: "memory-consume",
        title: `Memory: consuming ${label} records (per record, defaults)`,
        valueSize: 100,
        acks: -1,
        codec: "none",
        records: n,
        rows: [],
      };
      const pending = new Map<string, Row>();
      await runCase(produced, async (contender) => {
        const [p, c] = await memoryRows(contender, n);
        pending.set(contender, c);
        return p;
      }, 1);
      await runCase(consumed, (contender) => Promise.resolve(pending.get(contender)!), 1);
    }
  }
  await saveResults(true);
  console.error(`bench: wrote ${jsonPath} and ${RESULTS_DIR}/latest.md`);
} finally {
  await client.close();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  if (startedBroker && !KEEP_BROKER) {
    console.error("bench: stopping the broker this run started");
    await kafka.stop();
  }
}
