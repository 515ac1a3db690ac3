/**
 * DeleteTopics (key 20), versions 1-6, flexible from 4.
 * Spec: DeleteTopicsRequest.json / DeleteTopicsResponse.json (Kafka 4.1.1).
 *
 * v6 replaces the request's list of names (`topicNames`, v1-5) with a list of
 * `topics`, each named by name or by id. The codec carries both lists; the one
 * a version lacks is not sent and decodes as empty.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import { type TaggedField, type Writer, ZERO_UUID } from "../primitives.ts";
import { rArray, rNullableString, rString, rTags, wArray, wNullableString, wString, wTags } from "./_flex.ts";

/** A topic to delete, by name or by id (v6+). */
export interface DeleteTopicState {
  /** The topic name, or null (the default) to delete by id. */
  name?: string | null;
  /** The topic id, or {@linkcode ZERO_UUID} (the default) to delete by name. */
  topicId?: string;
  /** Unknown tagged fields. */
  taggedFields?: TaggedField[];
}

/** DeleteTopics request. */
export interface DeleteTopicsRequest {
  /** v6+: the topics to delete. Default []. */
  topics?: DeleteTopicState[];
  /** v1-5: the names of the topics to delete. Default []. */
  topicNames?: string[];
  /** How long to wait for the deletions, in ms. */
  timeoutMs: number;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** The result of deleting one topic. */
export interface DeletableTopicResult {
  /** The topic name; may be null from v6 (a topic deleted by an unknown id). */
  name: string | null;
  /** v6+: the topic id; {@linkcode ZERO_UUID} when absent. */
  topicId: string;
  /** The error code, or 0. */
  errorCode: number;
  /** v5+: the error message, or null. */
  errorMessage: string | null;
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

/** DeleteTopics response. */
export interface DeleteTopicsResponse {
  /** Throttle time in ms. */
  throttleTimeMs: number;
  /** One result per topic. */
  responses: DeletableTopicResult[];
  /** Unknown tagged fields (v4+). */
  taggedFields?: TaggedField[];
}

const FLEX = 4;

function wName(w: Writer, flex: boolean, name: string | null, version: number): void {
  if (version >= 6) return wNullableString(w, flex, name);
  if (name === null) throw new TypeError(`DeleteTopics v${version} cannot carry a null topic name`);
  wString(w, flex, name);
}

/** The DeleteTopics codec. */
export const deleteTopics: ApiCodec<DeleteTopicsRequest, DeleteTopicsResponse> = {
  apiKey: 20,
  name: "DeleteTopics",
  minVersion: 1,
  maxVersion: 6,
  flexibleFrom: FLEX,

  // DeleteTopicsRequest 1-6, flexible 4+:
  //   Topics                               []DeleteTopicState           6+
  //     Name                               string                       6+    nullable 6+ default null
  //     TopicId                            uuid                         6+
  //   TopicNames                           []string                     0-5
  //   TimeoutMs                            int32                        0+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version >= 6) {
      wArray(w, flex, req.topics ?? [], (w, t) => {
        wNullableString(w, flex, t.name ?? null);
        w.uuid(t.topicId ?? ZERO_UUID);
        wTags(w, flex, t.taggedFields);
      });
    } else {
      wArray(w, flex, req.topicNames ?? [], (w, name) => wString(w, flex, name));
    }
    w.int32(req.timeoutMs);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const topics = version >= 6
      ? rArray(r, flex, (r): DeleteTopicState => {
        const t: DeleteTopicState = { name: rNullableString(r, flex), topicId: r.uuid() };
        const tags = rTags(r, flex);
        if (tags) t.taggedFields = tags;
        return t;
      })
      : [];
    const topicNames = version <= 5 ? rArray(r, flex, (r) => rString(r, flex)) : [];
    const req: DeleteTopicsRequest = { topics, topicNames, timeoutMs: r.int32() };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // DeleteTopicsResponse 1-6, flexible 4+:
  //   ThrottleTimeMs                       int32                        1+
  //   Responses                            []DeletableTopicResult       0+
  //     Name                               string                       0+    nullable 6+
  //     TopicId                            uuid                         6+
  //     ErrorCode                          int16                        0+
  //     ErrorMessage                       string                       5+    nullable 5+ default null
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    w.int32(res.throttleTimeMs);
    wArray(w, flex, res.responses, (w, t) => {
      wName(w, flex, t.name, version);
      if (version >= 6) w.uuid(t.topicId);
      w.int16(t.errorCode);
      if (version >= 5) wNullableString(w, flex, t.errorMessage);
      wTags(w, flex, t.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const throttleTimeMs = r.int32();
    const responses = rArray(r, flex, (r): DeletableTopicResult => {
      const t: DeletableTopicResult = {
        name: version >= 6 ? rNullableString(r, flex) : rString(r, flex),
        topicId: version >= 6 ? r.uuid() : ZERO_UUID,
        errorCode: r.int16(),
        errorMessage: version >= 5 ? rNullableString(r, flex) : null,
      };
      const tags = rTags(r, flex);
      if (tags) t.taggedFields = tags;
      return t;
    });
    const res: DeleteTopicsResponse = { throttleTimeMs, responses };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
