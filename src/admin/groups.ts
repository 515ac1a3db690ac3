/**
 * Consumer groups: list, describe (classic groups through DescribeGroups,
 * KIP-848 groups through ConsumerGroupDescribe), delete, committed offsets
 * (list, alter, delete, reset) and lag. Everything but listGroups goes to the
 * group's coordinator; listGroups asks every broker.
 *
 * Share-group admin (KIP-932) lives in its own file, share_groups.ts.
 *
 * @module
 */

import {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
} from "../../protocol/apis/consumer_protocol.ts";
import { describeGroups as describeGroupsApi } from "../../protocol/apis/describe_groups.ts";
import { offsetCommit } from "../../protocol/apis/offset_commit.ts";
import { offsetFetch } from "../../protocol/apis/offset_fetch.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { consumerGroupDescribe } from "../../protocol/messages/consumer_group_describe.ts";
import { deleteGroups as deleteGroupsApi } from "../../protocol/messages/delete_groups.ts";
import { listGroups as listGroupsApi } from "../../protocol/messages/list_groups.ts";
import { offsetDelete } from "../../protocol/messages/offset_delete.ts";
import type { Connection } from "../connection.ts";
import { BrokerError, KafkaError } from "../errors.ts";
import { type AdminContext, check, decodeOperations, itemError } from "./_context.ts";
import { listOffsets, type OffsetQuery, type TopicPartitionsSpec } from "./offsets.ts";
import type { AdminCallOptions } from "./topics.ts";

/** Options of {@linkcode Admin.listGroups}. */
export interface ListGroupsOptions extends AdminCallOptions {
  /** Only groups in these states, e.g. ["Stable", "Empty"] (ListGroups v4+). */
  states?: string[];
  /** Only groups of these types: "classic", "consumer", "share", "streams" (ListGroups v5+). */
  types?: string[];
}

/** A group in {@linkcode Admin.listGroups}. */
export interface GroupListing {
  /** The group id. */
  groupId: string;
  /** The protocol type, e.g. "consumer" ("" for groups that only commit offsets). */
  protocolType: string;
  /** The state, e.g. "Stable" ("" before ListGroups v4). */
  state: string;
  /** The type: "classic", "consumer", "share", "streams" ("" before ListGroups v5). */
  type: string;
  /** The coordinator's node id. */
  coordinator: number;
}

/** A topic and some of its partitions. */
export interface TopicPartitions {
  /** The topic. */
  topic: string;
  /** The partitions. */
  partitions: number[];
}

/** A group member. */
export interface GroupMember {
  /** The member id. */
  memberId: string;
  /** The static member's instance id. */
  groupInstanceId: string | null;
  /** Its client id. */
  clientId: string;
  /** Its host. */
  clientHost: string;
  /** The partitions assigned to it (decoded from the consumer protocol; [] when not a consumer). */
  assignment: TopicPartitions[];
  /** The topics it subscribes to, when known. */
  subscribedTopics: string[];
  /** KIP-848 groups: the assignment the member is moving to. */
  targetAssignment?: TopicPartitions[];
  /** KIP-848 groups: the member's epoch. */
  memberEpoch?: number;
}

/** A group as {@linkcode Admin.describeGroups} sees it. */
export interface GroupDescription {
  /** The group id. */
  groupId: string;
  /** "classic" (JoinGroup/SyncGroup) or "consumer" (KIP-848). */
  type: "classic" | "consumer";
  /** The state, e.g. "Stable", "Empty", "Dead". */
  state: string;
  /** The protocol type ("consumer" for consumers). */
  protocolType: string;
  /** The assignor in use (classic: the protocol name; KIP-848: the server assignor). */
  assignor: string;
  /** The members. */
  members: GroupMember[];
  /** The coordinator's node id (-1 when unknown). */
  coordinator: number;
  /** Operations this client may perform, when asked for. */
  authorizedOperations: string[] | null;
  /** Why this group could not be described; null when it was. */
  error: BrokerError | null;
}

/** Options of {@linkcode Admin.describeGroups}. */
export interface DescribeGroupsOptions extends AdminCallOptions {
  /** Ask for the operations this client may perform on each group. */
  includeAuthorizedOperations?: boolean;
}

