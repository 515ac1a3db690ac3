/**
 * What the kafka-deno contenders of the comparison harness (`bench/run.ts`)
 * share: the job description the harness passes as one JSON argument, the
 * result line they print, payloads, a bounded window of outstanding sends and
 * latency percentiles. The Node contenders (`bench/node/common.mjs`) follow
 * the same contract.
 *
 * Contract: the child gets one argument, a JSON {@linkcode Job}; it logs to
 * stderr and prints exactly one line `RESULT <json>` ({@linkcode Result}) on
 * stdout. Peak RSS is measured from outside by the harness.
 *
 * @module
 */

/** What the harness asks a contender to do. */
export interface Job {
  /** Bootstrap brokers, "host:port". */
  brokers: string[];
  /** The topic (already created by the harness, 6 partitions). */
  topic: string;
  /** Records to produce or consume. */
  records: number;
  /** Value size in bytes. */
  valueSize: number;
  /** 1 or -1 (all). */
  acks: 1 | -1;
  /** "none", "gzip", "snappy", "lz4" or "zstd". */
  codec: string;
  /** Producer linger in ms; undefined leaves the client's default. */
  lingerMs?: number;
  /** Producer batch size in bytes. */
  batchBytes: number;
  /** Records per send() call (1 = one record per call). */
  chunk: number;
  /** Most send() calls outstanding at once. */
  maxOutstanding: number;
  /** Awaited mode: each send() call is awaited before the next (the latency of each is measured). */
  awaited?: boolean;
  /** A file of newline-separated values of `valueSize` bytes each, cycled through. */
  payloadFile?: string;
  /** Consume mode: one record per iteration (`for await` of records) instead of one batch. */
  perRecord?: boolean;
  /** Consumer group id (consume and latency modes). */
  groupId?: string;
  /** Latency mode: records per second. */
  rate?: number;
  /** Latency mode: seconds of timed sending. */
  durationS?: number;
}

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest. */
  max: number;
  /** Samples. */
  count: number;
}

/** What a contender reports (one `RESULT` line). */
export interface Result {
  /** False when the contender could not run the job; `reason` says why. */
  ok: boolean;
  /** Why it could not run. */
  reason?: string;
  /** Records moved. */
  records?: number;
  /** Value bytes moved. */
  bytes?: number;
  /** Seconds measured (see the scenario's definition in bench/README.md). */
  seconds?: number;
  /** Latency percentiles (latency mode). */
  latency?: Percentiles;
  /** Records per second actually offered (latency mode). */
  achievedRate?: number;
  /** Anything worth showing next to the numbers. */
  note?: string;
}

/** Reads the job from the first command-line argument. */
export function readJob(): Job {
  const raw = Deno.args[0];
  if (!raw) throw new Error("usage: <contender> '<job json>'");
  return JSON.parse(raw) as Job;
}

/** Prints the result line the harness parses. */
export function emit(result: Result): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/**
 * The benchmark's values: JSON-like text with varying numbers, so codecs see
 * realistic, semi-compressible data. Value `i` of `size` bytes (ASCII, no newline).
 *
 * @param size Bytes.
 * @param i Which value (the benchmarks use 1,000 distinct ones).
 */
export function payloadText(size: number, i: number): string {
  let s = "";
  while (s.length < size) {
    s += `{"id":${i * 7919 + s.length},"user":"user-${i % 97}","score":${(i * 31) % 1000},"tags":["a${
      i % 13
    }","b${i % 7}"]},`;
  }
  return s.slice(0, size);
}

/** Loads the payload values (one per line), or makes one value of `size` bytes. */
export async function loadPayloads(file: string | undefined, size: number): Promise<Uint8Array[]> {
  if (!file) return [new Uint8Array(size).fill(120)];
  const text = await Deno.readTextFile(file);
  const enc = new TextEncoder();
  const out = text.split("\n").filter((l) => l.length > 0).map((l) => enc.encode(l));
  if (out.length === 0) throw new Error(`${file} holds no payloads`);
  return out;
}

/**
 * Runs `total` jobs with at most `max` outstanding: `start(i)` begins job i.
 * Rejects with the first failure.
 */
export async function windowed(
  total: number,
  max: number,
  start: (i: number) => Promise<unknown>,
): Promise<void> {
  let inFlight = 0;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const done = () => {
    inFlight--;
    const w = wake;
    wake = null;
    w?.();
  };
  for (let i = 0; i < total; i++) {
    while (inFlight >= max && failure === null) await new Promise<void>((r) => wake = r);
    if (failure !== null) break;
    inFlight++;
    start(i).then(done, (e) => {
      failure ??= e;
      done();
    });
  }
  while (inFlight > 0) await new Promise<void>((r) => wake = r);
  if (failure !== null) throw failure;
}

/** p50/p99/p99.9/max of the first `n` samples (sorted in place). */
export function percentiles(samples: Float64Array, n: number): Percentiles {
  const s = samples.subarray(0, n).sort();
  const at = (q: number) => n === 0 ? NaN : s[Math.min(n - 1, Math.ceil(q * n) - 1)];
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: n ? s[n - 1] : NaN, count: n };
}

/** Milliseconds since the epoch with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs a contender's main: prints the result, or a failed result with the error. */
export async function main(run: (job: Job) => Promise<Result>): Promise<void> {
  try {
    emit(await run(readJob()));
  } catch (err) {
    console.error(err);
    emit({ ok: false, reason: `error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300) });
    Deno.exit(1);
  }
  Deno.exit(0);
}
