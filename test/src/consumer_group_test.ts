// Coordinator failure modes of the consumer group, against a scripted fake broker on 127.0.0.1:
// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS on every group
// request, and OffsetFetch answering GROUP_ID_NOT_FOUND for a group that never committed.
import assert from "node:assert/strict";
import {
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "../../protocol/apis/consumer_protocol.ts";
import { findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { heartbeat } from "../../protocol/apis/heartbeat.ts";
import { joinGroup } from "../../protocol/apis/join_group.ts";
import { leaveGroup } from "../../protocol/apis/leave_group.ts";
import { listOffsets } from "../../protocol/apis/list_offsets.ts";
import { offsetCommit } from "../../protocol/apis/offset_commit.ts";
import { offsetFetch } from "../../protocol/apis/offset_fetch.ts";
import { syncGroup } from "../../protocol/apis/sync_group.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import { ZERO_UUID } from "../../protocol/primitives.ts";
import {
  consumerGroupHeartbeat,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
} from "../../protocol/messages/consumer_group_heartbeat.ts";

/** Topic "t"'s id (not the zero id, which means "no id"). */
const TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAQ";
import { BrokerError, connect, type ConsumerOptions, UnsupportedVersionError } from "../../mod.ts";
import { apiVersionsReply, type FakeBroker, fakeBroker, metadataReply, reply } from "../_fake_broker.ts";

// Non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [
  [18, 0, 2],
  [3, 0, 8],
  [10, 0, 2], // FindCoordinator
  [9, 1, 5], // OffsetFetch
  [8, 2, 7], // OffsetCommit
  [2, 1, 5], // ListOffsets
  [1, 4, 11], // Fetch
  [11, 0, 5], // JoinGroup
  [14, 0, 3], // SyncGroup
  [12, 0, 3], // Heartbeat
  [13, 0, 3], // LeaveGroup
];

const {
  NOT_COORDINATOR,
  COORDINATOR_NOT_AVAILABLE,
  COORDINATOR_LOAD_IN_PROGRESS,
  GROUP_ID_NOT_FOUND,
} = ErrorCode;

/** Error codes to answer a group API with, in turn; 0 once the list is used up. */
type Script = Partial<
  Record<"offsetFetch" | "offsetCommit" | "join" | "sync" | "heartbeat" | "leave", number[]>
>;

/** A one-node cluster with topic "t" (1 partition) that is its own group coordinator. */
function cluster(
  script: Script,
  opts: {
    commitForever?: number;
    /** LeaveGroup is never answered. */
    leaveNever?: boolean;
    consumerHeartbeatError?: number;
    /** Answers ConsumerGroupHeartbeat (offered when this or consumerHeartbeatError is set). */
    consumerHeartbeat?: (req: ConsumerGroupHeartbeatRequest) => ConsumerGroupHeartbeatResponse;
  } = {},
): FakeBroker & { count(api: number): number } {
  const next = (k: keyof Script) => script[k]?.shift() ?? 0;
  const broker: FakeBroker = fakeBroker((h: RequestHeader, body) => {
    switch (h.apiKey) {
      case 18:
        return apiVersionsReply(
          h,
          opts.consumerHeartbeatError === undefined && opts.consumerHeartbeat === undefined
            ? RANGES
            // Metadata v10+ carries topic ids, which KIP-848 assignments name topics by.
            : [...RANGES.filter(([k]) => k !== 3), [3, 0, 12], [68, 0, 1]],
        );
      case 3:
        return metadataReply(h, broker.port, { topicId: TOPIC_ID });
      case 10:
        return reply(findCoordinator, h, {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          nodeId: 0,
          host: "127.0.0.1",
          port: broker.port,
          coordinators: [],
        });
      case 9: {
        const errorCode = next("offsetFetch");
        return reply(offsetFetch, h, { throttleTimeMs: 0, topics: [], errorCode, groups: [] });
      }
      case 8: {
        const errorCode = opts.commitForever ?? next("offsetCommit");
        return reply(offsetCommit, h, {
          throttleTimeMs: 0,
          topics: [{ name: "t", topicId: ZERO_UUID, partitions: [{ partitionIndex: 0, errorCode }] }],
        });
      }
      case 2:
        return reply(listOffsets, h, {
          throttleTimeMs: 0,
          topics: [{
            name: "t",
            partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 42n, leaderEpoch: 0 }],
          }],
        });
      case 11: {
        const errorCode = next("join");
        return reply(joinGroup, h, {
          throttleTimeMs: 0,
          errorCode,
          generationId: errorCode ? -1 : 1,
          protocolType: "consumer",
          protocolName: errorCode ? null : "range",
          leader: errorCode ? "" : "m-1",
          skipAssignment: false,
          memberId: errorCode ? "" : "m-1",
          members: errorCode ? [] : [{
            memberId: "m-1",
            groupInstanceId: null,
            metadata: encodeConsumerSubscription({ topics: ["t"] }),
          }],
        });
      }
      case 14: {
        const errorCode = next("sync");
        return reply(syncGroup, h, {
          throttleTimeMs: 0,
          errorCode,
          protocolType: "consumer",
          protocolName: "range",
          assignment: errorCode
            ? new Uint8Array(0)
            : encodeConsumerAssignment({ version: 0, assignedPartitions: [{ topic: "t", partitions: [0] }] }),
        });
      }
      case 12:
        return reply(heartbeat, h, { throttleTimeMs: 0, errorCode: next("heartbeat") });
      case 13:
        if (opts.leaveNever) return null;
        return reply(leaveGroup, h, { throttleTimeMs: 0, errorCode: next("leave"), members: [] });
      case 68:
        if (opts.consumerHeartbeat) {
          const req = consumerGroupHeartbeat.decodeRequest(body, h.apiVersion);
          return reply(consumerGroupHeartbeat, h, opts.consumerHeartbeat(req));
        }
        return reply(consumerGroupHeartbeat, h, {
          throttleTimeMs: 0,
          errorCode: opts.consumerHeartbeatError ?? 0,
          errorMessage: null,
          memberId: null,
          memberEpoch: -1,
          heartbeatIntervalMs: 0,
          assignment: null,
        });
    }
    return null; // Fetch: a long poll that never answers (closing the consumer ends it)
  }, (k, v) => k === 18 ? v >= 3 : k === 3 ? v >= 9 : k === 68);
  const count = (api: number) => broker.requests.filter((r) => r.apiKey === api).length;
  return Object.assign(broker, { count });
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("OffsetFetch: coordinator errors rediscover and retry; GROUP_ID_NOT_FOUND means no committed offsets", async () => {
  await using broker = cluster({
    offsetFetch: [
      NOT_COORDINATOR,
      COORDINATOR_LOAD_IN_PROGRESS,
      COORDINATOR_NOT_AVAILABLE,
      GROUP_ID_NOT_FOUND,
    ],
  });
  await using client = await connect({ brokers: [broker.address] });
  const c = client.consumer({
    assign: [{ topic: "t" }],
    groupId: "g",
    autoCommit: false,
    retryBackoffMs: 10,
  });
  try {
    // No committed offset: the reset policy (latest) applies, which ListOffsets answers with 42.
    await until(() => c.position("t", 0) === 42n, 10_000, "the start offset");
    assert.equal(broker.count(9), 4);
    assert.ok(broker.count(10) >= 3, `FindCoordinator ${broker.count(10)} times: after each move`);
  } finally {
    await c.close();
  }
});

