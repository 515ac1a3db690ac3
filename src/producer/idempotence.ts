/**
 * The idempotent producer's state: its producer id and epoch (InitProducerId),
 * the per-partition sequence numbers batches carry, and the epoch bump that
 * restarts every partition's sequences when a gap cannot be ruled out
 * (KIP-360): the broker lost our state, or a batch whose sequences may or may
 * not have been written failed or expired. Transactions will join this file.
 *
 * @module
 */

import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import type { Cluster } from "../cluster.ts";
import { BrokerError, KafkaError } from "../errors.ts";
import type { Batch, PartitionState } from "./accumulator.ts";
import type { EventHub } from "../observe/events.ts";

/** What the idempotence state needs from the producer. */
export interface IdempotenceHost {
  readonly cluster: Cluster;
  readonly retryBackoffMs: number;
  readonly deliveryTimeoutMs: number;
  /** Every partition written to. */
  readonly partitions: Map<string, PartitionState>;
  /** Whether the producer has closed (stop retrying InitProducerId). */
  closed(): boolean;
  /** The identity is ready (or changed): send. */
  ready(): void;
  /** InitProducerId failed for good. */
  fatal(err: KafkaError): void;
  /**
   * Set for a transactional producer: the transaction manager owns the identity,
   * and an epoch bump is asked of it (it happens after the transaction aborts).
   */
  readonly transactionalBump?: () => void;
  /** Where identity changes are emitted. */
  readonly events: EventHub;
}

/** Producer id, epoch and sequences. */
export class Idempotence {
  #producerId = -1n;
  #producerEpoch = -1;
  #initializing: Promise<void> | null = null;
  #needBump = false;
  readonly #host: IdempotenceHost;

  constructor(host: IdempotenceHost) {
    this.#host = host;
  }

  /** The producer id (-1n before the first InitProducerId). */
  get producerId(): bigint {
    return this.#producerId;
  }

  /** The producer epoch (-1 before the first InitProducerId). */
  get producerEpoch(): number {
    return this.#producerEpoch;
  }

  /** Whether batches may be sent: an id is known and no epoch bump is pending. */
  get ready(): boolean {
    return this.#producerId >= 0n && !this.#needBump;
  }

  /**
   * Takes an identity from the transaction coordinator (InitProducerId, or
   * EndTxn v5 in transaction protocol v2): a new epoch restarts every sequence.
   */
  setIdentity(producerId: bigint, producerEpoch: number): void {
    if (producerId === this.#producerId && producerEpoch === this.#producerEpoch) return;
    this.#producerId = producerId;
    this.#producerEpoch = producerEpoch;
    this.#renumber();
    this.#emit("transaction");
  }

  #emit(reason: "init" | "bump" | "transaction"): void {
    const events = this.#host.events;
    if (!events.active) return;
    events.emit({ type: "producer.id", producerId: this.#producerId, epoch: this.#producerEpoch, reason });
  }

  /**
   * Asks for an epoch bump before anything more is sent: it happens once
   * nothing is in flight, and restarts every partition's sequence at 0.
   */
  requestBump(): void {
    if (this.#host.transactionalBump) this.#host.transactionalBump();
    else this.#needBump = true;
  }

  /** Gives a batch its sequence numbers, the partition's next ones, unless it has them. */
  assignSequence(b: Batch): void {
    if (b.baseSequence >= 0) return;
    b.baseSequence = b.tp.nextSequence;
    b.tp.nextSequence = (b.tp.nextSequence + b.records.length) % 0x80000000;
  }

  /**
   * Whether an earlier batch of the same partition (a lower sequence) is still
   * outstanding with its sequence sent: then an OUT_OF_ORDER_SEQUENCE_NUMBER is
   * explained by its retry, not by lost broker state.
   */
  earlierPending(outstanding: Set<Batch>, b: Batch): boolean {
    for (const o of outstanding) {
      if (o !== b && o.tp === b.tp && o.baseSequence >= 0 && o.baseSequence < b.baseSequence && o.encoded) {
        return true;
      }
    }
    return false;
  }

  /** Gets a producer id, or bumps the epoch, when needed; calls the host's `ready()` after. */
  ensure(): void {
    // A transactional producer's identity comes from initTransactions().
    if (this.#initializing || this.#host.transactionalBump) return;
    const host = this.#host;
    // Bump only once nothing is in flight, so no batch is written under two epochs.
    if (this.#needBump) {
      for (const tp of host.partitions.values()) if (tp.inFlight > 0) return;
      if (this.#producerId >= 0n && this.#producerEpoch < 32766) {
        // An idempotent (non-transactional) producer bumps its epoch itself (KIP-360): the
        // broker takes a higher epoch starting again at sequence 0 as a fresh start.
        this.#producerEpoch++;
        this.#renumber();
        this.#emit("bump");
        queueMicrotask(() => host.ready());
        return;
      }
    }
    this.#initializing = (async () => {
      const deadline = Date.now() + host.deliveryTimeoutMs;
      let delay = host.retryBackoffMs;
      while (true) {
        try {
          const conn = await host.cluster.anyConnection();
          const res = await conn.request(initProducerId, {
            transactionalId: null,
            transactionTimeoutMs: 60_000,
            producerId: -1n,
            producerEpoch: -1,
          });
          if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { api: "InitProducerId" });
          this.#producerId = res.producerId;
          this.#producerEpoch = res.producerEpoch;
          this.#emit("init");
          break;
        } catch (err) {
          const retriable = !(err instanceof BrokerError) || err.retriable;
          if (!retriable || Date.now() + delay > deadline || host.closed()) throw err;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 1_000);
        }
      }
      // A new producer id (first use, or an exhausted epoch): sequences restart at 0.
      if (this.#needBump) this.#renumber();
    })().then(
      () => {
        this.#initializing = null;
        host.ready();
      },
      (err) => {
        this.#initializing = null;
        host.fatal(err instanceof KafkaError ? err : new KafkaError("InitProducerId failed", { cause: err }));
      },
    );
  }

  /** After an epoch change: every partition's sequence restarts at 0; unsent batches are renumbered. */
  #renumber(): void {
    this.#needBump = false;
    for (const tp of this.#host.partitions.values()) {
      tp.nextSequence = 0;
      for (const b of tp.queue) b.baseSequence = -1;
    }
  }
}
