/**
 * One TCP connection to one broker: correlation ids, pipelining of many
 * requests on the socket, per-request timeouts, the ApiVersions handshake and
 * per-API version negotiation; optionally TLS (src/tls.ts) and SASL with
 * re-authentication (src/sasl.ts, KIP-368).
 *
 * @module
 */

import { apiVersions, type ApiVersionsResponse } from "../protocol/apis/api_versions.ts";
import {
  type ApiCodec,
  decodeResponseFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeRequestFrame,
  FrameReader,
  peekCorrelationId,
  writeRequestFrame,
} from "../protocol/framing.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { Writer } from "../protocol/primitives.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  ConnectionError,
  TimeoutError,
  UnsupportedVersionError,
} from "./errors.ts";
import { authenticate, checkSasl, type SaslOptions } from "./sasl.ts";
import { isCertificateFailure, openTls, resolveTls, tlsError, type TlsSetting } from "./tls.ts";
import { VERSION } from "./version.ts";
import type { BrokerRecorder } from "./observe/metrics.ts";
import { onAbort } from "./abort.ts";

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
  /** TLS: `true` for the default roots with full verification, or TLS settings. Default off. */
  tls?: TlsSetting;
  /** SASL credentials; authentication follows the ApiVersions handshake. Default none. */
  sasl?: SaslOptions;
  /** @internal Where requests, responses and their latencies are counted (the client's metrics). */
  metrics?: BrokerRecorder | null;
  /** Cancels connecting (the dial, the handshake, authentication): it rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Per-request options. */
export interface RequestOptions {
  /** Use this version instead of the negotiated one. */
  version?: number;
  /** Override the connection's request timeout. */
  timeoutMs?: number;
  /** The expected frame size, so a large request is encoded into one buffer without regrowing. */
  sizeHint?: number;
  /**
   * Settle only once every write of the request's bytes has finished or failed, even when the
   * response or a failure comes first: for callers that reuse the memory of the request's byte
   * fields once it settles (the producer's pooled record batches, which large requests reference
   * instead of copying).
   */
  waitForWrite?: boolean;
}

interface Pending {
  resolve(frame: Uint8Array): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  /** For metrics: the API and when the request was written. */
  codec: ApiCodec<unknown, unknown>;
  start: number;
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
  #features = new Map<string, number>();
  #nextId = 1;
  #closeError: Error | null = null;
  readonly #tls: boolean;
  readonly #sasl: SaslOptions | null;
  #reauthTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set while re-authenticating: new requests wait for it (KIP-368 allows no other request meanwhile). */
  #gate: Promise<void> | null = null;
  #onDrained: (() => void) | null = null;
  #responses = 0;
  readonly #metrics: BrokerRecorder | null;
  /** The broker's address, host:port. */
  readonly address: string;

  private constructor(conn: Deno.Conn, address: string, opts: ConnectionOptions) {
    this.#conn = conn;
    this.address = address;
    this.#writer = conn.writable.getWriter();
    this.#clientId = opts.clientId ?? "kafka-deno";
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#tls = !!opts.tls;
    this.#sasl = opts.sasl ?? null;
    this.#metrics = opts.metrics ?? null;
    this.#closed = new Promise((r) => this.#resolveClosed = r);
    this.#readLoop();
  }

