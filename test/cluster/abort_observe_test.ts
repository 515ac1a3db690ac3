// Issue 16 on the 3-node cluster, through the fault proxy (+50 ms each way,
// connection resets and black holes), checked by an independent reader
// (Kafka's Java console consumer, straight from the brokers):
//
// 1. Aborted sends: awaited loops of `send(record, { signal })` whose signals
//    abort at random points (at once, from a timer, AbortSignal.timeout()).
//    Every send that resolved is in the topic exactly once, at its offset; every
//    send rejected with the signal's reason itself is NOT in the topic; every
//    SendAbortedError (`mayHaveBeenDelivered`) is there at most once. The same
//    for a producer whose `close({ signal })` is aborted while its records sit
//    in a black hole (in flight) or behind them (never sent).
// 2. Aborted iterations and commits under a rebalance: a group member's
//    iteration aborts mid-stream, a commit is aborted, a second member joins
//    (rebalance) while the first one's next iteration is aborted; the first
//    member's close is cut short during a black hole (hard: no LeaveGroup) and
//    a new member resumes. The committed offsets never pass a record that was
//    not handed out, every record is handed out at least once (duplicates are
//    counted), and at the end the committed offsets are the end offsets.
// 3. Events and metrics agree with the reader: the producer's `recordsSent` is
//    the number of its records in the topic (the resolved sends plus the aborted
//    ones that were written anyway); the consumers' lag goes to 0; `events()`
//    shows disconnected, reconnecting, connected for the proxy resets.
//
// The verifier is shown to catch a planted lost record, and the "not in the
// topic" check a planted withdrawn one. KAFKA_DENO_TEST_SEED replays a run's
// random abort points (the RESULT line prints the seed).
import assert from "node:assert/strict";
import { connect, type Consumer, type KafkaEvent, SendAbortedError } from "../../mod.ts";
import { uniqueName } from "../_broker.ts";
import { endOffsets as endOffsetsOf } from "../_read.ts";
import {
  type AckedRecord,
  cluster,
  createTopic,
  directClient,
  ensureHealthy,
  errorType,
  javaReadAll,
  localCluster,
  result,
  type SeenRecord,
  sleep,
  verify,
} from "./_cluster.ts";

const PARTITIONS = 4;
/** Awaited send loops, each with its own key and partition (worker % PARTITIONS). */
const WORKERS = 8;
const SENDS_PER_WORKER = 60;
/** Sends of the producer closed hard during a black hole. */
const BURST = 120;
const SEED = Number(Deno.env.get("KAFKA_DENO_TEST_SEED") ?? Date.now() % 1_000_000);

/** A small deterministic PRNG (mulberry32), seeded so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many of `values` the topic holds (the "not in the topic" check). */
function present(values: readonly string[], stored: readonly SeenRecord[]): number {
  const inTopic = new Set(stored.map((r) => r.value));
  return values.filter((v) => inTopic.has(v)).length;
}

/** Copies of each of `values` in the topic, beyond one (the "at most once" check). */
function extraCopies(values: readonly string[], stored: readonly SeenRecord[]): number {
  const want = new Set(values);
  const n = new Map<string, number>();
  for (const r of stored) if (want.has(r.value)) n.set(r.value, (n.get(r.value) ?? 0) + 1);
  return [...n.values()].reduce((a, c) => a + c - 1, 0);
}

/** Whether `events` has, for one connection, disconnected, then reconnecting, then connected. */
function reconnectSequences(events: readonly KafkaEvent[]): number {
  const state = new Map<string, number>();
  let complete = 0;
  for (const e of events) {
    if (e.type !== "disconnected" && e.type !== "reconnecting" && e.type !== "connected") continue;
    const k = `${e.broker}/${e.address}/${e.lane}`;
    const s = state.get(k) ?? 0;
    if (e.type === "disconnected") state.set(k, 1);
    else if (e.type === "reconnecting" && s === 1) state.set(k, 2);
    else if (e.type === "connected" && s === 2) {
      complete++;
      state.set(k, 0);
    }
  }
  return complete;
}

function collect(it: AsyncIterable<KafkaEvent>, into: KafkaEvent[]): Promise<void> {
  return (async () => {
    for await (const e of it) into.push(e);
  })();
}

/** How many events of each type. */
function eventTypes(events: readonly KafkaEvent[]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const e of events) n[e.type] = (n[e.type] ?? 0) + 1;
  return n;
}

