/**
 * What the group consumer and the share consumer share about subscribed topics:
 * Kafka's rule for topic names, and the watch that fails a subscription whose
 * topics are not authorized or stay missing longer than `missingTopicTimeoutMs`.
 *
 * @module
 */

import type { Cluster } from "./cluster.ts";
import { BrokerError, KafkaError, TimeoutError } from "./errors.ts";

/** Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not "." or "..". */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== "string") return "a topic name must be a string";
  if (name.length === 0) return "a topic name cannot be empty";
  if (name === "." || name === "..") return `"${name}" is not a topic name`;
  if (name.length > 249) return "a topic name has at most 249 characters";
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return "a topic name has only ASCII letters, digits, '.', '_' and '-'";
  return null;
}

/** The TypeError for the first subscribed topic with an invalid name, or null when all are valid. */
export function badTopicName(topics: readonly unknown[]): TypeError | null {
  for (const t of topics) {
    const why = topicNameProblem(t);
    if (why !== null) return new TypeError(`Cannot subscribe to topic ${JSON.stringify(t)}: ${why}`);
  }
  return null;
}

/** Checks the `missingTopicTimeoutMs` option: a non-negative number or `Infinity`; default 60 s. */
export function missingTopicTimeout(v: number | undefined): number {
  if (v === undefined) return 60_000;
  if (v === Infinity) return Infinity;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`Invalid missingTopicTimeoutMs ${v}: expected a non-negative number or Infinity`);
  }
  return v;
}

/** What {@linkcode watchTopics} needs from its consumer. */
export interface TopicWatcher {
  /** True once the consumer is closing: the watch ends. */
  stopping(): boolean;
  /** Fails the consumer's iterator. */
  fail(err: Error): void;
  /** Waits `ms` milliseconds, or less when the consumer closes. */
  wait(ms: number): Promise<void>;
}

/**
 * Fails the consumer when a subscribed topic is not authorized (or another error that
 * does not go away) at once, or when one stays missing for `boundMs` (a
 * {@linkcode TimeoutError} naming them); ends once all exist, or when the consumer stops.
 *
 * @param cluster Where the metadata comes from.
 * @param topics The subscribed topics.
 * @param boundMs How long they may stay missing (`Infinity`: forever).
 * @param w The consumer.
 */
export async function watchTopics(
  cluster: Cluster,
  topics: readonly string[],
  boundMs: number,
  w: TopicWatcher,
): Promise<void> {
  const started = Date.now();
  let delay = 100;
  while (!w.stopping()) {
    let missing: string[] | null = [];
    try {
      await cluster.refreshMetadata([...topics]);
      for (const t of topics) {
        const info = cluster.cachedTopic(t);
        if (info && info.errorCode === 0 && info.partitions.length > 0) continue;
        if (info && info.errorCode) {
          const err = new BrokerError(info.errorCode, { api: "Metadata", topic: t });
          if (!err.retriable) {
            w.fail(err);
            return;
          }
        }
        missing.push(t);
      }
    } catch (err) {
      if (!(err instanceof KafkaError) || (err instanceof BrokerError && !err.retriable)) {
        w.fail(err as Error);
        return;
      }
      missing = null; // unknown this time; the membership loop reports what is wrong with the cluster
    }
    if (missing !== null && missing.length === 0) return;
    const waited = Date.now() - started;
    if (missing !== null && waited >= boundMs) {
      w.fail(
        new TimeoutError(
          `Subscribed topic${missing.length > 1 ? "s" : ""} ${
            missing.map((t) => JSON.stringify(t)).join(", ")
          } still missing after ${waited} ms (missingTopicTimeoutMs ${boundMs})`,
        ),
      );
      return;
    }
    await w.wait(Math.min(delay, Math.max(0, boundMs - waited)));
    delay = Math.min(delay * 2, 2000);
  }
}
