/**
 * ApiVersions (key 18), versions 0-4, flexible from 3.
 * Spec: ApiVersionsRequest.json / ApiVersionsResponse.json (Kafka 4.1.1).
 * The response always travels with response header v0 (KIP-511), which
 * framing.ts handles.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { Writer } from "../primitives.ts";
import type { Reader, TaggedField } from "../primitives.ts";
import { rArray, rString, rTags, wArray, wString, wTags } from "./_flex.ts";

/** ApiVersions request. */
export interface ApiVersionsRequest {
  /** v3+: the client's software name. */
  clientSoftwareName?: string;
  /** v3+: the client's software version. */
  clientSoftwareVersion?: string;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** One API the broker supports. */
export interface ApiVersionRange {
  /** The API key. */
  apiKey: number;
  /** The lowest version, inclusive. */
  minVersion: number;
  /** The highest version, inclusive. */
  maxVersion: number;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** A feature with a version range. */
export interface FeatureRange {
  /** The feature's name. */
  name: string;
  /** Lowest version (supported) or min level (finalized). */
  minVersion: number;
  /** Highest version (supported) or max level (finalized). */
  maxVersion: number;
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

const FLEX = 3;

function readFeatures(r: Reader, finalized: boolean): FeatureRange[] {
  return r.compactArray((r) => {
    const name = r.compactString();
    const a = r.int16();
    const b = r.int16();
    r.taggedFields();
    // Finalized features are written max level first, then min level.
    return finalized ? { name, minVersion: b, maxVersion: a } : { name, minVersion: a, maxVersion: b };
  });
}

function writeFeatures(items: FeatureRange[], finalized: boolean): Uint8Array {
  const w = new Writer(64);
  w.compactArray(items, (w, f) => {
    w.compactString(f.name);
    if (finalized) w.int16(f.maxVersion).int16(f.minVersion);
    else w.int16(f.minVersion).int16(f.maxVersion);
    w.taggedFields();
  });
  return w.finish().slice();
}

/** The ApiVersions codec. */
export const apiVersions: ApiCodec<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: 18,
  name: "ApiVersions",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: FLEX,

  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version >= 3) {
      wString(w, flex, req.clientSoftwareName ?? "");
      wString(w, flex, req.clientSoftwareVersion ?? "");
    }
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: ApiVersionsRequest = {};
    if (version >= 3) {
      req.clientSoftwareName = rString(r, flex);
      req.clientSoftwareVersion = rString(r, flex);
    }
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int16(res.errorCode);
    wArray(w, flex, res.apiKeys, (w, k) => {
      w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion);
      wTags(w, flex, k.taggedFields);
    });
    if (version >= 1) w.int32(res.throttleTimeMs);
    if (flex) {
      const tags: TaggedField[] = [...(res.taggedFields ?? [])];
      if (res.supportedFeatures) tags.push({ tag: 0, data: writeFeatures(res.supportedFeatures, false) });
      if (res.finalizedFeaturesEpoch !== undefined && res.finalizedFeaturesEpoch !== -1n) {
        tags.push({ tag: 1, data: new Writer(8).int64(res.finalizedFeaturesEpoch).finish() });
      }
      if (res.finalizedFeatures) tags.push({ tag: 2, data: writeFeatures(res.finalizedFeatures, true) });
      if (res.zkMigrationReady) tags.push({ tag: 3, data: new Uint8Array([1]) });
      w.taggedFields(tags);
    }
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const errorCode = r.int16();
    const apiKeys = rArray(r, flex, (r) => {
      const k: ApiVersionRange = { apiKey: r.int16(), minVersion: r.int16(), maxVersion: r.int16() };
      const tags = rTags(r, flex);
      if (tags) k.taggedFields = tags;
      return k;
    });
    const res: ApiVersionsResponse = { errorCode, apiKeys, throttleTimeMs: version >= 1 ? r.int32() : 0 };
    const tags = rTags(r, flex, (tag, r) => {
      switch (tag) {
        case 0:
          res.supportedFeatures = readFeatures(r, false);
          return true;
        case 1:
          res.finalizedFeaturesEpoch = r.int64();
          return true;
        case 2:
          res.finalizedFeatures = readFeatures(r, true);
          return true;
        case 3:
          res.zkMigrationReady = r.boolean();
          return true;
      }
      return false;
    });
    if (tags) res.taggedFields = tags;
    return res;
  },
};
