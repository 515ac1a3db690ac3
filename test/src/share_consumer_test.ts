/**
 * The share consumer's failure modes against a scripted fake broker (what a
 * real Kafka 4.4 cannot be made to do on demand): a broker without share
 * groups, a broker without lock renewal (ShareAcknowledge v1), the broker
 * refusing an acknowledgement (INVALID_RECORD_STATE), and bad options.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AcquisitionLockExpiredError,
  BrokerError,
  connect,
  type KafkaError,
  type ShareRecord,
  TimeoutError,
  UnsupportedVersionError,
} from "../../mod.ts";
import { isFlexible, type RequestHeader } from "../../protocol/framing.ts";
import { API_CODECS } from "../../protocol/mod.ts";
import { findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { encodeRecordBatch } from "../../protocol/record_batch.ts";
import { shareAcknowledge, type ShareAcknowledgeRequest } from "../../protocol/messages/share_acknowledge.ts";
import { shareFetch, type ShareFetchRequest } from "../../protocol/messages/share_fetch.ts";
import { shareGroupHeartbeat } from "../../protocol/messages/share_group_heartbeat.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import {
  apiVersionsReply,
  type FakeBroker,
  fakeBroker,
  type FakeReply,
  metadataReply,
  reply,
} from "../_fake_broker.ts";
import type { Reader } from "../../protocol/primitives.ts";

const TOPIC = "jobs";
const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";
const SHARE_CODECS = [shareGroupHeartbeat, shareFetch, shareAcknowledge] as ApiCodec<unknown, unknown>[];
const BY_KEY = new Map(
  [...API_CODECS, ...SHARE_CODECS].map((c) => [c.apiKey, c as ApiCodec<unknown, unknown>]),
);

interface FakeOptions {
  /** The ShareAcknowledge versions offered; none when null. */
  shareVersions: { heartbeat: [number, number] | null; fetch: [number, number]; ack: [number, number] };
  /** The per-partition error of ShareAcknowledge. */
  ackError?: number;
  /** The error FindCoordinator answers with. */
  coordinatorError?: number;
  /** The topic's error in the n-th Metadata answer (0: it exists); it exists when absent. */
  topicError?: (n: number) => number;
}

