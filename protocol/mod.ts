/**
 * The advanced entry point: Kafka's wire protocol as pure functions and codecs,
 * with no sockets, timers or retries. Use it to build tools, scripted fake
 * brokers or a client of your own; most applications want `connect()` from the
 * package root instead.
 *
 * Every API has one {@linkcode ApiCodec} (all of them are listed in
 * {@linkcode API_CODECS}); frames are built and read with
 * {@linkcode encodeRequestFrame} / {@linkcode decodeResponseFrame}, and split
 * from a byte stream with {@linkcode FrameSplitter}.
 *
 * @example
 * ```ts
 * import { apiVersions, decodeRequestHeader, encodeRequestFrame, isFlexible, Reader } from "./mod.ts";
 *
 * const frame = encodeRequestFrame(apiVersions, 3, { correlationId: 7, clientId: "tool" }, {
 *   clientSoftwareName: "tool",
 *   clientSoftwareVersion: "1.0",
 * });
 * const r = new Reader(frame, 4);
 * const header = decodeRequestHeader(r, (_key, version) => isFlexible(apiVersions, version));
 * console.assert(header.correlationId === 7);
 * console.assert(apiVersions.decodeRequest(r, 3).clientSoftwareName === "tool");
 * ```
 *
 * @module
 */

import type { ApiCodec } from "./framing.ts";
import { apiVersions } from "./apis/api_versions.ts";
import { createTopics } from "./apis/create_topics.ts";
import { deleteTopics } from "./apis/delete_topics.ts";
import { describeGroups } from "./apis/describe_groups.ts";
import { fetch } from "./apis/fetch.ts";
import { findCoordinator } from "./apis/find_coordinator.ts";
import { heartbeat } from "./apis/heartbeat.ts";
import { initProducerId } from "./apis/init_producer_id.ts";
import { joinGroup } from "./apis/join_group.ts";
import { leaveGroup } from "./apis/leave_group.ts";
import { listOffsets } from "./apis/list_offsets.ts";
import { metadata } from "./apis/metadata.ts";
import { offsetCommit } from "./apis/offset_commit.ts";
import { offsetFetch } from "./apis/offset_fetch.ts";
import { offsetForLeaderEpoch } from "./apis/offset_for_leader_epoch.ts";
import { produce } from "./apis/produce.ts";
import { saslAuthenticate } from "./apis/sasl_authenticate.ts";
import { saslHandshake } from "./apis/sasl_handshake.ts";
import { syncGroup } from "./apis/sync_group.ts";

// Framing and the codec contract.
export {
  API_VERSIONS_KEY,
  type ApiCodec,
  decodeRequestHeader,
  decodeResponseFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeRequestFrame,
  encodeResponseFrame,
  FrameSplitter,
  isFlexible,
  peekCorrelationId,
  type RequestHeader,
  type RequestOf,
  type ResponseOf,
} from "./framing.ts";

// Primitives.
export { bytesToUuid, Reader, type TaggedField, uuidToBytes, Writer, ZERO_UUID } from "./primitives.ts";

// Errors and the error-code table.
export { KafkaError, type KafkaErrorOptions, ProtocolError } from "./errors.ts";
export { ERROR_TABLE, errorByCode, ErrorCode, type ErrorEntry } from "./error_codes.ts";

// Records, compression, checksums, partitioners.
export * from "./record_batch.ts";
export {
  compress,
  Compression,
  compressionName,
  type CompressOptions,
  decompress,
  type DecompressOptions,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
} from "./compression.ts";
export { crc32, crc32c } from "./crc32c.ts";
export { fnv1a32, fnv1aPartition, murmur2, murmur2Partition } from "./partitioners.ts";

// Every API a client sends, generated from Kafka 4.3.1's schemas (protocol/messages/), as a
// namespace: `messages.describeCluster`, `messages.DescribeClusterRequest`, ...
export * as messages from "./messages/mod.ts";
export { GENERATED_APIS, type GeneratedApi } from "./messages/mod.ts";

// One codec per API, with its request and response types.
export * from "./apis/api_versions.ts";
export * from "./apis/consumer_protocol.ts";
export * from "./apis/create_topics.ts";
export * from "./apis/delete_topics.ts";
export * from "./apis/describe_groups.ts";
export * from "./apis/fetch.ts";
export * from "./apis/find_coordinator.ts";
export * from "./apis/heartbeat.ts";
export * from "./apis/init_producer_id.ts";
export * from "./apis/join_group.ts";
export * from "./apis/leave_group.ts";
export * from "./apis/list_offsets.ts";
export * from "./apis/metadata.ts";
export * from "./apis/offset_commit.ts";
export * from "./apis/offset_fetch.ts";
export * from "./apis/offset_for_leader_epoch.ts";
export * from "./apis/produce.ts";
export * from "./apis/sasl_authenticate.ts";
export * from "./apis/sasl_handshake.ts";
export * from "./apis/sync_group.ts";

/**
 * Every API codec this package implements, ordered by API key. Useful to look a
 * codec up by key (a proxy, a fake broker) or to test all of them alike.
 *
 * @example
 * ```ts
 * import { API_CODECS } from "./mod.ts";
 * const byKey = new Map(API_CODECS.map((c) => [c.apiKey, c]));
 * console.assert(byKey.get(3)?.name === "Metadata");
 * ```
 */
export const API_CODECS: readonly ApiCodec<unknown, unknown>[] = Object.freeze(
  [
    produce,
    fetch,
    listOffsets,
    metadata,
    offsetCommit,
    offsetFetch,
    findCoordinator,
    joinGroup,
    heartbeat,
    leaveGroup,
    syncGroup,
    describeGroups,
    saslHandshake,
    apiVersions,
    createTopics,
    deleteTopics,
    initProducerId,
    offsetForLeaderEpoch,
    saslAuthenticate,
  ] as ApiCodec<unknown, unknown>[],
);