/** A committed offset. */
export interface GroupOffset {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The committed offset. */
  offset: bigint;
  /** The leader epoch committed with it (-1 when none). */
  leaderEpoch: number;
  /** The metadata committed with it. */
  metadata: string | null;
  /** Why this partition failed; null on success. */
  error: BrokerError | null;
}

/** Options of {@linkcode Admin.listGroupOffsets}. */
export interface ListGroupOffsetsOptions extends AdminCallOptions {
  /** Only these topics (and partitions); every committed partition when omitted. */
  topics?: (string | TopicPartitionsSpec)[];
  /** Wait for pending transactional commits (OffsetFetch v7+). */
  requireStable?: boolean;
}

/** An offset to commit for a group. */
export interface GroupOffsetSpec {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The offset: the next record to consume. */
  offset: bigint | number;
  /** Metadata to store with it. */
  metadata?: string;
}

/** What happened to one partition. */
export interface GroupPartitionResult {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** Why it failed; null on success. */
  error: BrokerError | null;
}

/** Where to move a group's offsets. */
export type ResetTarget = OffsetQuery | { shift: number | bigint } | { offset: number | bigint };

/** Options of {@linkcode Admin.resetGroupOffsets}. */
export interface ResetGroupOffsetsOptions extends AdminCallOptions {
  /** The target: "earliest", "latest", `{ timestamp }`, `{ shift: n }` (from the committed offset) or `{ offset }`. */
  to: ResetTarget;
  /** Topics (and partitions); the group's committed ones when omitted. */
  topics?: (string | TopicPartitionsSpec)[];
  /** Compute the new offsets but commit nothing. */
  dryRun?: boolean;
}

/** One partition of a reset. */
export interface ResetOffsetResult extends GroupPartitionResult {
  /** The offset committed before (null when none). */
  previous: bigint | null;
  /** The new offset. */
  offset: bigint;
}

/** One partition's lag. */
export interface PartitionLag {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The committed offset; null when the group has none here. */
  committed: bigint | null;
  /** The end offset (high watermark, or last stable offset with read_committed). */
  end: bigint;
  /** end - committed (never negative); null when nothing is committed. */
  lag: bigint | null;
  /** Why this partition failed; null on success. */
  error: BrokerError | null;
}

/** A group's lag. */
export interface GroupLag {
  /** The group id. */
  groupId: string;
  /** Per partition, sorted by topic and partition. */
  partitions: PartitionLag[];
  /** Sum of the lag over each topic. */
  topics: Record<string, bigint>;
  /** Sum of the lag over every partition. */
  total: bigint;
}

/** Options of {@linkcode Admin.groupLag}. */
export interface GroupLagOptions extends AdminCallOptions {
  /** Only these topics (and partitions); the group's committed ones when omitted. */
  topics?: (string | TopicPartitionsSpec)[];
  /** "read_committed" measures against the last stable offset. Default "read_uncommitted". */
  isolationLevel?: "read_uncommitted" | "read_committed";
}

function checkGroupId(g: string): void {
  if (typeof g !== "string" || g.length === 0) {
    throw new TypeError(`A group id must be a non-empty string, got ${JSON.stringify(g)}`);
  }
}

/** See {@linkcode Admin.listGroups}. */
export async function listGroups(ctx: AdminContext, opts: ListGroupsOptions): Promise<GroupListing[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  await ctx.retry("ListGroups", deadline, () => ctx.cluster.refreshMetadata());
  const out: GroupListing[] = [];
  // Each broker lists the groups it coordinates.
  await Promise.all(ctx.cluster.brokers.map(async (b) => {
    const res = await ctx.broker("ListGroups", b.nodeId, deadline, async (conn, left) => {
      const v = conn.versionFor(listGroupsApi);
      if (opts.states?.length && v < 4) {
        throw new TypeError(`Broker ${conn.address} cannot filter groups by state (ListGroups v${v})`);
      }
      if (opts.types?.length && v < 5) {
        throw new TypeError(`Broker ${conn.address} cannot filter groups by type (ListGroups v${v})`);
      }
      const r = await conn.request(listGroupsApi, {
        statesFilter: v >= 4 ? opts.states ?? [] : undefined,
        typesFilter: v >= 5 ? opts.types ?? [] : undefined,
      }, { timeoutMs: left });
      check(r.errorCode, { api: "ListGroups", broker: conn.address });
      return r;
    });
    for (const g of res.groups) {
      out.push({
        groupId: g.groupId,
        protocolType: g.protocolType,
        state: g.groupState,
        type: g.groupType,
        coordinator: b.nodeId,
      });
    }
  }));
  return out.sort((a, b) => a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0);
}

