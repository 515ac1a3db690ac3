/**
 * Regenerates the generated parts of README.md from the code, so they cannot
 * go stale: the quickstart example (examples/quickstart.ts) and the table of
 * API versions we speak (protocol/mod.ts API_CODECS, then GENERATED_APIS). The output is already in
 * `deno fmt` form, so the README stays fmt-clean.
 *
 *     deno task readme            # rewrite README.md
 *     deno task readme --check    # exit 1 if README.md is out of date
 *
 * @module
 */

import { API_CODECS, GENERATED_APIS } from "../protocol/mod.ts";
import { DEVIATIONS, kfakeVersion, TANSU_VERSION } from "./compat_deviations.ts";

const README = new URL("../README.md", import.meta.url);

/** The README text with its generated sections filled in. */
export async function renderReadme(text: string): Promise<string> {
  const quick = await Deno.readTextFile(new URL("../examples/quickstart.ts", import.meta.url));
  // The client's adapters (which may cap a version) first, then every other generated API it can negotiate.
  const keys = new Set(API_CODECS.map((c) => c.apiKey));
  const codecs = [...API_CODECS, ...GENERATED_APIS.filter((c) => !keys.has(c.apiKey))];
  const rows = codecs.sort((a, b) => a.apiKey - b.apiKey).map((c) => [
    c.name,
    String(c.apiKey),
    `${c.minVersion}-${c.maxVersion}`,
    Number.isFinite(c.flexibleFrom) ? `${c.flexibleFrom}+` : "none",
  ]);
  const compat = table(["API", "key", "versions", "flexible"], rows);
  text = replaceBlock(text, "bench", await benchSummary());
  text = replaceBlock(text, "deviations", await deviationsTable());
  return replaceBlock(
    replaceBlock(text, "quickstart", "```ts\n" + quick.trimEnd() + "\n```"),
    "compat",
    compat,
  );
}

interface BenchRow {
  contender: string;
  ok: boolean;
  recordsPerSec?: number;
  rssMiB?: number;
  reason?: string;
  latency?: { p50: number; p99: number; p999: number };
}

interface BenchRun {
  date: string;
  mode: string;
  records: number;
  /** Records of the consumer cases' topics (runs before it used `records`). */
  consumerRecords?: number;
  rounds?: number;
  load?: { uptimeAtStart: string; start: number[]; now: number[] };
  merged?: { file: string; load?: { start?: number[]; now?: number[] } }[];
  machine: { cores: number; memoryGiB: number; cpu: string };
  versions: Record<string, string>;
  cases: { title: string; scenario: string; rows: BenchRow[] }[];
}

/** A summary of the newest full benchmark run in bench/results (quick runs only when there is no full one). */
async function benchSummary(): Promise<string> {
  const dir = new URL("../bench/results/", import.meta.url);
  const runs: { name: string; run: BenchRun }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".json")) continue;
    runs.push({ name: e.name, run: JSON.parse(await Deno.readTextFile(new URL(e.name, dir))) });
  }
  if (runs.length === 0) return "No benchmark results yet: run `deno task bench`.";
  runs.sort((a, b) =>
    (a.run.mode === "full" ? 1 : 0) - (b.run.mode === "full" ? 1 : 0) || a.name.localeCompare(b.name)
  );
  const { name, run } = runs[runs.length - 1];
  const names = [
    "kafka-deno",
    "platformatic",
    "kafkajs",
    "platformatic-node",
    "kafkajs-node",
    "franz-go",
    "kcat",
    "java",
  ].filter((n) => run.cases.some((c) => c.rows.some((r) => r.contender === n)));
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const rows = run.cases.map((c) => {
    const base = c.rows.find((r) => r.contender === "kafka-deno");
    const cells = names.map((n) => {
      const r = c.rows.find((x) => x.contender === n);
      if (!r || !r.ok) return "n/a";
      if (c.scenario === "latency") return r.latency ? `p99 ${r.latency.p99.toFixed(1)} ms` : "n/a";
      if (c.scenario.startsWith("memory")) return `${Math.round(r.rssMiB ?? 0)} MiB`;
      const rate = fmt(r.recordsPerSec ?? 0);
      if (n === "kafka-deno") return `${rate} (${Math.round(r.rssMiB ?? 0)} MiB)`;
      const ratio = base?.recordsPerSec ? (r.recordsPerSec ?? 0) / base.recordsPerSec : 0;
      return `${rate} (${ratio.toFixed(2)}×)`;
    });
    return [shortTitle(c.title), ...cells];
  });
  // Short list items only: deno fmt reflows paragraphs, but leaves list items under the line width alone.
  const parts = run.merged ?? [];
  const oneMin = parts.flatMap((m) => [m.load?.start?.[0], m.load?.now?.[0]]).filter((x) =>
    typeof x === "number"
  );
  const load = oneMin.length
    ? [
      `- load: ${parts.length} runs side by side, machine shared with other work; ` +
      `1-min load ${Math.min(...oneMin)}-${Math.max(...oneMin)}`,
    ]
    : run.load
    ? [`- load average ${run.load.start.join(", ")} at the start, ${run.load.now.join(", ")} at the end`]
    : [];
  const rounds = run.rounds ? `, median of ${run.rounds} alternated rounds` : "";
  return [
    `- measured ${run.date.slice(0, 10)}, ${run.mode} run${rounds}`,
    `- records: ${fmt(run.records)} per producer case, ${fmt(run.consumerRecords ?? run.records)} per ` +
    "consumer case (1 KiB cases: a fifth)",
    `- machine: ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB, ${run.machine.cpu}`,
    ...load,
    `- raw data: [bench/results/${name}](bench/results/${name})`,
    ...Object.entries(run.versions).map(([n, v]) => `- ${n}: ${v}`),
    "",
    table(["case", ...names], rows),
  ].join("\n");
}

