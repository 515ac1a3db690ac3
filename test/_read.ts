/**
 * Reads a whole topic back with raw Fetch requests, independent of the
 * consumer, so producer tests check what the broker stored, not what our own
 * consumer thinks it stored.
 *
 * @module
 */

import { fetch as fetchApi } from "../protocol/apis/fetch.ts";
import { listOffsets } from "../protocol/apis/list_offsets.ts";
import { decodeRecordBatches, type KafkaRecord } from "../protocol/record_batch.ts";
import type { Client } from "../mod.ts";
import { deviates } from "./_broker.ts";

/** A stored record with its partition. */
export interface StoredRecord extends KafkaRecord {
  /** The partition. */
  partition: number;
}

/** The end offset (high watermark) of each partition of a topic. */
export async function endOffsets(client: Client, topic: string): Promise<Map<number, bigint>> {
  const info = await client.cluster.readyTopic(topic);
  const out = new Map<number, bigint>();
  const byLeader = new Map<number, number[]>();
  for (const p of info.partitions) {
    const list = byLeader.get(p.leader) ?? [];
    list.push(p.partition);
    byLeader.set(p.leader, list);
  }
  for (const [leader, parts] of byLeader) {
    const conn = await client.cluster.connectionTo(leader);
    if (deviates("tansuListOffsetsLatest")) {
      // ListOffsets (latest) is wrong there: the high watermark of a Fetch answer is right.
      const res = await conn.request(fetchApi, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1024,
        topics: [{
          topic,
          topicId: info.topicId,
          partitions: parts.map((p) => ({ partition: p, fetchOffset: 0n, partitionMaxBytes: 1 })),
        }],
      });
      for (const t of res.responses) {
        for (const p of t.partitions) {
          if (p.errorCode) throw new Error(`Fetch ${topic}[${p.partitionIndex}] error ${p.errorCode}`);
          out.set(p.partitionIndex, p.highWatermark);
        }
      }
      continue;
    }
    const res = await conn.request(listOffsets, {
      topics: [{ name: topic, partitions: parts.map((p) => ({ partitionIndex: p, timestamp: -1n })) }],
      timeoutMs: 10_000,
    });
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode) throw new Error(`ListOffsets ${topic}[${p.partitionIndex}] error ${p.errorCode}`);
        out.set(p.partitionIndex, p.offset);
      }
    }
  }
  return out;
}

/** Every record of every partition of `topic`, per partition in offset order (control batches skipped). */
export async function readAll(client: Client, topic: string): Promise<Map<number, StoredRecord[]>> {
  const ends = await endOffsets(client, topic);
  const info = await client.cluster.readyTopic(topic);
  const out = new Map<number, StoredRecord[]>();
  for (const p of info.partitions) {
    const list: StoredRecord[] = [];
    out.set(p.partition, list);
    const end = ends.get(p.partition) ?? 0n;
    let offset = 0n;
    const conn = await client.cluster.connectionTo(p.leader);
    for (let rounds = 0; offset < end && rounds < 100_000; rounds++) {
      const res = await conn.request(fetchApi, {
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 8 << 20,
        isolationLevel: 0,
        topics: [{
          topic,
          topicId: info.topicId,
          partitions: [{ partition: p.partition, fetchOffset: offset, partitionMaxBytes: 4 << 20 }],
        }],
      });
      const pd = res.responses[0]?.partitions[0];
      if (!pd) throw new Error(`Fetch ${topic}[${p.partition}] returned nothing`);
      if (pd.errorCode) throw new Error(`Fetch ${topic}[${p.partition}] error ${pd.errorCode}`);
      const batches = pd.records ? decodeRecordBatches(pd.records, { topic, partition: p.partition }) : [];
      let advanced = false;
      for (const b of batches) {
        if (!b.isControl) {
          for (const r of b.records) if (r.offset >= offset) list.push({ ...r, partition: p.partition });
        }
        if (b.lastOffset + 1n > offset) {
          offset = b.lastOffset + 1n;
          advanced = true;
        }
      }
      if (!advanced && batches.length === 0) {
        // Nothing yet below the high watermark (should not happen); wait briefly.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return out;
}

/**
 * Waits (bounded) until no transaction is open on `topic`: every partition's last
 * stable offset has reached its high watermark. EndTxn answers once the outcome is
 * logged; the markers reach the partitions after that, so a `read_committed`
 * reader started at once may find the last transaction's records not yet
 * readable. Returns whether it settled within `timeoutMs` (a transaction left
 * open, e.g. by a killed producer, keeps it from settling until it times out).
 */
export async function transactionsSettled(
  client: Client,
  topic: string,
  timeoutMs = 30_000,
): Promise<boolean> {
  const admin = client.admin();
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const [ends, stable] = await Promise.all([
      admin.listOffsets([topic]),
      admin.listOffsets([topic], { isolationLevel: "read_committed" }),
    ]);
    const end = new Map(ends.map((o) => [o.partition, o.offset]));
    if (stable.every((o) => o.error === null && o.offset === end.get(o.partition))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
