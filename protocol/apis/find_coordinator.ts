/**
 * FindCoordinator (key 10), versions 0-6, flexible from 3.
 * Spec: FindCoordinatorRequest.json / FindCoordinatorResponse.json (Kafka 4.1.1).
 *
 * v0-3 look up one key and answer with top-level fields; v4+ (KIP-699) batch
 * the keys in `coordinatorKeys` and answer with one `coordinators` entry per
 * key. The codec does not translate between the two shapes: the caller picks
 * the one that matches the negotiated version.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import { rArray, rNullableString, rString, rTags, wArray, wNullableString, wString, wTags } from "./_flex.ts";

/** Coordinator key types (the request's `keyType`). */
export const CoordinatorKeyType = {
  /** A consumer group. */
  GROUP: 0,
  /** A transactional id. */
  TRANSACTION: 1,
  /** A share group, keyed "groupId:topicId:partition" (KIP-932, v6+). */
  SHARE: 2,
} as const;
/** A coordinator key type. */
export type CoordinatorKeyType = typeof CoordinatorKeyType[keyof typeof CoordinatorKeyType];

/** FindCoordinator request. */
export interface FindCoordinatorRequest {
  /** v0-3: the coordinator key. Default "". */
  key?: string;
  /** v1+: the key type (see {@linkcode CoordinatorKeyType}). Default 0 (group). */
  keyType?: number;
  /** v4+: the coordinator keys. Default []. */
  coordinatorKeys?: string[];
  /** Unknown tagged fields (v3+). */
  taggedFields?: TaggedField[];
}

/** v4+: the coordinator of one requested key. */
export interface FindCoordinatorResponseCoordinator {
  /** The coordinator key. */
  key: string;
  /** The node id. */
  nodeId: number;
  /** The host name. */
  host: string;
  /** The port. */
  port: number;
  /** The error code, or 0 if there was no error. */
  errorCode: number;
  /** The error message, or null if there was no error. */
  errorMessage: string | null;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** FindCoordinator response. */
export interface FindCoordinatorResponse {
  /** v1+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** v0-3: the error code, or 0 if there was no error. Default 0. */
  errorCode: number;
  /** v1-3: the error message, or null if there was no error. Default null. */
  errorMessage: string | null;
  /** v0-3: the node id. Default 0. */
  nodeId: number;
  /** v0-3: the host name. Default "". */
  host: string;
  /** v0-3: the port. Default 0. */
  port: number;
  /** v4+: each coordinator result. Default []. */
  coordinators: FindCoordinatorResponseCoordinator[];
  /** Unknown tagged fields (v3+). */
  taggedFields?: TaggedField[];
}

const FLEX = 3;

/** The FindCoordinator codec. */
export const findCoordinator: ApiCodec<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: 10,
  name: "FindCoordinator",
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: FLEX,

  // Request fields:
  //   Key              string    0-3
  //   KeyType          int8      1+   default 0, not ignorable
  //   CoordinatorKeys  []string  4+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    // Kafka refuses to drop a non-ignorable field that holds a non-default value.
    if (version < 1 && (req.keyType ?? 0) !== 0) {
      throw new RangeError(`FindCoordinator v${version} cannot send keyType ${req.keyType} (needs v1+)`);
    }
    if (version >= 4 && req.key) {
      throw new RangeError(
        `FindCoordinator v${version} has no key field; put "${req.key}" in coordinatorKeys`,
      );
    }
    if (version < 4 && req.coordinatorKeys && req.coordinatorKeys.length > 0) {
      throw new RangeError(`FindCoordinator v${version} cannot send coordinatorKeys (needs v4+); use key`);
    }
    if (version <= 3) wString(w, flex, req.key ?? "");
    if (version >= 1) w.int8(req.keyType ?? 0);
    if (version >= 4) wArray(w, flex, req.coordinatorKeys ?? [], (w, k) => wString(w, flex, k));
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: FindCoordinatorRequest = {
      key: version <= 3 ? rString(r, flex) : "",
      keyType: version >= 1 ? r.int8() : 0,
      coordinatorKeys: version >= 4 ? rArray(r, flex, (r) => rString(r, flex)) : [],
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs  int32   1+
  //   ErrorCode       int16   0-3
  //   ErrorMessage    string  1-3  nullable 1-3
  //   NodeId          int32   0-3
  //   Host            string  0-3
  //   Port            int32   0-3
  //   Coordinators    []Coordinator  4+
  //     Key           string  4+
  //     NodeId        int32   4+
  //     Host          string  4+
  //     Port          int32   4+
  //     ErrorCode     int16   4+
  //     ErrorMessage  string  4+  nullable 4+
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 1) w.int32(res.throttleTimeMs);
    if (version <= 3) {
      w.int16(res.errorCode);
      if (version >= 1) wNullableString(w, flex, res.errorMessage);
      w.int32(res.nodeId);
      wString(w, flex, res.host);
      w.int32(res.port);
    } else {
      wArray(w, flex, res.coordinators, (w, c) => {
        wString(w, flex, c.key);
        w.int32(c.nodeId);
        wString(w, flex, c.host);
        w.int32(c.port).int16(c.errorCode);
        wNullableString(w, flex, c.errorMessage);
        wTags(w, flex, c.taggedFields);
      });
    }
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: FindCoordinatorResponse = {
      throttleTimeMs: version >= 1 ? r.int32() : 0,
      errorCode: 0,
      errorMessage: null,
      nodeId: 0,
      host: "",
      port: 0,
      coordinators: [],
    };
    if (version <= 3) {
      res.errorCode = r.int16();
      if (version >= 1) res.errorMessage = rNullableString(r, flex);
      res.nodeId = r.int32();
      res.host = rString(r, flex);
      res.port = r.int32();
    } else {
      res.coordinators = rArray(r, flex, (r) => {
        const c: FindCoordinatorResponseCoordinator = {
          key: rString(r, flex),
          nodeId: r.int32(),
          host: rString(r, flex),
          port: r.int32(),
          errorCode: r.int16(),
          errorMessage: rNullableString(r, flex),
        };
        const tags = rTags(r, flex);
        if (tags) c.taggedFields = tags;
        return c;
      });
    }
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
