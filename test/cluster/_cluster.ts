/**
 * Helpers for the tests on the local 3-node cluster (scripts/kafka_cluster.ts):
 * the cluster's addresses from the environment `deno task test` sets (missing:
 * the tests FAIL, saying how to run them), health checks, leader and
 * coordinator lookup, an independent reader (Kafka's Java console consumer
 * from the broker's own jars, straight to the brokers, never through the fault
 * proxy), the delivery verifier and the machine-readable RESULT line.
 *
 * @module
 */

import { type Client, connect } from "../../mod.ts";
import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import * as cluster from "../../scripts/kafka_cluster.ts";
import { javaTool, ok } from "../_tools.ts";

export { cluster };

/** The cluster the tests use: direct (checkers) and through the proxy (clients under test). */
export interface ClusterEnv {
  /** Bootstrap straight to the brokers' INTERNAL listeners. */
  direct: string[];
  /** Bootstrap through the fault proxy (needs a proxy running: {@linkcode cluster.startClusterProxy}). */
  proxy: string[];
}

/**
 * The local cluster `deno task test` started, or an error saying how to get
 * one: these tests kill and restart nodes, so they need the local cluster.
 */
export function localCluster(): ClusterEnv {
  const direct = Deno.env.get("KAFKA_CLUSTER_BROKERS");
  const proxy = Deno.env.get("KAFKA_CLUSTER_PROXY_BROKERS");
  if (Deno.env.get("KAFKA_DENO_LOCAL_CLUSTER") !== "1" || !direct || !proxy) {
    throw new Error(
      "The cluster tests need the local 3-node cluster: run them with `deno task test test/cluster/` " +
        "(it starts the cluster), or start it with `deno task kafka start --nodes 3 --no-proxy` and set " +
        "KAFKA_DENO_LOCAL_CLUSTER=1 KAFKA_CLUSTER_BROKERS=<direct list> KAFKA_CLUSTER_PROXY_BROKERS=<proxy list> " +
        "(`deno task kafka status --nodes 3` prints both lists).",
    );
  }
  return { direct: direct.split(","), proxy: proxy.split(",") };
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Connects straight to the brokers (no proxy): for set-up and checks, not for the client under test. */
export function directClient(env: ClusterEnv): Promise<Client> {
  return connect({ brokers: env.direct, clientId: "cluster-test-direct" });
}

/**
 * Makes sure every node runs, all three brokers are registered and no
 * partition (internal topics included) is under-replicated: a previous test may
 * have left a node down or catching up. Bounded.
 */
export async function ensureHealthy(env: ClusterEnv, timeoutMs = 120_000): Promise<void> {
  for (const s of await cluster.clusterStatus()) if (!s.running) await cluster.startNode(s.id);
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const client = await directClient(env);
      try {
        const md = await client.metadata();
        const lagging = md.topics.flatMap((t) =>
          t.partitions.filter((p) => p.leader < 0 || p.isr.length < p.replicas.length).map((p) =>
            `${t.name}[${p.partition}] leader ${p.leader} isr ${p.isr} replicas ${p.replicas}`
          )
        );
        last = `brokers ${md.brokers.map((b) => b.nodeId)}; ${lagging.length} partitions lagging: ${
          lagging.slice(0, 5).join("; ")
        }`;
        if (md.brokers.length === cluster.NODE_IDS.length && lagging.length === 0) return;
      } finally {
        await client.close();
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`the cluster is not healthy after ${timeoutMs} ms: ${last}`);
}

/** Creates a topic (replication factor 3) through a direct client and waits until every partition has a leader. */
export async function createTopic(env: ClusterEnv, topic: string, partitions: number): Promise<void> {
  const client = await directClient(env);
  try {
    await client.admin().createTopics([{ topic, partitions }]);
    for (let i = 0; i < 100; i++) {
      await client.cluster.refreshMetadata([topic]);
      const info = await client.cluster.readyTopic(topic).catch(() => null);
      if (info && info.partitions.length === partitions && info.partitions.every((p) => p.leader >= 0)) {
        return;
      }
      await sleep(200);
    }
    throw new Error(`topic ${topic} has no leader for every partition`);
  } finally {
    await client.close();
  }
}

/** The leader of each partition of `topic`, from fresh metadata. */
export async function leaders(env: ClusterEnv, topic: string): Promise<Map<number, number>> {
  const client = await directClient(env);
  try {
    await client.cluster.refreshMetadata([topic]);
    const info = await client.cluster.readyTopic(topic);
    return new Map(info.partitions.map((p) => [p.partition, p.leader]));
  } finally {
    await client.close();
  }
}

/** The node leading the most partitions of `topic`, and those partitions. */
export async function busiestLeader(
  env: ClusterEnv,
  topic: string,
): Promise<{ node: number; partitions: number[] }> {
  const byNode = new Map<number, number[]>();
  for (const [p, l] of await leaders(env, topic)) byNode.set(l, [...byNode.get(l) ?? [], p]);
  const [node, partitions] = [...byNode].sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0];
  return { node, partitions };
}

