/**
 * InitProducerId (key 22), versions 0-5, flexible from 2.
 * Spec: InitProducerIdRequest.json / InitProducerIdResponse.json (Kafka 4.3.1).
 *
 * The schema allows 0-6, but the request marks its latest version unstable
 * (`latestVersionUnstable`: v6 is two-phase commit, KIP-939, only served by
 * brokers with `unstable.api.versions.enable`), so this codec stops at v5 and
 * leaves out v6's Enable2Pc, KeepPreparedTxn, OngoingTxnProducerId and
 * OngoingTxnProducerEpoch.
 *
 * The codec is generated (protocol/messages/init_producer_id.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { InitProducerIdRequest, InitProducerIdResponse } from "../messages/init_producer_id.ts";
import type { InitProducerIdRequest, InitProducerIdResponse } from "../messages/init_producer_id.ts";
import { initProducerId as generated } from "../messages/init_producer_id.ts";

/** The InitProducerId codec (generated). */
export const initProducerId: ApiCodec<InitProducerIdRequest, InitProducerIdResponse> = generated;
