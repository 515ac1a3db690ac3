/**
 * Leader epochs in the fetcher (KIP-320), against a scripted fake cluster
 * whose nodes keep their own copy of one partition's log: fencing with the
 * current leader epoch, validation after a leader change, truncation found by
 * OffsetForLeaderEpoch or by a Fetch's diverging epoch, and a committed epoch
 * checked before the first fetch.
 */

import assert from "node:assert/strict";
import type { FetchRequest, FetchResponse } from "../../protocol/apis/fetch.ts";
import type { ListOffsetsRequest, ListOffsetsResponse } from "../../protocol/apis/list_offsets.ts";
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
} from "../../protocol/apis/offset_for_leader_epoch.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { encodeRecordBatch } from "../../protocol/record_batch.ts";
import { Cluster } from "../../src/cluster.ts";
import { LogTruncationError } from "../../src/errors.ts";
import { CorruptRecordError } from "../../protocol/record_batch.ts";
import { epochBefore, Fetcher, type PartitionState } from "../../src/fetcher.ts";
import { type FakeCluster, fakeCluster, type FakeClusterState } from "../_fake_cluster.ts";

const TOPIC = "t";
const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One node's copy of the partition: each record's leader epoch and value; the offset is the index. */
type Log = { epoch: number; value: string }[];

interface Options {
  /** Whether a Fetch checks lastFetchedEpoch and answers with the diverging epoch (as Kafka's leader does). */
  diverging?: boolean;
  /** The leader epoch the nodes fence with, when it differs from what Metadata says (a lagging broker). */
  brokerEpoch?: () => number | undefined;
  /** The first Fetch answer with more than one batch gets its last byte flipped (a bad checksum). */
  corruptOnce?: boolean;
}

interface Seen {
  fetches: {
    node: number;
    currentLeaderEpoch: number;
    lastFetchedEpoch: number;
    offset: bigint;
    error: number;
  }[];
  listOffsets: { node: number; currentLeaderEpoch: number }[];
  epochQueries: { node: number; currentLeaderEpoch: number; leaderEpoch: number }[];
}

/** The end offset of the largest epoch <= `epoch` in `log`, as a leader answers OffsetForLeaderEpoch. */
function endOfEpoch(log: Log, epoch: number): { epoch: number; endOffset: bigint } {
  let best = -1;
  for (const r of log) if (r.epoch <= epoch && r.epoch > best) best = r.epoch;
  if (best < 0) return { epoch: -1, endOffset: -1n };
  // The latest epoch ends at the log end; an older one where the next epoch starts.
  const next = log.findIndex((r) => r.epoch > best);
  return { epoch: best, endOffset: BigInt(next < 0 ? log.length : next) };
}