function decodeMembers(protocolType: string, members: {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  memberMetadata: Uint8Array;
  memberAssignment: Uint8Array;
}[]): GroupMember[] {
  return members.map((m) => {
    let assignment: TopicPartitions[] = [];
    let subscribedTopics: string[] = [];
    if (protocolType === "consumer") {
      try {
        if (m.memberAssignment.length > 0) {
          assignment = decodeConsumerAssignment(m.memberAssignment).assignedPartitions.map((t) => ({
            topic: t.topic,
            partitions: [...t.partitions].sort((a, b) => a - b),
          }));
        }
        if (m.memberMetadata.length > 0) {
          subscribedTopics = decodeConsumerSubscription(m.memberMetadata).topics;
        }
      } catch (err) {
        throw new KafkaError(`Member ${m.memberId} has an undecodable consumer assignment`, { cause: err });
      }
    }
    return {
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment,
      subscribedTopics,
    };
  });
}

/** See {@linkcode Admin.describeGroups}. */
export function describeGroups(
  ctx: AdminContext,
  groupIds: string[],
  opts: DescribeGroupsOptions,
): Promise<GroupDescription[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  groupIds.forEach(checkGroupId);
  const ops = opts.includeAuthorizedOperations ?? false;
  return Promise.all(
    groupIds.map((groupId) =>
      ctx.coordinator("DescribeGroups", groupId, deadline, async (conn, left): Promise<GroupDescription> => {
        const coordinator = nodeOf(ctx, conn);
        // KIP-848 groups first, where the broker has them; a classic group answers GROUP_ID_NOT_FOUND there.
        if (conn.brokerVersions.has(consumerGroupDescribe.apiKey)) {
          const r = await conn.request(consumerGroupDescribe, {
            groupIds: [groupId],
            includeAuthorizedOperations: ops,
          }, {
            timeoutMs: left,
          });
          const g = r.groups[0];
          if (!g) throw new KafkaError(`ConsumerGroupDescribe answered without group "${groupId}"`);
          if (g.errorCode === 0) {
            const tps = (a: { topicPartitions: { topicName: string; partitions: number[] }[] }) =>
              a.topicPartitions.map((t) => ({
                topic: t.topicName,
                partitions: [...t.partitions].sort((a, b) => a - b),
              }));
            return {
              groupId,
              type: "consumer",
              state: g.groupState,
              protocolType: "consumer",
              assignor: g.assignorName,
              coordinator,
              authorizedOperations: ops ? decodeOperations(g.authorizedOperations) : null,
              error: null,
              members: g.members.map((m) => ({
                memberId: m.memberId,
                groupInstanceId: m.instanceId,
                clientId: m.clientId,
                clientHost: m.clientHost,
                assignment: tps(m.assignment),
                targetAssignment: tps(m.targetAssignment),
                subscribedTopics: m.subscribedTopicNames,
                memberEpoch: m.memberEpoch,
              })),
            };
          }
          if (g.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND) {
            const err = new BrokerError(g.errorCode, {
              api: "ConsumerGroupDescribe",
              groupId,
              brokerMessage: g.errorMessage,
            });
            if (err.retriable) throw err;
            return emptyDescription(groupId, coordinator, err);
          }
        }
        const r = await conn.request(describeGroupsApi, {
          groups: [groupId],
          includeAuthorizedOperations: ops,
        }, {
          timeoutMs: left,
        });
        const g = r.groups[0];
        if (!g) {
          throw new KafkaError(`DescribeGroups answered without group "${groupId}"`);
        }
        const err = itemError(g.errorCode, { api: "DescribeGroups", groupId, brokerMessage: g.errorMessage });
        if (err?.retriable) throw err;
        if (err) return emptyDescription(groupId, coordinator, err);
        return {
          groupId,
          type: "classic",
          state: g.groupState,
          protocolType: g.protocolType,
          assignor: g.protocolData,
          coordinator,
          authorizedOperations: ops ? decodeOperations(g.authorizedOperations) : null,
          error: null,
          members: decodeMembers(g.protocolType, g.members),
        };
      }).catch((err) => {
        if (err instanceof BrokerError) return emptyDescription(groupId, -1, err);
        throw err;
      })
    ),
  );
}

