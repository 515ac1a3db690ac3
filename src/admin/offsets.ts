/**
 * Records and offsets: list a partition's offsets (earliest, latest, by
 * timestamp, max timestamp, earliest local, latest tiered) and delete records
 * up to an offset. Both go to each partition's leader.
 *
 * @module
 */

import { listOffsets as listOffsetsApi } from "../../protocol/apis/list_offsets.ts";
import { deleteRecords as deleteRecordsApi } from "../../protocol/messages/delete_records.ts";
import type { BrokerError } from "../errors.ts";
import { validateTopicName } from "../producer/producer.ts";
import type { AdminCallOptions } from "./topics.ts";
import { type AdminContext, itemError } from "./_context.ts";

/** Which offset to look up. */
export type OffsetQuery =
  | "earliest"
  | "latest"
  | "max-timestamp"
  | "earliest-local"
  | "latest-tiered"
  | { timestamp: number | bigint | Date };

/** A topic, optionally limited to some partitions (all of them when omitted). */
export interface TopicPartitionsSpec {
  /** The topic. */
  topic: string;
  /** Partition numbers; every partition when omitted. */
  partitions?: number[];
}

/** Options of {@linkcode Admin.listOffsets}. */
export interface ListOffsetsOptions extends AdminCallOptions {
  /** Which offset. Default "latest". */
  at?: OffsetQuery;
  /** "read_committed" stops "latest" at the last stable offset. Default "read_uncommitted". */
  isolationLevel?: "read_uncommitted" | "read_committed";
}

/** One partition's offset. */
export interface PartitionOffset {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The offset (-1 when none matches, e.g. a timestamp after the last record). */
  offset: bigint;
  /** The record's timestamp for timestamp lookups, else -1. */
  timestamp: bigint;
  /** The leader epoch of the offset (-1 when unknown). */
  leaderEpoch: number;
  /** Why this partition failed; null on success. */
  error: BrokerError | null;
}

/** Records to delete: everything in a partition before `offset` (-1: before the high watermark). */
export interface DeleteRecordsSpec {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The new log start offset. */
  offset: bigint | number;
}

/** What happened to one partition. */
export interface DeleteRecordsResult {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The new low watermark (-1 on error). */
  lowWatermark: bigint;
  /** Why this partition failed; null on success. */
  error: BrokerError | null;
}

/** The ListOffsets timestamp for a spec, and the version it needs. */
function specTimestamp(at: OffsetQuery): [bigint, number] {
  switch (at) {
    case "latest":
      return [-1n, 1];
    case "earliest":
      return [-2n, 1];
    case "max-timestamp":
      return [-3n, 7]; // KIP-734
    case "earliest-local":
      return [-4n, 8]; // KIP-405
    case "latest-tiered":
      return [-5n, 9]; // KIP-1005
  }
  if (at && typeof at === "object" && "timestamp" in at) {
    const t = at.timestamp instanceof Date ? BigInt(at.timestamp.getTime()) : BigInt(at.timestamp);
    if (t < 0n) throw new RangeError(`Offset timestamp must be >= 0, got ${t}`);
    return [t, 1];
  }
  throw new TypeError(`Unknown offset spec ${JSON.stringify(at)}`);
}

/**
 * Expands topics without partitions to every partition, from metadata. A
 * topic that does not exist becomes partition -1, whose lookup then fails
 * with the topic's error (reported per item, not thrown).
 */
export async function expandPartitions(
  ctx: AdminContext,
  topics: (string | TopicPartitionsSpec)[],
  deadline: number,
): Promise<{ topic: string; partition: number }[]> {
  const specs = topics.map((t) => typeof t === "string" ? { topic: t } : t);
  specs.forEach((s) => validateTopicName(s.topic));
  const md = await ctx.topicPartitions(specs.filter((s) => !s.partitions).map((s) => s.topic), deadline);
  const out: { topic: string; partition: number }[] = [];
  for (const spec of specs) {
    if (spec.partitions) {
      for (const p of spec.partitions) out.push({ topic: spec.topic, partition: p });
      continue;
    }
    const info = md.get(spec.topic)!;
    // Partition -1 stands for the whole topic: its lookup fails with the topic's error.
    if (info.errorCode !== 0) out.push({ topic: spec.topic, partition: -1 });
    else for (const p of info.partitions) out.push({ topic: spec.topic, partition: p.partition });
  }
  return out;
}

