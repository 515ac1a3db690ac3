/**
 * The "consumer" embedded protocol: the bytes a consumer puts in JoinGroup
 * protocol metadata (ConsumerProtocolSubscription) and the group leader puts
 * in SyncGroup assignments (ConsumerProtocolAssignment). Both are versions
 * 0-3, never flexible, and start with an int16 version.
 * Spec: ConsumerProtocolSubscription.json / ConsumerProtocolAssignment.json
 * (Kafka 4.1.1).
 *
 * These are not APIs, so they are plain functions rather than an ApiCodec.
 * As Kafka's `ConsumerProtocol` does, a decoder reads a version above the
 * highest it knows with the highest known layout and ignores whatever bytes
 * follow (the schemas promise that new versions only append fields), and it
 * never insists that the input is consumed exactly.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { Reader, Writer } from "../primitives.ts";

/** The protocol type a consumer sends in JoinGroup. */
export const CONSUMER_PROTOCOL_TYPE = "consumer";

/** The highest ConsumerProtocolSubscription / ConsumerProtocolAssignment version we know. */
export const CONSUMER_PROTOCOL_MAX_VERSION = 3;

/** Partitions of one topic. */
export interface ConsumerProtocolTopicPartition {
  /** The topic name. */
  topic: string;
  /** The partition ids. */
  partitions: number[];
}

/** What a consumer subscribes to, sent as JoinGroup protocol metadata. */
export interface ConsumerProtocolSubscription {
  /**
   * The schema version. Encoding defaults to {@linkcode CONSUMER_PROTOCOL_MAX_VERSION};
   * decoding sets the version found on the wire, which may be higher.
   */
  version?: number;
  /** The topics the member wants to consume. */
  topics: string[];
  /** Opaque data for the assignor. Default null. */
  userData?: Uint8Array | null;
  /** v1+: the partitions the member owns (cooperative rebalancing, KIP-429). Default []. */
  ownedPartitions?: ConsumerProtocolTopicPartition[];
  /** v2+: the member's generation id, to spot stale ownedPartitions. Default -1. */
  generationId?: number;
  /** v3+: the member's rack, for rack-aware assignment (KIP-881). Default null. */
  rackId?: string | null;
}

/** What the group leader assigns to one member, sent in SyncGroup. */
export interface ConsumerProtocolAssignment {
  /**
   * The schema version. Encoding defaults to {@linkcode CONSUMER_PROTOCOL_MAX_VERSION};
   * decoding sets the version found on the wire, which may be higher.
   */
  version?: number;
  /** The partitions assigned to the member. */
  assignedPartitions: ConsumerProtocolTopicPartition[];
  /** Opaque data from the assignor. Default null. */
  userData?: Uint8Array | null;
}

function checkVersion(what: string, version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_MAX_VERSION) {
    throw new RangeError(`${what} version ${version} is outside 0-${CONSUMER_PROTOCOL_MAX_VERSION}`);
  }
}

function readVersion(r: Reader, what: string): number {
  const version = r.int16();
  if (version < 0) throw new ProtocolError(`${what} has negative version ${version}`);
  return version;
}

function writeTopicPartitions(w: Writer, items: readonly ConsumerProtocolTopicPartition[]): void {
  w.array(items, (w, tp) => {
    w.string(tp.topic);
    w.array(tp.partitions, (w, p) => w.int32(p));
  });
}

function readTopicPartitions(r: Reader): ConsumerProtocolTopicPartition[] {
  return r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) }));
}

// ConsumerProtocolSubscription fields (after the int16 version):
//   Topics           []string  0+
//   UserData         bytes     0+  nullable 0+, default null
//   OwnedPartitions  []TopicPartition  1+  ignorable
//     Topic          string    1+
//     Partitions     []int32   1+
//   GenerationId     int32     2+  default -1, ignorable
//   RackId           string    3+  nullable 3+, default null, ignorable