/** One fake broker that is also the share coordinator, serving 3 records of one partition. */
function shareBroker(
  o: FakeOptions,
): FakeBroker & {
  acks: ShareAcknowledgeRequest[];
  fetches: ShareFetchRequest[];
  epochs: number[];
} {
  const acks: ShareAcknowledgeRequest[] = [];
  const fetches: ShareFetchRequest[] = [];
  const epochs: number[] = [];
  let served = false;
  let metadataAnswers = 0;
  let topicError = 0;
  const records = encodeRecordBatch([0, 1, 2].map((i) => ({ value: new TextEncoder().encode(`job ${i}`) })));
  const ranges: [number, number, number][] = [
    ...API_CODECS.map((c) => [c.apiKey, c.minVersion, c.maxVersion] as [number, number, number]),
    [78, ...o.shareVersions.fetch],
    [79, ...o.shareVersions.ack],
  ];
  if (o.shareVersions.heartbeat) ranges.push([76, ...o.shareVersions.heartbeat]);
  const b = fakeBroker((h, body) =>
    answer(h, body).catch((e) => {
      console.error("fake broker:", e);
      throw e;
    }), (k, v) => {
    const c = BY_KEY.get(k);
    return c ? isFlexible(c, v) : false;
  });
  const answer = async (h: RequestHeader, body: Reader): Promise<FakeReply> => {
    if (h.apiKey === 18) return apiVersionsReply(h, ranges);
    if (h.apiKey === 3) {
      topicError = o.topicError?.(metadataAnswers++) ?? 0;
      return metadataReply(
        h,
        b.port,
        // A missing topic's id is all zeros.
        {
          name: TOPIC,
          topicId: topicError !== 0 ? "AAAAAAAAAAAAAAAAAAAAAA" : TOPIC_ID,
          errorCode: topicError,
        },
      );
    }
    if (h.apiKey === findCoordinator.apiKey) {
      return reply(findCoordinator, h, {
        throttleTimeMs: 0,
        // v4+: only the batched coordinators (the other fields keep their defaults).
        errorCode: 0,
        errorMessage: null,
        nodeId: 0,
        host: "",
        port: 0,
        coordinators: [{
          key: "g",
          nodeId: 0,
          host: "127.0.0.1",
          port: b.port,
          errorCode: o.coordinatorError ?? 0,
          errorMessage: null,
        }],
      });
    }
    if (h.apiKey === shareGroupHeartbeat.apiKey) {
      return reply(shareGroupHeartbeat, h, {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        memberId: null,
        memberEpoch: 1,
        heartbeatIntervalMs: 200,
        // Nothing to assign while the topic does not exist.
        assignment: topicError !== 0 ? null : { topicPartitions: [{ topicId: TOPIC_ID, partitions: [0] }] },
      });
    }
    if (h.apiKey === shareFetch.apiKey) {
      const req = shareFetch.decodeRequest(body, h.apiVersion);
      fetches.push(req);
      epochs.push(req.shareSessionEpoch);
      const first = !served;
      served = true;
      if (!first) await new Promise((r) => setTimeout(r, 50));
      return reply(shareFetch, h, {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        acquisitionLockTimeoutMs: 30_000,
        responses: [{
          topicId: TOPIC_ID,
          partitions: [{
            partitionIndex: 0,
            errorCode: 0,
            errorMessage: null,
            acknowledgeErrorCode: 0,
            acknowledgeErrorMessage: null,
            currentLeader: { leaderId: 0, leaderEpoch: 0 },
            records: first ? records : new Uint8Array(0),
            acquiredRecords: first ? [{ firstOffset: 0n, lastOffset: 2n, deliveryCount: 1 }] : [],
          }],
        }],
        nodeEndpoints: [],
      });
    }
    if (h.apiKey === shareAcknowledge.apiKey) {
      const req = shareAcknowledge.decodeRequest(body, h.apiVersion);
      acks.push(req);
      epochs.push(req.shareSessionEpoch);
      return reply(shareAcknowledge, h, {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        acquisitionLockTimeoutMs: h.apiVersion >= 2 ? 30_000 : 0,
        responses: req.topics.map((t) => ({
          topicId: t.topicId!,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: o.ackError ?? 0,
            errorMessage: null,
            currentLeader: { leaderId: 0, leaderEpoch: 0 },
          })),
        })),
        nodeEndpoints: [],
      });
    }
    return null;
  };
  return Object.assign(b, { acks, fetches, epochs });
}

const quiet = (errors: KafkaError[]) => (e: KafkaError) => errors.push(e);

Deno.test("share consumer: a broker without share groups fails the iterator with UnsupportedVersionError", async () => {
  await using b = shareBroker({ shareVersions: { heartbeat: null, fetch: [1, 2], ack: [1, 2] } });
  await using client = await connect({ brokers: [b.address] });
  await using q = client.shareConsumer({
    groupId: "g",
    topics: [TOPIC],
    onError: (e) => console.log("ERR", e),
  });
  await assert.rejects(q.next(), UnsupportedVersionError);
  await assert.rejects(q.next(), UnsupportedVersionError);
  await q.close(); // next() delivered the failure already
});

