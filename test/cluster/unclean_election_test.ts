// Issue 11, items 6 and 7: an unclean leader election (RF 3, unclean.leader.election.enable=true)
// truncates a partition's log under a reader that had read past the point where the new leader's log
// diverges. The reader (the consumer's fetcher) must find out (KIP-320: the leader epoch went up, so
// it validates its position with OffsetForLeaderEpoch), report a LogTruncationError, move its position
// back to the diverging offset and read the new leader's records from there: nothing skipped, nothing
// read again silently. A group member that had committed past the divergence (OffsetCommit with the
// records' leader epoch) resumes at the diverging offset too (its committed offset is validated with
// the epoch from OffsetFetch). Kafka's Java console consumer checks what the topic holds afterwards.
//
// How the log diverges with three nodes that are each broker and controller (two must run for the
// controller quorum at every step): both followers leave the ISR one at a time (each paused with
// SIGSTOP long enough to be fenced, the other one keeping the quorum), and they stay behind because
// replication to a replica outside the ISR is throttled to 1 byte/s (Kafka's replication quotas
// apply only to out-of-sync replicas). The leader then holds records no other replica has, and with
// the ISR down to itself the high watermark covers them, so the reader reads them. The leader is
// killed and a follower is elected uncleanly (LeaderElectionCommand --election-type unclean).
import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster.ts";
import { LogTruncationError } from "../../src/errors.ts";
import { Fetcher, listOffsets } from "../../src/fetcher.ts";
import { uniqueName } from "../_broker.ts";
import { take } from "../integration/_member.ts";
import { javaTool, ok } from "../_tools.ts";
import {
  cluster,
  directClient,
  ensureHealthy,
  javaReadAll,
  leaders,
  localCluster,
  result,
  sleep,
} from "./_cluster.ts";

// Per follower: far more than the throttle lets through in a burst (10 MB), so that neither follower
// catches up before the leader is killed.
const BACKLOG_RECORDS = 10_000;
const VALUE_BYTES = 1_000;

async function configs(direct: string[], args: string[]): Promise<void> {
  ok(
    await javaTool(
      "org.apache.kafka.tools.ConfigCommand",
      ["--bootstrap-server", direct.join(","), ...args],
      {
        timeoutMs: 90_000,
      },
    ),
    "ConfigCommand",
  );
}