Deno.test("OffsetCommit: coordinator errors rediscover and retry; one that never settles fails within requestTimeoutMs", async () => {
  {
    await using broker = cluster({
      offsetCommit: [NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS],
    });
    await using client = await connect({ brokers: [broker.address] });
    const c = client.consumer({
      assign: [{ topic: "t", from: "earliest" }],
      groupId: "g",
      autoCommit: false,
    });
    try {
      await c.commit([{ topic: "t", partition: 0, offset: 7n }]);
      assert.equal(broker.count(8), 4);
      assert.ok(broker.count(10) >= 3, `FindCoordinator ${broker.count(10)} times`);
    } finally {
      await c.close();
    }
  }
  await using broker = cluster({}, { commitForever: NOT_COORDINATOR });
  await using client = await connect({ brokers: [broker.address], requestTimeoutMs: 1500 });
  const c = client.consumer({ assign: [{ topic: "t", from: "earliest" }], groupId: "g", autoCommit: false });
  try {
    const err = await c.commit([{ topic: "t", partition: 0, offset: 7n }]).catch((e) => e);
    assert.ok(err instanceof BrokerError && err.type === "NOT_COORDINATOR", String(err));
    assert.ok(broker.count(8) >= 2, "retried before giving up");
  } finally {
    await c.close();
  }
});