/** The node coordinating `groupId`. */
export async function groupCoordinator(env: ClusterEnv, groupId: string): Promise<number> {
  const client = await directClient(env);
  try {
    // Bounded by time, not tries: after an earlier test's kill, the offsets topic's leaders may still be
    // moving or loading for a while on a loaded machine.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const conn = await client.cluster.anyConnection();
      const batched = conn.versionFor(findCoordinator) >= 4;
      const res = await conn.request(
        findCoordinator,
        batched
          ? { keyType: CoordinatorKeyType.GROUP, coordinatorKeys: [groupId] }
          : { keyType: CoordinatorKeyType.GROUP, key: groupId },
      );
      const c = batched ? res.coordinators[0] : res;
      if (c.errorCode === 0 && c.nodeId >= 0) return c.nodeId;
      await sleep(200);
    }
    throw new Error(`no coordinator found for group ${groupId}`);
  } finally {
    await client.close();
  }
}

/** A record as the independent reader saw it. */
export interface SeenRecord {
  /** Partition. */
  partition: number;
  /** Offset. */
  offset: bigint;
  /** Key, as text. */
  key: string;
  /** Value, as text. */
  value: string;
}

/** The end offsets of `topic`, read by Kafka's GetOffsetShell straight from the brokers. */
export async function javaEndOffsets(env: ClusterEnv, topic: string): Promise<Map<number, bigint>> {
  const out = ok(
    await javaTool("org.apache.kafka.tools.GetOffsetShell", [
      "--bootstrap-server",
      env.direct.join(","),
      "--topic",
      topic,
      "--time",
      "-1",
    ], { timeoutMs: 90_000 }),
    "GetOffsetShell",
  );
  const ends = new Map<number, bigint>();
  for (const line of out.stdout.split("\n")) {
    const m = /^(.*):(\d+):(\d+)$/.exec(line.trim());
    if (m && m[1] === topic) ends.set(Number(m[2]), BigInt(m[3]));
  }
  return ends;
}

/**
 * Every record of `topic`, read by Kafka's Java console consumer straight from
 * the brokers (an independent reader: not our client, not through the proxy).
 */