function batches(log: Log, from: number): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let i = from;
  while (i < log.length) {
    const epoch = log[i].epoch;
    const start = i;
    while (i < log.length && log[i].epoch === epoch) i++;
    parts.push(encodeRecordBatch(
      log.slice(start, i).map((r) => ({ value: enc.encode(r.value) })),
      { baseOffset: BigInt(start), partitionLeaderEpoch: epoch },
    ));
  }
  if (parts.length === 0) return null;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function startCluster(state: FakeClusterState, logs: Log[], seen: Seen, opts: Options = {}): FakeCluster {
  const fake: FakeCluster = fakeCluster(logs.length, state, async (node, h, body) => {
    const part = state.topics.get(TOPIC)!.partitions[0];
    const current = opts.brokerEpoch?.() ?? part.epoch;
    const fence = (epoch: number) =>
      epoch < 0
        ? 0
        : epoch < current
        ? ErrorCode.FENCED_LEADER_EPOCH
        : epoch > current
        ? ErrorCode.UNKNOWN_LEADER_EPOCH
        : 0;
    if (h.apiKey === 1) {
      const req = fake.decode<FetchRequest>(h, body);
      const p = req.topics[0].partitions[0];
      const log = logs[node];
      let error = node !== part.leader ? ErrorCode.NOT_LEADER_OR_FOLLOWER : fence(p.currentLeaderEpoch ?? -1);
      let diverging = { epoch: -1, endOffset: -1n };
      let records: Uint8Array | null = null;
      if (error === 0 && opts.diverging && (p.lastFetchedEpoch ?? -1) >= 0) {
        const end = endOfEpoch(log, p.lastFetchedEpoch!);
        if (end.epoch < p.lastFetchedEpoch! || end.endOffset < p.fetchOffset) diverging = end;
      }
      if (error === 0 && diverging.epoch < 0) {
        if (p.fetchOffset > BigInt(log.length)) error = ErrorCode.OFFSET_OUT_OF_RANGE;
        else records = batches(log, Number(p.fetchOffset));
        if (
          opts.corruptOnce && records !== null && records.length > batches(log.slice(0, 1), 0)!.length * 2
        ) {
          opts.corruptOnce = false;
          records[records.length - 1] ^= 0xff;
        }
      }
      seen.fetches.push({
        node,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
        offset: p.fetchOffset,
        error,
      });
      // An empty answer waits a little, as a long poll would.
      if (error === 0 && records === null && diverging.epoch < 0) await new Promise((r) => setTimeout(r, 20));
      return fake.reply<FetchResponse>(h, {
        throttleTimeMs: 0,
        errorCode: 0,
        sessionId: 0,
        responses: [{
          topic: TOPIC,
          topicId: TOPIC_ID,
          partitions: [{
            partitionIndex: 0,
            errorCode: error,
            highWatermark: BigInt(log.length),
            lastStableOffset: BigInt(log.length),
            logStartOffset: 0n,
            divergingEpoch: diverging,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: null,
            preferredReadReplica: -1,
            records,
          }],
        }],
        nodeEndpoints: [],
      });
    }
    if (h.apiKey === 2) {
      const req = fake.decode<ListOffsetsRequest>(h, body);
      const p = req.topics[0].partitions[0];
      seen.listOffsets.push({ node, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 });
      const error = node !== part.leader
        ? ErrorCode.NOT_LEADER_OR_FOLLOWER
        : fence(p.currentLeaderEpoch ?? -1);
      return fake.reply<ListOffsetsResponse>(h, {
        throttleTimeMs: 0,
        topics: [{
          name: TOPIC,
          partitions: [{
            partitionIndex: 0,
            errorCode: error,
            timestamp: -1n,
            offset: p.timestamp === -2n ? 0n : BigInt(logs[node].length),
            leaderEpoch: part.epoch,
          }],
        }],
      });
    }
    if (h.apiKey === 23) {
      const req = fake.decode<OffsetForLeaderEpochRequest>(h, body);
      const p = req.topics[0].partitions[0];
      seen.epochQueries.push({
        node,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        leaderEpoch: p.leaderEpoch,
      });
      const error = node !== part.leader
        ? ErrorCode.NOT_LEADER_OR_FOLLOWER
        : fence(p.currentLeaderEpoch ?? -1);
      const end = error ? { epoch: -1, endOffset: -1n } : endOfEpoch(logs[node], p.leaderEpoch);
      return fake.reply<OffsetForLeaderEpochResponse>(h, {
        throttleTimeMs: 0,
        topics: [{
          topic: TOPIC,
          partitions: [{ errorCode: error, partition: 0, leaderEpoch: end.epoch, endOffset: end.endOffset }],
        }],
      });
    }
    return undefined;
  });
  return fake;
}

const OPTS = {
  maxWaitMs: 100,
  minBytes: 1,
  maxBytes: 1 << 20,
  maxPartitionBytes: 1 << 20,
  maxBufferedBytes: 1 << 20,
  maxBufferedRecords: 10_000,
  reset: "earliest" as const,
  retryBackoffMs: 20,
  lane: "fetch/test" as const,
  isolationLevel: 0 as const,
};