function emptyDescription(groupId: string, coordinator: number, error: BrokerError): GroupDescription {
  return {
    groupId,
    type: "classic",
    state: "",
    protocolType: "",
    assignor: "",
    members: [],
    coordinator,
    authorizedOperations: null,
    error,
  };
}

function nodeOf(ctx: AdminContext, conn: Connection): number {
  return ctx.cluster.brokers.find((b) => `${b.host}:${b.port}` === conn.address)?.nodeId ?? -1;
}

/** See {@linkcode Admin.deleteGroups}. */
export function deleteGroups(
  ctx: AdminContext,
  groupIds: string[],
  opts: AdminCallOptions,
): Promise<{ groupId: string; error: BrokerError | null }[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  groupIds.forEach(checkGroupId);
  return Promise.all(
    groupIds.map((groupId) =>
      ctx.coordinator("DeleteGroups", groupId, deadline, async (conn, left) => {
        const r = await conn.request(deleteGroupsApi, { groupsNames: [groupId] }, { timeoutMs: left });
        const x = r.results.find((y) => y.groupId === groupId);
        if (!x) throw new KafkaError(`DeleteGroups answered without group "${groupId}"`);
        const error = itemError(x.errorCode, { api: "DeleteGroups", groupId });
        if (error?.retriable) throw error;
        return { groupId, error };
      }).catch((err) => {
        if (err instanceof BrokerError) return { groupId, error: err };
        throw err;
      })
    ),
  );
}

/** Expands topic specs whose partitions are omitted, through metadata. */
async function partitionsOf(
  ctx: AdminContext,
  topics: (string | TopicPartitionsSpec)[],
  deadline: number,
): Promise<TopicPartitions[]> {
  const specs = topics.map((t) => typeof t === "string" ? { topic: t } : t);
  const md = await ctx.topicPartitions(specs.filter((s) => !s.partitions).map((s) => s.topic), deadline);
  return specs.map((spec) => {
    if (spec.partitions) return { topic: spec.topic, partitions: spec.partitions };
    const info = md.get(spec.topic)!;
    if (info.errorCode !== 0) throw new BrokerError(info.errorCode, { api: "Metadata", topic: spec.topic });
    return { topic: spec.topic, partitions: info.partitions.map((p) => p.partition) };
  });
}

/** See {@linkcode Admin.listGroupOffsets}. */
export async function listGroupOffsets(
  ctx: AdminContext,
  groupId: string,
  opts: ListGroupOffsetsOptions,
): Promise<GroupOffset[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  checkGroupId(groupId);
  const topics = opts.topics ? await partitionsOf(ctx, opts.topics, deadline) : null;
  const rows = await ctx.coordinator("OffsetFetch", groupId, deadline, async (conn, left) => {
    const batched = conn.versionFor(offsetFetch) >= 8;
    const wire = topics?.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) ?? null;
    const r = await conn.request(
      offsetFetch,
      batched
        ? { groups: [{ groupId, topics: wire }], requireStable: opts.requireStable ?? false }
        : { groupId, topics: wire, requireStable: opts.requireStable ?? false },
      { timeoutMs: left },
    );
    const g = batched ? r.groups.find((x) => x.groupId === groupId) : r;
    if (!g) throw new KafkaError(`OffsetFetch answered without group "${groupId}"`);
    check(g.errorCode, { api: "OffsetFetch", groupId });
    return g.topics;
  });
  const out: GroupOffset[] = [];
  for (const t of rows) {
    for (const p of t.partitions) {
      // -1: nothing committed for a partition that was asked for by name.
      if (p.committedOffset < 0n && p.errorCode === 0) continue;
      out.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.metadata,
        error: itemError(p.errorCode, {
          api: "OffsetFetch",
          groupId,
          topic: t.name,
          partition: p.partitionIndex,
        }),
      });
    }
  }
  return out.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
}

