/**
 * One TCP connection to one broker: correlation ids, pipelining of many
 * requests on the socket, per-request timeouts, the ApiVersions handshake and
 * per-API version negotiation.
 *
 * @module
 */

import { apiVersions, type ApiVersionsResponse } from "../protocol/apis/api_versions.ts";
import {
  type ApiCodec,
  decodeResponseFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeRequestFrame,
  FrameSplitter,
  peekCorrelationId,
} from "../protocol/framing.ts";
import { ProtocolError } from "../protocol/errors.ts";
import {
  BrokerError,
  ClosedError,
  ConnectionError,
  TimeoutError,
  UnsupportedVersionError,
} from "./errors.ts";
import { VERSION } from "./version.ts";

/** How to reach a broker and how long to wait for it. */
export interface ConnectionOptions {
  /** Host name or IP. */
  host: string;
  /** TCP port. */
  port: number;
  /** The client id sent in every request header. */
  clientId?: string;
  /** How long to wait for the TCP connect and the ApiVersions handshake. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default time a request may take. Default 30 s. */
  requestTimeoutMs?: number;
  /** The largest response frame accepted. Default 100 MiB. */
  maxFrameBytes?: number;
}

/** Per-request options. */
export interface RequestOptions {
  /** Use this version instead of the negotiated one. */
  version?: number;
  /** Override the connection's request timeout. */
  timeoutMs?: number;
}

interface Pending {
  resolve(frame: Uint8Array): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  api: string;
}

const API_VERSIONS_UNSUPPORTED = 35;

