// Issue 15, item 1: exactly-once on the 3-node cluster. The consume-transform-produce example
// (examples/exactly_once.ts) runs as a child process; the broker coordinating its transactional id
// is SIGKILLed mid-stream and restarted, and the processor itself is SIGKILLed and restarted. Kafka's
// Java console consumer (--isolation-level read_committed), straight from the brokers, must find
// every input exactly once in the output.
import assert from "node:assert/strict";
import { uniqueName } from "../_broker.ts";
import { endOffsets, readAll } from "../_read.ts";
import { javaTool, ok } from "../_tools.ts";
import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import {
  cluster,
  type ClusterEnv,
  createTopic,
  directClient,
  ensureHealthy,
  localCluster,
  result,
  sleep,
} from "./_cluster.ts";
import { type Processor, spawnProcessor } from "../_processor.ts";

const N = 3000; // scaled for CI time: about a minute of processing in 20-record transactions

async function transactionCoordinator(env: ClusterEnv, transactionalId: string): Promise<number> {
  const client = await directClient(env);
  try {
    for (let i = 0; i < 100; i++) {
      const conn = await client.cluster.anyConnection();
      const batched = conn.versionFor(findCoordinator) >= 4;
      const res = await conn.request(
        findCoordinator,
        batched
          ? { keyType: CoordinatorKeyType.TRANSACTION, coordinatorKeys: [transactionalId] }
          : { keyType: CoordinatorKeyType.TRANSACTION, key: transactionalId },
      );
      const c = batched ? res.coordinators[0] : res;
      if (c.errorCode === 0 && c.nodeId >= 0) return c.nodeId;
      await sleep(200);
    }
    throw new Error(`no transaction coordinator for ${transactionalId}`);
  } finally {
    await client.close();
  }
}

function sum(m: Map<number, bigint>): bigint {
  let t = 0n;
  for (const v of m.values()) t += v;
  return t;
}

Deno.test(
  "cluster: exactly-once through SIGKILLs of the transaction coordinator and of the processor",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const env = localCluster();
    await ensureHealthy(env);
    const input = uniqueName("eos-cluster-in");
    const output = uniqueName("eos-cluster-out");
    const transactionalId = `${input}-tx`;
    await createTopic(env, input, 3);
    await createTopic(env, output, 3);
    const client = await directClient(env);
    try {
      const producer = client.producer({ lingerMs: 5 });
      for (let s = 0; s < 30; s++) {
        await producer.send({
          topic: input,
          messages: Array.from(
            { length: N / 30 },
            (_, i) => ({ key: `k${(s * 100 + i) % 97}`, value: `v-${s * 100 + i}` }),
          ),
        });
      }
      await producer.close();
      const procEnv = {
        KAFKA_BROKERS: env.direct.join(","),
        EOS_GROUP: `${input}-g`,
        EOS_TRANSACTIONAL_ID: transactionalId,
        EOS_RECORDS_PER_TRANSACTION: "20",
        EOS_LOG: "1", // each transaction and rebalance, shown if the output is wrong
      };
      const runs: Processor[] = [];
      const spawn = (extra: Record<string, string> = {}) => {
        const p = spawnProcessor(input, output, { ...procEnv, ...extra });
        runs.push(p);
        return p;
      };
      // The output's log size; a dead leader's connection fails: refresh and try again (bounded).
      const logSize = async (): Promise<bigint> => {
        for (let i = 0;; i++) {
          try {
            return sum(await endOffsets(client, output));
          } catch (err) {
            if (i >= 100) throw err;
            await client.cluster.refreshMetadata([output]).catch(() => {});
            await sleep(300);
          }
        }
      };
      const growTo = async (target: bigint, boundMs: number) => {
        const deadline = Date.now() + boundMs;
        let now = 0n;
        while (Date.now() < deadline && (now = await logSize()) < target) {
          await sleep(200);
        }
        return now;
      };

      // 1. The processor runs; a third of the way in, SIGKILL the transaction coordinator.
      let child = spawn();
      await growTo(600n, 120_000);
      const coordinator = await transactionCoordinator(env, transactionalId);
      await cluster.killNode(coordinator, "SIGKILL");
      const atKill = await logSize();
      // The processor must go on (a new coordinator takes over the transaction log's partition).
      const afterKill = await growTo(atKill + 600n, 120_000);
      assert.ok(
        afterKill >= atKill + 600n,
        `no progress after the coordinator (node ${coordinator}) died; ${child.describe()}`,
      );
      // 2. SIGKILL the processor mid-stream and restart the dead broker.
      child.child.kill("SIGKILL");
      await child.done;
      await cluster.restartNode(coordinator);
      // 3. A new processor instance (same transactional id) finishes, exiting once idle.
      child = spawn({ EOS_IDLE_EXIT_MS: "10000" });
      const timer = setTimeout(() => child.child.kill("SIGKILL"), 240_000);
      const done = await child.done;
      clearTimeout(timer);
      assert.equal(done.code, 0, child.describe());

      const out = await javaTool("org.apache.kafka.tools.consumer.ConsoleConsumer", [
        "--bootstrap-server",
        env.direct.join(","),
        "--topic",
        output,
        "--from-beginning",
        "--isolation-level",
        "read_committed",
        "--max-messages",
        String(N + 1),
        "--timeout-ms",
        "20000",
      ], { timeoutMs: 180_000 });
      if (out.code !== 0 && !/TimeoutException|Processed a total/.test(out.stderr)) {
        ok(out, "ConsoleConsumer");
      }
      const committed = out.stdout.split("\n").filter((l) => l.length > 0);
      const logged = await logSize();
      // Every data record in the log, aborted ones included (read_uncommitted; control records skipped).
      let stored = 0;
      for (const list of (await readAll(client, output)).values()) stored += list.length;
      const expected = Array.from({ length: N }, (_, i) => `V-${i}`).sort();
      result({
        test: "eos-cluster",
        inputs: N,
        committedOutputs: committed.length,
        distinct: new Set(committed).size,
        recordsInLog: stored,
        abortedRecords: stored - committed.length,
        logEndOffsets: Number(logged),
        coordinatorKilled: coordinator,
      });
      if (committed.length !== N || new Set(committed).size !== N) {
        // What each run of the processor did (its transactions, rebalances and aborts), to find out why.
        runs.forEach((p, i) => console.error(`--- processor run ${i + 1}:\n${p.stderr()}`));
      }
      assert.deepEqual([...committed].sort(), expected, "read_committed (Java): every input exactly once");
    } finally {
      await client.close();
      await ensureHealthy(env).catch(() => {});
    }
  },
);
