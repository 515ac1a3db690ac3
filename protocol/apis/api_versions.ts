/**
 * ApiVersions (key 18), versions 0-4, flexible from 3.
 * Spec: ApiVersionsRequest.json / ApiVersionsResponse.json (Kafka 4.3.1).
 * The response always travels with response header v0 (KIP-511), which
 * framing.ts handles.
 *
 * The codec is generated (protocol/messages/api_versions.ts); this module keeps
 * the response shape the client uses, with features as name/min/max ranges.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import {
  apiVersions as generated,
  type ApiVersionsResponse as GeneratedResponse,
  type ApiVersionsResponseApiVersion,
} from "../messages/api_versions.ts";
export type { ApiVersionsRequest } from "../messages/api_versions.ts";
import type { ApiVersionsRequest } from "../messages/api_versions.ts";

/** One API the broker supports: see ApiVersionsResponseApiVersion in protocol/messages/api_versions.ts. */
export type ApiVersionRange = ApiVersionsResponseApiVersion;

/** A feature with a version range. */
export interface FeatureRange {
  /** The feature's name. */
  name: string;
  /** Lowest version (supported) or min level (finalized). */
  minVersion: number;
  /** Highest version (supported) or max level (finalized). */
  maxVersion: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** ApiVersions response. */
export interface ApiVersionsResponse {
  /** The top-level error code. */
  errorCode: number;
  /** The APIs the broker supports. */
  apiKeys: ApiVersionRange[];
  /** v1+: throttle time in ms. */
  throttleTimeMs: number;
  /** v3+ tag 0: features the broker supports. */
  supportedFeatures?: FeatureRange[];
  /** v3+ tag 1: epoch of the finalized features, -1 if unknown. */
  finalizedFeaturesEpoch?: bigint;
  /** v3+ tag 2: cluster-wide finalized features. */
  finalizedFeatures?: FeatureRange[];
  /** v3+ tag 3: set by a KRaft controller ready for ZK migration. */
  zkMigrationReady?: boolean;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

function withTags<T extends object>(
  value: T,
  tags: TaggedField[] | undefined,
): T & { taggedFields?: TaggedField[] } {
  if (tags) (value as { taggedFields?: TaggedField[] }).taggedFields = tags;
  return value;
}

/** The ApiVersions codec (generated; features reshaped to name/min/max ranges). */
export const apiVersions: ApiCodec<ApiVersionsRequest, ApiVersionsResponse> = {
  ...generated,
  encodeResponse(w, res, version) {
    const out: GeneratedResponse = {
      errorCode: res.errorCode,
      apiKeys: res.apiKeys,
      throttleTimeMs: res.throttleTimeMs,
      supportedFeatures: (res.supportedFeatures ?? []).map((f) =>
        withTags({ name: f.name, minVersion: f.minVersion, maxVersion: f.maxVersion }, f.taggedFields)
      ),
      finalizedFeaturesEpoch: res.finalizedFeaturesEpoch ?? -1n,
      finalizedFeatures: (res.finalizedFeatures ?? []).map((f) =>
        withTags(
          { name: f.name, maxVersionLevel: f.maxVersion, minVersionLevel: f.minVersion },
          f.taggedFields,
        )
      ),
      zkMigrationReady: res.zkMigrationReady ?? false,
    };
    generated.encodeResponse(w, withTags(out, res.taggedFields), version);
  },
  decodeResponse(r, version) {
    const g = generated.decodeResponse(r, version);
    const res: ApiVersionsResponse = {
      errorCode: g.errorCode,
      apiKeys: g.apiKeys,
      throttleTimeMs: g.throttleTimeMs,
    };
    if (g.supportedFeatures.length > 0) {
      res.supportedFeatures = g.supportedFeatures.map((f) =>
        withTags({ name: f.name, minVersion: f.minVersion, maxVersion: f.maxVersion }, f.taggedFields)
      );
    }
    if (g.finalizedFeaturesEpoch !== -1n) res.finalizedFeaturesEpoch = g.finalizedFeaturesEpoch;
    if (g.finalizedFeatures.length > 0) {
      res.finalizedFeatures = g.finalizedFeatures.map((f) =>
        withTags(
          { name: f.name, minVersion: f.minVersionLevel, maxVersion: f.maxVersionLevel },
          f.taggedFields,
        )
      );
    }
    if (g.zkMigrationReady) res.zkMigrationReady = true;
    return withTags(res, g.taggedFields);
  },
};