/**
 * A connection to one broker. Requests are pipelined: many may be in flight,
 * and responses are matched to requests by correlation id.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "./connection.ts";
 * import { metadata } from "../protocol/apis/metadata.ts";
 * const conn = await Connection.connect({ host: "127.0.0.1", port: 9092 });
 * const md = await conn.request(metadata, { topics: null, allowAutoTopicCreation: false });
 * conn.close();
 * ```
 */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, Pending>();
  readonly #clientId: string | null;
  readonly #requestTimeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;
  #versions = new Map<number, { min: number; max: number }>();
  #nextId = 1;
  #closeError: Error | null = null;
  /** The broker's address, host:port. */
  readonly address: string;

  private constructor(conn: Deno.Conn, address: string, opts: ConnectionOptions) {
    this.#conn = conn;
    this.address = address;
    this.#writer = conn.writable.getWriter();
    this.#clientId = opts.clientId ?? "kafka-deno";
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#closed = new Promise((r) => this.#resolveClosed = r);
    this.#readLoop();
  }

  /**
   * Opens a connection and performs the ApiVersions handshake.
   *
   * @param opts Where to connect.
   */
  static async connect(opts: ConnectionOptions): Promise<Connection> {
    const address = `${opts.host}:${opts.port}`;
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: opts.host, port: opts.port, signal: abort.signal });
    } catch (cause) {
      const why = abort.signal.aborted ? `timed out after ${timeoutMs} ms` : (cause as Error).message;
      throw new ConnectionError(`Cannot connect to ${address}: ${why}`, { broker: address, cause });
    } finally {
      clearTimeout(timer);
    }
    try {
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
    } catch {
      // Not every transport supports these options.
    }
    const c = new Connection(conn, address, opts);
    try {
      await c.#handshake(timeoutMs);
    } catch (err) {
      c.close();
      throw err;
    }
    return c;
  }

  /** Resolves when the connection has closed, for whatever reason. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#closeError !== null;
  }

  /** Requests awaiting a response. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** The version ranges the broker advertised, by API key. */
  get brokerVersions(): ReadonlyMap<number, { min: number; max: number }> {
    return this.#versions;
  }

  async #handshake(timeoutMs: number): Promise<void> {
    let version = apiVersions.maxVersion;
    for (let attempt = 0; attempt < 3; attempt++) {
      const frame = await this.#send(apiVersions, version, {
        clientSoftwareName: "kafka-deno",
        clientSoftwareVersion: VERSION,
      }, timeoutMs);
      let res: ApiVersionsResponse;
      try {
        res = decodeResponseFrame(apiVersions, version, frame);
      } catch (err) {
        // A broker that does not speak our version answers in v0 (KIP-511).
        if (version === 0) throw err;
        res = decodeResponseFrame(apiVersions, 0, frame);
      }
      if (res.errorCode === API_VERSIONS_UNSUPPORTED) {
        const own = res.apiKeys.find((k) => k.apiKey === apiVersions.apiKey);
        const next = Math.min(own?.maxVersion ?? 0, apiVersions.maxVersion);
        if (next >= version) version = 0;
        else version = next;
        continue;
      }
      if (res.errorCode !== 0) {
        throw new BrokerError(res.errorCode, { api: "ApiVersions", broker: this.address });
      }
      this.#versions = new Map(res.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
      return;
    }
    throw new UnsupportedVersionError(`${this.address} agreed on no ApiVersions version`);
  }

  /**
   * The version to use for `codec`: the highest both sides speak.
   *
   * @throws {UnsupportedVersionError} when the ranges do not overlap.
   */
  versionFor(codec: ApiCodec<unknown, unknown>): number {
    const theirs = this.#versions.get(codec.apiKey);
    if (!theirs) {
      throw new UnsupportedVersionError(`Broker ${this.address} does not support ${codec.name}`);
    }
    const v = Math.min(theirs.max, codec.maxVersion);
    if (v < Math.max(theirs.min, codec.minVersion)) {
      throw new UnsupportedVersionError(
        `Broker ${this.address} speaks ${codec.name} v${theirs.min}-${theirs.max}, we speak v${codec.minVersion}-${codec.maxVersion}`,
      );
    }
    return v;
  }

  /**
   * Sends a request and resolves with its decoded response.
   *
   * @param codec The API.
   * @param request The request body.
   * @param opts Version and timeout overrides.
   */
  async request<Req, Res>(codec: ApiCodec<Req, Res>, request: Req, opts: RequestOptions = {}): Promise<Res> {
    const version = opts.version ?? this.versionFor(codec as ApiCodec<unknown, unknown>);
    const frame = await this.#send(codec, version, request, opts.timeoutMs ?? this.#requestTimeoutMs);
    try {
      return decodeResponseFrame(codec, version, frame);
    } catch (err) {
      // The stream itself is intact (framing held), but a response we cannot
      // read means we disagree on the protocol; say which request it was.
      if (err instanceof ProtocolError) {
        throw new ProtocolError(`${codec.name} v${version} response from ${this.address}: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * Sends a request that gets no response (Produce with acks=0). Resolves once
   * the bytes are handed to the socket.
   */
  async send<Req, Res>(codec: ApiCodec<Req, Res>, request: Req, opts: RequestOptions = {}): Promise<void> {
    this.#throwIfClosed();
    const version = opts.version ?? this.versionFor(codec as ApiCodec<unknown, unknown>);
    const id = this.#correlationId();
    const frame = encodeRequestFrame(
      codec,
      version,
      { correlationId: id, clientId: this.#clientId },
      request,
    );
    try {
      await this.#writer.write(frame);
    } catch (cause) {
      this.#fail(new ConnectionError(`Write to ${this.address} failed`, { broker: this.address, cause }));
      throw this.#closeError;
    }
  }

  #correlationId(): number {
    const id = this.#nextId;
    this.#nextId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  #throwIfClosed(): void {
    if (this.#closeError) throw this.#closeError;
  }

  #send<Req, Res>(
    codec: ApiCodec<Req, Res>,
    version: number,
    request: Req,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    this.#throwIfClosed();
    const id = this.#correlationId();
    const frame = encodeRequestFrame(
      codec,
      version,
      { correlationId: id, clientId: this.#clientId },
      request,
    );
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late response would arrive out of step with the next requests'
        // expectations; like the Java client, drop the connection.
        this.#fail(
          new TimeoutError(`${codec.name} request to ${this.address} timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, api: codec.name });
      this.#writer.write(frame).catch((cause) => {
        this.#fail(new ConnectionError(`Write to ${this.address} failed`, { broker: this.address, cause }));
      });
    });
  }

  async #readLoop(): Promise<void> {
    const splitter = new FrameSplitter(this.#maxFrameBytes);
    const reader = this.#conn.readable.getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of splitter.push(value)) this.#dispatch(frame);
      }
      this.#fail(new ConnectionError(`${this.address} closed the connection`, { broker: this.address }));
    } catch (err) {
      if (this.#closeError) return;
      const e = err instanceof ProtocolError
        ? new ProtocolError(`Bad frame from ${this.address}: ${err.message}`, { cause: err })
        : new ConnectionError(`Read from ${this.address} failed: ${(err as Error).message}`, {
          broker: this.address,
          cause: err,
        });
      this.#fail(e);
    } finally {
      reader.releaseLock();
    }
  }

  #dispatch(frame: Uint8Array): void {
    const id = peekCorrelationId(frame);
    const p = this.#pending.get(id);
    if (!p) {
      throw new ProtocolError(`Response with unknown correlation id ${id}`);
    }
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(frame);
  }

  #fail(err: Error): void {
    if (this.#closeError) return;
    this.#closeError = err;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#resolveClosed();
  }

  /** Closes the socket; requests in flight reject with {@linkcode ClosedError}. Idempotent. */
  close(): void {
    this.#fail(new ClosedError(`Connection to ${this.address} closed`));
  }
}
