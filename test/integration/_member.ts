/**
 * Helpers for the consumer integration tests, and (run as a program) a group
 * member in a child process for the kill test.
 *
 * As a program: `deno run -A _member.ts <brokers> <topic> <groupId> <sessionTimeoutMs> <batchDelayMs>`
 * (the delay makes it slow enough to be killed mid-way). It prints
 * `assigned <n>` whenever its partition count changes and `r <partition> <offset> <value>` per
 * record. Lines of a batch are written (synchronously) before the next batch is asked for, and
 * auto-commit only commits batches the program asked past, so every committed record was printed.
 *
 * @module
 */

import { type Client, connect, type ConsumerRecord } from "../../mod.ts";
import { toolArgs } from "../../scripts/kafka.ts";
import { deviates } from "../_broker.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The Kafka tool main classes the tests use. */
export const TOOLS = {
  topics: "org.apache.kafka.tools.TopicCommand",
  consoleProducer: "org.apache.kafka.tools.ConsoleProducer",
  consoleConsumer: "org.apache.kafka.tools.consumer.ConsoleConsumer",
} as const;

/**
 * Runs one of Kafka's Java tools to completion, feeding `input` on stdin; returns stdout.
 * Bounded by `timeoutMs` (the JVM is killed by pid after that).
 */
export async function runTool(
  mainClass: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const child = new Deno.Command("java", {
    args: toolArgs(mainClass, args, "256m"),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  try {
    const w = child.stdin.getWriter();
    if (opts.input) await w.write(encoder.encode(opts.input));
    await w.close();
    const out = await child.output();
    if (!out.success) {
      throw new Error(`${mainClass} failed (${out.code}): ${decoder.decode(out.stderr)}`);
    }
    return decoder.decode(out.stdout);
  } finally {
    clearTimeout(timer);
  }
}

/** Creates a topic with Kafka's TopicCommand (until the client has an admin API). */
export async function createTopic(brokers: string[], topic: string, partitions: number): Promise<void> {
  await using client = await connect({ brokers, clientId: "kafka-deno-test-admin" });
  await client.admin().createTopics([{ topic, partitions, replicationFactor: 1 }]);
}

/**
 * Produces `count` records with values `${prefix}${i}` (keys `k${i}`), spread round-robin over
 * `partitions` partitions, in chunks; resolves once all are acknowledged.
 */
export async function produceNumbered(
  client: Client,
  topic: string,
  count: number,
  opts: { partitions?: number; prefix?: string; from?: number; valueBytes?: number; batchBytes?: number } =
    {},
): Promise<void> {
  const producer = client.producer({ lingerMs: 5, batchBytes: opts.batchBytes });
  try {
    const parts = opts.partitions ?? 1;
    const from = opts.from ?? 0;
    const pad = opts.valueBytes ? "x".repeat(opts.valueBytes) : "";
    if (deviates("tansuFetchMidBatch") && count <= 500) {
      // One record per batch: every offset a test commits or seeks to starts a batch (see the deviation).
      // Bulk loads keep their batches (one request per record would take minutes).
      for (let i = from; i < from + count; i++) {
        await producer.send({
          topic,
          messages: [{ key: `k${i}`, value: `${opts.prefix ?? ""}${i}${pad}`, partition: i % parts }],
        });
      }
      return;
    }
    const sends: Promise<unknown>[] = [];
    for (let start = from; start < from + count; start += 1000) {
      const messages = [];
      for (let i = start; i < Math.min(start + 1000, from + count); i++) {
        messages.push({ key: `k${i}`, value: `${opts.prefix ?? ""}${i}${pad}`, partition: i % parts });
      }
      sends.push(producer.send({ topic, messages }));
      if (sends.length >= 16) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
  } finally {
    await producer.close();
  }
}

/** Resolves with `p`, or rejects after `ms` (the timer is always cleared). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 50 ms until it holds, failing after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Takes `n` records from an iterator, failing after `ms`. */
export async function take(
  it: AsyncIterator<ConsumerRecord>,
  n: number,
  ms: number,
): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const r = await within(it.next(), Math.max(1, deadline - Date.now()), `record ${out.length + 1} of ${n}`);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

async function main(): Promise<void> {
  const [brokers, topic, groupId, session, delay] = Deno.args;
  const client = await connect({ brokers: brokers.split(","), clientId: "kill-test-member" });
  const consumer = client.consumer({
    groupId,
    topics: [topic],
    fromBeginning: true,
    sessionTimeoutMs: Number(session),
    heartbeatIntervalMs: 1000,
    autoCommitIntervalMs: 200,
    maxPartitionBytes: 4096, // about one producer batch per fetch, so that it reads in steps
  });
  let assigned = -1;
  const report = setInterval(() => {
    const n = consumer.assignment().length;
    if (n !== assigned) {
      assigned = n;
      Deno.stdout.writeSync(encoder.encode(`assigned ${n}\n`));
    }
  }, 50);
  try {
    for await (const batch of consumer.batches()) {
      let lines = "";
      for (const r of batch.records) lines += `r ${r.partition} ${r.offset} ${r.text()}\n`;
      const bytes = encoder.encode(lines);
      let done = 0;
      while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
      if (Number(delay) > 0) await new Promise((r) => setTimeout(r, Number(delay)));
    }
  } finally {
    clearInterval(report);
    await client.close();
  }
}

if (import.meta.main) await main();

/** Kafka's console consumer running as a group member. */
export interface JavaMember {
  /** Its record lines (`Partition:N\t<value>`), as they arrive. */
  lines: string[];
  /** Stops it (SIGTERM, SIGKILL after 10 s) and waits for its output to end. */
  stop(): Promise<void>;
}

/**
 * Starts Kafka's console consumer in `groupId`, printing each record's
 * partition, with `props` as consumer properties; collects its record lines
 * (notices the tool prints on stdout go to stderr).
 */
export function javaMember(brokers: string[], topic: string, groupId: string, props: string[]): JavaMember {
  const java = new Deno.Command("java", {
    args: toolArgs(TOOLS.consoleConsumer, [
      "--bootstrap-server",
      brokers[0],
      "--topic",
      topic,
      "--group",
      groupId,
      "--from-beginning",
      "--formatter-property",
      "print.partition=true",
      ...props.flatMap((p) => ["--command-property", p]),
    ], "256m"),
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  const reader = (async () => {
    let rest = "";
    for await (const chunk of java.stdout.pipeThrough(new TextDecoderStream())) {
      const got = (rest + chunk).split("\n");
      rest = got.pop()!;
      for (const l of got) {
        if (/^Partition:\d+\t/.test(l)) lines.push(l);
        else if (l.trim()) console.error(`console consumer: ${l}`);
      }
    }
  })();
  return {
    lines,
    async stop() {
      java.kill("SIGTERM");
      const killer = setTimeout(() => java.kill("SIGKILL"), 10_000);
      await java.status;
      clearTimeout(killer);
      await reader.catch(() => {});
    },
  };
}