/** See {@linkcode Admin.alterGroupOffsets}. */
export async function alterGroupOffsets(
  ctx: AdminContext,
  groupId: string,
  offsets: GroupOffsetSpec[],
  opts: AdminCallOptions,
): Promise<GroupPartitionResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  checkGroupId(groupId);
  for (const o of offsets) {
    if (BigInt(o.offset) < 0n) {
      throw new RangeError(`Offset of ${o.topic}[${o.partition}] must be >= 0, got ${o.offset}`);
    }
  }
  if (offsets.length === 0) return [];
  const byTopic = new Map<string, GroupOffsetSpec[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  const res = await ctx.coordinator("OffsetCommit", groupId, deadline, async (conn, left) => {
    // Generation -1 and no member id: an admin commit, which the broker accepts only for a group with no members.
    const r = await conn.request(offsetCommit, {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      topics: [...byTopic].map(([name, list]) => ({
        name,
        partitions: list.map((o) => ({
          partitionIndex: o.partition,
          committedOffset: BigInt(o.offset),
          committedMetadata: o.metadata ?? null,
        })),
      })),
    }, { timeoutMs: left });
    for (const t of r.topics) {
      for (const p of t.partitions) {
        const e = itemError(p.errorCode, { api: "OffsetCommit", groupId });
        if (
          e && (e.code === ErrorCode.NOT_COORDINATOR || e.code === ErrorCode.COORDINATOR_NOT_AVAILABLE ||
            e.code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
        ) throw e;
      }
    }
    return r;
  });
  return offsets.map((o) => {
    const p = res.topics.find((t) => t.name === o.topic)?.partitions.find((x) =>
      x.partitionIndex === o.partition
    );
    return {
      topic: o.topic,
      partition: o.partition,
      error: p
        ? itemError(p.errorCode, { api: "OffsetCommit", groupId, topic: o.topic, partition: o.partition })
        : new BrokerError(ErrorCode.UNKNOWN_SERVER_ERROR, {
          api: "OffsetCommit",
          groupId,
          topic: o.topic,
          partition: o.partition,
          brokerMessage: "the response does not mention this partition",
        }),
    };
  });
}

/** See {@linkcode Admin.deleteGroupOffsets}. */
export async function deleteGroupOffsets(
  ctx: AdminContext,
  groupId: string,
  topics: (string | TopicPartitionsSpec)[],
  opts: AdminCallOptions,
): Promise<GroupPartitionResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  checkGroupId(groupId);
  const tps = await partitionsOf(ctx, topics, deadline);
  const res = await ctx.coordinator("OffsetDelete", groupId, deadline, async (conn, left) => {
    const r = await conn.request(offsetDelete, {
      groupId,
      topics: tps.map((t) => ({
        name: t.topic,
        partitions: t.partitions.map((partitionIndex) => ({ partitionIndex })),
      })),
    }, { timeoutMs: left });
    check(r.errorCode, { api: "OffsetDelete", groupId });
    return r;
  });
  return tps.flatMap((t) =>
    t.partitions.map((partition) => {
      const p = res.topics.find((x) => x.name === t.topic)?.partitions.find((x) =>
        x.partitionIndex === partition
      );
      return {
        topic: t.topic,
        partition,
        error: itemError(p?.errorCode ?? 0, { api: "OffsetDelete", groupId, topic: t.topic, partition }),
      };
    })
  );
}

