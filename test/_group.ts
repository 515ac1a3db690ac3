/**
 * What the broker says about a consumer group, read with raw requests so tests
 * check the broker's view rather than the consumer's own.
 *
 * @module
 */

import { type DescribedGroup, describeGroups } from "../protocol/apis/describe_groups.ts";
import { findCoordinator } from "../protocol/apis/find_coordinator.ts";
import { offsetFetch } from "../protocol/apis/offset_fetch.ts";
import type { Client } from "../mod.ts";
import { COMPAT_BROKER, deviates } from "./_broker.ts";
import type { Connection } from "../src/connection.ts";

async function coordinator(client: Client, groupId: string): Promise<Connection> {
  // Bounded by time, not attempts: a coordinator still loading may take seconds on a loaded machine.
  const deadline = Date.now() + 30_000;
  let last = 0;
  while (Date.now() < deadline) {
    const any = await client.cluster.anyConnection();
    const res = await any.request(findCoordinator, { key: groupId, keyType: 0 }, { version: 3 });
    if (res.errorCode === 0) return await client.cluster.connectionTo(res.nodeId);
    last = res.errorCode;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`No coordinator for group ${groupId} within 30 s (last error ${last})`);
}

/** The group as DescribeGroups reports it (state, members). */
export async function describeGroup(client: Client, groupId: string): Promise<DescribedGroup> {
  const conn = await coordinator(client, groupId);
  const res = await conn.request(describeGroups, { groups: [groupId] });
  return res.groups[0];
}

/** The group's committed offsets for a topic, by partition (-1n = none). */
export async function committedOffsets(
  client: Client,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  if (deviates("tansuOffsetFetchAll")) {
    // A request for all of a group's offsets gets a malformed answer there: the admin call asks by group.
    const out = new Map<number, bigint>();
    for (const o of await client.admin().listGroupOffsets(groupId)) {
      if (o.topic === topic && o.offset !== null) out.set(o.partition, o.offset);
    }
    return out;
  }
  const conn = await coordinator(client, groupId);
  const res = await conn.request(offsetFetch, { groupId, topics: null }, { version: 7 });
  if (res.errorCode) throw new Error(`OffsetFetch ${groupId}: error ${res.errorCode}`);
  const out = new Map<number, bigint>();
  for (const t of res.topics) {
    if (t.name !== topic) continue;
    for (const p of t.partitions) out.set(p.partitionIndex, p.committedOffset);
  }
  return out;
}

/**
 * Waits (bounded) until the broker shows a group's configs as set. The controller
 * answers IncrementalAlterConfigs once the change is committed; the broker's group
 * coordinator takes it from the metadata log a moment later, and a share partition
 * reads `share.auto.offset.reset` when it starts: a consumer started meanwhile
 * would begin at the latest offset. On a compatibility lane this returns at once
 * (the check relies on Apache Kafka's DescribeConfigs for groups).
 */
export async function groupConfigsApplied(
  client: Client,
  groupId: string,
  configs: Record<string, string>,
): Promise<void> {
  if (COMPAT_BROKER !== null) return;
  const keys = Object.keys(configs);
  const deadline = Date.now() + 30_000;
  let last = "";
  while (true) {
    const [d] = await client.admin().describeConfigs([{ type: "group", name: groupId, keys }]);
    const shown = new Map(d.configs.map((c) => [c.name, c.value]));
    if (keys.every((k) => shown.get(k) === configs[k])) return;
    last = JSON.stringify(Object.fromEntries(shown));
    if (Date.now() > deadline) {
      throw new Error(`group ${groupId}: configs not applied after 30 s (shown ${last})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
