/**
 * A fault-injecting TCP proxy for tests: one listener per broker, each
 * forwarding to one target port, with faults switchable at run time.
 *
 * - `latencyMs`: every chunk is delivered this long after it was read, each way
 *   (order kept; the delays overlap like a long link's, they do not add up).
 * - `bandwidthBytesPerSec`: each direction of the whole proxy is paced to this
 *   rate (one shared link).
 * - `resetEveryMs`: every N ms all open connections are cut (both sockets
 *   closed at once, queued bytes dropped). Deno cannot set SO_LINGER, so the
 *   client usually sees an end of stream (or ECONNRESET when unread bytes were
 *   pending), never a graceful protocol close.
 * - {@linkcode FaultProxy.blackHole}: for N ms nothing is forwarded either way;
 *   connections are still accepted and kept (new ones reach the broker only
 *   when the black hole ends), bytes are held like TCP would retransmit them.
 * - {@linkcode FaultProxy.halfClose}: the open connections get a FIN in one
 *   direction (`"toClient"`: the client reads end-of-stream while its own writes
 *   still reach the broker, whose answers are dropped; `"toBroker"`: the
 *   reverse), and nothing else happens until someone closes.
 *
 * In-process API for tests ({@linkcode startFaultProxy}; `close()` ends every
 * socket and timer, so it passes Deno's resource sanitizer), and a CLI:
 *
 *     deno run --allow-net scripts/fault_proxy.ts --routes 9292:9295,9293:9296 \
 *       [--latency-ms 200] [--bandwidth 100000] [--reset-every-ms 3000]
 *
 * The CLI then reads commands from stdin, one per line: `latency <ms>`,
 * `bandwidth <bytes/s>`, `reset-every <ms>`, `blackhole <ms>`, `reset`,
 * `halfclose toClient|toBroker`, `clear`, `stats`.
 *
 * @module
 */

/** One listener: `hostname:listenPort` forwards to `targetHost:targetPort`. */
export interface ProxyRoute {
  /** The port the proxy listens on. */
  listenPort: number;
  /** The port it forwards to. */
  targetPort: number;
  /** The host it forwards to (default 127.0.0.1). */
  targetHost?: string;
}

/** The faults that apply continuously (0 = off). */
export interface Faults {
  /** Added delay each way, in ms. */
  latencyMs: number;
  /** Bytes per second each way, for the whole proxy; 0 = unlimited. */
  bandwidthBytesPerSec: number;
  /** Cut every open connection every this many ms; 0 = never. */
  resetEveryMs: number;
}

/** Counters. */
export interface ProxyStats {
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded client -> broker. */
  bytesUp: number;
  /** Bytes forwarded broker -> client. */
  bytesDown: number;
  /** Connections cut by resets. */
  resets: number;
  /** Bytes queued in the proxy now (held by latency, black hole or bandwidth). */
  queuedBytes: number;
}

/** Which way a half-close goes. */
export type HalfCloseDirection = "toClient" | "toBroker";

/** A running proxy. */
export interface FaultProxy extends AsyncDisposable {
  /** Its routes. */
  readonly routes: readonly ProxyRoute[];
  /** The current faults. */
  faults(): Faults;
  /** Changes some faults (the others stay). */
  setFaults(f: Partial<Faults>): void;
  /** Forwards nothing for `ms` from now (0 ends a black hole). */
  blackHole(ms: number): void;
  /** Whether a black hole is on. */
  inBlackHole(): boolean;
  /** Turns every fault off (and ends a black hole). */
  clear(): void;
  /** Cuts every open connection now; returns how many. */
  resetAll(): number;
  /** Half-closes every open connection; returns how many. */
  halfClose(direction: HalfCloseDirection): number;
  /** Counters. */
  stats(): ProxyStats;
  /** Stops listening and closes every connection and timer. */
  close(): Promise<void>;
}

const CHUNK = 64 * 1024;
/** A direction stops reading when this much is queued (back-pressure). */
const MAX_QUEUED = 4 * 1024 * 1024;
/** The longest single timer wait; waits re-check their condition after it. */
const MAX_PAUSE = 60_000;

interface Item {
  data: Uint8Array | null;
  due: number;
}

class Direction {
  items: Item[] = [];
  bytes = 0;
  discard = false;
  lastDue = 0;
}