Deno.test("JoinGroup, SyncGroup, Heartbeat and LeaveGroup: coordinator errors rediscover and retry", async () => {
  await using broker = cluster({
    join: [NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS],
    sync: [COORDINATOR_NOT_AVAILABLE],
    offsetFetch: [GROUP_ID_NOT_FOUND],
    heartbeat: [NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS],
    leave: [NOT_COORDINATOR],
  });
  await using client = await connect({ brokers: [broker.address] });
  const c = client.consumer({
    groupId: "g",
    topics: ["t"],
    heartbeatIntervalMs: 50,
    retryBackoffMs: 10,
    autoCommit: false,
  });
  await until(() => c.assignment().length === 1, 10_000, "the assignment");
  assert.equal(c.position("t", 0) === -1n || c.position("t", 0) === 42n, true);
  assert.equal(
    broker.count(11),
    4,
    "JoinGroup: two coordinator errors, one after the failed SyncGroup, one ok",
  );
  // Heartbeats go on after the coordinator errors, in the same generation.
  await until(() => broker.count(12) >= 4, 10_000, "heartbeats after the errors");
  assert.equal(c.generationId, 1);
  assert.equal(c.assignmentCount, 1);
  const finds = broker.count(10);
  assert.ok(finds >= 4, `FindCoordinator ${finds} times`);
  await c.close();
  assert.equal(broker.count(13), 2, "LeaveGroup retried after NOT_COORDINATOR");
});

Deno.test("a fatal heartbeat error rejects next(), and close() when no next() reported it", async () => {
  const { GROUP_AUTHORIZATION_FAILED } = ErrorCode;
  for (const iterate of [true, false]) {
    await using broker = cluster({
      offsetFetch: [GROUP_ID_NOT_FOUND],
      heartbeat: [GROUP_AUTHORIZATION_FAILED],
    });
    await using client = await connect({ brokers: [broker.address] });
    const c = client.consumer({ groupId: "g", topics: ["t"], heartbeatIntervalMs: 50, autoCommit: false });
    await until(() => broker.count(12) >= 1, 10_000, "the heartbeat");
    const fatal = (e: unknown) => e instanceof BrokerError && e.type === "GROUP_AUTHORIZATION_FAILED";
    if (iterate) {
      const it = c[Symbol.asyncIterator]();
      await assert.rejects(() => it.next(), fatal);
      await assert.rejects(() => it.next(), fatal, "it stays failed");
      await c.close(); // next() reported it
    } else {
      await assert.rejects(() => c.close(), fatal);
    }
  }
});

Deno.test('groupProtocol "consumer" against a coordinator without KIP-848 fails with an error saying what to do', async () => {
  // Not offered in ApiVersions (before Kafka 4.0), and offered but refused (the protocol disabled).
  for (const consumerHeartbeatError of [undefined, ErrorCode.UNSUPPORTED_VERSION]) {
    await using broker = cluster({}, { consumerHeartbeatError });
    await using client = await connect({ brokers: [broker.address] });
    const c = client.consumer({ groupId: "g", topics: ["t"], groupProtocol: "consumer" });
    const it = c[Symbol.asyncIterator]();
    await assert.rejects(
      () => it.next(),
      (e) => e instanceof UnsupportedVersionError && /KIP-848/.test(e.message) && /"classic"/.test(e.message),
    );
    await c.close();
  }
});

Deno.test("consumer options: group protocol settings are checked", async () => {
  await using broker = cluster({});
  await using client = await connect({ brokers: [broker.address] });
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ topics: /t.*/ }, /needs groupProtocol: "consumer"/],
    [{ topics: /t.*/i, groupProtocol: "consumer" }, /no flags/],
    [{ topics: ["t"], groupProtocol: "consumer", assignors: ["range"] }, /groupRemoteAssignor/],
    [{ topics: ["t"], groupProtocol: "consumer", sessionTimeoutMs: 1 }, /broker sets it/],
    [{ topics: ["t"], groupRemoteAssignor: "uniform" }, /needs groupProtocol/],
    [{ topics: ["t"], groupProtocol: "kip848" }, /Invalid groupProtocol/],
    [{ topics: ["t"], onAssigned: 1 }, /Invalid onAssigned/],
    [{ assign: [{ topic: "t" }], onRevoked: () => {} }, /not rebalanced/],
  ];
  for (const [o, why] of bad) {
    assert.throws(
      () => client.consumer({ groupId: "g", ...o } as unknown as ConsumerOptions),
      (e) => e instanceof TypeError && why.test(e.message),
    );
  }
});