/**
 * Takes records as the consumer does (position and consumed move past each
 * one) until `n` arrived; fails after a bounded wait.
 */
async function take(
  fetcher: Fetcher,
  n: number,
): Promise<{ offset: bigint; value: string; epoch: number }[]> {
  const out: { offset: bigint; value: string; epoch: number }[] = [];
  const deadline = Date.now() + 20_000;
  while (out.length < n) {
    const c = fetcher.take();
    if (c === null) {
      assert.ok(Date.now() < deadline, `only ${out.length} of ${n} records arrived`);
      await fetcher.data.wait(200);
      continue;
    }
    for (const r of c.records) {
      out.push({ offset: r.offset, value: dec.decode(r.value!), epoch: r.leaderEpoch });
    }
    c.tp.position = c.records[c.records.length - 1].offset + 1n;
    c.tp.consumed = c.tp.position;
  }
  return out;
}

async function setup(state: FakeClusterState, logs: Log[], opts: Options = {}) {
  const seen: Seen = { fetches: [], listOffsets: [], epochQueries: [] };
  const fake = startCluster(state, logs, seen, opts);
  const cluster = new Cluster({ brokers: [fake.nodes[0].address] });
  await cluster.bootstrap();
  await cluster.refreshMetadata([TOPIC]);
  const fetcher = new Fetcher(cluster, OPTS);
  const notices: Error[] = [];
  const errors: Error[] = [];
  fetcher.onNotice = (e) => notices.push(e);
  fetcher.onError = (e) => errors.push(e);
  return {
    seen,
    fetcher,
    notices,
    errors,
    [Symbol.asyncDispose]: async () => {
      await fetcher.stop();
      await cluster.close();
      await fake.close();
    },
  };
}

function state(leader: number, epoch: number): FakeClusterState {
  return {
    controllerId: 0,
    topics: new Map([[TOPIC, { topicId: TOPIC_ID, partitions: [{ leader, epoch }] }]]),
  };
}

const log = (epoch: number, n: number, tag = "r", from = 0): Log =>
  Array.from({ length: n }, (_, i) => ({ epoch, value: `${tag}${from + i}` }));

Deno.test("fetch and ListOffsets carry the leader epoch from metadata, and fetch the last fetched epoch", async () => {
  const s = state(0, 5);
  await using t = await setup(s, [log(5, 4)]);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: "earliest" }]);
  const got = await take(t.fetcher, 4);
  assert.deepStrictEqual(got.map((r) => r.epoch), [5, 5, 5, 5]);
  assert.deepStrictEqual(t.seen.listOffsets, [{ node: 0, currentLeaderEpoch: 5 }]);
  assert.equal(t.seen.fetches[0].currentLeaderEpoch, 5);
  assert.equal(t.seen.fetches[0].lastFetchedEpoch, -1, "nothing fetched yet");
  // After the records, the next fetch names their epoch.
  const deadline = Date.now() + 10_000;
  while (!t.seen.fetches.some((f) => f.offset === 4n)) {
    assert.ok(Date.now() < deadline);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(t.seen.fetches.find((f) => f.offset === 4n)!.lastFetchedEpoch, 5);
  const tp = t.fetcher.get(TOPIC, 0)!;
  assert.equal(epochBefore(tp, 4n), 5, "the epoch committed with offset 4");
  assert.equal(epochBefore(tp, 0n), -1);
  assert.deepStrictEqual(t.notices, []);
});

