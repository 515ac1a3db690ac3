/**
 * Regenerates the generated parts of README.md from the code, so they cannot
 * go stale: the quickstart example (examples/quickstart.ts) and the table of
 * API versions we speak (protocol/mod.ts API_CODECS). The output is already in
 * `deno fmt` form, so the README stays fmt-clean.
 *
 *     deno task readme            # rewrite README.md
 *     deno task readme --check    # exit 1 if README.md is out of date
 *
 * @module
 */

import { API_CODECS } from "../protocol/mod.ts";

const README = new URL("../README.md", import.meta.url);

/** The README text with its generated sections filled in. */
export async function renderReadme(text: string): Promise<string> {
  const quick = await Deno.readTextFile(new URL("../examples/quickstart.ts", import.meta.url));
  const rows = [...API_CODECS].sort((a, b) => a.apiKey - b.apiKey).map((c) => [
    c.name,
    String(c.apiKey),
    `${c.minVersion}-${c.maxVersion}`,
    Number.isFinite(c.flexibleFrom) ? `${c.flexibleFrom}+` : "none",
  ]);
  const compat = table(["API", "key", "versions", "flexible"], rows);
  return replaceBlock(
    replaceBlock(text, "quickstart", "```ts\n" + quick.trimEnd() + "\n```"),
    "compat",
    compat,
  );
}

/** A markdown table padded the way `deno fmt` pads it. */
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
