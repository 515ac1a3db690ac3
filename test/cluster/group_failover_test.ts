// Issue 11, item 7, second bullet: the group coordinator (a broker) is killed
// with SIGKILL while 3 members of a group consume (through the proxy) what a
// producer keeps writing. Nothing may be missed, and after close the group's
// committed offsets, read by Kafka's own ConsumerGroupCommand straight from the
// brokers, must equal the end offsets. The topic's content is read by the Java
// console consumer to know what "everything" is.
import assert from "node:assert/strict";
import { connect, type Consumer } from "../../mod.ts";
import { uniqueName } from "../_broker.ts";
import { javaTool, ok } from "../_tools.ts";
import {
  type AckedRecord,
  cluster,
  createTopic,
  directClient,
  ensureHealthy,
  errorType,
  groupCoordinator,
  javaReadAll,
  localCluster,
  peakRssMiB,
  result,
  sleep,
  verify,
} from "./_cluster.ts";

const RECORDS = 30_000;
const PARTITIONS = 6;
const MEMBERS = 3;

/** The group's committed offset and end offset per partition, from Kafka's ConsumerGroupCommand. */
async function groupOffsets(
  direct: string[],
  groupId: string,
): Promise<{ partition: number; current: string; end: string }[]> {
  const out = ok(
    await javaTool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", [
      "--bootstrap-server",
      direct.join(","),
      "--describe",
      "--group",
      groupId,
    ], { timeoutMs: 90_000 }),
    "ConsumerGroupCommand",
  );
  const rows: { partition: number; current: string; end: string }[] = [];
  for (const line of out.stdout.split("\n")) {
    const cols = line.trim().split(/\s+/);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    if (cols.length >= 6 && cols[0] === groupId && /^\d+$/.test(cols[2])) {
      rows.push({ partition: Number(cols[2]), current: cols[3], end: cols[4] });
    }
  }
  return rows;
}

Deno.test(
  "cluster: SIGKILL the group coordinator while 3 members consume: nothing missed, offsets committed to the end",
  {
    sanitizeOps: false, // the killed broker's connections close on their own schedule
  },
  async () => {
    const env = localCluster();
    await ensureHealthy(env);
    const topic = uniqueName("coordinator-kill");
    const groupId = uniqueName("coordinator-kill-group");
    await createTopic(env, topic, PARTITIONS);
    const coordinator = await groupCoordinator(env, groupId);
    await using _proxy = await cluster.startClusterProxy();

    // A producer writes the records over about 15 s, so consumption is in full swing at the kill.
    const producerClient = await connect({ brokers: env.proxy, clientId: "coordinator-kill-producer" });
    const acked: AckedRecord[] = [];
    const rejected: Record<string, number> = {};
    const producing = (async () => {
      const producer = producerClient.producer();
      const seqs = new Int32Array(100);
      for (let i = 0; i < RECORDS; i += 500) {
        const sends = [];
        for (let j = i; j < i + 500; j++) {
          const key = `k${j % 100}`;
          const seq = seqs[j % 100]++;
          const value = `${key}:${seq}`;
          sends.push(
            producer.send({ topic, messages: [{ key, value }] }).then(([m]) => {
              acked.push({ key, value, seq, partition: m.partition, offset: m.offset });
            }, (err) => {
              const t = errorType(err);
              rejected[t] = (rejected[t] ?? 0) + 1;
            }),
          );
        }
        await Promise.all(sends);
        await sleep(250);
      }
      await producer.close();
    })();

    // Three members, each on its own client, as three processes would be.
    const seen = new Map<string, number>();
    const clients = await Promise.all(
      Array.from({ length: MEMBERS }, (_, i) => connect({ brokers: env.proxy, clientId: `member-${i}` })),
    );
    const consumers: Consumer[] = clients.map((c) =>
      c.consumer({ groupId, topics: [topic], fromBeginning: true })
    );
    const errors: string[] = [];
    const loops = consumers.map(async (consumer) => {
      try {
        for await (const r of consumer) {
          const v = r.value === null ? "" : new TextDecoder().decode(r.value);
          seen.set(v, (seen.get(v) ?? 0) + 1);
        }
      } catch (err) {
        errors.push(`${errorType(err)}: ${(err as Error).message}`);
      }
    });

    let killedAt = 0;
    let resumedAt = 0;
    try {
      // Kill the coordinator once a third has been consumed.
      for (let i = 0; i < 600 && seen.size < RECORDS / 3; i++) await sleep(100);
      assert.ok(seen.size >= RECORDS / 3, `the members consumed ${seen.size} records in 60 s`);
      const before = seen.size;
      killedAt = performance.now();
      await cluster.killNode(coordinator, "SIGKILL");
      for (let i = 0; i < 1200 && seen.size === before; i++) await sleep(100);
      if (seen.size > before) resumedAt = performance.now();
      await producing;
      // Everything acknowledged consumed, bounded.
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline && [...acked].some((a) => !seen.has(a.value))) await sleep(250);
    } finally {
      await producing.catch(() => {});
      await Promise.all(
        consumers.map((c) => c.close().catch((err) => errors.push(`close: ${errorType(err)}`))),
      );
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
      await producerClient.close();
    }
    const missed = acked.filter((a) => !seen.has(a.value)).length;
    const redelivered = [...seen.values()].reduce((a, n) => a + n - 1, 0);
    await cluster.startNode(coordinator);

    const stored = await javaReadAll(env, topic);
    const verdict = verify(acked, stored);
    const planted = verify(
      [...acked, { key: "k0", value: "k0:planted", seq: 1e9, partition: 0, offset: 0n }],
      stored,
    );
    const offsets = await groupOffsets(env.direct, groupId);
    const behind = offsets.filter((o) => o.current !== o.end);
    // The consumed-set check catches a missed record too.
    const plantedMissed = [...acked, { value: "k0:planted" }].filter((a) => !seen.has(a.value)).length;
    result({
      scenario: "SIGKILL the group coordinator while 3 members consume",
      acked: acked.length,
      consumed: seen.size,
      missed,
      redelivered,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      reordered: verdict.reordered,
      rejected,
      resumeMs: resumedAt ? Math.round(resumedAt - killedAt) : null,
      committedBehindEnd: behind.length,
      memberErrors: errors.length,
      coordinator,
      peakRssMiB: await peakRssMiB(),
    });
    assert.equal(planted.lost, verdict.lost + 1, "the topic verifier reports a planted missing record");
    assert.equal(plantedMissed, missed + 1, "the consumed-set check reports a planted missing record");
    assert.deepEqual(rejected, {}, "no send() rejected");
    assert.equal(acked.length, RECORDS);
    assert.equal(verdict.lost + verdict.duplicated + verdict.reordered, 0, verdict.examples.join("\n"));
    assert.equal(missed, 0, "every acknowledged record consumed");
    assert.deepEqual(errors, [], "no member failed");
    assert.equal(offsets.length, PARTITIONS, "the group has a committed offset per partition");
    assert.deepEqual(behind, [], "committed offsets equal the end offsets after close");

    const admin = await directClient(env);
    try {
      await admin.admin().deleteTopics([topic]);
    } finally {
      await admin.close();
    }
  },
);