const tpKey = (partition: number, offset: bigint) => `${partition}@${offset}`;

Deno.test(
  "cluster proxy: aborted sends, iterations and commits lose nothing; events and metrics agree with the reader",
  {
    sanitizeOps: false, // cut connections close on their own schedule
  },
  async () => {
    const env = localCluster();
    await ensureHealthy(env);
    const topic = uniqueName("abort-observe");
    const groupId = uniqueName("abort-observe-group");
    await createTopic(env, topic, PARTITIONS);
    await using proxy = await cluster.startClusterProxy();
    proxy.setFaults({ latencyMs: 50 });
    const random = prng(SEED);

    // ---- 1. aborted sends ----
    const producerClient = await connect({ brokers: env.proxy, clientId: "abort-observe-producer" });
    const producer = producerClient.producer();
    const producerEvents: KafkaEvent[] = [];
    const producerEventsDone = collect(producer.events({ bufferSize: 10_000 }), producerEvents);
    const acked: AckedRecord[] = [];
    /** Rejected with the signal's reason itself: never sent, must not be in the topic. */
    const withdrawn: string[] = [];
    /** Rejected with a SendAbortedError: may be in the topic, at most once. */
    const maybe: string[] = [];
    /** Per abort mode, how the sends ended. */
    const how: Record<string, Record<string, number>> = {};
    const tally = (mode: string, outcome: string) => {
      const m = how[mode] ??= {};
      m[outcome] = (m[outcome] ?? 0) + 1;
    };
    const otherErrors: Record<string, number> = {};
    let wrongReason = 0;
    let done = 0;
    const total = WORKERS * SENDS_PER_WORKER;
    const closingTotal = PARTITIONS + BURST;
    const worker = async (w: number) => {
      const key = `w${w}`;
      const partition = w % PARTITIONS;
      for (let seq = 0; seq < SENDS_PER_WORKER; seq++, done++) {
        const value = `${key}:${seq}`;
        const ctl = new AbortController();
        const reason = new Error(`abort ${value}`);
        let signal = ctl.signal;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = random();
        const mode = r < 0.15 ? "at once" : r < 0.45 ? "timer" : r < 0.55 ? "timeout" : "none";
        if (mode === "timeout") signal = AbortSignal.timeout(1 + Math.floor(random() * 300));
        const sending = producer.send({ topic, messages: [{ key, value, partition }] }, { signal });
        if (mode === "at once") ctl.abort(reason);
        else if (mode === "timer") timer = setTimeout(() => ctl.abort(reason), Math.floor(random() * 300));
        try {
          const [m] = await sending;
          acked.push({ key, value, seq, partition: m.partition, offset: m.offset });
          tally(mode, "resolved");
        } catch (err) {
          if (err instanceof SendAbortedError) {
            maybe.push(value);
            tally(mode, "mayHaveBeenDelivered");
            if (err.cause !== signal.reason) wrongReason++;
          } else if (signal.aborted && err === signal.reason) {
            withdrawn.push(value);
            tally(mode, "reason");
          } else {
            tally(mode, "other");
            const t = `${errorType(err)}: ${(err as Error).message}`;
            otherErrors[t] = (otherErrors[t] ?? 0) + 1;
          }
        } finally {
          clearTimeout(timer);
        }
      }
    };
    const faults = (async () => {
      // One reset, a short black hole, another reset, while the loops run.
      const waitFor = async (n: number) => {
        for (let i = 0; i < 1200 && done < n; i++) await sleep(50);
      };
      await waitFor(total / 4);
      proxy.resetAll();
      await waitFor(total / 2);
      proxy.blackHole(2_000);
      await sleep(2_000);
      await waitFor((total * 3) / 4);
      proxy.resetAll();
    })();
    await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), faults]);
    await producer.flush();
    const producerMetrics = producer.metrics();
    await producer.close();
    await producerEventsDone;

    // A second producer is closed hard (close({ signal }) aborted) while its records sit in a black
    // hole (in flight) or behind them (never sent): the first kind may be written, the second never.
    const closing = producerClient.producer();
    const closeReason = new Error("close now");
    const burst: Promise<void>[] = [];
    const closeOutcomes: Record<string, number> = {};
    const classify = (key: string, seq: number, partition: number, p: Promise<{ offset: bigint }[]>) =>
      p.then(([m]) => {
        acked.push({ key, value: `${key}:${seq}`, seq, partition, offset: m.offset });
        closeOutcomes.resolved = (closeOutcomes.resolved ?? 0) + 1;
      }, (err) => {
        let o: string;
        if (err instanceof SendAbortedError && err.cause === closeReason) {
          maybe.push(`${key}:${seq}`);
          o = "mayHaveBeenDelivered";
        } else if (err === closeReason) {
          withdrawn.push(`${key}:${seq}`);
          o = "reason";
        } else o = `${errorType(err)}: ${(err as Error).message}`;
        closeOutcomes[o] = (closeOutcomes[o] ?? 0) + 1;
      });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const key = `c${partition}`;
      await classify(
        key,
        0,
        partition,
        closing.send({ topic, messages: [{ key, value: `${key}:0`, partition }] }),
      );
    }
    proxy.blackHole(5_000);
    for (let seq = 1; seq <= BURST; seq++) {
      const partition = seq % PARTITIONS;
      const key = `c${partition}`;
      burst.push(
        classify(
          key,
          seq,
          partition,
          closing.send({ topic, messages: [{ key, value: `${key}:${seq}`, partition }] }),
        ),
      );
      // Small waves: more batches per partition than may be in flight (5), so some never leave.
      if (seq % PARTITIONS === 0) await sleep(40);
    }
    await sleep(300);
    const closeCtl = new AbortController();
    setTimeout(() => closeCtl.abort(closeReason), 0);
    const producerCloseStart = performance.now();
    const closeResult = await closing.close({ signal: closeCtl.signal }).then(
      () => "resolved",
      (e) => e === closeReason ? "reason" : errorType(e),
    );
    const producerCloseMs = Math.round(performance.now() - producerCloseStart);
    await Promise.all(burst);
    const closingMetrics = closing.metrics();
    // What was in flight reaches the brokers when the hole ends.
    proxy.blackHole(0);
    // Wait (bounded) until the end offsets hold still for 2 s, rather than guessing how long the
    // held requests take to land on a loaded machine.
    {
      const probe = await directClient(env);
      try {
        let last = "";
        let still = 0;
        for (let i = 0; i < 60 && still < 2; i++) {
          await sleep(1_000);
          const now = [...(await endOffsetsOf(probe, topic))].sort((x, y) => x[0] - y[0]).join(";");
          still = now === last ? still + 1 : 0;
          last = now;
        }
      } finally {
        await probe.close();
      }
    }

    const stored = await javaReadAll(env, topic);
    const verdict = verify(acked, stored);
    const withdrawnPresent = present(withdrawn, stored);
    const maybePresent = present(maybe, stored);
    const maybeExtra = extraCopies(maybe, stored);
    // The checks catch what they are for: a planted lost record, a planted withdrawn one.
    const planted = verify(
      [...acked, { key: "w0", value: "w0:planted", seq: 1e9, partition: 0, offset: 0n }],
      stored,
    );
    assert.equal(planted.lost, verdict.lost + 1, "the verifier reports a planted lost record");
    assert.equal(
      present([...withdrawn, stored[0].value], stored),
      withdrawnPresent + 1,
      "the check reports a planted withdrawn record that is in the topic",
    );

    // ---- 2. aborted iterations and commits, with a rebalance ----
    const endOffsets = new Map<number, bigint>();
    for (const r of stored) {
      if (r.offset + 1n > (endOffsets.get(r.partition) ?? 0n)) endOffsets.set(r.partition, r.offset + 1n);
    }
    const handed = new Map<string, number>();
    const consumerOpts = {
      groupId,
      topics: [topic],
      fromBeginning: true,
      autoCommitIntervalMs: 1_000,
      // A hard-closed member (no LeaveGroup) is removed after this.
      sessionTimeoutMs: 10_000,
    };
    const clientA = await connect({ brokers: env.proxy, clientId: "abort-observe-a" });
    const clientB = await connect({ brokers: env.proxy, clientId: "abort-observe-b" });
    const aWarnings: string[] = [];
    const quiet = () => {};
    const a = clientA.consumer({
      ...consumerOpts,
      logger: {
        debug: quiet,
        info: quiet,
        warn: (m: string) => aWarnings.push(m),
        error: (m: string) => aWarnings.push(m),
      },
    });
    const aEvents: KafkaEvent[] = [];
    const aEventsDone = collect(a.events({ bufferSize: 10_000 }), aEvents);
    let b: Consumer | null = null;
    let a3: Consumer | null = null;
    const resumedEvents: KafkaEvent[] = [];
    const resumedEventsDone: Promise<void>[] = [];
    let hardClose = "";
    let hardCloseMs = -1;
    let assignedAtEnd = { b: 0, resumed: 0 };
    const checker = await directClient(env);
    let skipped = 0;
    const skipExamples: string[] = [];
    let checkpoints = 0;
    /** The committed offsets never pass a record that was not handed out. */
    const checkCommitted = async () => {
      checkpoints++;
      const offsets = await checker.admin().listGroupOffsets(groupId, { topics: [topic] });
      for (const o of offsets) {
        for (let off = 0n; off < o.offset; off++) {
          if (!handed.has(tpKey(o.partition, off))) {
            skipped++;
            if (skipExamples.length < 5) {
              skipExamples.push(
                `${o.partition}@${off} committed past, never handed out`,
              );
            }
          }
        }
      }
      return offsets;
    };
    const abortReasons: string[] = [];
    /** Iterates until the signal aborts; records what was handed out. */
    /** Records handed out, per consumer. */
    const handedBy = new Map<Consumer, number>();
    const iterate = async (c: Consumer, signal: AbortSignal, onRecord?: () => void) => {
      try {
        for await (const r of c.records({ signal })) {
          const k = tpKey(r.partition, r.offset);
          handed.set(k, (handed.get(k) ?? 0) + 1);
          handedBy.set(c, (handedBy.get(c) ?? 0) + 1);
          onRecord?.();
        }
        abortReasons.push("ended without abort");
      } catch (err) {
        abortReasons.push(err === signal.reason ? "reason" : `${errorType(err)}: ${(err as Error).message}`);
      }
    };
    /** The same with batches(). */
    const iterateBatches = async (c: Consumer, signal: AbortSignal) => {
      try {
        for await (const batch of c.batches({ signal })) {
          for (const r of batch.records) {
            const k = tpKey(r.partition, r.offset);
            handed.set(k, (handed.get(k) ?? 0) + 1);
          }
          handedBy.set(c, (handedBy.get(c) ?? 0) + batch.records.length);
        }
        abortReasons.push("ended without abort");
      } catch (err) {
        abortReasons.push(err === signal.reason ? "reason" : `${errorType(err)}: ${(err as Error).message}`);
      }
    };
    const allHanded = () => stored.every((r) => handed.has(tpKey(r.partition, r.offset)));
    let commitOutcomes: Record<string, number> = {};
    const noteCommit = (p: Promise<void>, signal: AbortSignal) =>
      p.then(() => "ok", (err) => err === signal.reason ? "reason" : errorType(err)).then((o) => {
        commitOutcomes = { ...commitOutcomes, [o]: (commitOutcomes[o] ?? 0) + 1 };
      });
    let lagA = -1;
    let lagB = -1;
    let committedAtEnd = new Map<number, bigint>();
    try {
      // A reads about a quarter, then its signal aborts mid-stream.
      const a1 = new AbortController();
      let n = 0;
      await iterate(a, a1.signal, () => {
        // Synchronously: records already fetched are handed out in microtasks, a timer would fire only
        // once the buffer is drained.
        if (++n === Math.floor(stored.length / 4)) a1.abort(new Error("a1"));
      });
      // An aborted commit (in flight or before its turn), then one that completes.
      const c1 = new AbortController();
      const aborted = a.commit(undefined, { signal: c1.signal });
      setTimeout(() => c1.abort(new Error("c1")), Math.floor(random() * 150));
      await noteCommit(aborted, c1.signal);
      await checkCommitted();
      const c2 = AbortSignal.timeout(60_000);
      await noteCommit(a.commit(undefined, { signal: c2 }), c2);
      await checkCommitted();

      // B joins (a rebalance) while A iterates again; A's iteration aborts during the rebalance.
      b = clientB.consumer(consumerOpts);
      resumedEventsDone.push(collect(b.events({ bufferSize: 10_000 }), resumedEvents));
      const bStop = new AbortController();
      const bDone = iterateBatches(b, bStop.signal);
      // A's next iteration aborts by the time it has handed out half of the records (or after a few
      // seconds): B's join is pending meanwhile (the rebalance waits for A), the rest is for B and A's successor.
      const a2 = new AbortController();
      const a2Timer = setTimeout(() => a2.abort(new Error("a2")), 500 + Math.floor(random() * 2_500));
      await iterate(a, a2.signal, () => {
        if (++n === Math.floor(stored.length / 2)) a2.abort(new Error("a2"));
      });
      clearTimeout(a2Timer);
      const c3 = new AbortController();
      setTimeout(() => c3.abort(new Error("c3")), Math.floor(random() * 150));
      await noteCommit(a.commit(undefined, { signal: c3.signal }), c3.signal);
      await checkCommitted();

      // A closes during a black hole; its close is cut short (hard: no commit, no LeaveGroup).
      proxy.blackHole(6_000);
      const cut = AbortSignal.timeout(300);
      const closeStart = performance.now();
      hardClose = await a.close({ signal: cut }).then(
        () => "resolved",
        (e) => e === cut.reason ? "reason" : errorType(e),
      );
      hardCloseMs = Math.round(performance.now() - closeStart);
      await aEventsDone;
      for (let i = 0; i < 200 && proxy.inBlackHole(); i++) await sleep(50);
      await checkCommitted();
      proxy.resetAll();

      // A new consumer resumes A's part; both read until every record was handed out and both lags are 0.
      a3 = clientA.consumer(consumerOpts);
      resumedEventsDone.push(collect(a3.events({ bufferSize: 10_000 }), resumedEvents));
      const aStop = new AbortController();
      const aDone = iterate(a3, aStop.signal);
      // Every record handed out, and both members hold partitions (after A's session timed out).
      for (let i = 0; i < 1200; i++) {
        if (allHanded() && b.assignment().length > 0 && a3.assignment().length > 0) break;
        await sleep(100);
      }
      assignedAtEnd = { b: b.assignment().length, resumed: a3.assignment().length };
      for (let i = 0; i < 600; i++) {
        lagA = a3.metrics().totalLag;
        lagB = b.metrics().totalLag;
        if (lagA === 0 && lagB === 0) break;
        await sleep(100);
      }
      await checkCommitted();
      aStop.abort(new Error("a3"));
      bStop.abort(new Error("b"));
      await Promise.all([aDone, bDone]);
      // Graceful closes commit what was handed out.
      await a3.close({ timeoutMs: 60_000 });
      await b.close({ timeoutMs: 60_000 });
      await Promise.all(resumedEventsDone);
      committedAtEnd = new Map((await checkCommitted()).map((o) => [o.partition, o.offset]));
    } finally {
      await a.close({ signal: AbortSignal.abort() }).catch(() => {});
      await b?.close({ signal: AbortSignal.abort() }).catch(() => {});
      await a3?.close({ signal: AbortSignal.abort() }).catch(() => {});
      proxy.clear();
      await producerClient.close();
      await clientA.close();
      await clientB.close();
    }
    const notHanded = stored.filter((r) => !handed.has(tpKey(r.partition, r.offset))).length;
    const duplicates = [...handed.values()].reduce((s, c) => s + c - 1, 0);
    const producerReconnects = reconnectSequences(producerEvents);
    const consumerReconnects = reconnectSequences(aEvents) + reconnectSequences(resumedEvents);
    const stats = proxy.stats();
    const handedPer = {
      a: handedBy.get(a) ?? 0,
      b: b ? handedBy.get(b) ?? 0 : 0,
      resumed: a3 ? handedBy.get(a3) ?? 0 : 0,
    };
    result({
      scenario: "proxy: aborted sends, close, iterations and commits (+50 ms each way, resets, black holes)",
      seed: SEED,
      sends: total,
      modes: how,
      closeAbortedSends: closingTotal,
      closeAbortedOutcomes: closeOutcomes,
      producerClose: closeResult,
      producerCloseMs,
      closedProducerRecordsSent: closingMetrics.recordsSent,
      closedProducerRecordsFailed: closingMetrics.recordsFailed,
      resolved: acked.length,
      withdrawn: withdrawn.length,
      withdrawnInTopic: withdrawnPresent,
      mayHaveBeenDelivered: maybe.length,
      mayHaveBeenDeliveredInTopic: maybePresent,
      mayHaveBeenDeliveredTwice: maybeExtra,
      otherErrors,
      stored: stored.length,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      reordered: verdict.reordered,
      misplaced: verdict.misplaced,
      recordsSent: producerMetrics.recordsSent,
      recordsFailed: producerMetrics.recordsFailed,
      handedOut: handed.size,
      handedPer,
      partitionsAtEnd: assignedAtEnd,
      notHandedOut: notHanded,
      consumerDuplicates: duplicates,
      committedSkips: skipped,
      committedChecks: checkpoints,
      iterationEnds: abortReasons,
      commits: commitOutcomes,
      consumerHardClose: hardClose,
      consumerHardCloseMs: hardCloseMs,
      hardClosedConsumerWarnings: aWarnings,
      lagA,
      lagB,
      producerReconnects,
      consumerReconnects,
      proxyResets: stats.resets,
      producerEvents: eventTypes(producerEvents),
      hardClosedConsumerEvents: eventTypes(aEvents),
      otherConsumersEvents: eventTypes(resumedEvents),
    });
    await checker.admin().deleteTopics([topic]).catch(() => {});
    await checker.close();

    // 1. Sends.
    assert.deepEqual(otherErrors, {}, "every send resolved or was aborted");
    assert.deepEqual(
      Object.keys(closeOutcomes).filter((o) =>
        o !== "resolved" && o !== "reason" && o !== "mayHaveBeenDelivered"
      ),
      [],
      "every send of the producer closed hard resolved or was aborted",
    );
    assert.equal(wrongReason, 0, "a SendAbortedError's cause is the signal's reason");
    assert.equal(acked.length + withdrawn.length + maybe.length, total + closingTotal);
    assert.equal(closeResult, "reason", "the aborted producer close rejected with the reason");
    assert.equal(hardClose, "reason", "the consumer close cut short rejected with the reason");
    // Not a speed check: an aborted close must not wait for the network (the black holes last 5 and 6 s).
    assert.ok(producerCloseMs < 5_000, `the aborted producer close waited ${producerCloseMs} ms`);
    assert.ok(hardCloseMs < 6_000, `the consumer close cut short waited ${hardCloseMs} ms`);
    assert.deepEqual(aWarnings, [], "a close cut short reports nothing it was asked to skip");
    assert.deepEqual(
      {
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        reordered: verdict.reordered,
        misplaced: verdict.misplaced,
      },
      { lost: 0, duplicated: 0, reordered: 0, misplaced: 0 },
      verdict.examples.join("\n"),
    );
    assert.equal(withdrawnPresent, 0, "a send rejected with the signal's reason was not written");
    assert.equal(maybeExtra, 0, "an aborted in-flight send was written at most once");
    assert.equal(stored.length, acked.length + maybePresent, "the topic holds nothing else");
    // 3. Metrics against the reader.
    const fromFirst = stored.filter((r) => r.key.startsWith("w")).length;
    const maybeFromFirst = present(maybe.filter((v) => v.startsWith("w")), stored);
    assert.equal(producerMetrics.recordsSent, fromFirst, "recordsSent = its records in the topic");
    assert.equal(
      producerMetrics.recordsSent - maybeFromFirst,
      acked.filter((r) => r.key.startsWith("w")).length,
      "recordsSent = resolved sends (+ aborted but written)",
    );
    // 2. Consumers.
    assert.equal(skipped, 0, skipExamples.join("\n"));
    assert.equal(notHanded, 0, "every record was handed out at least once");
    assert.ok(
      handedPer.b + handedPer.resumed > 0,
      "B and A's successor handed out records after the rebalance",
    );
    assert.equal(
      assignedAtEnd.b + assignedAtEnd.resumed,
      PARTITIONS,
      "B and A's successor share every partition",
    );
    assert.ok(assignedAtEnd.b > 0 && assignedAtEnd.resumed > 0, "both members hold partitions at the end");
    assert.ok(
      abortReasons.every((r) => r === "reason"),
      `every iteration ended with its signal's reason: ${abortReasons}`,
    );
    for (const [p, end] of endOffsets) {
      assert.equal(
        committedAtEnd.get(p),
        end,
        `partition ${p} committed to its end`,
      );
    }
    assert.equal(lagA, 0, "the resuming consumer's lag went to 0");
    assert.equal(lagB, 0, "consumer B's lag went to 0");
    // 3. Events.
    assert.ok(producerReconnects >= 1, "the producer's events show disconnected, reconnecting, connected");
    const others = eventTypes(resumedEvents);
    assert.ok((others["group.assigned"] ?? 0) >= 2, "each member that resumed saw its assignment");
    assert.ok((others["commit.succeeded"] ?? 0) >= 1, "their commits show as events");
  },
);
