/**
 * Real peers for interop tests: Kafka's own Java tools (from the same Maven
 * jars as the local broker) and librdkafka, through confluent-kafka's Python
 * package (its wheel bundles librdkafka) driven by test/peer/rdkafka_peer.py.
 * The package is installed on first use with `python3 -m pip install --target`
 * into the cache folder outside the repo, the way Kafka's jars are.
 *
 * @module
 */

import { cacheDir, ensureJars, toolArgs } from "../scripts/kafka.ts";
import { BROKERS } from "./_broker.ts";

/** What a tool printed. */
export interface ToolOutput {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

async function runTool(
  cmd: string,
  args: string[],
  stdin: string | undefined,
  timeoutMs: number,
  env?: Record<string, string>,
): Promise<ToolOutput> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const td = new TextDecoder();
    return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one of Kafka's Java tools by main class; `--bootstrap-server` is up to the caller. */
export async function javaTool(
  mainClass: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<ToolOutput> {
  await ensureJars();
  return await runTool("java", toolArgs(mainClass, args), opts.stdin, opts.timeoutMs ?? 60_000);
}

/** The confluent-kafka release the librdkafka peer uses (librdkafka 2.16). */
export const CONFLUENT_KAFKA_VERSION = "2.16.1";
const PEER_SCRIPT = new URL("./peer/rdkafka_peer.py", import.meta.url).pathname;

/** Where confluent-kafka is installed: outside the repo, next to Kafka's jars. */
export function rdkafkaDir(): string {
  return `${cacheDir()}/py-confluent-kafka-${CONFLUENT_KAFKA_VERSION}`;
}

/** Installs confluent-kafka into the cache once (pip into a temporary folder, then a rename). */
export async function ensureRdkafka(): Promise<string> {
  const dir = rdkafkaDir();
  try {
    await Deno.stat(`${dir}/confluent_kafka`);
    return dir;
  } catch {
    // not installed yet
  }
  await Deno.mkdir(cacheDir(), { recursive: true });
  const tmp = `${dir}.tmp-${Deno.pid}`;
  console.error(`test: installing confluent-kafka ${CONFLUENT_KAFKA_VERSION} (librdkafka) into ${dir}`);
  const out = await runTool(
    "python3",
    [
      "-m",
      "pip",
      "install",
      "--quiet",
      "--disable-pip-version-check",
      "--no-warn-script-location",
      "--target",
      tmp,
      `confluent-kafka==${CONFLUENT_KAFKA_VERSION}`,
    ],
    undefined,
    300_000,
  ).catch((e) => {
    throw new Error(`python3 with pip is needed for the librdkafka interop tests (see README): ${e}`);
  });
  ok(out, "pip install confluent-kafka");
  try {
    await Deno.rename(tmp, dir);
  } catch (e) {
    // Another process finished first: keep its copy.
    await Deno.remove(tmp, { recursive: true });
    await Deno.stat(`${dir}/confluent_kafka`).catch(() => {
      throw e;
    });
  }
  return dir;
}

/** One record for the librdkafka peer to produce; null is kept as null. */
export interface PeerRecord {
  /** The key. */
  key: string | null;
  /** The value. */
  value: string | null;
  /** Headers in order. */
  headers?: [string, string | null][];
}

/** One record the librdkafka peer read. */
export interface PeerReadRecord extends Required<PeerRecord> {
  /** Its partition. */
  partition: number;
  /** Its offset. */
  offset: number;
}

/**
 * Produces records with librdkafka (one call, flushed; in a transaction with
 * `transactionalId`, committed unless `abort`).
 */
export async function rdkafkaProduce(
  topic: string,
  records: PeerRecord[],
  opts: {
    partition?: number;
    compression?: string;
    transactionalId?: string;
    abort?: boolean;
    brokers?: string[];
  } = {},
): Promise<void> {
  const args = ["produce", "--brokers", (opts.brokers ?? BROKERS).join(","), "--topic", topic];
  if (opts.partition !== undefined) args.push("--partition", String(opts.partition));
  if (opts.compression) args.push("--compression", opts.compression);
  if (opts.transactionalId) args.push("--transactional-id", opts.transactionalId);
  if (opts.abort) args.push("--abort");
  const stdin = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
  ok(await runPeer(args, stdin), "librdkafka peer (produce)");
}

/** Reads every partition of a topic from the beginning to its end with librdkafka. */
export async function rdkafkaConsume(topic: string): Promise<PeerReadRecord[]> {
  const out = ok(
    await runPeer(["consume", "--brokers", BROKERS.join(","), "--topic", topic], undefined),
    "librdkafka peer (consume)",
  );
  return out.stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

async function runPeer(args: string[], stdin: string | undefined): Promise<ToolOutput> {
  const dir = await ensureRdkafka();
  return await runTool("python3", [PEER_SCRIPT, ...args], stdin, 90_000, {
    PYTHONPATH: dir,
    PYTHONDONTWRITEBYTECODE: "1",
  });
}

/** Throws with the tool's output unless it exited 0. */
export function ok(out: ToolOutput, what: string): ToolOutput {
  if (out.code !== 0) {
    throw new Error(`${what} exited ${out.code}\n${out.stderr.slice(-3000)}\n${out.stdout.slice(-1000)}`);
  }
  return out;
}
