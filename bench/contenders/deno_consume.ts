/**
 * kafka-deno consumer contender, and the one place the harness touches the
 * consumer API (`client.consumer({ groupId, topics, fromBeginning })`, an
 * async iterator of records, and `consumer.batches()`). While `src/consumer.ts`
 * is not there, {@linkcode openConsumer} returns null and the contender reports
 * "n/a (consumer not available yet)".
 *
 * Consume mode: drains `records` pre-produced records in a fresh consumer
 * group from the beginning; the rate is measured from the first record
 * received to the last (group join excluded, like ConsumerPerformance's
 * fetch.* figures).
 *
 * @module
 */

import { type Client, connect } from "../../mod.ts";
import { main, type Result } from "./common.ts";

/** The reason shown when the consumer is missing. */
export const NO_CONSUMER = "n/a (consumer not available yet)";

/** A received record, as far as the benchmark needs it. */
export interface BenchRecord {
  /** The value bytes. */
  value: Uint8Array | null;
}

/** The consumer, as far as the benchmark needs it. */
export interface BenchConsumer {
  /** Batches of records (arrays), or single records wrapped in arrays. */
  batches(): AsyncIterable<BenchRecord[]>;
  /** The records one at a time (`for await (const r of consumer)`). */
  records(): AsyncIterable<BenchRecord>;
  /** Leaves the group and stops fetching. */
  close(): Promise<void>;
}

interface ConsumerLike extends AsyncIterable<BenchRecord> {
  batches?: () => AsyncIterable<unknown>;
  close(): Promise<void>;
}

type ConsumerFactory = (opts: { groupId: string; topics: string[]; fromBeginning: boolean }) => ConsumerLike;

function toArray(batch: unknown): BenchRecord[] {
  if (Array.isArray(batch)) return batch as BenchRecord[];
  const records = (batch as { records?: unknown } | null)?.records;
  if (Array.isArray(records)) return records as BenchRecord[];
  return [batch as BenchRecord];
}

/**
 * Opens a group consumer reading `topic` from the beginning, or returns null
 * when this build of kafka-deno has no consumer.
 *
 * @param client A connected client.
 * @param groupId A fresh group id.
 * @param topic The topic.
 */
export function openConsumer(client: Client, groupId: string, topic: string): BenchConsumer | null {
  const factory = (client as unknown as { consumer?: ConsumerFactory }).consumer;
  if (typeof factory !== "function") return null;
  const c = factory.call(client, { groupId, topics: [topic], fromBeginning: true });
  return {
    async *batches() {
      if (typeof c.batches === "function") {
        for await (const b of c.batches()) yield toArray(b);
      } else {
        for await (const r of c) yield [r];
      }
    },
    records: () => c,
    close: () => c.close(),
  };
}

/**
 * Drains `records` records of `topic` and measures the rate.
 *
 * @param client A connected client.
 * @param topic The topic.
 * @param records How many records to read.
 * @param groupId A fresh group id.
 * @param timeoutMs Give up after this long.
 * @param perRecord Read one record per iteration (`for await` of the consumer) rather than batches.
 */
export async function consumeWith(
  client: Client,
  topic: string,
  records: number,
  groupId: string,
  timeoutMs: number,
  perRecord = false,
): Promise<Result> {
  const consumer = openConsumer(client, groupId, topic);
  if (!consumer) return { ok: false, reason: NO_CONSUMER };
  let count = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  const timer = setTimeout(() => consumer.close().catch(() => {}), timeoutMs);
  try {
    if (perRecord) {
      for await (const r of consumer.records()) {
        if (count === 0) first = performance.now();
        bytes += r.value?.length ?? 0;
        if (++count >= records) {
          last = performance.now();
          break;
        }
      }
    } else {
      for await (const batch of consumer.batches()) {
        if (count === 0) first = performance.now();
        for (const r of batch) bytes += r.value?.length ?? 0;
        count += batch.length;
        if (count >= records) {
          last = performance.now();
          break;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    await consumer.close().catch(() => {});
  }
  if (count < records) return { ok: false, reason: `timed out after ${count} of ${records} records` };
  return { ok: true, records: count, bytes, seconds: (last - first) / 1000 };
}

if (import.meta.main) {
  await main(async (job) => {
    await using client = await connect({ brokers: job.brokers, clientId: "bench-deno" });
    return await consumeWith(
      client,
      job.topic,
      job.records,
      job.groupId ?? `bench-${Date.now()}`,
      600_000,
      job.perRecord,
    );
  });
}