function shortTitle(title: string): string {
  return title
    .replace(/^Producer: (.*) values, /, "produce $1, ")
    .replace(/^Producer, pipelined \(.*?\): (.*) values, /, "produce $1, ")
    .replace(
      /^Producer, pipelined, through the fault proxy, \+(\d+) ms each way.*: (.*) values, (.*)$/,
      "produce $2, $3, +$1 ms proxy",
    )
    .replace(
      /^Awaited send\(\) loop, through the fault proxy, \+(\d+) ms each way.*: ([\d,]+) records? per call.*$/,
      "awaited, $2 per call, +$1 ms proxy",
    )
    .replace(
      /^Awaited send\(\) loop: ([\d,]+) records? per call, 100 B values, (acks=\w+), .*$/,
      "awaited, $1 per call, $2",
    )
    .replace(
      /^Consumer \(group, from the beginning\), (per \w+): (.*) values, uncompressed/,
      "consume $2, $1",
    )
    .replace(/^Memory: (producing|consuming) ([\d,]+) records.*$/, "peak RSS $1 $2")
    .replace(/^Consumer \(group, from the beginning\): (.*) values, uncompressed/, "consume $1 (group)")
    .replace(/^Awaited send\(\) loop: ([\d,]+) records? per call, .*$/, "awaited send() loop, $1 per call")
    .replace(/^End-to-end latency: (.*) records\/s for (\d+) s.*$/, "end-to-end latency at $1/s");
}

/** A markdown table padded the way `deno fmt` pads it. */
/** The compatibility lanes' deviations from Apache Kafka (scripts/compat_deviations.ts). */
async function deviationsTable(): Promise<string> {
  const versions: Record<string, string> = { tansu: TANSU_VERSION, kfake: await kfakeVersion() };
  const rows = Object.values(DEVIATIONS).map((d) =>
    [
      d.broker,
      versions[d.broker],
      d.api,
      d.behaviour,
      d.client,
    ].map((c) => c.replaceAll("|", "\\|"))
  );
  return table(["broker", "version", "API or behaviour", "the broker", "what the client does (test)"], rows);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function replaceBlock(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the ${begin} ... ${end} markers`);
  return text.slice(0, i + begin.length) + "\n\n" + body + "\n\n" + text.slice(j);
}

if (import.meta.main) {
  const text = await Deno.readTextFile(README);
  const next = await renderReadme(text);
  if (Deno.args.includes("--check")) {
    if (next !== text) {
      console.error("README.md is out of date: run `deno task readme`");
      Deno.exit(1);
    }
  } else if (next !== text) {
    await Deno.writeTextFile(README, next);
    console.error("README.md updated");
  }
}
