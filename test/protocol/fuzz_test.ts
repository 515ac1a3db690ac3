/**
 * A seeded, reproducible fuzz of every decoder that reads bytes from the
 * network: response frames of every API at every version, record batches
 * (through the Fetch response path), the consumer protocol, request frames (for
 * fake brokers) and the FrameSplitter. Inputs start from valid frames (the
 * golden frames recorded from Kafka 4.1.1, plus Fetch responses carrying the
 * golden compressed batches) and are mutated: bit flips, boundary bytes, huge
 * length prefixes and varints, truncation, splices, duplicated and deleted
 * ranges, and decoding at the wrong version.
 *
 * Only ProtocolError (or a subclass) may escape a decoder. A successful decode
 * must not hold more array elements than the frame has bytes, nor more string
 * characters than twice that (UUIDs expand 16 bytes to 22 characters): the
 * Reader bounds counts by the bytes left. Compressed record batches are bounded
 * by maxDecompressedBytes instead.
 *
 * The seed is printed; rerun a failure with KAFKA_DENO_FUZZ_SEED=<seed>
 * (KAFKA_DENO_FUZZ_SEED=random picks a new one). KAFKA_DENO_FUZZ_SCALE
 * multiplies the case counts (default 1).
 */

import assert from "node:assert/strict";
import {
  API_CODECS,
  type ApiCodec,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  decodeRecordBatches,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeResponseFrame,
  fetch,
  type FetchResponse,
  FrameSplitter,
  isFlexible,
  joinGroup,
  type JoinGroupResponse,
  ProtocolError,
  Reader,
  syncGroup,
  type SyncGroupResponse,
  Writer,
} from "../../protocol/mod.ts";
import { GENERATED_APIS, type GeneratedApi } from "../../protocol/messages/mod.ts";
import { loadSchemas } from "../../scripts/gen_protocol.ts";
import { toHex } from "../_shared.ts";
import { flexFromOf, HAVE_SCHEMAS, Model, SCHEMAS } from "./_schema_model.ts";

// ---------------------------------------------------------------------------------------------
// Seed and PRNG

const DEFAULT_SEED = 0x6b61666b; // "kafk"

function chooseSeed(): number {
  const env = Deno.env.get("KAFKA_DENO_FUZZ_SEED");
  if (env === undefined || env === "") return DEFAULT_SEED;
  if (env === "random") return crypto.getRandomValues(new Uint32Array(1))[0];
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`KAFKA_DENO_FUZZ_SEED must be an integer 0..2^32-1 or "random", got "${env}"`);
  }
  return n;
}

const SEED = chooseSeed();
const SCALE = Number(Deno.env.get("KAFKA_DENO_FUZZ_SCALE") || 1);
if (!(SCALE > 0 && SCALE <= 1000)) {
  throw new RangeError(`KAFKA_DENO_FUZZ_SCALE must be in (0, 1000], got ${SCALE}`);
}
console.log(`fuzz seed ${SEED} (rerun with KAFKA_DENO_FUZZ_SEED=${SEED})`);

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same cases. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A uniform uint32. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus

interface Seed {
  codec: ApiCodec<unknown, unknown>;
  version: number;
  direction: "request" | "response";
  /** The frame body, without its size prefix. */
  body: Uint8Array;
}

const GOLDEN = new URL("../fixtures/golden/", import.meta.url);
const BATCHES = new URL("../fixtures/batches/", import.meta.url);
const BY_KEY = new Map(API_CODECS.map((c) => [c.apiKey, c]));

function loadCorpus(): Seed[] {
  const index: { file: string; apiKey: number; apiVersion: number; direction: "request" | "response" }[] =
    JSON
      .parse(Deno.readTextFileSync(new URL("index.json", GOLDEN)));
  return index.map((f) => ({
    codec: BY_KEY.get(f.apiKey)!,
    version: f.apiVersion,
    direction: f.direction,
    body: Deno.readFileSync(new URL(f.file, GOLDEN)).subarray(4),
  }));
}

/** The golden record batches (another test's fixtures), when present. */
function loadBatches(): Uint8Array[] {
  try {
    return [...Deno.readDirSync(BATCHES)].filter((e) => e.name.endsWith(".bin")).sort((a, b) =>
      a.name.localeCompare(b.name)
    ).map((e) => Deno.readFileSync(new URL(e.name, BATCHES)));
  } catch {
    console.log("fuzz: test/fixtures/batches is absent; record batches come from the golden frames only");
    return [];
  }
}

