/**
 * OffsetFetch (key 9), versions 1-9, flexible from 6.
 * Spec: OffsetFetchRequest.json / OffsetFetchResponse.json (Kafka 4.3.1).
 *
 * v0 was removed in Kafka 4.0 (KIP-896). v1-7 fetch one group's offsets with
 * top-level `groupId`/`topics`; v8+ (KIP-709) batch them in `groups`. The
 * codec does not translate between the two shapes: the caller picks the one
 * that matches the negotiated version. v10 (topic ids, KIP-848) is marked
 * `latestVersionUnstable` in 4.1.1, so we stop at v9 and the v10-only
 * `TopicId` fields are not modelled.
 *
 * The codec is generated (protocol/messages/offset_fetch.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  OffsetFetchRequest,
  OffsetFetchRequestGroup,
  OffsetFetchRequestTopic,
  OffsetFetchResponse,
  OffsetFetchResponseGroup,
  OffsetFetchResponsePartition,
  OffsetFetchResponseTopic,
} from "../messages/offset_fetch.ts";
import type { OffsetFetchRequest, OffsetFetchResponse } from "../messages/offset_fetch.ts";
import { offsetFetch as generated } from "../messages/offset_fetch.ts";

/**
 * The OffsetFetch codec, negotiated up to v9: later versions change semantics the client does not
 * handle yet (the generated codec speaks them all).
 */
export const offsetFetch: ApiCodec<OffsetFetchRequest, OffsetFetchResponse> = { ...generated, maxVersion: 9 };