/** See {@linkcode Admin.resetGroupOffsets}. */
export async function resetGroupOffsets(
  ctx: AdminContext,
  groupId: string,
  opts: ResetGroupOffsetsOptions,
): Promise<ResetOffsetResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  checkGroupId(groupId);
  const left = () => Math.max(1, deadline - Date.now());
  const [desc] = await describeGroups(ctx, [groupId], { timeoutMs: left() });
  if (desc.error && desc.error.code !== ErrorCode.GROUP_ID_NOT_FOUND) throw desc.error;
  if (!desc.error && desc.state !== "Empty" && desc.state !== "Dead") {
    throw new KafkaError(
      `Cannot reset the offsets of group "${groupId}": it is ${desc.state} with ${desc.members.length} member(s); ` +
        `stop its consumers first (offsets can only be reset while the group is empty)`,
    );
  }
  const committed = await listGroupOffsets(ctx, groupId, { timeoutMs: left(), topics: opts.topics });
  const topics = opts.topics ?? [...new Set(committed.map((c) => c.topic))];
  if (topics.length === 0) return [];
  const prev = new Map(committed.filter((c) => !c.error).map((c) => [`${c.topic}:${c.partition}`, c.offset]));
  const to = opts.to;
  const bounds = async (at: OffsetQuery) => {
    const r = await listOffsets(ctx, topics, { at, timeoutMs: left() });
    for (const x of r) if (x.error) throw x.error;
    return new Map(r.map((x) => [`${x.topic}:${x.partition}`, x]));
  };
  const earliest = await bounds("earliest");
  const latest = await bounds("latest");
  let target: Map<string, bigint>;
  if (typeof to === "object" && to !== null && ("shift" in to || "offset" in to)) {
    target = new Map();
    for (const [k, e] of earliest) {
      const base = "shift" in to ? (prev.get(k) ?? e.offset) + BigInt(to.shift) : BigInt(to.offset);
      const hi = latest.get(k)!.offset;
      target.set(k, base < e.offset ? e.offset : base > hi ? hi : base);
    }
  } else {
    const found = to === "earliest" ? earliest : to === "latest" ? latest : await bounds(to);
    target = new Map([...found].map(([k, x]) => [k, x.offset < 0n ? latest.get(k)!.offset : x.offset]));
  }
  const specs = [...target].map(([k, offset]) => {
    const i = k.lastIndexOf(":");
    return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset };
  }).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
  const results = opts.dryRun
    ? specs.map((s) => ({ topic: s.topic, partition: s.partition, error: null }))
    : await alterGroupOffsets(ctx, groupId, specs, { timeoutMs: left() });
  return specs.map((s, i) => ({
    ...results[i],
    previous: prev.get(`${s.topic}:${s.partition}`) ?? null,
    offset: s.offset,
  }));
}

/** See {@linkcode Admin.groupLag}. */
export async function groupLag(ctx: AdminContext, groupId: string, opts: GroupLagOptions): Promise<GroupLag> {
  const deadline = ctx.begin(opts.timeoutMs);
  checkGroupId(groupId);
  const left = () => Math.max(1, deadline - Date.now());
  const committed = await listGroupOffsets(ctx, groupId, {
    timeoutMs: left(),
    topics: opts.topics,
    requireStable: opts.isolationLevel === "read_committed",
  });
  // Without a topic list: the committed partitions themselves, so that a partition whose topic is gone
  // keeps its row (with the error) instead of vanishing.
  const byTopic = new Map<string, number[]>();
  for (const c of committed) byTopic.set(c.topic, [...(byTopic.get(c.topic) ?? []), c.partition]);
  const topics = opts.topics ?? [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  const ends = topics.length
    ? await listOffsets(ctx, topics, { at: "latest", isolationLevel: opts.isolationLevel, timeoutMs: left() })
    : [];
  const byKey = new Map(committed.map((c) => [`${c.topic}:${c.partition}`, c]));
  const partitions: PartitionLag[] = ends.map((e) => {
    const c = byKey.get(`${e.topic}:${e.partition}`);
    const value = c && !c.error ? c.offset : null;
    const lag = value === null || e.error ? null : (e.offset > value ? e.offset - value : 0n);
    return {
      topic: e.topic,
      partition: e.partition,
      committed: value,
      end: e.offset,
      lag,
      error: e.error ?? c?.error ?? null,
    };
  }).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
  const perTopic: Record<string, bigint> = {};
  let total = 0n;
  for (const p of partitions) {
    perTopic[p.topic] = (perTopic[p.topic] ?? 0n) + (p.lag ?? 0n);
    total += p.lag ?? 0n;
  }
  return { groupId, partitions, topics: perTopic, total };
}
