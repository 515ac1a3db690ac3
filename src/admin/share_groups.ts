/**
 * Share-group administration (KIP-932): list and describe share groups,
 * describe, alter and delete their start offsets, set their group configs,
 * delete them. Group requests go to the group's coordinator (looked up again
 * and retried on the coordinator errors until the call's deadline).
 *
 * @module
 */

import { sleepUnlessAborted } from "../abort.ts";
import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { alterShareGroupOffsets as alterOffsetsApi } from "../../protocol/messages/alter_share_group_offsets.ts";
import { deleteGroups as deleteGroupsApi } from "../../protocol/messages/delete_groups.ts";
import { deleteShareGroupOffsets as deleteOffsetsApi } from "../../protocol/messages/delete_share_group_offsets.ts";
import { describeShareGroupOffsets as describeOffsetsApi } from "../../protocol/messages/describe_share_group_offsets.ts";
import { incrementalAlterConfigs } from "../../protocol/messages/incremental_alter_configs.ts";
import { listGroups as listGroupsApi } from "../../protocol/messages/list_groups.ts";
import { shareGroupDescribe } from "../../protocol/messages/share_group_describe.ts";
import type { Connection } from "../connection.ts";
import type { Cluster } from "../cluster.ts";
import {
  BrokerError,
  ConnectionError,
  KafkaError,
  TimeoutError,
  UnsupportedVersionError,
} from "../errors.ts";

/** A share group as listed. */
export interface ShareGroupListing {
  /** The group id. */
  groupId: string;
  /** "Empty", "Stable", "Dead" or "Unknown". */
  state: string;
}

/** A member of a share group. */
export interface ShareGroupMember {
  /** The member id. */
  memberId: string;
  /** The client id it connected with. */
  clientId: string;
  /** The host it connected from. */
  clientHost: string;
  /** Its rack, or null. */
  rackId: string | null;
  /** Its member epoch. */
  memberEpoch: number;
  /** The topics it subscribes to. */
  subscribedTopics: string[];
  /** Its assigned partitions (several members may share a partition). */
  assignment: { topic: string; partitions: number[] }[];
}

/** A described share group. */
export interface ShareGroupDescription {
  /** The group id. */
  groupId: string;
  /** "Empty", "Stable", "Dead" or "Unknown". */
  state: string;
  /** The group epoch. */
  groupEpoch: number;
  /** The assignment epoch. */
  assignmentEpoch: number;
  /** The assignor the coordinator uses. */
  assignor: string;
  /** The members. */
  members: ShareGroupMember[];
}

/** The start offset of a share group in one partition. */
export interface ShareGroupOffset {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The share-partition start offset (records before it are done); -1 when not initialized. */
  startOffset: bigint;
  /** The leader epoch, -1 when unknown. */
  leaderEpoch: number;
  /** Records not yet delivered and acknowledged, where the broker knows it (-1 otherwise). */
  lag: bigint;
}

/**
 * What the share-group calls need from the admin: the cluster, and a check that the client is
 * open (a `ClientContext` or the admin's own context both fit).
 */
export interface ShareAdminContext {
  /** The cluster. */
  readonly cluster: Cluster;
  /** Throws when the client is closed. */
  assertOpen?: () => void;
}

/** Options of the share-group admin calls. */
export interface ShareGroupAdminOptions {
  /** How long to keep retrying coordinator errors. Default: the client's request timeout. */
  timeoutMs?: number;
  /** Cancels the call: it rejects with `signal.reason` and stops retrying (a request already sent may still take effect). */
  signal?: AbortSignal;
}