/** Fetch responses at every version whose partitions carry each golden batch file (compressed ones too). */
function fetchSeedsWithBatches(corpus: Seed[], batches: Uint8Array[]): Seed[] {
  const out: Seed[] = [];
  for (const s of corpus) {
    if (s.codec !== fetch || s.direction !== "response") continue;
    const res = decodeResponseFrame(fetch, s.version, s.body) as FetchResponse;
    if (res.responses.length === 0 || res.responses[0].partitions.length === 0) continue;
    for (const b of batches) {
      const copy = structuredClone(res);
      copy.responses[0].partitions[0].records = b;
      const frame = encodeResponseFrame(fetch, s.version, 1, copy);
      out.push({ ...s, body: frame.subarray(4) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations

const BOUNDARY_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const BOUNDARY_INT32 = [0, 1, -1, -2, 0x7fffffff, -0x80000000, 0x7fff, 0x8000, 0xffff, 0x10000, 0x01000000];
const HUGE_VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xff, 0xff, 0xff, 0xff, 0x07],
  [0x80, 0x80, 0x80, 0x80, 0x80],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0x80, 0x80, 0x04],
];

function mutate(rng: Rng, input: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  let b = input.slice();
  // Mostly one mutation, so that many cases get deep into the decoder; sometimes a few.
  const steps = rng.chance(0.7) ? 1 : 2 + rng.int(3);
  for (let s = 0; s < steps; s++) {
    const pos = rng.int(b.length);
    switch (rng.int(10)) {
      case 0: // flip a bit
        if (b.length) b[pos] ^= 1 << rng.int(8);
        break;
      case 1: // a boundary byte
        if (b.length) b[pos] = rng.pick(BOUNDARY_BYTES);
        break;
      case 2: { // a boundary int16/int32 (lengths, counts)
        const width = rng.chance(0.5) ? 2 : 4;
        if (pos + width <= b.length) {
          const v = rng.pick(BOUNDARY_INT32);
          const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
          if (width === 2) view.setInt16(pos, v);
          else view.setInt32(pos, v);
        }
        break;
      }
      case 3: { // a huge varint (compact lengths, tagged-field counts)
        const v = rng.pick(HUGE_VARINTS);
        const out = new Uint8Array(b.length + v.length);
        out.set(b.subarray(0, pos));
        out.set(v, pos);
        out.set(b.subarray(pos), pos + v.length);
        b = rng.chance(0.5) ? out : out.subarray(0, b.length); // insert, or overwrite
        break;
      }
      case 4: // truncate
        b = b.subarray(0, pos);
        break;
      case 5: { // splice in a range of another frame
        const other = rng.pick(corpus);
        const from = rng.int(other.length);
        const len = rng.int(Math.min(64, other.length - from) + 1);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, pos));
        out.set(other.subarray(from, from + len), pos);
        out.set(b.subarray(pos), pos + len);
        b = out;
        break;
      }
      case 6: { // duplicate a range
        const len = rng.int(Math.min(32, b.length - pos) + 1);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, pos + len));
        out.set(b.subarray(pos, pos + len), pos + len);
        out.set(b.subarray(pos + len), pos + 2 * len);
        b = out;
        break;
      }
      case 7: { // delete a range
        const len = rng.int(Math.min(16, b.length - pos) + 1);
        const out = new Uint8Array(b.length - len);
        out.set(b.subarray(0, pos));
        out.set(b.subarray(pos + len), pos);
        b = out;
        break;
      }
      case 8: // a random byte
        if (b.length) b[pos] = rng.int(256);
        break;
      case 9: { // append garbage
        const extra = new Uint8Array(1 + rng.int(8));
        for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
        const out = new Uint8Array(b.length + extra.length);
        out.set(b);
        out.set(extra, b.length);
        b = out;
        break;
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Checks

class FuzzFailure extends Error {}

/** Array elements and string characters held by a decoded value (views are not copies). */
function measure(value: unknown, depth = 0): { elements: number; chars: number; objects: number } {
  const m = { elements: 0, chars: 0, objects: 0 };
  const walk = (v: unknown, d: number) => {
    if (d > 64) throw new FuzzFailure("Decoded value nests deeper than 64 levels");
    if (typeof v === "string") m.chars += v.length;
    else if (Array.isArray(v)) {
      m.elements += v.length;
      for (const x of v) walk(x, d + 1);
    } else if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v)) {
      m.objects++;
      for (const x of Object.values(v)) walk(x, d + 1);
    }
  };
  walk(value, depth);
  return m;
}