/** Waits (bounded) until the partition's ISR, from fresh metadata, satisfies `pred`. */
async function waitIsr(
  c: Cluster,
  topic: string,
  pred: (isr: number[], leader: number) => boolean,
  what: string,
  ms = 90_000,
): Promise<{ isr: number[]; leader: number; epoch: number }> {
  const deadline = Date.now() + ms;
  let last = "";
  while (Date.now() < deadline) {
    try {
      await c.refreshMetadata([topic]);
      const p = c.cachedTopic(topic)?.partitions[0];
      if (p) {
        last = `leader ${p.leader} epoch ${p.leaderEpoch} isr [${p.isr}]`;
        if (pred(p.isr, p.leader)) return { isr: p.isr, leader: p.leader, epoch: p.leaderEpoch };
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`${what}: not after ${ms} ms (last: ${last})`);
}

Deno.test(
  "cluster: an unclean leader election truncates the log under a reader: LogTruncationError, position reset to the diverging offset, nothing skipped or re-read",
  {
    sanitizeOps: false, // the killed broker's connections close on their own schedule
    sanitizeResources: false,
  },
  async () => {
    const env = localCluster();
    for (let attempt = 1;; attempt++) {
      await ensureHealthy(env);
      if (await scenario(env)) return;
      // The followers caught up despite the throttle, so no log diverged and the client was not put
      // to the test: try again on a new topic, a bounded number of times.
      assert.ok(
        attempt < 3,
        `${attempt} attempts: the followers caught up every time; no truncation to test`,
      );
      console.error(`unclean election, attempt ${attempt}: the followers caught up; trying again`);
    }
  },
);

/**
 * One run of the scenario on a new topic. False when replication outran the throttle (a follower
 * rejoined the ISR, or the elected follower turned out to have every record), so that no log
 * diverged; the caller tries again.
 */
async function scenario(env: ReturnType<typeof localCluster>): Promise<boolean> {
  const topic = uniqueName("unclean");
  const admin = await directClient(env);
  const paused = new Set<number>();
  let killed: number | null = null;
  const pids = await cluster.nodePids();
  const signal = (node: number, sig: "SIGSTOP" | "SIGCONT") => {
    Deno.kill(pids.get(node)!, sig);
    if (sig === "SIGSTOP") paused.add(node);
    else paused.delete(node);
  };
  const readerCluster = new Cluster({ brokers: env.direct, clientId: "unclean-reader" });
  const fetcher = new Fetcher(readerCluster, {
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 8 << 20,
    maxPartitionBytes: 1 << 20,
    maxBufferedBytes: 16 << 20,
    maxBufferedRecords: 100_000,
    reset: "earliest",
    retryBackoffMs: 100,
    lane: "fetch/unclean-reader",
    isolationLevel: 0,
  });
  const notices: Error[] = [];
  const errors: Error[] = [];
  fetcher.onNotice = (e) => notices.push(e);
  fetcher.onError = (e) => errors.push(e);
  /** Everything the reader handed out, in order, as the consumer hands it out. */
  const delivered: { offset: bigint; value: string; afterNotice: number }[] = [];
  const dec = new TextDecoder();
  const read = async (until: () => boolean, what: string, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!until()) {
      assert.ok(Date.now() < deadline, `${what}: not after ${ms} ms (have ${delivered.length} records)`);
      assert.deepStrictEqual(errors, []);
      const c = fetcher.take();
      if (c === null) {
        await fetcher.data.wait(200);
        continue;
      }
      for (const r of c.records) {
        delivered.push({ offset: r.offset, value: dec.decode(r.value!), afterNotice: notices.length });
      }
      c.tp.position = c.records[c.records.length - 1].offset + 1n;
      c.tp.consumed = c.tp.position;
    }
  };
  try {
    await admin.admin().createTopics([{
      topic,
      partitions: 1,
      replicationFactor: 3,
      configs: {
        "unclean.leader.election.enable": "true",
        "min.insync.replicas": "1",
        "leader.replication.throttled.replicas": "*",
        "follower.replication.throttled.replicas": "*",
      },
    }]);
    await configs(env.direct, [
      "--entity-type",
      "brokers",
      "--entity-default",
      "--alter",
      "--add-config",
      "leader.replication.throttled.rate=1,follower.replication.throttled.rate=1",
    ]);
    const leader = (await leaders(env, topic)).get(0)!;
    const followers = cluster.NODE_IDS.filter((n) => n !== leader);
    const producer = admin.producer({ acks: 1, idempotent: false, lingerMs: 5 });
    const pad = "x".repeat(VALUE_BYTES);
    const send = async (prefix: string, n: number) => {
      const suffix = prefix === "tail" ? "" : pad;
      for (let i = 0; i < n; i += 500) {
        const messages = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
          partition: 0,
          value: `${prefix}-${i + j}-${suffix}`,
        }));
        await producer.send({ topic, messages });
      }
    };

    // 1. In sync: the reader reads the first records.
    await send("sync", 100);
    await readerCluster.bootstrap();
    await readerCluster.refreshMetadata([topic]);
    fetcher.assign([{ topic, partition: 0, start: 0n }]);
    await read(() => delivered.length >= 100, "the first 100 records");

    // 2. The followers fall out of the ISR one at a time and stay behind (throttled).
    for (const f of followers) {
      signal(f, "SIGSTOP");
      await send(`backlog${f}`, BACKLOG_RECORDS);
      await waitIsr(readerCluster, topic, (isr) => !isr.includes(f), `node ${f} leaves the ISR`);
      signal(f, "SIGCONT");
    }
    // The first follower may have caught up (and rejoined) while the second was paused: the throttle
    // still lets a burst through now and then (seen on a loaded machine). Then nothing would
    // diverge: try again on a new topic.
    const shrunk = await waitIsr(
      readerCluster,
      topic,
      (isr) => isr.length === 1,
      "the ISR is the leader alone",
      30_000,
    ).catch((err: Error) => {
      console.error(`unclean election: ${err.message}`);
      return null;
    });
    if (shrunk === null) return false;
    assert.deepStrictEqual(shrunk.isr, [leader]);

    // 3. Records only the leader has; the high watermark covers them, so the reader reads them all.
    await send("tail", 50);
    await producer.close();
    await read(
      () => delivered.at(-1)?.value.startsWith("tail-49-") ?? false,
      "every record up to the tail",
    );
    const position = fetcher.get(topic, 0)!.position;
    const epochBefore = shrunk.epoch;
    // A group member reads as far and commits there (with the records' leader epoch), then leaves.
    const groupId = uniqueName("g-unclean");
    const member = admin.consumer({ groupId, topics: [topic], fromBeginning: true, autoCommit: false });
    for await (const batch of member.batches()) {
      if (batch.records[batch.records.length - 1].offset + 1n >= position) {
        await member.commit();
        break;
      }
    }

    // 4. The leader dies; a follower (behind) is elected uncleanly.
    await cluster.killNode(leader, "SIGKILL");
    killed = leader;
    const alive = env.direct.filter((_, i) => cluster.NODE_IDS[i] !== leader);
    let elected: { leader: number; epoch: number } | null = null;
    for (let i = 0; i < 30 && elected === null; i++) {
      await javaTool("org.apache.kafka.tools.LeaderElectionCommand", [
        "--bootstrap-server",
        alive.join(","),
        "--election-type",
        "unclean",
        "--topic",
        topic,
        "--partition",
        "0",
      ], { timeoutMs: 60_000 });
      elected = await waitIsr(
        readerCluster,
        topic,
        (_isr, l) => l >= 0 && l !== leader,
        "an unclean leader",
        5_000,
      ).catch(() => null);
    }
    assert.ok(elected, "no follower was elected");
    assert.ok(elected.epoch > epochBefore, `leader epoch ${elected.epoch} after ${epochBefore}`);
    const ends = await listOffsets(readerCluster, [{ topic, partition: 0, spec: "latest" }]);
    const diverging = ends.get(`${topic}:0`)!;
    // The new leader's log must end before the position: else nothing diverged (see scenario()).
    if (diverging >= position) {
      console.error(
        `unclean election: the new leader's log ends at ${diverging}, the position is ${position}`,
      );
      return false;
    }

    // 5. The new leader takes new records; the reader finds the truncation and reads them.
    const producer2 = admin.producer({ acks: 1, idempotent: false });
    for (let i = 0; i < 20; i++) {
      await producer2.send({ topic, messages: [{ partition: 0, value: `new-${i}-` }] });
    }
    await producer2.close();
    await read(
      () => delivered.filter((d) => d.value.startsWith("new-")).length >= 20,
      "the new leader's records",
    );

    assert.equal(notices.length, 1, `notices: ${notices.map((n) => n.message).join("; ")}`);
    const n = notices[0];
    assert.ok(n instanceof LogTruncationError, String(n));
    assert.equal(n.topic, topic);
    assert.equal(n.partition, 0);
    assert.equal(n.position, position);
    assert.equal(n.divergingOffset, diverging);
    // Before the notice: offsets 0..position-1 exactly once each; after it: from the diverging offset on, in order.
    const before = delivered.filter((d) => d.afterNotice === 0);
    const after = delivered.filter((d) => d.afterNotice === 1);
    assert.deepStrictEqual(
      before.map((d) => d.offset),
      Array.from({ length: Number(position) }, (_, i) => BigInt(i)),
    );
    assert.deepStrictEqual(after.map((d) => d.offset), after.map((_, i) => diverging + BigInt(i)));
    assert.deepStrictEqual(after.map((d) => d.value), Array.from({ length: 20 }, (_, i) => `new-${i}-`));
    assert.equal(fetcher.get(topic, 0)!.position, diverging + 20n);

    // A member resuming from the group's commit (past the divergence) validates it and starts at the
    // diverging offset: not at the beginning (a silent re-read by the reset policy), not later (a skip).
    const resumed = admin.consumer({ groupId, topics: [topic], fromBeginning: true, autoCommit: false });
    try {
      const [first] = await take(resumed[Symbol.asyncIterator](), 1, 120_000);
      assert.equal(first.offset, diverging);
      assert.equal(first.text(), "new-0-");
    } finally {
      await resumed.close();
    }

    // The independent reader sees the same log: the old records up to the divergence, then the new ones.
    await cluster.startNode(leader);
    killed = null;
    const stored = await javaReadAll(env, topic);
    const storedValues = stored.map((r) => r.value.trim());
    assert.deepStrictEqual(storedValues.slice(Number(diverging)), after.map((d) => d.value.trim()));
    assert.deepStrictEqual(
      storedValues.slice(0, Number(diverging)),
      before.slice(0, Number(diverging)).map((d) => d.value.trim()),
    );
    result({
      scenario: "unclean leader election under a reader",
      position,
      divergingOffset: diverging,
      lostByTruncation: position - diverging,
      notices: notices.length,
      reReadSilently: 0,
      skipped: 0,
    });
    return true;
  } finally {
    for (const f of paused) Deno.kill(pids.get(f)!, "SIGCONT");
    await fetcher.stop();
    await readerCluster.close();
    await configs(env.direct.filter((_, i) => cluster.NODE_IDS[i] !== killed), [
      "--entity-type",
      "brokers",
      "--entity-default",
      "--alter",
      "--delete-config",
      "leader.replication.throttled.rate,follower.replication.throttled.rate",
    ]).catch((e) => console.error(e));
    await admin.admin().deleteTopics([topic]).catch(() => {});
    await admin.close();
    if (killed !== null) await cluster.startNode(killed);
  }
}