Deno.test("KIP-848: a fenced member's partitions go to onLost (no commit), it rejoins with epoch 0 and gets them back", async () => {
  const epochs: number[] = [];
  const owned: number[] = [];
  let n = 0;
  await using broker = cluster({ offsetFetch: [GROUP_ID_NOT_FOUND, GROUP_ID_NOT_FOUND] }, {
    consumerHeartbeat: (req) => {
      epochs.push(req.memberEpoch);
      owned.push(req.topicPartitions?.reduce((a, t) => a + t.partitions.length, 0) ?? -1);
      const step = n++;
      const ok = (epoch: number, assign: boolean) => ({
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        memberId: req.memberId,
        memberEpoch: epoch,
        heartbeatIntervalMs: 50,
        assignment: assign ? { topicPartitions: [{ topicId: TOPIC_ID, partitions: [0] }] } : null,
      });
      if (step === 0) return ok(1, true);
      if (step === 2) {
        return { ...ok(-1, false), errorCode: ErrorCode.FENCED_MEMBER_EPOCH, memberId: null };
      }
      if (step === 3) return ok(3, true);
      return ok(req.memberEpoch > 0 ? req.memberEpoch : 1, false);
    },
  });
  await using client = await connect({ brokers: [broker.address] });
  const events: string[] = [];
  const c = client.consumer({
    groupId: "g",
    topics: ["t"],
    groupProtocol: "consumer",
    onAssigned: (ps) => void events.push(`assigned ${ps.map((p) => p.partition)}`),
    onRevoked: (ps) => void events.push(`revoked ${ps.map((p) => p.partition)}`),
    onLost: (ps) => void events.push(`lost ${ps.map((p) => p.partition)}`),
  });
  try {
    await until(() => events.length >= 3, 10_000, "assigned, lost, assigned").catch((e) => {
      console.log(events, epochs, owned, n);
      throw e;
    });
    assert.deepEqual(events.slice(0, 3), ["assigned 0", "lost 0", "assigned 0"]);
    assert.deepEqual(
      epochs.slice(0, 4),
      [0, 1, 1, 0],
      "joins with 0, heartbeats with 1, rejoins with 0 when fenced",
    );
    assert.equal(owned[1], 1, "the member reports the partition it took");
    assert.equal(broker.count(8), 0, "a lost partition is not committed");
  } finally {
    await c.close();
  }
});

Deno.test("classic: a member the coordinator forgot gets onLost (not onRevoked), then onAssigned after rejoining", async () => {
  await using broker = cluster({
    offsetFetch: [GROUP_ID_NOT_FOUND, GROUP_ID_NOT_FOUND],
    heartbeat: [ErrorCode.UNKNOWN_MEMBER_ID],
  });
  await using client = await connect({ brokers: [broker.address] });
  const events: string[] = [];
  const c = client.consumer({
    groupId: "g",
    topics: ["t"],
    heartbeatIntervalMs: 50,
    autoCommit: false,
    onAssigned: (ps) => void events.push(`assigned ${ps.map((p) => p.partition)}`),
    onRevoked: (ps) => void events.push(`revoked ${ps.map((p) => p.partition)}`),
    onLost: (ps) => void events.push(`lost ${ps.map((p) => p.partition)}`),
  });
  try {
    await until(() => events.length >= 3, 10_000, "assigned, lost, assigned");
    assert.deepEqual(events.slice(0, 3), ["assigned 0", "lost 0", "assigned 0"]);
    assert.equal(broker.count(8), 0, "nothing committed for a lost partition");
  } finally {
    await c.close();
  }
  assert.equal(events.at(-1), "revoked 0", "close revokes (the member is still in the group)");
});

Deno.test("commit({ signal }) aborted while OffsetCommit is being retried rejects with the reason and retries no more", async () => {
  await using broker = cluster({}, { commitForever: NOT_COORDINATOR });
  await using client = await connect({ brokers: [broker.address], requestTimeoutMs: 60_000 });
  const c = client.consumer({ assign: [{ topic: "t", from: "earliest" }], groupId: "g", autoCommit: false });
  try {
    const ctl = new AbortController();
    const p = c.commit([{ topic: "t", partition: 0, offset: 7n }], { signal: ctl.signal });
    await until(() => broker.count(8) >= 2, 10_000, "two OffsetCommit attempts");
    const reason = new Error("give up");
    ctl.abort(reason);
    assert.equal(await p.catch((e) => e), reason);
    const sent = broker.count(8);
    await new Promise((r) => setTimeout(r, 1500)); // longer than the retry backoff
    assert.ok(broker.count(8) <= sent + 1, `${broker.count(8) - sent} more attempts after the abort`);
  } finally {
    await c.close();
  }
});

Deno.test("classic: a close cut short (close({ signal })) while LeaveGroup is pending reports no failure to leave", async () => {
  await using broker = cluster({}, { leaveNever: true });
  await using client = await connect({ brokers: [broker.address] });
  const reported: string[] = [];
  const c = client.consumer({ groupId: "g", topics: ["t"], onError: (e) => void reported.push(e.message) });
  await until(() => broker.count(14) >= 1 && c.assignment().length === 1, 10_000, "the assignment");
  const ctl = new AbortController();
  const closing = c.close({ signal: ctl.signal });
  await until(() => broker.count(13) === 1, 10_000, "the LeaveGroup request");
  const reason = new Error("stop now");
  ctl.abort(reason);
  assert.equal(await closing.catch((e) => e), reason);
  // The application asked for a hard close (no LeaveGroup): cutting the pending one short is no failure.
  assert.deepEqual(reported, []);
});
