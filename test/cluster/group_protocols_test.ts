// Issue 15: cooperative (KIP-429) and KIP-848 groups on the 3-node cluster. 3 members consume what a
// producer keeps writing; the group coordinator is SIGKILLed, a 4th member joins while it is down, and
// the node comes back. Every acknowledged record must be consumed; duplicates may only come from the
// uncommitted window of partitions that moved or of the commits the dead coordinator lost.
import assert from "node:assert/strict";
import type { Consumer, ConsumerOptions } from "../../mod.ts";
import { uniqueName } from "../_broker.ts";
import {
  cluster,
  createTopic,
  directClient,
  ensureHealthy,
  groupCoordinator,
  localCluster,
  result,
  sleep,
} from "./_cluster.ts";

const PARTITIONS = 6;

for (const protocol of ["cooperative-sticky", "consumer"] as const) {
  Deno.test(
    `cluster: a ${protocol} group keeps consuming through a SIGKILLed coordinator and a member joining meanwhile`,
    { sanitizeOps: false, sanitizeResources: false }, // the killed broker's connections close on their own schedule
    async () => {
      const env = localCluster();
      await ensureHealthy(env);
      const topic = uniqueName(`groups-${protocol}`);
      const groupId = uniqueName(`groups-${protocol}-g`);
      await createTopic(env, topic, PARTITIONS);
      const coordinator = await groupCoordinator(env, groupId);
      const client = await directClient(env);
      const acked = new Set<string>();
      const seen = new Map<string, number>();
      const errors: string[] = [];
      let producing = true;
      const producer = client.producer();
      const load = (async () => {
        for (let i = 0; producing && i < 400; i++) {
          const messages = Array.from(
            { length: 60 },
            (_, j) => ({ value: `v${i}-${j}`, partition: j % PARTITIONS }),
          );
          try {
            await producer.send({ topic, messages });
            for (const m of messages) acked.add(m.value);
          } catch {
            // Not acknowledged: not owed to the consumers.
          }
          await sleep(50);
        }
      })();
      const opts: ConsumerOptions = protocol === "consumer"
        ? {
          groupId,
          topics: [topic],
          fromBeginning: true,
          groupProtocol: "consumer",
          autoCommitIntervalMs: 1000,
        }
        : {
          groupId,
          topics: [topic],
          fromBeginning: true,
          assignors: ["cooperative-sticky"],
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 500,
          autoCommitIntervalMs: 1000,
        };
      const members: { consumer: Consumer; loop: Promise<void> }[] = [];
      const add = () => {
        const consumer = client.consumer({ ...opts, onError: (e) => void errors.push(e.message) });
        const loop = (async () => {
          for await (const batch of consumer.batches()) {
            for (const r of batch.records) seen.set(r.text()!, (seen.get(r.text()!) ?? 0) + 1);
          }
        })();
        loop.catch(() => {});
        members.push({ consumer, loop });
      };
      let killed = false;
      try {
        for (let i = 0; i < 3; i++) add();
        const deadline = Date.now() + 90_000;
        while (seen.size < 2000 && Date.now() < deadline) await sleep(100);
        assert.ok(seen.size >= 2000, `the group consumes (${seen.size})`);
        await cluster.killNode(coordinator, "SIGKILL");
        killed = true;
        await sleep(2000);
        add();
        await sleep(3000);
        await cluster.startNode(coordinator);
        killed = false;
        producing = false;
        await load;
        const until = Date.now() + 120_000;
        while ([...acked].some((v) => !seen.has(v)) && Date.now() < until) await sleep(200);
        const missing = [...acked].filter((v) => !seen.has(v));
        const dups = [...seen.values()].filter((n) => n > 1).length;
        result({
          scenario: `${protocol} group, coordinator ${coordinator} SIGKILLed`,
          acked: acked.size,
          missing: missing.length,
          duplicates: dups,
          errors: errors.length,
        });
        assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged records never consumed`);
      } finally {
        producing = false;
        await load.catch(() => {});
        await producer.close().catch(() => {});
        await Promise.allSettled(members.map((m) => m.consumer.close({ timeoutMs: 20_000 })));
        await Promise.allSettled(members.map((m) => m.loop));
        await client.close();
        if (killed) await cluster.startNode(coordinator);
      }
    },
  );
}