  /**
   * Opens a connection (TLS when `tls` is set), performs the ApiVersions
   * handshake and, when `sasl` is set, authenticates.
   *
   * @param opts Where to connect, TLS and SASL settings.
   * @throws {AuthenticationError} when a certificate check or SASL authentication fails; never retried.
   * @throws {ConnectionError} when the broker cannot be reached or drops the connection.
   * @throws {TypeError} for invalid `tls` or `sasl` options.
   */
  static async connect(opts: ConnectionOptions): Promise<Connection> {
    const address = `${opts.host}:${opts.port}`;
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const tls = resolveTls(opts.tls);
    if (opts.sasl !== undefined) checkSasl(opts.sasl);
    const signal = opts.signal;
    signal?.throwIfAborted();
    let conn: Deno.Conn;
    if (tls) {
      conn = await openTls(opts.host, opts.port, tls, timeoutMs, signal);
    } else {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      let tcp: Deno.TcpConn;
      try {
        tcp = await Deno.connect({
          hostname: opts.host,
          port: opts.port,
          signal: signal === undefined ? abort.signal : AbortSignal.any([abort.signal, signal]),
        });
      } catch (cause) {
        if (signal?.aborted) throw signal.reason;
        const why = abort.signal.aborted ? `timed out after ${timeoutMs} ms` : (cause as Error).message;
        opts.metrics?.connected(false);
        throw new ConnectionError(`Cannot connect to ${address}: ${why}`, { broker: address, cause });
      } finally {
        clearTimeout(timer);
      }
      try {
        tcp.setNoDelay(true);
        tcp.setKeepAlive(true);
      } catch {
        // Not every transport supports these options.
      }
      conn = tcp;
    }
    const c = new Connection(conn, address, opts);
    // An abort closes the socket, which fails the handshake's request at once.
    const unlisten = onAbort(signal, () => c.close());
    try {
      await c.#handshake(timeoutMs);
      if (c.#sasl) await c.#authenticate(timeoutMs);
      signal?.throwIfAborted();
      opts.metrics?.connected(true);
    } catch (err) {
      opts.metrics?.connected(false);
      c.close();
      if (signal?.aborted) throw signal.reason;
      // With TLS 1.3 the broker checks our certificate after the handshake, so
      // its verdict arrives as an alert on the first read.
      if (tls && err instanceof ConnectionError && isCertificateFailure(err.cause)) {
        throw tlsError(err.cause, address, tls.clientCert !== null);
      }
      throw err;
    } finally {
      unlisten();
    }
    return c;
  }

  /** Resolves when the connection has closed, for whatever reason. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Why the connection closed (a {@linkcode ClosedError} when it was closed on purpose), or null while open. */
  get closeReason(): Error | null {
    return this.#closeError;
  }

  /**
   * Called when a response says the broker throttled this client (KIP-219
   * quotas): the API's name and the throttle time in ms. Null by default.
   */
  onThrottle: ((api: string, throttleTimeMs: number) => void) | null = null;

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

  /** The cluster-wide finalized feature levels the broker advertised (ApiVersions v3+), by name. */
  get finalizedFeatures(): ReadonlyMap<string, number> {
    return this.#features;
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
      this.#features = new Map((res.finalizedFeatures ?? []).map((f) => [f.name, f.maxVersion]));
      return;
    }
    throw new UnsupportedVersionError(`${this.address} agreed on no ApiVersions version`);
  }