function assertBounded(what: string, value: unknown, inputBytes: number): void {
  const { elements, chars } = measure(value);
  // A UUID's 16 bytes become 22 characters, and absent ones default to the shared ZERO_UUID
  // constant, so characters get twice the room.
  if (elements > inputBytes || chars > 2 * inputBytes) {
    throw new FuzzFailure(
      `${what} decoded ${elements} array elements and ${chars} string characters from ${inputBytes} bytes`,
    );
  }
}

interface Stats {
  cases: number;
  decoded: number;
  rejected: number;
}

/** Runs one case: only a ProtocolError may escape `fn`. */
function runCase(stats: Stats, name: string, n: number, input: Uint8Array, fn: () => void): void {
  stats.cases++;
  try {
    fn();
    stats.decoded++;
  } catch (err) {
    if (err instanceof ProtocolError) {
      stats.rejected++;
      return;
    }
    const shown = input.length > 512
      ? `${toHex(input.subarray(0, 512))} ... (${input.length} bytes)`
      : toHex(input);
    assert.fail(
      `${name}, case ${n}, seed ${SEED}: ${(err as Error)?.constructor?.name} escaped: ${
        (err as Error)?.stack ?? err
      }\ninput: ${shown}`,
    );
  }
}

const MAX_DECOMPRESSED = 1 << 20;

function checkRecords(what: string, records: Uint8Array, verifyCrc: boolean): void {
  const batches = decodeRecordBatches(records, { maxDecompressedBytes: MAX_DECOMPRESSED, verifyCrc });
  let count = 0;
  for (const b of batches) count += b.records.length;
  // Each record takes at least a few bytes, compressed or inflated (bounded by maxDecompressedBytes).
  if (count > records.length + batches.length * MAX_DECOMPRESSED) {
    throw new FuzzFailure(`${what}: ${count} records from ${records.length} bytes`);
  }
}

function checkEmbedded(codec: ApiCodec<unknown, unknown>, res: unknown, verifyCrc: boolean): void {
  if (codec === fetch) {
    for (const t of (res as FetchResponse).responses) {
      for (const p of t.partitions) if (p.records) checkRecords("Fetch records", p.records, verifyCrc);
    }
  } else if (codec === joinGroup) {
    for (const m of (res as JoinGroupResponse).members) {
      assertBounded(
        "ConsumerProtocolSubscription",
        decodeConsumerSubscription(m.metadata),
        m.metadata.length,
      );
    }
  } else if (codec === syncGroup) {
    const a = (res as SyncGroupResponse).assignment;
    if (a.length > 0) assertBounded("ConsumerProtocolAssignment", decodeConsumerAssignment(a), a.length);
  }
}

// ---------------------------------------------------------------------------------------------

const corpus = loadCorpus();
const batches = loadBatches();
const responses = [
  ...corpus.filter((s) => s.direction === "response"),
  ...fetchSeedsWithBatches(corpus, batches),
];
const requests = corpus.filter((s) => s.direction === "request");
const bodies = corpus.map((s) => s.body);
const totals: Stats = { cases: 0, decoded: 0, rejected: 0 };
const started = performance.now();

Deno.test("fuzz: response decoders of every API and version accept or reject with ProtocolError only", () => {
  const rng = new Rng(SEED ^ 0x01);
  const stats: Stats = { cases: 0, decoded: 0, rejected: 0 };
  // Every API and version gets the same share of cases, whatever the corpus holds for it.
  const byApiVersion = new Map<string, Seed[]>();
  for (const s of responses) {
    const k = `${s.codec.apiKey}/${s.version}`;
    byApiVersion.set(k, [...(byApiVersion.get(k) ?? []), s]);
  }
  const groups = [...byApiVersion.values()];
  const n = Math.round(110_000 * SCALE);
  for (let i = 0; i < n; i++) {
    const s = rng.pick(rng.pick(groups));
    const input = i < responses.length ? responses[i].body : mutate(rng, s.body, bodies);
    const seed = i < responses.length ? responses[i] : s;
    // Sometimes read with the wrong version of the same API.
    const version = rng.chance(0.1)
      ? seed.codec.minVersion + rng.int(seed.codec.maxVersion - seed.codec.minVersion + 1)
      : seed.version;
    const verifyCrc = rng.chance(0.5);
    runCase(stats, `${seed.codec.name} v${version} response`, i, input, () => {
      const res = decodeResponseFrame(seed.codec, version, input);
      assertBounded(`${seed.codec.name} v${version} response`, res, input.length);
      checkEmbedded(seed.codec, res, verifyCrc);
    });
  }
  console.log(`  responses: ${stats.cases} cases, ${stats.decoded} decoded, ${stats.rejected} rejected`);
  for (const k of Object.keys(totals) as (keyof Stats)[]) totals[k] += stats[k];
  assert.ok(stats.decoded > 0 && stats.rejected > 0);
});