const COORDINATOR_ERRORS = new Set<number>([
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

function checkGroupId(groupId: unknown): asserts groupId is string {
  if (typeof groupId !== "string" || groupId.length === 0) {
    throw new TypeError(`Invalid groupId ${JSON.stringify(groupId)}: expected a non-empty string`);
  }
}

/** Runs `fn` on the group's coordinator, looking it up again on coordinator errors, until the deadline. */
async function onCoordinator<T>(
  ctx: ShareAdminContext,
  groupId: string,
  api: string,
  opts: ShareGroupAdminOptions,
  fn: (conn: Connection) => Promise<{ code: number; message?: string | null; value: T }>,
): Promise<T> {
  ctx.assertOpen?.();
  const cluster = ctx.cluster;
  const deadline = Date.now() + (opts.timeoutMs ?? cluster.options.requestTimeoutMs);
  let backoff = 100;
  while (true) {
    opts.signal?.throwIfAborted();
    let err: KafkaError;
    try {
      const any = await cluster.anyConnection();
      const found = await any.request(findCoordinator, {
        keyType: CoordinatorKeyType.GROUP,
        coordinatorKeys: [groupId],
      });
      const c = found.coordinators[0];
      if (!c) throw new KafkaError(`FindCoordinator answered without a coordinator for ${groupId}`);
      if (c.errorCode !== 0) {
        throw new BrokerError(c.errorCode, {
          api: "FindCoordinator",
          groupId,
          brokerMessage: c.errorMessage,
        });
      }
      if (!cluster.brokers.some((b) => b.nodeId === c.nodeId)) await cluster.refreshMetadata();
      const conn = await cluster.connectionTo(c.nodeId);
      const r = await fn(conn);
      if (r.code === 0) return r.value;
      err = new BrokerError(r.code, { api, groupId, brokerMessage: r.message ?? null });
      if (!COORDINATOR_ERRORS.has(r.code)) throw err;
    } catch (e) {
      const retriable = e instanceof ConnectionError ||
        (e instanceof BrokerError && COORDINATOR_ERRORS.has(e.code));
      if (!retriable) throw e;
      err = e as KafkaError;
    }
    if (Date.now() + backoff > deadline) {
      throw new TimeoutError(`${api} for share group ${groupId} did not succeed in time: ${err.message}`, {
        cause: err,
      });
    }
    await sleepUnlessAborted(backoff, opts.signal);
    backoff = Math.min(backoff * 2, 1000);
  }
}

/**
 * Lists the share groups (ListGroups v5+ with a "share" type filter), from every broker.
 *
 * @param ctx The client.
 */
export async function listShareGroups(ctx: ShareAdminContext): Promise<ShareGroupListing[]> {
  ctx.assertOpen?.();
  const cluster = ctx.cluster;
  if (cluster.brokers.length === 0) await cluster.refreshMetadata();
  const out = new Map<string, ShareGroupListing>();
  await Promise.all(cluster.brokers.map(async (b) => {
    const conn = await cluster.connectionTo(b.nodeId);
    if (conn.versionFor(listGroupsApi) < 5) {
      throw new UnsupportedVersionError(
        `Broker ${b.nodeId} cannot list share groups: ListGroups v5+ is needed`,
      );
    }
    const res = await conn.request(listGroupsApi, { statesFilter: [], typesFilter: ["share"] });
    if (res.errorCode !== 0) {
      throw new BrokerError(res.errorCode, { api: "ListGroups", broker: `${b.nodeId}` });
    }
    for (const g of res.groups) out.set(g.groupId, { groupId: g.groupId, state: g.groupState });
  }));
  return [...out.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
}

/**
 * Describes share groups: state, epochs, members and their assignments.
 *
 * @param ctx The client.
 * @param groupIds The groups.
 * @param opts Timeout.
 * @throws {BrokerError} GROUP_ID_NOT_FOUND for a group that does not exist (or is not a share group).
 */
export async function describeShareGroups(
  ctx: ShareAdminContext,
  groupIds: string[],
  opts: ShareGroupAdminOptions = {},
): Promise<ShareGroupDescription[]> {
  if (!Array.isArray(groupIds)) throw new TypeError("describeShareGroups needs an array of group ids");
  groupIds.forEach(checkGroupId);
  return await Promise.all(
    groupIds.map((groupId) =>
      onCoordinator(ctx, groupId, "ShareGroupDescribe", opts, async (conn) => {
        const res = await conn.request(shareGroupDescribe, {
          groupIds: [groupId],
          includeAuthorizedOperations: false,
        });
        const g = res.groups.find((x) => x.groupId === groupId);
        if (!g) throw new KafkaError(`ShareGroupDescribe answered without group ${groupId}`);
        return {
          code: g.errorCode,
          message: g.errorMessage,
          value: {
            groupId,
            state: g.groupState,
            groupEpoch: g.groupEpoch,
            assignmentEpoch: g.assignmentEpoch,
            assignor: g.assignorName,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              rackId: m.rackId,
              memberEpoch: m.memberEpoch,
              subscribedTopics: m.subscribedTopicNames,
              assignment: m.assignment.topicPartitions.map((t) => ({
                topic: t.topicName,
                partitions: [...t.partitions].sort((a, b) => a - b),
              })),
            })),
          },
        };
      })
    ),
  );
}