Deno.test("share consumer: renew() on a broker without KIP-1222 (ShareAcknowledge v1) is an UnsupportedVersionError", async () => {
  await using b = shareBroker({ shareVersions: { heartbeat: [1, 1], fetch: [1, 1], ack: [1, 1] } });
  await using client = await connect({ brokers: [b.address] });
  const q = client.shareConsumer({ groupId: "g", topics: [TOPIC], acknowledgementMode: "explicit" });
  const r = (await q.next()).value as ShareRecord;
  assert.equal(r.text(), "job 0");
  assert.equal(r.deliveryCount, 1);
  await assert.rejects(r.renew(), UnsupportedVersionError);
  r.accept();
  const r1 = (await q.next()).value as ShareRecord;
  r1.reject();
  await q.commit();
  // The acknowledgements went as one batch: accept 0, reject 1.
  const sent = b.acks.flatMap((a) =>
    a.topics.flatMap((t) => t.partitions.flatMap((p) => p.acknowledgementBatches))
  );
  assert.deepEqual(sent, [{ firstOffset: 0n, lastOffset: 1n, acknowledgeTypes: [1, 3] }]);
  await q.close();
  // Close released record 2 (still buffered) with the session-closing ShareAcknowledge (epoch -1).
  const last = b.acks[b.acks.length - 1];
  assert.equal(last.shareSessionEpoch, -1);
  assert.deepEqual(last.topics[0].partitions[0].acknowledgementBatches, [
    { firstOffset: 2n, lastOffset: 2n, acknowledgeTypes: [2] },
  ]);
  // One session: 0 opens it, every ShareFetch and ShareAcknowledge takes the next epoch, -1 closes it.
  assert.equal(b.epochs[0], 0);
  assert.equal(b.epochs[b.epochs.length - 1], -1);
  assert.deepEqual(b.epochs.slice(0, -1), b.epochs.slice(0, -1).map((_, i) => i), b.epochs.join(","));
  assert.throws(() => r1.accept(), /already acknowledged/);
});

Deno.test("share consumer: an acknowledgement the broker refuses (INVALID_RECORD_STATE) is an AcquisitionLockExpiredError from commit()", async () => {
  await using b = shareBroker({
    shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] },
    ackError: 121,
  });
  await using client = await connect({ brokers: [b.address] });
  const errors: KafkaError[] = [];
  await using q = client.shareConsumer({
    groupId: "g",
    topics: [TOPIC],
    acknowledgementMode: "explicit",
    onError: quiet(errors),
  });
  const r = (await q.next()).value as ShareRecord;
  r.accept();
  await assert.rejects(q.commit(), AcquisitionLockExpiredError);
  const m = q.metrics();
  assert.equal(m.recordsAccepted, 0, "a refused acceptance is not counted");
  assert.ok(m.acknowledgeRequests >= 1 && m.acknowledgeErrors >= 1 && m.locksExpired >= 1, JSON.stringify(m));
  assert.ok((m.errors.INVALID_RECORD_STATE ?? 0) >= 1, JSON.stringify(m.errors));
  assert.ok(m.fetches >= 1 && m.recordsReceived >= 1);
  // close() releases records 1 and 2; the refusal goes to onError, close() itself succeeds.
  await q.close();
  assert.ok(errors.some((e) => e instanceof AcquisitionLockExpiredError), errors.map(String).join("\n"));
});

Deno.test("share consumer: bad options are TypeErrors naming the problem", async () => {
  await using b = shareBroker({ shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] } });
  await using client = await connect({ brokers: [b.address] });
  // deno-lint-ignore no-explicit-any
  const make = (o: any) => client.shareConsumer(o);
  assert.throws(() => make(undefined), TypeError);
  assert.throws(() => make({ groupId: "", topics: ["t"] }), /groupId/);
  assert.throws(() => make({ groupId: "g", topics: [] }), /topics/);
  assert.throws(
    () => make({ groupId: "g", topics: ["t"], acknowledgementMode: "auto" }),
    /acknowledgementMode/,
  );
  assert.throws(() => make({ groupId: "g", topics: ["t"], maxRecords: 0 }), RangeError);
  assert.throws(() => make({ groupId: "g", topics: ["t"], maxRecord: 5 }), /maxRecord/);
  assert.throws(() => make({ groupId: "g", topics: ["t"], missingTopicTimeoutMs: -1 }), RangeError);
  assert.throws(() => make({ groupId: "g", topics: ["t"], missingTopicTimeoutMs: "1" }), RangeError);
});