class Link {
  closed = false;
  upstream: Deno.TcpConn | null = null;
  readonly up = new Direction();
  readonly down = new Direction();
  private readonly waiters = new Set<() => void>();

  constructor(readonly proxy: Proxy, readonly client: Deno.TcpConn, readonly route: ProxyRoute) {}

  /** Resolves after `ms`, when the link closes, or when poked. */
  pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(Math.max(0, ms), MAX_PAUSE));
      this.waiters.add(done);
    });
  }

  poke(): void {
    for (const w of [...this.waiters]) w();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.client.close();
    } catch {
      // already closed
    }
    try {
      this.upstream?.close();
    } catch {
      // already closed
    }
    this.proxy.queuedBytes -= this.up.bytes + this.down.bytes;
    this.up.items = [];
    this.down.items = [];
    this.up.bytes = this.down.bytes = 0;
    this.poke();
  }

  halfClose(direction: HalfCloseDirection): void {
    const [dir, conn] = direction === "toClient" ? [this.down, this.client] : [this.up, this.upstream];
    dir.discard = true;
    try {
      conn?.closeWrite();
    } catch {
      // already closed
    }
    this.poke();
  }

  async run(): Promise<void> {
    const readClient = this.readLoop(this.client, this.up);
    while (!this.closed && this.proxy.blackHoleLeft() > 0) await this.pause(this.proxy.blackHoleLeft());
    if (!this.closed) {
      try {
        this.upstream = await Deno.connect({
          hostname: this.route.targetHost ?? "127.0.0.1",
          port: this.route.targetPort,
        });
      } catch {
        this.close();
      }
    }
    if (this.closed || !this.upstream) {
      this.close();
      await readClient;
      return;
    }
    const upstream = this.upstream;
    if (this.up.discard) {
      try {
        upstream.closeWrite();
      } catch {
        // closed
      }
    }
    await Promise.all([
      readClient,
      this.readLoop(upstream, this.down),
      this.writeLoop(this.up, upstream, "up"),
      this.writeLoop(this.down, this.client, "down"),
    ]);
    this.close();
  }

  private async readLoop(src: Deno.TcpConn, dir: Direction): Promise<void> {
    for (;;) {
      while (!this.closed && dir.bytes > MAX_QUEUED) await this.pause(MAX_PAUSE);
      if (this.closed) return;
      const buf = new Uint8Array(CHUNK);
      let n: number | null;
      try {
        n = await src.read(buf);
      } catch {
        this.close();
        return;
      }
      if (this.closed) return;
      const now = performance.now();
      const due = Math.max(now + this.proxy.faults().latencyMs, dir.lastDue);
      dir.lastDue = due;
      if (n === null) {
        dir.items.push({ data: null, due });
        this.poke();
        return;
      }
      dir.items.push({ data: buf.subarray(0, n), due });
      dir.bytes += n;
      this.proxy.queuedBytes += n;
      this.poke();
    }
  }

  private async writeLoop(dir: Direction, dst: Deno.TcpConn, way: "up" | "down"): Promise<void> {
    for (;;) {
      while (!this.closed && dir.items.length === 0) await this.pause(MAX_PAUSE);
      if (this.closed) return;
      const item = dir.items[0];
      for (;;) {
        if (this.closed) return;
        const wait = Math.max(item.due - performance.now(), this.proxy.blackHoleLeft());
        if (wait <= 0) break;
        await this.pause(wait);
      }
      if (item.data === null) {
        dir.items.shift();
        if (!dir.discard) {
          try {
            dst.closeWrite();
          } catch {
            // closed
          }
        }
        return;
      }
      let data: Uint8Array = item.data;
      while (data.length > 0) {
        if (this.closed) return;
        if (this.proxy.blackHoleLeft() > 0) {
          await this.pause(this.proxy.blackHoleLeft());
          continue;
        }
        const piece = data.subarray(0, this.proxy.pieceSize());
        const wait = this.proxy.throttle(way, piece.length);
        if (wait > 0) await this.pause(wait);
        if (this.closed) return;
        if (!dir.discard) {
          try {
            let off = 0;
            while (off < piece.length) off += await dst.write(piece.subarray(off));
          } catch {
            this.close();
            return;
          }
          if (way === "up") this.proxy.bytesUp += piece.length;
          else this.proxy.bytesDown += piece.length;
        }
        data = data.subarray(piece.length);
      }
      dir.items.shift();
      dir.bytes -= item.data.length;
      this.proxy.queuedBytes -= item.data.length;
      this.poke();
    }
  }
}