/**
 * The start offsets of a share group (DescribeShareGroupOffsets): every partition it has
 * state for, or those of `topics`.
 *
 * @param ctx The client.
 * @param groupId The group.
 * @param topics Limit to these topics (all of their partitions).
 * @param opts Timeout.
 */
export async function describeShareGroupOffsets(
  ctx: ShareAdminContext,
  groupId: string,
  topics?: string[],
  opts: ShareGroupAdminOptions = {},
): Promise<ShareGroupOffset[]> {
  checkGroupId(groupId);
  let req: { topicName: string; partitions: number[] }[] | null = null;
  if (topics !== undefined) {
    req = await Promise.all(topics.map(async (t) => {
      const info = await ctx.cluster.topic(t);
      return { topicName: t, partitions: info.partitions.map((p) => p.partition) };
    }));
  }
  return await onCoordinator(ctx, groupId, "DescribeShareGroupOffsets", opts, async (conn) => {
    const res = await conn.request(describeOffsetsApi, { groups: [{ groupId, topics: req }] });
    const g = res.groups.find((x) => x.groupId === groupId);
    if (!g) throw new KafkaError(`DescribeShareGroupOffsets answered without group ${groupId}`);
    const out: ShareGroupOffset[] = [];
    if (g.errorCode === 0) {
      for (const t of g.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) {
            throw new BrokerError(p.errorCode, {
              api: "DescribeShareGroupOffsets",
              groupId,
              topic: t.topicName,
              partition: p.partitionIndex,
              brokerMessage: p.errorMessage,
            });
          }
          out.push({
            topic: t.topicName,
            partition: p.partitionIndex,
            startOffset: p.startOffset,
            leaderEpoch: p.leaderEpoch,
            lag: p.lag,
          });
        }
      }
    }
    out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { code: g.errorCode, message: g.errorMessage, value: out };
  });
}

/**
 * Sets a share group's start offsets (AlterShareGroupOffsets): where delivery resumes. The
 * group must have no members.
 *
 * @param ctx The client.
 * @param groupId The group.
 * @param offsets The new start offsets.
 * @param opts Timeout.
 * @throws {BrokerError} NON_EMPTY_GROUP while members are connected.
 */
export async function alterShareGroupOffsets(
  ctx: ShareAdminContext,
  groupId: string,
  offsets: { topic: string; partition: number; offset: bigint }[],
  opts: ShareGroupAdminOptions = {},
): Promise<void> {
  checkGroupId(groupId);
  if (!Array.isArray(offsets) || offsets.length === 0) {
    throw new TypeError("alterShareGroupOffsets needs a non-empty array of { topic, partition, offset }");
  }
  const byTopic = new Map<string, { partitionIndex: number; startOffset: bigint }[]>();
  for (const o of offsets) {
    if (typeof o.offset !== "bigint" || o.offset < 0n) {
      throw new TypeError(
        `Invalid offset ${String(o.offset)} for ${o.topic}[${o.partition}]: expected a bigint >= 0`,
      );
    }
    let l = byTopic.get(o.topic);
    if (!l) byTopic.set(o.topic, l = []);
    l.push({ partitionIndex: o.partition, startOffset: o.offset });
  }
  await onCoordinator(ctx, groupId, "AlterShareGroupOffsets", opts, async (conn) => {
    const res = await conn.request(alterOffsetsApi, {
      groupId,
      topics: [...byTopic].map(([topicName, partitions]) => ({ topicName, partitions })),
    });
    if (res.errorCode === 0) {
      for (const t of res.responses) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) {
            throw new BrokerError(p.errorCode, {
              api: "AlterShareGroupOffsets",
              groupId,
              topic: t.topicName,
              partition: p.partitionIndex,
              brokerMessage: p.errorMessage,
            });
          }
        }
      }
    }
    return { code: res.errorCode, message: res.errorMessage, value: undefined };
  });
}