Deno.test("fuzz: decodeRecordBatches accepts or rejects with ProtocolError only", () => {
  const rng = new Rng(SEED ^ 0x02);
  const stats: Stats = { cases: 0, decoded: 0, rejected: 0 };
  const seeds: Uint8Array[] = [...batches];
  for (const s of responses) {
    if (s.codec !== fetch) continue;
    for (const t of (decodeResponseFrame(fetch, s.version, s.body) as FetchResponse).responses) {
      for (const p of t.partitions) if (p.records && p.records.length > 0) seeds.push(p.records);
    }
  }
  assert.ok(seeds.length > 0, "no record batches in the corpus");
  const n = Math.round(25_000 * SCALE);
  for (let i = 0; i < n; i++) {
    const input = mutate(rng, rng.pick(seeds), seeds);
    // Without CRC checks the mutations reach the record and compression parsers.
    const verifyCrc = rng.chance(0.2);
    runCase(stats, `decodeRecordBatches(verifyCrc: ${verifyCrc})`, i, input, () => {
      checkRecords("decodeRecordBatches", input, verifyCrc);
    });
  }
  console.log(`  record batches: ${stats.cases} cases, ${stats.decoded} decoded, ${stats.rejected} rejected`);
  for (const k of Object.keys(totals) as (keyof Stats)[]) totals[k] += stats[k];
  assert.ok(stats.decoded > 0 && stats.rejected > 0);
});

Deno.test("fuzz: request decoders (fake brokers) and consumer-protocol decoders", () => {
  const rng = new Rng(SEED ^ 0x03);
  const stats: Stats = { cases: 0, decoded: 0, rejected: 0 };
  const flexible = (key: number, version: number) => {
    const c = BY_KEY.get(key);
    if (!c) throw new ProtocolError(`Unknown API key ${key}`);
    return isFlexible(c, version);
  };
  const n = Math.round(20_000 * SCALE);
  for (let i = 0; i < n; i++) {
    const input = mutate(rng, rng.pick(requests).body, bodies);
    runCase(stats, "request", i, input, () => {
      const r = new Reader(input);
      const h = decodeRequestHeader(r, flexible);
      const codec = BY_KEY.get(h.apiKey)!;
      if (h.apiVersion < codec.minVersion || h.apiVersion > codec.maxVersion) {
        throw new ProtocolError(`Unsupported version ${h.apiVersion}`);
      }
      const req = codec.decodeRequest(r, h.apiVersion);
      r.done();
      assertBounded(`${codec.name} v${h.apiVersion} request`, req, input.length);
    });
  }
  // The consumer protocol, from JoinGroup members' metadata and SyncGroup assignments.
  const subs: Uint8Array[] = [];
  const assigns: Uint8Array[] = [];
  for (const s of responses) {
    if (s.codec === joinGroup) {
      for (const m of (decodeResponseFrame(joinGroup, s.version, s.body) as JoinGroupResponse).members) {
        subs.push(m.metadata);
      }
    }
    if (s.codec === syncGroup) {
      const a = (decodeResponseFrame(syncGroup, s.version, s.body) as SyncGroupResponse).assignment;
      if (a.length > 0) assigns.push(a);
    }
  }
  assert.ok(subs.length > 0 && assigns.length > 0, "no consumer-protocol payloads in the corpus");
  for (let i = 0; i < Math.round(10_000 * SCALE); i++) {
    const sub = i % 2 === 0;
    const input = mutate(rng, rng.pick(sub ? subs : assigns), bodies);
    runCase(stats, sub ? "ConsumerProtocolSubscription" : "ConsumerProtocolAssignment", i, input, () => {
      const v = sub ? decodeConsumerSubscription(input) : decodeConsumerAssignment(input);
      assertBounded("consumer protocol", v, input.length);
    });
  }
  console.log(
    `  requests + consumer protocol: ${stats.cases} cases, ${stats.decoded} decoded, ${stats.rejected} rejected`,
  );
  for (const k of Object.keys(totals) as (keyof Stats)[]) totals[k] += stats[k];
});