/**
 * Encodes a subscription, version prefix included, for JoinGroup metadata.
 * Fields the chosen version lacks are dropped.
 *
 * @example
 * ```ts
 * import { decodeConsumerSubscription, encodeConsumerSubscription } from "./consumer_protocol.ts";
 * const bytes = encodeConsumerSubscription({ topics: ["orders"], generationId: 4 });
 * console.assert(decodeConsumerSubscription(bytes).generationId === 4);
 * ```
 */
export function encodeConsumerSubscription(sub: ConsumerProtocolSubscription): Uint8Array {
  const version = sub.version ?? CONSUMER_PROTOCOL_MAX_VERSION;
  checkVersion("ConsumerProtocolSubscription", version);
  const w = new Writer(64);
  w.int16(version);
  w.array(sub.topics, (w, t) => w.string(t));
  w.nullableBytes(sub.userData ?? null);
  if (version >= 1) writeTopicPartitions(w, sub.ownedPartitions ?? []);
  if (version >= 2) w.int32(sub.generationId ?? -1);
  if (version >= 3) w.nullableString(sub.rackId ?? null);
  return w.finish().slice();
}

/**
 * Decodes a subscription from JoinGroup metadata. Every field is filled (with
 * its default when the version lacks it); `userData` is a view into `bytes`.
 * A version above {@linkcode CONSUMER_PROTOCOL_MAX_VERSION} is read with the
 * v3 layout and its extra bytes are ignored.
 *
 * @throws {ProtocolError} if the bytes are truncated or malformed.
 */
export function decodeConsumerSubscription(bytes: Uint8Array): ConsumerProtocolSubscription {
  const r = new Reader(bytes);
  const version = readVersion(r, "ConsumerProtocolSubscription");
  return {
    version,
    topics: r.array((r) => r.string()),
    userData: r.nullableBytes(),
    ownedPartitions: version >= 1 ? readTopicPartitions(r) : [],
    generationId: version >= 2 ? r.int32() : -1,
    rackId: version >= 3 ? r.nullableString() : null,
  };
}

// ConsumerProtocolAssignment fields (after the int16 version):
//   AssignedPartitions  []TopicPartition  0+
//     Topic             string   0+
//     Partitions        []int32  0+
//   UserData            bytes    0+  nullable 0+, default null
// Versions 1-3 have the same layout as version 0.

/**
 * Encodes an assignment, version prefix included, for SyncGroup.
 *
 * @example
 * ```ts
 * import { decodeConsumerAssignment, encodeConsumerAssignment } from "./consumer_protocol.ts";
 * const bytes = encodeConsumerAssignment({ assignedPartitions: [{ topic: "orders", partitions: [0, 2] }] });
 * console.assert(decodeConsumerAssignment(bytes).assignedPartitions[0].partitions[1] === 2);
 * ```
 */
export function encodeConsumerAssignment(assignment: ConsumerProtocolAssignment): Uint8Array {
  const version = assignment.version ?? CONSUMER_PROTOCOL_MAX_VERSION;
  checkVersion("ConsumerProtocolAssignment", version);
  const w = new Writer(64);
  w.int16(version);
  writeTopicPartitions(w, assignment.assignedPartitions);
  w.nullableBytes(assignment.userData ?? null);
  return w.finish().slice();
}

/**
 * Decodes an assignment from a SyncGroup response. `userData` is a view into
 * `bytes`. A version above {@linkcode CONSUMER_PROTOCOL_MAX_VERSION} is read
 * with the v3 layout and its extra bytes are ignored.
 *
 * An empty assignment (zero bytes) is not valid input here: the coordinator
 * sends one when the leader gave this member nothing, and the caller should
 * treat it as "no partitions" before calling this.
 *
 * @throws {ProtocolError} if the bytes are truncated or malformed.
 */
export function decodeConsumerAssignment(bytes: Uint8Array): ConsumerProtocolAssignment {
  const r = new Reader(bytes);
  const version = readVersion(r, "ConsumerProtocolAssignment");
  return { version, assignedPartitions: readTopicPartitions(r), userData: r.nullableBytes() };
}
