/**
 * Several scripted fake brokers that share one view of a cluster (which node
 * is the controller, which node leads each partition and with which leader
 * epoch), for routing failure modes: a request sent to the wrong node, a
 * leader that moved, an epoch that went up. Each node answers ApiVersions and
 * Metadata from the shared state; everything else goes to the test's script.
 *
 * @module
 */

import { type ApiCodec, isFlexible } from "../protocol/framing.ts";
import { API_CODECS } from "../protocol/mod.ts";
import { metadata } from "../protocol/apis/metadata.ts";
import type { RequestHeader } from "../protocol/framing.ts";
import { type Reader, ZERO_UUID } from "../protocol/primitives.ts";
import { apiVersionsReply, type FakeBroker, fakeBroker, type FakeReply, reply } from "./_fake_broker.ts";

const BY_KEY = new Map(API_CODECS.map((c) => [c.apiKey, c as ApiCodec<unknown, unknown>]));

/** A partition in the shared state. */
export interface FakePartition {
  /** The leader's node id. */
  leader: number;
  /** The leader epoch. */
  epoch: number;
}

/** The shared cluster state; tests change it as they go. */
export interface FakeClusterState {
  /** The controller id that Metadata reports. */
  controllerId: number;
  /** Topics by name. */
  topics: Map<string, { topicId: string; partitions: FakePartition[] }>;
}

/** Answers a request other than ApiVersions/Metadata; undefined = silence. */
export type FakeNodeScript = (
  node: number,
  header: RequestHeader,
  body: Reader,
) => FakeReply | undefined | Promise<FakeReply | undefined>;

/** A running fake cluster. */
export interface FakeCluster extends AsyncDisposable {
  /** The nodes, by node id (0, 1, ...). */
  nodes: FakeBroker[];
  /** The shared state. */
  state: FakeClusterState;
  /** The requests each node saw, as [node, apiKey]. */
  log: [number, number][];
  /** Decodes a request body with the codec of its API. */
  decode<T>(header: RequestHeader, body: Reader): T;
  /** Encodes a response for a request. */
  reply<Res>(header: RequestHeader, res: Res): Uint8Array;
  /** Stops every node. */
  close(): Promise<void>;
}

/** Every implemented API at its full version range. */
function allRanges(): [number, number, number][] {
  return API_CODECS.map((c) => [c.apiKey, c.minVersion, c.maxVersion]);
}

/**
 * Starts `n` fake brokers (node ids 0..n-1) on 127.0.0.1.
 *
 * @param n How many.
 * @param state The initial shared state.
 * @param script Answers the other requests.
 */
export function fakeCluster(n: number, state: FakeClusterState, script: FakeNodeScript): FakeCluster {
  const log: [number, number][] = [];
  const flexible = (k: number, v: number) => {
    const c = BY_KEY.get(k);
    return c ? isFlexible(c, v) : false;
  };
  const nodes: FakeBroker[] = [];
  for (let id = 0; id < n; id++) {
    nodes.push(fakeBroker(async (h, body) => {
      log.push([id, h.apiKey]);
      if (h.apiKey === 18) return apiVersionsReply(h, allRanges());
      if (h.apiKey === 3) {
        const req = metadata.decodeRequest(body, h.apiVersion);
        const names = req.topics === null ? [...state.topics.keys()] : req.topics.map((t) => t.name ?? "");
        return reply(metadata, h, {
          throttleTimeMs: 0,
          brokers: nodes.map((b, nodeId) => ({ nodeId, host: "127.0.0.1", port: b.port, rack: null })),
          clusterId: "fake",
          controllerId: state.controllerId,
          topics: names.map((name) => {
            const t = state.topics.get(name);
            return {
              errorCode: t ? 0 : 3,
              name,
              topicId: t?.topicId ?? ZERO_UUID,
              isInternal: false,
              partitions: (t?.partitions ?? []).map((p, i) => ({
                errorCode: 0,
                partitionIndex: i,
                leaderId: p.leader,
                leaderEpoch: p.epoch,
                replicaNodes: [p.leader],
                isrNodes: [p.leader],
                offlineReplicas: [],
              })),
              topicAuthorizedOperations: -2147483648,
            };
          }),
          clusterAuthorizedOperations: -2147483648,
          errorCode: 0,
        });
      }
      return (await script(id, h, body)) ?? null;
    }, flexible));
  }
  const close = async () => {
    await Promise.all(nodes.map((b) => b.close()));
  };
  return {
    nodes,
    state,
    log,
    decode<T>(header: RequestHeader, body: Reader): T {
      return BY_KEY.get(header.apiKey)!.decodeRequest(body, header.apiVersion) as T;
    },
    reply<Res>(header: RequestHeader, res: Res): Uint8Array {
      return reply(BY_KEY.get(header.apiKey) as ApiCodec<unknown, Res>, header, res);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