Deno.test("share-group admin: timeoutMs fires while the coordinator stays unavailable", async () => {
  await using b = shareBroker({
    shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] },
    coordinatorError: 15, // COORDINATOR_NOT_AVAILABLE
  });
  await using client = await connect({ brokers: [b.address] });
  const t0 = Date.now();
  await assert.rejects(client.admin().describeShareGroups(["g"], { timeoutMs: 400 }), TimeoutError);
  await assert.rejects(
    client.admin().describeShareGroupOffsets("g", undefined, { timeoutMs: 400 }),
    TimeoutError,
  );
  assert.ok(Date.now() - t0 < 20_000);
});

/** Settles with `p`, or rejects after `ms` (a generous bound, so that a test cannot hang). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

Deno.test("share consumer: subscribed topics missing past missingTopicTimeoutMs fail the iterator with a TimeoutError naming them", async () => {
  await using b = shareBroker({
    shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] },
    topicError: () => 3, // UNKNOWN_TOPIC_OR_PARTITION, for ever
  });
  await using client = await connect({ brokers: [b.address] });
  const errors: KafkaError[] = [];
  const q = client.shareConsumer({
    groupId: "g",
    topics: [TOPIC],
    missingTopicTimeoutMs: 300,
    onError: quiet(errors),
  });
  const err = await within(q.next(), 60_000, "next()").then(
    () => assert.fail("next() should reject"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TimeoutError, String(err));
  assert.match(err.message, /"jobs"/);
  assert.match(err.message, /missingTopicTimeoutMs 300/);
  await assert.rejects(q.next(), TimeoutError); // it stays failed
  await within(q.close(), 60_000, "close()"); // next() delivered the failure already
});

Deno.test("share consumer: a subscribed topic that appears before missingTopicTimeoutMs does not fail the iterator", async () => {
  await using b = shareBroker({
    shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] },
    topicError: (n) => n < 3 ? 3 : 0, // missing in the first three Metadata answers
  });
  await using client = await connect({ brokers: [b.address] });
  const errors: KafkaError[] = [];
  // Generous: the topic appears after a few hundred milliseconds even on a loaded machine.
  const boundMs = 5000;
  const t0 = Date.now();
  const q = client.shareConsumer({
    groupId: "g",
    topics: [TOPIC],
    missingTopicTimeoutMs: boundMs,
    onError: quiet(errors),
  });
  const first = await within(q.next(), 60_000, "next()");
  assert.equal((first.value as ShareRecord).text(), "job 0");
  // Past the bound: the watch ended when the topic appeared, and the iterator still works.
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + boundMs + 500 - Date.now())));
  const second = await within(q.next(), 60_000, "next()");
  assert.equal((second.value as ShareRecord).text(), "job 1");
  assert.ok(b.requests.filter((h) => h.apiKey === 3).length >= 4);
  await within(q.close(), 60_000, "close()");
  assert.ok(!errors.some((e) => e instanceof TimeoutError), errors.map(String).join("\n"));
});

Deno.test("share consumer: an invalid or unauthorized topic fails the iterator at once", async () => {
  await using b = shareBroker({
    shareVersions: { heartbeat: [1, 1], fetch: [1, 2], ack: [1, 2] },
    topicError: () => 29, // TOPIC_AUTHORIZATION_FAILED
  });
  await using client = await connect({ brokers: [b.address] });
  const errors: KafkaError[] = [];
  const bad = client.shareConsumer({ groupId: "g", topics: ["bad topic"], onError: quiet(errors) });
  await assert.rejects(within(bad.next(), 60_000, "next()"), (e: unknown) => {
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /"bad topic"/);
    return true;
  });
  await within(bad.close(), 60_000, "close()");
  const denied = client.shareConsumer({
    groupId: "g",
    topics: [TOPIC],
    missingTopicTimeoutMs: Infinity,
    onError: quiet(errors),
  });
  await assert.rejects(within(denied.next(), 60_000, "next()"), (e: unknown) => {
    assert.ok(e instanceof BrokerError, String(e));
    assert.equal(e.code, 29);
    return true;
  });
  await within(denied.close(), 60_000, "close()");
});