Deno.test("FENCED_LEADER_EPOCH refreshes metadata, validates the position and fetches on with the new epoch", async () => {
  const s = state(0, 1);
  const logs = [log(1, 3)];
  await using t = await setup(s, logs);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 0n }]);
  await take(t.fetcher, 3);
  // A new leader epoch on the same node (e.g. after a controller failover); the log goes on in it.
  s.topics.get(TOPIC)!.partitions[0].epoch = 2;
  logs[0].push(...log(2, 2, "r", 3));
  const got = await take(t.fetcher, 2);
  assert.deepStrictEqual(got.map((r) => [r.offset, r.value]), [[3n, "r3"], [4n, "r4"]]);
  assert.ok(
    t.seen.fetches.some((f) => f.error === ErrorCode.FENCED_LEADER_EPOCH && f.currentLeaderEpoch === 1),
  );
  assert.deepStrictEqual(t.seen.epochQueries, [{ node: 0, currentLeaderEpoch: 2, leaderEpoch: 1 }]);
  assert.ok(t.seen.fetches.some((f) => f.currentLeaderEpoch === 2 && f.offset === 3n));
  assert.deepStrictEqual(t.notices, [], "no truncation");
  assert.deepStrictEqual(t.errors, []);
});

Deno.test("a new leader whose log was truncated: position reset to the diverging offset, LogTruncationError reported", async () => {
  // Node 0 led in epoch 0 and wrote r0..r9; node 1 had copied r0..r5 only, became leader uncleanly
  // in epoch 1 and wrote n6..n8 over the lost records.
  const s = state(0, 0);
  const logs = [log(0, 10), [...log(0, 6), ...log(1, 3, "n", 6)]];
  await using t = await setup(s, logs);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 0n }]);
  const first = await take(t.fetcher, 10);
  assert.deepStrictEqual(first.map((r) => r.value), log(0, 10).map((r) => r.value));
  s.topics.get(TOPIC)!.partitions[0] = { leader: 1, epoch: 1 };
  const after = await take(t.fetcher, 3);
  // Nothing skipped, nothing silently read again: the new log from the divergence point on.
  assert.deepStrictEqual(after.map((r) => [r.offset, r.value]), [[6n, "n6"], [7n, "n7"], [8n, "n8"]]);
  assert.equal(t.notices.length, 1);
  const n = t.notices[0];
  assert.ok(n instanceof LogTruncationError, String(n));
  assert.equal(n.topic, TOPIC);
  assert.equal(n.partition, 0);
  assert.equal(n.position, 10n);
  assert.equal(n.divergingOffset, 6n);
  assert.deepStrictEqual(t.seen.epochQueries, [{ node: 1, currentLeaderEpoch: 1, leaderEpoch: 0 }]);
  const tp: PartitionState = t.fetcher.get(TOPIC, 0)!;
  assert.equal(epochBefore(tp, 9n), 1, "commits after the truncation carry the new epoch");
  assert.equal(epochBefore(tp, 6n), 0);
  assert.deepStrictEqual(t.errors, []);
});

Deno.test("a Fetch answered with a diverging epoch truncates the same way", async () => {
  // The metadata never shows the epoch change (so no validation): only the Fetch tells.
  const s = state(0, 0);
  const logs = [log(0, 10)];
  await using t = await setup(s, logs, { diverging: true });
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 0n }]);
  await take(t.fetcher, 10);
  // The node's log now diverges after offset 5 (as after an unclean election that this consumer's
  // metadata has not seen): epoch 0 ends at 6 there.
  logs[0] = [...log(0, 6), ...log(1, 3, "n", 6)];
  const after = await take(t.fetcher, 3);
  assert.deepStrictEqual(after.map((r) => [r.offset, r.value]), [[6n, "n6"], [7n, "n7"], [8n, "n8"]]);
  assert.equal(t.notices.length, 1);
  const n = t.notices[0];
  assert.ok(n instanceof LogTruncationError, String(n));
  assert.equal(n.position, 10n);
  assert.equal(n.divergingOffset, 6n);
  assert.ok(t.seen.fetches.some((f) => f.offset === 10n && f.lastFetchedEpoch === 0));
  assert.deepStrictEqual(t.seen.epochQueries, [], "the Fetch said it; no OffsetForLeaderEpoch needed");
});