export async function javaReadAll(env: ClusterEnv, topic: string): Promise<SeenRecord[]> {
  const ends = await javaEndOffsets(env, topic);
  const total = [...ends.values()].reduce((a, b) => a + b, 0n);
  if (total === 0n) return [];
  const out = ok(
    await javaTool("org.apache.kafka.tools.consumer.ConsoleConsumer", [
      "--bootstrap-server",
      env.direct.join(","),
      "--topic",
      topic,
      "--from-beginning",
      "--max-messages",
      String(total),
      "--timeout-ms",
      "60000",
      "--formatter-property",
      "print.partition=true",
      "--formatter-property",
      "print.offset=true",
      "--formatter-property",
      "print.key=true",
      "--formatter-property",
      "key.separator=|",
      "--formatter-property",
      "line.separator=\n",
    ], { timeoutMs: 180_000 }),
    "ConsoleConsumer",
  );
  const seen: SeenRecord[] = [];
  for (const line of out.stdout.split("\n")) {
    if (!line) continue;
    // Partition:0|Offset:12|key|value
    const m = /^Partition:(\d+)\|Offset:(\d+)\|([^|]*)\|(.*)$/.exec(line);
    if (!m) throw new Error(`unexpected console consumer line: ${line}`);
    seen.push({ partition: Number(m[1]), offset: BigInt(m[2]), key: m[3], value: m[4] });
  }
  if (BigInt(seen.length) !== total) {
    throw new Error(
      `the console consumer read ${seen.length} records of ${total}\n${out.stderr.slice(-2000)}`,
    );
  }
  return seen;
}

/** A record the producer had acknowledged: value `key:seq`, unique in the test. */
export interface AckedRecord {
  /** Key. */
  key: string;
  /** Value (`<key>:<seq>`, unique). */
  value: string;
  /** Per-key sequence number, in send order. */
  seq: number;
  /** Where the broker said it stored it. */
  partition: number;
  /** Its offset, per the acknowledgement. */
  offset: bigint;
}

/** What the verifier found. */
export interface Verdict {
  /** Acknowledged records not in the topic. */
  lost: number;
  /** Values stored more than once (extra copies). */
  duplicated: number;
  /** Records of one key stored out of send order. */
  reordered: number;
  /** Acknowledged offsets holding another record. */
  misplaced: number;
  /** A few examples, for messages. */
  examples: string[];
}

/** Checks the stored records against the acknowledged ones: each once, at its acknowledged offset, per-key in order. */
export function verify(acked: readonly AckedRecord[], stored: readonly SeenRecord[]): Verdict {
  const v: Verdict = { lost: 0, duplicated: 0, reordered: 0, misplaced: 0, examples: [] };
  const note = (s: string) => {
    if (v.examples.length < 5) v.examples.push(s);
  };
  const copies = new Map<string, SeenRecord[]>();
  for (const r of stored) {
    const list = copies.get(r.value);
    if (list) list.push(r);
    else copies.set(r.value, [r]);
  }
  for (const [value, list] of copies) {
    if (list.length > 1) {
      v.duplicated += list.length - 1;
      note(`${value} stored ${list.length} times`);
    }
  }
  for (const a of acked) {
    const list = copies.get(a.value);
    if (!list) {
      v.lost++;
      note(`${a.value} (acknowledged at ${a.partition}@${a.offset}) is missing`);
    } else if (!list.some((r) => r.partition === a.partition && r.offset === a.offset)) {
      v.misplaced++;
      note(
        `${a.value} acknowledged at ${a.partition}@${a.offset}, stored at ${list[0].partition}@${
          list[0].offset
        }`,
      );
    }
  }
  // Per key: in offset order within a partition, sequence numbers only grow.
  const sorted = [...stored].sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : 1));
  const lastSeq = new Map<string, number>();
  for (const r of sorted) {
    const seq = Number(r.value.slice(r.value.lastIndexOf(":") + 1));
    const prev = lastSeq.get(r.key);
    if (prev !== undefined && seq <= prev && copies.get(r.value)!.length === 1) {
      v.reordered++;
      note(`key ${r.key}: seq ${seq} after ${prev} at ${r.partition}@${r.offset}`);
    }
    lastSeq.set(r.key, Math.max(prev ?? -1, seq));
  }
  return v;
}

/** The peak resident set size of this process so far, MiB (VmHWM). */
export async function peakRssMiB(): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

/** Prints the scenario's machine-readable line. */
export function result(line: Record<string, unknown>): void {
  console.log(`RESULT ${JSON.stringify(line, (_, v) => typeof v === "bigint" ? v.toString() : v)}`);
}

/** An error's type name, for the `rejected` counts. */
export function errorType(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code !== undefined ? `${err.name}(${code})` : err.name;
  }
  return typeof err;
}
