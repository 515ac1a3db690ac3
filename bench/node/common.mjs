// deno-lint-ignore-file explicit-module-boundary-types -- plain JavaScript run by Node; the contract is in bench/contenders/common.ts
// Shared by the Node contenders of bench/run.ts; the same contract as bench/contenders/common.ts:
// argv: <mode> '<job json>'; logs go to stderr; one `RESULT <json>` line goes to stdout.
// Buffer and process are imported (not globals) so that the same files also run on Deno (`deno run -A`).
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";

export function readJob() {
  const [mode, raw] = process.argv.slice(2);
  if (!mode || !raw) {
    throw new Error(
      "usage: node <contender>.mjs produce|awaited|consume|latency '<job json>'",
    );
  }
  return { mode, job: JSON.parse(raw) };
}

export function emit(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

export function loadPayloads(file, size) {
  if (!file) return [Buffer.alloc(size, 120)];
  const out = readFileSync(file, "latin1").split("\n").filter((l) => l.length > 0).map((l) =>
    Buffer.from(l, "latin1")
  );
  if (out.length === 0) throw new Error(`${file} holds no payloads`);
  return out;
}

// Runs `total` jobs with at most `max` outstanding; rejects with the first failure.
export async function windowed(total, max, start) {
  let inFlight = 0;
  let failure = null;
  let wake = null;
  const done = () => {
    inFlight--;
    const w = wake;
    wake = null;
    if (w) w();
  };
  for (let i = 0; i < total; i++) {
    while (inFlight >= max && failure === null) {
      await new Promise((resolve) => {
        wake = resolve;
      });
    }
    if (failure !== null) break;
    inFlight++;
    start(i).then(done, (e) => {
      if (failure === null) failure = e;
      done();
    });
  }
  while (inFlight > 0) {
    await new Promise((resolve) => {
      wake = resolve;
    });
  }
  if (failure !== null) throw failure;
}

export function percentiles(samples, n) {
  const s = samples.subarray(0, n).sort();
  const at = (q) => (n === 0 ? NaN : s[Math.min(n - 1, Math.ceil(q * n) - 1)]);
  return {
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: n ? s[n - 1] : NaN,
    count: n,
  };
}

// Awaited mode: `calls` send() calls of job.chunk records one after another, each awaited (the loop an
// application writes without concurrency); the latency of each call is kept. send(messages) sends one call.
export async function awaitedLoop(job, makeMessage, send) {
  const calls = Math.ceil(job.records / job.chunk);
  const lat = new Float64Array(calls);
  // A short warm-up (connections, metadata), not counted.
  for (let i = 0; i < 20; i++) await send([makeMessage(i)]);
  const t0 = performance.now();
  for (let c = 0; c < calls; c++) {
    const first = c * job.chunk;
    const n = Math.min(job.chunk, job.records - first);
    const messages = new Array(n);
    for (let i = 0; i < n; i++) messages[i] = makeMessage(first + i);
    const t = performance.now();
    await send(messages);
    lat[c] = performance.now() - t;
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    ok: true,
    records: job.records,
    bytes: job.records * job.valueSize,
    seconds,
    latency: percentiles(lat, calls),
  };
}

export const nowMs = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A latency value: float64 epoch ms at bytes 0-7, warm-up marker at byte 8, padding to `size`.
export function stampedValue(size, warm) {
  const v = Buffer.alloc(Math.max(9, size), 120);
  v.writeDoubleBE(nowMs(), 0);
  v[8] = warm ? 1 : 0;
  return v;
}

// The fixed-rate loop of latency mode. send(value) starts one single-record send and returns its promise;
// onValue is handed to the consumer side. Returns the Result.
export async function latencyLoop(job, send, state) {
  const rate = job.rate ?? 5000;
  const total = Math.round(rate * (job.durationS ?? 30));
  let failure = null;
  for (let i = 0; i < 300 && !state.warmedUp; i++) {
    send(stampedValue(job.valueSize, true)).catch((e) => {
      failure ??= e;
    });
    await sleep(100);
  }
  if (!state.warmedUp) {
    return { ok: false, reason: "no warm-up record came back within 30 s" };
  }
  let sent = 0;
  const t0 = performance.now();
  while (sent < total && failure === null) {
    const due = Math.min(
      total,
      Math.floor((performance.now() - t0) * rate / 1000),
    );
    while (sent < due) {
      send(stampedValue(job.valueSize, false)).catch((e) => {
        failure ??= e;
      });
      sent++;
    }
    await sleep(1);
  }
  const sendSeconds = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 30_000;
  while (state.received < total && Date.now() < deadline && failure === null) {
    await sleep(10);
  }
  if (failure !== null) throw failure;
  if (state.received < total) {
    return {
      ok: false,
      reason: `only ${state.received} of ${total} records came back`,
    };
  }
  return {
    ok: true,
    records: total,
    bytes: total * job.valueSize,
    seconds: sendSeconds,
    achievedRate: sent / sendSeconds,
    latency: percentiles(state.lat, state.received),
  };
}

// Consumer side of latency mode: call with each received value.
export function latencyState(job) {
  const total = Math.round((job.rate ?? 5000) * (job.durationS ?? 30));
  const state = {
    warmedUp: false,
    received: 0,
    lat: new Float64Array(total),
    onValue(v, t) {
      if (!v || v.length < 9) return;
      if (v[8] === 1) {
        state.warmedUp = true;
        return;
      }
      if (state.received < total) {
        state.lat[state.received++] = t - v.readDoubleBE(0);
      }
    },
  };
  return state;
}

export async function run(modes) {
  let result;
  try {
    const { mode, job } = readJob();
    const fn = modes[mode];
    if (!fn) throw new Error(`unknown mode ${mode}`);
    result = await fn(job);
  } catch (err) {
    console.error(err);
    result = {
      ok: false,
      reason: `error: ${err?.message ?? err}`.slice(0, 300),
    };
  }
  emit(result);
  process.exit(result.ok ? 0 : 1);
}
