/**
 * Metadata (key 3), versions 0-13, flexible from 9.
 * Spec: MetadataRequest.json / MetadataResponse.json (Kafka 4.3.1).
 *
 * The request's topic list is nullable from v1 (null = every topic); v0 has no
 * null and uses an empty list for "every topic", so a null list is sent as an
 * empty one there. Topic ids appear in v10+, but brokers only honour lookups by
 * id from v12 (the schema's own comment).
 *
 * The codec is generated (protocol/messages/metadata.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type {
  MetadataRequest,
  MetadataRequestTopic,
  MetadataResponse,
  MetadataResponseBroker,
  MetadataResponsePartition,
  MetadataResponseTopic,
} from "../messages/metadata.ts";
import type { MetadataRequest, MetadataResponse } from "../messages/metadata.ts";
import { metadata as generated } from "../messages/metadata.ts";

/**
 * The Metadata codec (generated). v0 has no null topic list and uses an empty
 * one for "every topic", so a null list is sent as an empty one there.
 */
export const metadata: ApiCodec<MetadataRequest, MetadataResponse> = {
  ...generated,
  encodeRequest(w, req, version) {
    generated.encodeRequest(w, version === 0 && req.topics === null ? { ...req, topics: [] } : req, version);
  },
};
