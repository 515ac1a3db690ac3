/**
 * OffsetCommit (key 8), versions 2-9, flexible from 8.
 * Spec: OffsetCommitRequest.json / OffsetCommitResponse.json (Kafka 4.3.1).
 *
 * v0-1 were removed in Kafka 4.0 (KIP-896). v10 (topic ids instead of names,
 * KIP-848) is marked `latestVersionUnstable` in 4.1.1, so a broker only
 * accepts it with `unstable.api.versions.enable=true`; we stop at v9 and the
 * v10-only `TopicId` field is not modelled.
 *
 * The codec is generated (protocol/messages/offset_commit.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  OffsetCommitRequestPartition,
  OffsetCommitRequestTopic,
  OffsetCommitResponse,
  OffsetCommitResponsePartition,
  OffsetCommitResponseTopic,
} from "../messages/offset_commit.ts";
import type {
  OffsetCommitRequest as GeneratedRequest,
  OffsetCommitResponse,
} from "../messages/offset_commit.ts";
import { offsetCommit as generated } from "../messages/offset_commit.ts";

/** OffsetCommit request. `memberId` defaults to "" (no group membership). */
export type OffsetCommitRequest = Omit<GeneratedRequest, "memberId"> & { memberId?: string };

/**
 * The OffsetCommit codec, negotiated up to v9: later versions change semantics the client does not
 * handle yet (the generated codec speaks them all).
 */
export const offsetCommit: ApiCodec<OffsetCommitRequest, OffsetCommitResponse> = {
  ...generated,
  maxVersion: 9,
  encodeRequest(w, req, version) {
    generated.encodeRequest(w, { ...req, memberId: req.memberId ?? "" }, version);
  },
};