/**
 * Deletes a share group's state for whole topics (DeleteShareGroupOffsets): the next member
 * starts them again from `share.auto.offset.reset`. The group must have no members.
 *
 * @param ctx The client.
 * @param groupId The group.
 * @param topics The topics.
 * @param opts Timeout.
 */
export async function deleteShareGroupOffsets(
  ctx: ShareAdminContext,
  groupId: string,
  topics: string[],
  opts: ShareGroupAdminOptions = {},
): Promise<void> {
  checkGroupId(groupId);
  if (!Array.isArray(topics) || topics.length === 0) {
    throw new TypeError("deleteShareGroupOffsets needs a non-empty array of topic names");
  }
  await onCoordinator(ctx, groupId, "DeleteShareGroupOffsets", opts, async (conn) => {
    const res = await conn.request(deleteOffsetsApi, {
      groupId,
      topics: topics.map((topicName) => ({ topicName })),
    });
    if (res.errorCode === 0) {
      for (const t of res.responses) {
        if (t.errorCode !== 0) {
          throw new BrokerError(t.errorCode, {
            api: "DeleteShareGroupOffsets",
            groupId,
            topic: t.topicName,
            brokerMessage: t.errorMessage,
          });
        }
      }
    }
    return { code: res.errorCode, message: res.errorMessage, value: undefined };
  });
}

/**
 * Deletes share groups (DeleteGroups); each must have no members.
 *
 * @param ctx The client.
 * @param groupIds The groups.
 * @param opts Timeout.
 */
export async function deleteShareGroups(
  ctx: ShareAdminContext,
  groupIds: string[],
  opts: ShareGroupAdminOptions = {},
): Promise<void> {
  if (!Array.isArray(groupIds)) throw new TypeError("deleteShareGroups needs an array of group ids");
  groupIds.forEach(checkGroupId);
  await Promise.all(
    groupIds.map((groupId) =>
      onCoordinator(ctx, groupId, "DeleteGroups", opts, async (conn) => {
        const res = await conn.request(deleteGroupsApi, { groupsNames: [groupId] });
        const r = res.results.find((x) => x.groupId === groupId);
        if (!r) throw new KafkaError(`DeleteGroups answered without group ${groupId}`);
        return { code: r.errorCode, value: undefined };
      })
    ),
  );
}

/** The GROUP config resource type (KIP-848/932 group configs). */
const RESOURCE_GROUP = 32;

/**
 * Sets (or, with null, removes) dynamic configs of a share group, e.g.
 * `share.auto.offset.reset`, `share.record.lock.duration.ms`, `share.delivery.count.limit`
 * or `share.renew.acknowledge.enable` (IncrementalAlterConfigs on the GROUP resource).
 *
 * @param ctx The client.
 * @param groupId The group (it need not exist yet).
 * @param configs Config names to values (null removes the override).
 */
export async function alterShareGroupConfigs(
  ctx: ShareAdminContext,
  groupId: string,
  configs: Record<string, string | null>,
): Promise<void> {
  checkGroupId(groupId);
  ctx.assertOpen?.();
  const entries = Object.entries(configs ?? {});
  if (entries.length === 0) throw new TypeError("alterShareGroupConfigs needs at least one config");
  for (const [k, v] of entries) {
    if (v !== null && typeof v !== "string") {
      throw new TypeError(`Invalid value for ${k}: expected a string or null, got ${typeof v}`);
    }
  }
  const conn = await ctx.cluster.anyConnection();
  const res = await conn.request(incrementalAlterConfigs, {
    resources: [{
      resourceType: RESOURCE_GROUP,
      resourceName: groupId,
      configs: entries.map(([name, value]) => ({ name, configOperation: value === null ? 1 : 0, value })),
    }],
    validateOnly: false,
  });
  for (const r of res.responses) {
    if (r.errorCode !== 0) {
      throw new BrokerError(r.errorCode, {
        api: "IncrementalAlterConfigs",
        groupId,
        brokerMessage: r.errorMessage,
      });
    }
  }
}
