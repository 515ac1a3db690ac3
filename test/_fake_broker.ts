/**
 * A scripted fake broker on 127.0.0.1 for failure-mode tests (never for
 * behaviour that a real broker can show). Each request is handed to a script
 * that answers with raw frame bytes, nothing, or closes the socket.
 *
 * @module
 */

import { apiVersions } from "../protocol/apis/api_versions.ts";
import { initProducerId } from "../protocol/apis/init_producer_id.ts";
import { metadata } from "../protocol/apis/metadata.ts";
import {
  type ApiCodec,
  decodeRequestHeader,
  encodeResponseFrame,
  FrameSplitter,
  type RequestHeader,
} from "../protocol/framing.ts";
import { Reader } from "../protocol/primitives.ts";

/** What the script returns: frame bytes to send, "close" to drop the socket, or null for silence. */
export type FakeReply = Uint8Array | Uint8Array[] | "close" | null;

/** A script: called for every request. */
export type FakeScript = (header: RequestHeader, body: Reader, n: number) => FakeReply | Promise<FakeReply>;

/** The ApiVersions answer a fake broker gives by default: every API at the given range. */
export function apiVersionsReply(
  header: RequestHeader,
  ranges: [number, number, number][] = [[18, 0, 4], [3, 0, 13]],
): Uint8Array {
  const version = Math.min(header.apiVersion, 4);
  return encodeResponseFrame(apiVersions, version, header.correlationId, {
    errorCode: 0,
    apiKeys: ranges.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion })),
    throttleTimeMs: 0,
  });
}

/** Encodes a response frame for a request header. */
export function reply<Req, Res>(codec: ApiCodec<Req, Res>, header: RequestHeader, res: Res): Uint8Array {
  return encodeResponseFrame(codec, header.apiVersion, header.correlationId, res);
}

/**
 * The Metadata answer of a one-node fake cluster: node 0 on 127.0.0.1:`port`, the
 * controller, leading the partitions (by default 1) of one topic (by default "t" with an
 * all-zero id). With a non-zero `errorCode` the topic has that error and no partitions.
 */
export function metadataReply(
  header: RequestHeader,
  port: number,
  topic: { name?: string; topicId?: string; errorCode?: number; partitions?: number } = {},
): Uint8Array {
  const errorCode = topic.errorCode ?? 0;
  return reply(metadata, header, {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 0, host: "127.0.0.1", port, rack: null }],
    clusterId: "fake",
    controllerId: 0,
    topics: [{
      errorCode,
      name: topic.name ?? "t",
      topicId: topic.topicId ?? "AAAAAAAAAAAAAAAAAAAAAA",
      isInternal: false,
      partitions: errorCode !== 0 ? [] : Array.from({ length: topic.partitions ?? 1 }, (_, p) => ({
        errorCode: 0,
        partitionIndex: p,
        leaderId: 0,
        leaderEpoch: 0,
        replicaNodes: [0],
        isrNodes: [0],
        offlineReplicas: [],
      })),
      topicAuthorizedOperations: -2147483648,
    }],
    clusterAuthorizedOperations: -2147483648,
    errorCode: 0,
  });
}

/** A running fake broker. */
export interface FakeBroker extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** "127.0.0.1:port". */
  address: string;
  /** Requests seen, in order. */
  requests: RequestHeader[];
  /** Stops listening and closes every socket. */
  close(): Promise<void>;
}

/** An InitProducerId answer without error: producer id `producerId`, epoch `producerEpoch`. */
export function initProducerIdReply(
  header: RequestHeader,
  producerId: bigint,
  producerEpoch: number,
): Uint8Array {
  return reply(initProducerId, header, {
    throttleTimeMs: 0,
    errorCode: 0,
    producerId,
    producerEpoch,
    ongoingTxnProducerId: -1n,
    ongoingTxnProducerEpoch: -1,
  });
}

/**
 * Starts a fake broker.
 *
 * @param script Answers each request.
 * @param flexible Which (apiKey, version) pairs use request header v2.
 */
export function fakeBroker(
  script: FakeScript,
  flexible: (apiKey: number, version: number) => boolean = (k, v) =>
    k === 18 ? v >= 3 : k === 3 ? v >= 9 : false,
): FakeBroker {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const requests: RequestHeader[] = [];
  let n = 0;
  const serve = async (conn: Deno.Conn) => {
    const splitter = new FrameSplitter();
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const got = await conn.read(buf);
        if (got === null) break;
        for (const frame of splitter.push(buf.slice(0, got))) {
          const r = new Reader(frame);
          const header = decodeRequestHeader(r, flexible);
          requests.push(header);
          const out = await script(header, r, n++);
          if (out === "close") {
            conn.close();
            return;
          }
          if (out) { for (const b of Array.isArray(out) ? out : [out]) await conn.write(b); }
        }
      }
    } catch {
      // the client went away
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        tasks.push(serve(conn));
      }
    } catch {
      // listener closed
    }
  })();
  const close = async () => {
    try {
      listener.close();
    } catch {
      // already closed
    }
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await accepting;
    await Promise.all(tasks);
  };
  return { port, address: `127.0.0.1:${port}`, requests, close, [Symbol.asyncDispose]: close };
}