  async #authenticate(timeoutMs: number): Promise<void> {
    const res = await authenticate(
      async (codec, request, version) =>
        decodeResponseFrame(codec, version, await this.#send(codec, version, request, timeoutMs)),
      this.#sasl!,
      { broker: this.address, versionFor: (codec) => this.versionFor(codec as ApiCodec<unknown, unknown>) },
    );
    if (res.sessionLifetimeMs > 0 && !this.#closeError) {
      // KIP-368: re-authenticate before the session ends, at a random point
      // between 85% and 95% of its lifetime (as the Java client does) so that
      // many connections do not re-authenticate at once.
      const delay = res.sessionLifetimeMs * (0.85 + Math.random() * 0.1);
      this.#reauthTimer = setTimeout(() => this.#reauthenticate(), delay);
      Deno.unrefTimer(this.#reauthTimer);
    }
  }

  async #reauthenticate(): Promise<void> {
    this.#reauthTimer = undefined;
    if (this.#closeError) return;
    let open!: () => void;
    this.#gate = new Promise((r) => open = r);
    try {
      // No other request may be in flight during re-authentication. Waiting is
      // bounded: every pending request has its own timeout.
      if (this.#pending.size > 0) {
        await Promise.race([new Promise<void>((r) => this.#onDrained = r), this.#closed]);
        this.#onDrained = null;
      }
      if (this.#closeError) return;
      await this.#authenticate(this.#requestTimeoutMs);
    } catch (err) {
      this.#fail(
        err instanceof AuthenticationError ? err : new AuthenticationError(
          `Re-authentication with ${this.address} failed: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    } finally {
      this.#gate = null;
      open();
    }
  }

  /**
   * The version to use for `codec`: the highest both sides speak.
   *
   * @throws {UnsupportedVersionError} when the ranges do not overlap.
   */
  versionFor(codec: ApiCodec<unknown, unknown>): number {
    const theirs = this.#versions.get(codec.apiKey);
    if (!theirs) {
      throw new UnsupportedVersionError(
        `Broker ${this.address} does not offer ${codec.name} (key ${codec.apiKey}): it speaks no versions of it, we speak v${codec.minVersion}-${codec.maxVersion}`,
      );
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
    while (this.#gate) await this.#gate;
    const version = opts.version ?? this.versionFor(codec as ApiCodec<unknown, unknown>);
    const frame = await this.#send(
      codec,
      version,
      request,
      opts.timeoutMs ?? this.#requestTimeoutMs,
      opts.sizeHint,
      opts.waitForWrite,
    );
    let res: Res;
    try {
      res = decodeResponseFrame(codec, version, frame);
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
    if (this.onThrottle !== null) {
      const t = (res as { throttleTimeMs?: unknown }).throttleTimeMs;
      if (typeof t === "number" && t > 0) this.onThrottle(codec.name, t);
    }
    return res;
  }

  /**
   * Sends a request that gets no response (Produce with acks=0). Resolves once
   * the bytes are handed to the socket.
   */
  async send<Req, Res>(codec: ApiCodec<Req, Res>, request: Req, opts: RequestOptions = {}): Promise<void> {
    while (this.#gate) await this.#gate;
    this.#throwIfClosed();
    const version = opts.version ?? this.versionFor(codec as ApiCodec<unknown, unknown>);
    const id = this.#correlationId();
    const chunks = this.#encode(codec, version, id, request, opts.sizeHint);
    if (this.#metrics) {
      this.#metrics.request(codec.apiKey, codec.name, byteLength(chunks), false, performance.now());
    }
    try {
      for (let i = 0; i < chunks.length - 1; i++) this.#writer.write(chunks[i]).catch(() => {});
      await this.#writer.write(chunks[chunks.length - 1]);
    } catch (cause) {
      this.#fail(new ConnectionError(`Write to ${this.address} failed`, { broker: this.address, cause }));
      throw this.#closeError;
    }
  }

  /**
   * Encodes a request frame. With a size hint (large requests such as Produce),
   * record batches are referenced rather than copied into the frame, and the
   * frame goes out as several chunks, written in order.
   */
  #encode<Req, Res>(
    codec: ApiCodec<Req, Res>,
    version: number,
    correlationId: number,
    request: Req,
    sizeHint?: number,
  ): Uint8Array[] {
    const header = { correlationId, clientId: this.#clientId };
    if (sizeHint === undefined) return [encodeRequestFrame(codec, version, header, request)];
    const w = new Writer(Math.min(sizeHint, 4096), { referenceBytesFrom: 4096 });
    return writeRequestFrame(codec, version, header, request, w).finishChunks();
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
    sizeHint?: number,
    waitForWrite?: boolean,
  ): Promise<Uint8Array> {
    this.#throwIfClosed();
    const id = this.#correlationId();
    const chunks = this.#encode(codec, version, id, request, sizeHint);
    const start = this.#metrics ? performance.now() : 0;
    if (this.#metrics) this.#metrics.request(codec.apiKey, codec.name, byteLength(chunks), true, start);
    const writes: Promise<unknown>[] | null = waitForWrite ? [] : null;
    const response = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late response would arrive out of step with the next requests'
        // expectations; like the Java client, drop the connection.
        this.#fail(
          new TimeoutError(`${codec.name} request to ${this.address} timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#pending.set(id, {
        resolve,
        reject,
        timer,
        codec: codec as ApiCodec<unknown, unknown>,
        start,
      });
      for (const chunk of chunks) {
        const written = this.#writer.write(chunk).catch((cause) => {
          this.#fail(new ConnectionError(`Write to ${this.address} failed`, { broker: this.address, cause }));
        });
        writes?.push(written);
      }
    });
    if (writes === null) return response;
    // allSettled handles a rejection of `response` at once; the result then takes its outcome.
    writes.push(response);
    return Promise.allSettled(writes).then(() => response);
  }

  async #readLoop(): Promise<void> {
    // Read into the frame reader's buffers (a reused one, or a large frame's own): a stream
    // reader would allocate a fresh 64 KiB buffer per read, which the GC sees as external memory.
    const frames = new FrameReader(this.#maxFrameBytes);
    let first = true;
    try {
      while (true) {
        const target = frames.target();
        const n = await this.#conn.read(target);
        if (n === null) break;
        const value = target.subarray(0, n);
        if (
          first && !this.#tls && value.length >= 2 && (value[0] === 0x15 || value[0] === 0x16) &&
          value[1] === 3
        ) {
          // A TLS record header (alert or handshake, version 3.x): no Kafka
          // frame starts like that (it would be over 350 MB).
          this.#fail(
            new ConnectionError(
              `${this.address} answered with TLS: it is an SSL or SASL_SSL listener, connect with the tls option`,
              { broker: this.address },
            ),
          );
          return;
        }
        if (first && value.length >= 4) {
          const size = ((value[0] << 24) | (value[1] << 16) | (value[2] << 8) | value[3]) >>> 0;
          if (
            size > this.#maxFrameBytes ||
            (value.length >= 8 && !this.#pending.has(peekCorrelationId(value.subarray(4))))
          ) {
            this.#fail(
              new ConnectionError(
                `${this.address} does not speak Kafka: ${describeAnswer(value)}. Check the host and port: ` +
                  `they must name a Kafka listener (one of the broker's listeners), not a web server, ` +
                  `REST proxy or other service`,
                { broker: this.address },
              ),
            );
            return;
          }
        }
        first = false;
        for (const frame of frames.commit(n)) this.#dispatch(frame);
      }
      // A SASL listener drops a client that sends anything but ApiVersions before authenticating.
      const hint = !this.#sasl && this.#responses === 1 && this.#pending.size > 0
        ? " right after the ApiVersions handshake (if it is a SASL listener, set the sasl option)"
        : "";
      this.#fail(
        new ConnectionError(`${this.address} closed the connection${hint}`, { broker: this.address }),
      );
    } catch (err) {
      if (this.#closeError) return;
      const e = err instanceof ProtocolError
        ? new ProtocolError(`Bad frame from ${this.address}: ${err.message}`, { cause: err })
        : new ConnectionError(`Read from ${this.address} failed: ${(err as Error).message}`, {
          broker: this.address,
          cause: err,
        });
      this.#fail(e);
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
    this.#responses++;
    if (this.#metrics) this.#metrics.response(p.codec.apiKey, p.codec.name, p.start, frame.length + 4);
    p.resolve(frame);
    if (this.#pending.size === 0) this.#onDrained?.();
  }

  #fail(err: Error): void {
    if (this.#closeError) return;
    this.#closeError = err;
    clearTimeout(this.#reauthTimer);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      this.#metrics?.failed(p.codec.apiKey, p.codec.name, err);
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

function byteLength(chunks: Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/**
 * What the first bytes of an answer that is not a Kafka frame look like, for
 * the error message: a protocol we recognise, else the first line of text, else hex.
 */
function describeAnswer(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 64);
  const text = new TextDecoder("latin1").decode(head);
  const firstLine = text.split(/\r?\n/)[0];
  const printable = /^[\x20-\x7e]+$/.test(firstLine);
  const quoted = printable ? ` ("${firstLine.slice(0, 48)}")` : "";
  if (/^HTTP\/\d/.test(text)) {
    return `its answer looks like HTTP${quoted}`;
  }
  if (text.startsWith("SSH-")) return `its answer looks like SSH${quoted}`;
  if (/^(220|\* OK|\+OK)[ -]/.test(text)) return `its answer looks like a mail or FTP server${quoted}`;
  if (/^(-ERR|\+PONG|-NOAUTH)/.test(text)) return `its answer looks like Redis${quoted}`;
  if (bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 3) {
    return "its answer looks like TLS";
  }
  if (printable) return `it answered with text${quoted}`;
  const hex = [...bytes.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return `it answered bytes that are no Kafka frame (${hex}${bytes.length > 16 ? " ..." : ""})`;
}