/** See {@linkcode Admin.listOffsets}. */
export async function listOffsets(
  ctx: AdminContext,
  topics: (string | TopicPartitionsSpec)[],
  opts: ListOffsetsOptions,
): Promise<PartitionOffset[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const [timestamp, minVersion] = specTimestamp(opts.at ?? "latest");
  const isolation = opts.isolationLevel === "read_committed" ? 1 : 0;
  const parts = await expandPartitions(ctx, topics, deadline);
  type R = { errorCode: number; offset: bigint; timestamp: bigint; leaderEpoch: number };
  const res = await ctx.leaders<{ topic: string; partition: number }, R>(
    "ListOffsets",
    parts,
    deadline,
    async (conn, ps, left) => {
      const v = conn.versionFor(listOffsetsApi);
      if (v < minVersion) {
        throw new TypeError(
          `Broker ${conn.address} speaks ListOffsets up to v${v}; offset spec ${
            JSON.stringify(opts.at)
          } needs v${minVersion}`,
        );
      }
      const byTopic = new Map<string, number[]>();
      for (const p of ps) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
      const r = await conn.request(listOffsetsApi, {
        isolationLevel: isolation,
        topics: [...byTopic].map(([name, partitions]) => ({
          name,
          partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })),
        })),
        timeoutMs: v >= 10 ? left : undefined,
      }, { timeoutMs: left });
      const m = new Map<{ topic: string; partition: number }, R>();
      for (const p of ps) {
        const x = r.topics.find((t) => t.name === p.topic)?.partitions.find((q) =>
          q.partitionIndex === p.partition
        );
        if (x) m.set(p, x);
      }
      return m;
    },
    (_p, errorCode) => ({ errorCode, offset: -1n, timestamp: -1n, leaderEpoch: -1 }),
  );
  return parts.map((p) => {
    const r = res.get(p)!;
    return {
      topic: p.topic,
      partition: p.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      leaderEpoch: r.leaderEpoch,
      error: itemError(r.errorCode, { api: "ListOffsets", topic: p.topic, partition: p.partition }),
    };
  });
}

/** See {@linkcode Admin.deleteRecords}. */
export async function deleteRecords(
  ctx: AdminContext,
  specs: DeleteRecordsSpec[],
  opts: AdminCallOptions,
): Promise<DeleteRecordsResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  for (const s of specs) {
    validateTopicName(s.topic);
    if (BigInt(s.offset) < -1n) {
      throw new RangeError(`deleteRecords offset of ${s.topic}[${s.partition}] must be >= -1`);
    }
  }
  type R = { errorCode: number; lowWatermark: bigint };
  const res = await ctx.leaders<DeleteRecordsSpec, R>(
    "DeleteRecords",
    specs,
    deadline,
    async (conn, ps, left) => {
      const byTopic = new Map<string, DeleteRecordsSpec[]>();
      for (const p of ps) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
      const r = await conn.request(deleteRecordsApi, {
        topics: [...byTopic].map(([name, list]) => ({
          name,
          partitions: list.map((p) => ({ partitionIndex: p.partition, offset: BigInt(p.offset) })),
        })),
        timeoutMs: left,
      }, { timeoutMs: left + 5_000 });
      const m = new Map<DeleteRecordsSpec, R>();
      for (const p of ps) {
        const x = r.topics.find((t) => t.name === p.topic)?.partitions.find((q) =>
          q.partitionIndex === p.partition
        );
        if (x) m.set(p, x);
      }
      return m;
    },
    (_p, errorCode) => ({ errorCode, lowWatermark: -1n }),
  );
  return specs.map((p) => {
    const r = res.get(p)!;
    return {
      topic: p.topic,
      partition: p.partition,
      lowWatermark: r.lowWatermark,
      error: itemError(r.errorCode, { api: "DeleteRecords", topic: p.topic, partition: p.partition }),
    };
  });
}
