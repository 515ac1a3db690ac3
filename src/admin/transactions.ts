/**
 * Transactions and producers: list transactions (every broker), describe
 * them (on each transaction coordinator), describe a partition's active
 * producers (on its leader).
 *
 * @module
 */

import { CoordinatorKeyType } from "../../protocol/apis/find_coordinator.ts";
import { describeProducers as describeProducersApi } from "../../protocol/messages/describe_producers.ts";
import { describeTransactions as describeTransactionsApi } from "../../protocol/messages/describe_transactions.ts";
import { listTransactions as listTransactionsApi } from "../../protocol/messages/list_transactions.ts";
import { writeTxnMarkers } from "../../protocol/messages/write_txn_markers.ts";
import { BrokerError, KafkaError } from "../errors.ts";
import { type AdminContext, check, itemError } from "./_context.ts";
import type { TopicPartitions } from "./groups.ts";
import type { AdminCallOptions } from "./topics.ts";

/** Options of {@linkcode Admin.listTransactions}. */
export interface ListTransactionsOptions extends AdminCallOptions {
  /** Only these states, e.g. ["Ongoing"]. */
  states?: string[];
  /** Only these producer ids. */
  producerIds?: bigint[];
  /** Only transactions running longer than this (ListTransactions v1+, Kafka 3.8+). */
  minDurationMs?: number;
  /** Only transactional ids matching this regular expression (v2+, Kafka 4.1+). */
  pattern?: string;
}

/** A transaction in {@linkcode Admin.listTransactions}. */
export interface TransactionListing {
  /** The transactional id. */
  transactionalId: string;
  /** The producer id. */
  producerId: bigint;
  /** The state, e.g. "Ongoing", "CompleteCommit". */
  state: string;
  /** The coordinator's node id. */
  coordinator: number;
}

/** A transaction as {@linkcode Admin.describeTransactions} sees it. */
export interface TransactionDescription {
  /** The transactional id. */
  transactionalId: string;
  /** The state. */
  state: string;
  /** The transaction timeout. */
  timeoutMs: number;
  /** When the ongoing transaction started (-1 when none). */
  startTimeMs: bigint;
  /** The producer id. */
  producerId: bigint;
  /** The producer epoch. */
  producerEpoch: number;
  /** The partitions in the transaction. */
  partitions: TopicPartitions[];
  /** The error (TRANSACTIONAL_ID_NOT_FOUND...); null on success. */
  error: BrokerError | null;
}

/** A partition's active producers. */
export interface PartitionProducers {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The active producers. */
  producers: {
    producerId: bigint;
    producerEpoch: number;
    lastSequence: number;
    lastTimestamp: bigint;
    coordinatorEpoch: number;
    /** The first offset of its open transaction (-1 when none). */
    currentTransactionStartOffset: bigint;
  }[];
  /** The error; null on success. */
  error: BrokerError | null;
}

/** A hanging transaction to abort on one partition (the values come from {@linkcode Admin.describeProducers}). */
export interface AbortTransactionSpec {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The producer id of the open transaction. */
  producerId: bigint;
  /** Its producer epoch. */
  producerEpoch: number;
  /** Its coordinator epoch. */
  coordinatorEpoch: number;
}

/** See {@linkcode Admin.abortTransaction}. */
export async function abortTransaction(
  ctx: AdminContext,
  spec: AbortTransactionSpec,
  opts: AdminCallOptions,
): Promise<void> {
  const deadline = ctx.begin(opts.timeoutMs);
  const res = await ctx.leaders<AbortTransactionSpec, { errorCode: number }>(
    "WriteTxnMarkers",
    [spec],
    deadline,
    async (conn, ps, left) => {
      // KIP-664: the admin writes the abort marker itself, as a coordinator would (WriteTxnMarkers v1+).
      const r = await conn.request(writeTxnMarkers, {
        markers: [{
          producerId: spec.producerId,
          producerEpoch: spec.producerEpoch,
          transactionResult: false,
          topics: [{ name: spec.topic, partitionIndexes: [spec.partition] }],
          coordinatorEpoch: spec.coordinatorEpoch,
        }],
      }, { timeoutMs: left });
      const x = r.markers.find((m) => m.producerId === spec.producerId)?.topics.find((t) =>
        t.name === spec.topic
      )
        ?.partitions.find((p) => p.partitionIndex === spec.partition);
      return new Map(x ? [[ps[0], { errorCode: x.errorCode }]] : []);
    },
    (_p, errorCode) => ({ errorCode }),
  );
  check(res.get(spec)!.errorCode, { api: "WriteTxnMarkers", topic: spec.topic, partition: spec.partition });
}