Deno.test("fuzz: FrameSplitter yields frames or throws ProtocolError, whatever the chunking", () => {
  const rng = new Rng(SEED ^ 0x04);
  const stats: Stats = { cases: 0, decoded: 0, rejected: 0 };
  const frames = corpus.map((s) => {
    const out = new Uint8Array(s.body.length + 4);
    new DataView(out.buffer).setInt32(0, s.body.length);
    out.set(s.body, 4);
    return out;
  });
  const n = Math.round(10_000 * SCALE);
  for (let i = 0; i < n; i++) {
    // A few whole frames back to back, then mutated (sizes included).
    const parts = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(frames));
    const joined = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) joined.set(p, (at += p.length) - p.length);
    const input = rng.chance(0.8) ? mutate(rng, joined, frames) : joined;
    const max = rng.chance(0.3) ? rng.int(4096) : undefined;
    runCase(stats, `FrameSplitter(${max ?? "default"})`, i, input, () => {
      const splitter = new FrameSplitter(max);
      let out = 0;
      let pos = 0;
      while (pos < input.length) {
        const len = 1 + rng.int(Math.min(input.length - pos, 1 + rng.int(300)));
        for (const f of splitter.push(input.subarray(pos, pos + len))) out += 4 + f.length;
        pos += len;
      }
      if (out + splitter.buffered !== input.length) {
        throw new FuzzFailure(`Split ${out} + buffered ${splitter.buffered} != ${input.length} bytes`);
      }
    });
  }
  console.log(`  FrameSplitter: ${stats.cases} cases, ${stats.decoded} split, ${stats.rejected} rejected`);
  for (const k of Object.keys(totals) as (keyof Stats)[]) totals[k] += stats[k];
  console.log(
    `fuzz total: ${totals.cases} cases in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s, seed ${SEED}`,
  );
  assert.ok(stats.decoded > 0 && stats.rejected > 0);
});

if (!HAVE_SCHEMAS) {
  console.log(
    `fuzz_test: the generated-decoder fuzz is skipped, ${SCHEMAS.pathname} is absent (its seeds come from the schemas)`,
  );
}

Deno.test({
  name:
    "fuzz: every generated decoder, requests and responses at every version, rejects with ProtocolError only",
  ignore: !HAVE_SCHEMAS, // the seeds are populated instances built from the schemas
  fn: () => {
    const rng = new Rng(SEED ^ 0x05);
    const stats: Stats = { cases: 0, decoded: 0, rejected: 0 };
    const byName = new Map(loadSchemas(SCHEMAS).map((s) => [s.name, s]));
    interface GenSeed {
      codec: GeneratedApi<unknown, unknown>;
      request: boolean;
      version: number;
      body: Uint8Array;
    }
    const groups: GenSeed[][] = [];
    for (const codec of GENERATED_APIS) {
      for (const request of [true, false]) {
        const schema = byName.get(`${codec.name}${request ? "Request" : "Response"}`)!;
        const model = new Model(
          schema,
          { lo: codec.minVersion, hi: codec.latestVersion },
          flexFromOf(schema),
        );
        for (let version = codec.minVersion; version <= codec.latestVersion; version++) {
          const group: GenSeed[] = [];
          for (const fill of ["value", "null"] as const) {
            const w = new Writer();
            const value = model.populate(schema.fields, version, fill, 0, version >= model.flexFrom);
            (request ? codec.encodeRequest : codec.encodeResponse)(w, value as never, version);
            group.push({ codec, request, version, body: w.finish().slice() });
          }
          groups.push(group);
        }
      }
    }
    const bodies = groups.flatMap((g) => g.map((s) => s.body));
    const n = Math.round(50_000 * SCALE);
    for (let i = 0; i < n; i++) {
      const s = rng.pick(rng.pick(groups));
      const input = mutate(rng, s.body, bodies);
      const { codec } = s;
      const version = rng.chance(0.1)
        ? codec.minVersion + rng.int(codec.latestVersion - codec.minVersion + 1)
        : s.version;
      const what = `${codec.name} v${version} ${s.request ? "request" : "response"}`;
      runCase(stats, what, i, input, () => {
        const r = new Reader(input);
        const value = s.request ? codec.decodeRequest(r, version) : codec.decodeResponse(r, version);
        r.done(what);
        const { elements, chars, objects } = measure(value);
        // Arrays are bounded by the bytes; default strings (a shared ZERO_UUID) and default structs
        // of absent tagged fields come with the objects that hold them.
        if (
          elements > input.length || objects > 16 * (input.length + 1) ||
          chars > 2 * input.length + 22 * objects
        ) {
          throw new FuzzFailure(
            `${what}: ${elements} elements, ${objects} objects, ${chars} characters from ${input.length} bytes`,
          );
        }
      });
    }
    console.log(
      `  generated decoders: ${stats.cases} cases over ${groups.length} API versions, ${stats.decoded} decoded, ${stats.rejected} rejected`,
    );
    assert.ok(stats.decoded > 0 && stats.rejected > 0);
  },
});
