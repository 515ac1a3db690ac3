/**
 * InitProducerId (key 22), versions 0-5, flexible from 2.
 * Spec: InitProducerIdRequest.json / InitProducerIdResponse.json (Kafka 4.1.1).
 *
 * The schema allows 0-6, but the request marks its latest version unstable
 * (`latestVersionUnstable`: v6 is two-phase commit, KIP-939, only served by
 * brokers with `unstable.api.versions.enable`), so this codec stops at v5 and
 * leaves out v6's Enable2Pc, KeepPreparedTxn, OngoingTxnProducerId and
 * OngoingTxnProducerEpoch.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rNullableString, rTags, wNullableString, wTags } from "./_flex.ts";

/** InitProducerId request. */
export interface InitProducerIdRequest {
  /** The transactional id, or null (the default) for an idempotent-only producer. */
  transactionalId?: string | null;
  /** How long the coordinator waits before aborting an idle transaction, in ms. */
  transactionTimeoutMs: number;
  /** v3+: the current producer id, to resume after an epoch error; -1 (the default) for none. */
  producerId?: bigint;
  /** v3+: the current producer epoch; -1 (the default) for none. */
  producerEpoch?: number;
  /** Unknown tagged fields (v2+). */
  taggedFields?: TaggedField[];
}

/** InitProducerId response. */
export interface InitProducerIdResponse {
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** The error code, or 0. */
  errorCode: number;
  /** The producer id, or -1. */
  producerId: bigint;
  /** The producer epoch. */
  producerEpoch: number;
  /** Unknown tagged fields (v2+). */
  taggedFields?: TaggedField[];
}

const FLEX = 2;

/** The InitProducerId codec. */
export const initProducerId: ApiCodec<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: 22,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEX,

  // InitProducerIdRequest 0-6, flexible 2+ (top version unstable):
  //   TransactionalId                      string                       0+    nullable 0+
  //   TransactionTimeoutMs                 int32                        0+
  //   ProducerId                           int64                        3+    default -1
  //   ProducerEpoch                        int16                        3+    default -1
  //   Enable2Pc                            bool                         6+    default false
  //   KeepPreparedTxn                      bool                         6+    default false
  // (v6 is unstable and not spoken here: its fields are listed for comparison only.)
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    wNullableString(w, flex, req.transactionalId ?? null);
    w.int32(req.transactionTimeoutMs);
    if (version >= 3) w.int64(req.producerId ?? -1n).int16(req.producerEpoch ?? -1);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: InitProducerIdRequest = {
      transactionalId: rNullableString(r, flex),
      transactionTimeoutMs: r.int32(),
      producerId: version >= 3 ? r.int64() : -1n,
      producerEpoch: version >= 3 ? r.int16() : -1,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // InitProducerIdResponse 0-6, flexible 2+:
  //   ThrottleTimeMs                       int32                        0+
  //   ErrorCode                            int16                        0+
  //   ProducerId                           int64                        0+    default -1
  //   ProducerEpoch                        int16                        0+
  //   OngoingTxnProducerId                 int64                        6+    default -1
  //   OngoingTxnProducerEpoch              int16                        6+    default -1
  // (v6 is not spoken here: its fields are listed for comparison only.)
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int32(res.throttleTimeMs).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: InitProducerIdResponse = {
      throttleTimeMs: r.int32(),
      errorCode: r.int16(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