class Proxy implements FaultProxy {
  readonly routes: readonly ProxyRoute[];
  private current: Faults = { latencyMs: 0, bandwidthBytesPerSec: 0, resetEveryMs: 0 };
  private blackHoleUntil = 0;
  private blackHoleTimer: ReturnType<typeof setTimeout> | undefined;
  private resetTimer: ReturnType<typeof setInterval> | undefined;
  private readonly links = new Set<Link>();
  private readonly running = new Set<Promise<void>>();
  private readonly listeners: Deno.TcpListener[] = [];
  private readonly clock = { up: 0, down: 0 };
  private closing = false;
  accepted = 0;
  bytesUp = 0;
  bytesDown = 0;
  resets = 0;
  queuedBytes = 0;

  constructor(routes: ProxyRoute[], hostname: string) {
    this.routes = routes;
    try {
      for (const r of routes) this.listeners.push(Deno.listen({ hostname, port: r.listenPort }));
    } catch (err) {
      for (const l of this.listeners) l.close();
      throw err;
    }
    this.listeners.forEach((l, i) => this.track(this.acceptLoop(l, routes[i])));
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    p.finally(() => this.running.delete(p));
  }

  private async acceptLoop(listener: Deno.TcpListener, route: ProxyRoute): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      if (this.closing) {
        conn.close();
        return;
      }
      this.accepted++;
      const link = new Link(this, conn, route);
      this.links.add(link);
      this.track(link.run().finally(() => this.links.delete(link)));
    }
  }

  faults(): Faults {
    return { ...this.current };
  }

  setFaults(f: Partial<Faults>): void {
    for (const [k, v] of Object.entries(f)) {
      if (!(k in this.current)) throw new TypeError(`unknown fault "${k}"`);
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new TypeError(`fault ${k} must be a number >= 0, got ${v}`);
      }
    }
    const resetChanged = f.resetEveryMs !== undefined && f.resetEveryMs !== this.current.resetEveryMs;
    this.current = { ...this.current, ...f };
    if (resetChanged) {
      clearInterval(this.resetTimer);
      this.resetTimer = undefined;
      if (this.current.resetEveryMs > 0) {
        this.resetTimer = setInterval(() => this.resetAll(), this.current.resetEveryMs);
      }
    }
    this.pokeAll();
  }

  blackHole(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`black hole length must be >= 0 ms, got ${ms}`);
    clearTimeout(this.blackHoleTimer);
    this.blackHoleTimer = undefined;
    this.blackHoleUntil = ms > 0 ? performance.now() + ms : 0;
    // Wake everyone when it ends, so waits need not poll.
    if (ms > 0) this.blackHoleTimer = setTimeout(() => this.pokeAll(), ms + 1);
    this.pokeAll();
  }

  inBlackHole(): boolean {
    return this.blackHoleLeft() > 0;
  }

  blackHoleLeft(): number {
    return this.blackHoleUntil === 0 ? 0 : Math.max(0, this.blackHoleUntil - performance.now());
  }

  clear(): void {
    this.setFaults({ latencyMs: 0, bandwidthBytesPerSec: 0, resetEveryMs: 0 });
    this.blackHole(0);
  }

  resetAll(): number {
    const n = this.links.size;
    for (const l of [...this.links]) l.close();
    this.resets += n;
    return n;
  }

  halfClose(direction: HalfCloseDirection): number {
    if (direction !== "toClient" && direction !== "toBroker") {
      throw new TypeError(`half-close direction must be "toClient" or "toBroker", got ${direction}`);
    }
    for (const l of this.links) l.halfClose(direction);
    return this.links.size;
  }

  /** The largest piece written at once: small under a bandwidth limit, so pacing is smooth. */
  pieceSize(): number {
    const rate = this.current.bandwidthBytesPerSec;
    return rate > 0 ? Math.max(1, Math.min(CHUNK, Math.floor(rate / 50))) : CHUNK;
  }

  /** Books `n` bytes on a direction's virtual clock; how long to wait before sending them. */
  throttle(way: "up" | "down", n: number): number {
    const rate = this.current.bandwidthBytesPerSec;
    if (rate <= 0) return 0;
    const now = performance.now();
    const start = Math.max(now, this.clock[way]);
    this.clock[way] = start + (n * 1000) / rate;
    return start - now;
  }

  private pokeAll(): void {
    for (const l of this.links) l.poke();
  }

  stats(): ProxyStats {
    return {
      accepted: this.accepted,
      open: this.links.size,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      resets: this.resets,
      queuedBytes: this.queuedBytes,
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.resetTimer);
    clearTimeout(this.blackHoleTimer);
    for (const l of this.listeners) {
      try {
        l.close();
      } catch {
        // closed
      }
    }
    for (const l of [...this.links]) l.close();
    for (let i = 0; i < 100 && this.running.size > 0; i++) {
      await Promise.allSettled([...this.running]);
      for (const l of [...this.links]) l.close();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Starts a proxy listening on `hostname` (default 127.0.0.1), one listener per route, with no faults. */
export function startFaultProxy(
  opts: { routes: ProxyRoute[]; hostname?: string; faults?: Partial<Faults> },
): Promise<FaultProxy> {
  if (!Array.isArray(opts.routes) || opts.routes.length === 0) {
    throw new TypeError("startFaultProxy needs at least one route");
  }
  const proxy = new Proxy(opts.routes, opts.hostname ?? "127.0.0.1");
  if (opts.faults) proxy.setFaults(opts.faults);
  return Promise.resolve(proxy);
}

function parseArgs(args: string[]): { routes: ProxyRoute[]; faults: Partial<Faults> } {
  const routes: ProxyRoute[] = [];
  const faults: Partial<Faults> = {};
  for (let i = 0; i < args.length; i++) {
    const v = args[i + 1];
    switch (args[i]) {
      case "--routes":
        for (const r of (v ?? "").split(",")) {
          const m = /^(\d+):(?:([^:]+):)?(\d+)$/.exec(r.trim());
          if (!m) {
            throw new Error(`bad route "${r}": want listenPort:targetPort or listenPort:host:targetPort`);
          }
          routes.push({ listenPort: Number(m[1]), targetHost: m[2], targetPort: Number(m[3]) });
        }
        break;
      case "--latency-ms":
        faults.latencyMs = Number(v);
        break;
      case "--bandwidth":
        faults.bandwidthBytesPerSec = Number(v);
        break;
      case "--reset-every-ms":
        faults.resetEveryMs = Number(v);
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
    i++;
  }
  if (routes.length === 0) throw new Error("usage: fault_proxy.ts --routes listen:target[,...] [faults]");
  return { routes, faults };
}

function command(proxy: FaultProxy, line: string): string {
  const [cmd, arg] = line.trim().split(/\s+/);
  switch (cmd) {
    case "":
      return "";
    case "latency":
      proxy.setFaults({ latencyMs: Number(arg) });
      break;
    case "bandwidth":
      proxy.setFaults({ bandwidthBytesPerSec: Number(arg) });
      break;
    case "reset-every":
      proxy.setFaults({ resetEveryMs: Number(arg) });
      break;
    case "blackhole":
      proxy.blackHole(Number(arg));
      break;
    case "reset":
      return `reset ${proxy.resetAll()} connections`;
    case "halfclose":
      return `half-closed ${proxy.halfClose(arg as HalfCloseDirection)} connections`;
    case "clear":
      proxy.clear();
      break;
    case "stats":
      return JSON.stringify(proxy.stats());
    default:
      return `unknown command "${cmd}"`;
  }
  return JSON.stringify(proxy.faults());
}

if (import.meta.main) {
  try {
    const { routes, faults } = parseArgs(Deno.args);
    const proxy = await startFaultProxy({ routes, faults });
    console.error(
      `fault proxy: ${routes.map((r) => `${r.listenPort}->${r.targetPort}`).join(", ")}; faults ${
        JSON.stringify(proxy.faults())
      }`,
    );
    const stop = () => {
      proxy.close().then(() => Deno.exit(0));
    };
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const out = command(proxy, line);
          if (out) console.log(out);
        } catch (err) {
          console.log((err as Error).message);
        }
      }
    }
    // stdin closed (e.g. a background proxy): keep serving until a signal.
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}