/** See {@linkcode Admin.listTransactions}. */
export async function listTransactions(
  ctx: AdminContext,
  opts: ListTransactionsOptions,
): Promise<TransactionListing[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  await ctx.retry("Metadata", deadline, () => ctx.cluster.refreshMetadata());
  const out: TransactionListing[] = [];
  await Promise.all(ctx.cluster.brokers.map(async (b) => {
    const r = await ctx.broker("ListTransactions", b.nodeId, deadline, (conn, left) => {
      const v = conn.versionFor(listTransactionsApi);
      if (opts.minDurationMs !== undefined && v < 1) {
        throw new TypeError(
          `Broker ${conn.address} cannot filter transactions by duration (ListTransactions v0)`,
        );
      }
      if (opts.pattern !== undefined && v < 2) {
        throw new TypeError(
          `Broker ${conn.address} cannot filter transactions by pattern (ListTransactions v${v})`,
        );
      }
      return conn.request(listTransactionsApi, {
        stateFilters: opts.states ?? [],
        producerIdFilters: opts.producerIds ?? [],
        durationFilter: v >= 1 ? BigInt(opts.minDurationMs ?? -1) : undefined,
        transactionalIdPattern: v >= 2 ? opts.pattern ?? null : undefined,
      }, { timeoutMs: left });
    });
    check(r.errorCode, { api: "ListTransactions" });
    if (r.unknownStateFilters.length) {
      throw new TypeError(`Unknown transaction state filter(s): ${r.unknownStateFilters.join(", ")}`);
    }
    for (const t of r.transactionStates) {
      out.push({
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        state: t.transactionState,
        coordinator: b.nodeId,
      });
    }
  }));
  return out.sort((a, b) =>
    a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0
  );
}

/** See {@linkcode Admin.describeTransactions}. */
export function describeTransactions(
  ctx: AdminContext,
  transactionalIds: string[],
  opts: AdminCallOptions,
): Promise<TransactionDescription[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  return Promise.all(
    transactionalIds.map((id) =>
      ctx.coordinator(
        "DescribeTransactions",
        id,
        deadline,
        async (conn, left): Promise<TransactionDescription> => {
          const r = await conn.request(describeTransactionsApi, { transactionalIds: [id] }, {
            timeoutMs: left,
          });
          const t = r.transactionStates.find((x) => x.transactionalId === id);
          if (!t) throw new KafkaError(`DescribeTransactions answered without "${id}"`);
          const error = itemError(t.errorCode, {
            api: "DescribeTransactions",
            brokerMessage: `transactional id "${id}"`,
          });
          if (error?.retriable) {
            throw error;
          }
          return {
            transactionalId: id,
            state: t.transactionState,
            timeoutMs: t.transactionTimeoutMs,
            startTimeMs: t.transactionStartTimeMs,
            producerId: t.producerId,
            producerEpoch: t.producerEpoch,
            partitions: t.topics.map((x) => ({
              topic: x.topic,
              partitions: [...x.partitions].sort((a, b) => a - b),
            })),
            error,
          };
        },
        CoordinatorKeyType.TRANSACTION,
      ).catch((err): TransactionDescription => {
        if (!(err instanceof BrokerError)) throw err;
        return {
          transactionalId: id,
          state: "",
          timeoutMs: -1,
          startTimeMs: -1n,
          producerId: -1n,
          producerEpoch: -1,
          partitions: [],
          error: err,
        };
      })
    ),
  );
}

/** See {@linkcode Admin.describeProducers}. */
export async function describeProducers(
  ctx: AdminContext,
  partitions: TopicPartitions[],
  opts: AdminCallOptions,
): Promise<PartitionProducers[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const parts = partitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
  type R = { errorCode: number; errorMessage: string | null; producers: PartitionProducers["producers"] };
  const res = await ctx.leaders<{ topic: string; partition: number }, R>(
    "DescribeProducers",
    parts,
    deadline,
    async (conn, ps, left) => {
      const byTopic = new Map<string, number[]>();
      for (const p of ps) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
      const r = await conn.request(describeProducersApi, {
        topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      }, { timeoutMs: left });
      const m = new Map<{ topic: string; partition: number }, R>();
      for (const p of ps) {
        const x = r.topics.find((t) => t.name === p.topic)?.partitions.find((q) =>
          q.partitionIndex === p.partition
        );
        if (!x) continue;
        m.set(p, {
          errorCode: x.errorCode,
          errorMessage: x.errorMessage,
          producers: x.activeProducers.map((a) => ({
            producerId: a.producerId,
            producerEpoch: a.producerEpoch,
            lastSequence: a.lastSequence,
            lastTimestamp: a.lastTimestamp,
            coordinatorEpoch: a.coordinatorEpoch,
            currentTransactionStartOffset: a.currentTxnStartOffset,
          })),
        });
      }
      return m;
    },
    (_p, errorCode) => ({ errorCode, errorMessage: null, producers: [] }),
  );
  return parts.map((p) => {
    const r = res.get(p)!;
    return {
      topic: p.topic,
      partition: p.partition,
      producers: r.producers,
      error: itemError(r.errorCode, {
        api: "DescribeProducers",
        topic: p.topic,
        partition: p.partition,
        brokerMessage: r.errorMessage,
      }),
    };
  });
}