Deno.test("a committed offset with its epoch is validated before the first fetch", async () => {
  // The group had committed offset 10 in epoch 0; meanwhile node 1 became leader uncleanly at 6.
  const s = state(1, 1);
  const logs = [log(0, 10), [...log(0, 6), ...log(1, 3, "n", 6)]];
  await using t = await setup(s, logs);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 10n, committed: 10n, committedEpoch: 0 }]);
  const got = await take(t.fetcher, 3);
  assert.deepStrictEqual(got.map((r) => r.offset), [6n, 7n, 8n]);
  assert.deepStrictEqual(t.seen.epochQueries, [{ node: 1, currentLeaderEpoch: 1, leaderEpoch: 0 }]);
  assert.ok(!t.seen.fetches.some((f) => f.offset === 10n), "never fetched from the truncated offset");
  assert.equal(t.notices.length, 1);
  assert.ok(t.notices[0] instanceof LogTruncationError);
  assert.equal((t.notices[0] as LogTruncationError).divergingOffset, 6n);
});

Deno.test("UNKNOWN_LEADER_EPOCH (the broker lags behind the metadata) is retried until the broker catches up", async () => {
  const s = state(0, 3);
  let lagging: number | undefined = 2;
  await using t = await setup(s, [log(3, 3)], { brokerEpoch: () => lagging });
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 0n }]);
  const deadline = Date.now() + 10_000;
  while (t.seen.fetches.filter((f) => f.error === ErrorCode.UNKNOWN_LEADER_EPOCH).length < 2) {
    assert.ok(Date.now() < deadline, "no UNKNOWN_LEADER_EPOCH answers");
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(t.fetcher.take(), null, "nothing fetched from the lagging broker");
  lagging = undefined;
  const got = await take(t.fetcher, 3);
  assert.deepStrictEqual(got.map((r) => r.offset), [0n, 1n, 2n]);
  assert.ok(t.seen.fetches.every((f) => f.currentLeaderEpoch === 3));
  assert.deepStrictEqual(t.notices, []);
  assert.deepStrictEqual(t.errors, []);
});

Deno.test("an offset out of range is reset by the policy and reported, not silently", async () => {
  const s = state(0, 0);
  await using t = await setup(s, [log(0, 3)]);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 50n }]);
  const got = await take(t.fetcher, 3);
  assert.deepStrictEqual(got.map((r) => r.offset), [0n, 1n, 2n]);
  assert.equal(t.notices.length, 1);
  assert.match(
    t.notices[0].message,
    /Offset 50 of t\[0\] is out of range; the position is reset to the earliest offset/,
  );
  assert.equal((t.notices[0].cause as { code?: number }).code, ErrorCode.OFFSET_OUT_OF_RANGE);
});

Deno.test("a batch that fails its checksum is reported, and the partition fetches it again from there", async () => {
  const s = state(0, 1);
  const opts: Options = { corruptOnce: true };
  await using t = await setup(s, [[...log(0, 3), ...log(1, 3, "r", 3)]], opts);
  t.fetcher.assign([{ topic: TOPIC, partition: 0, start: 0n }]);
  const got = await take(t.fetcher, 6);
  assert.equal(opts.corruptOnce, false);
  // Every record once, in order: nothing of the bad slice is handed out before it is fetched again.
  assert.deepStrictEqual(got.map((r) => r.offset), [0n, 1n, 2n, 3n, 4n, 5n]);
  assert.deepStrictEqual(got.map((r) => r.value), ["r0", "r1", "r2", "r3", "r4", "r5"]);
  assert.equal(t.errors.length, 1);
  assert.ok(t.errors[0] instanceof CorruptRecordError, String(t.errors[0]));
  // From the first batch of the slice that failed to decode (here both batches formed one slice).
  assert.ok(t.seen.fetches.slice(1).some((f) => f.offset <= 3n), "the bad batch is fetched again");
});
