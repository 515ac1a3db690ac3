/**
 * The documentation's code runs or type-checks: the runnable JSDoc examples
 * (`deno test --doc`, against the test broker) and every code block of the
 * README (TypeScript blocks are type-checked against the checkout's mod.ts,
 * the quickstart block is run by readme_test.ts; shell blocks name tasks that
 * exist and the pinned Deno version).
 *
 * Doc examples use deno.doctest.json: Deno's doc-test wrapper imports every
 * export of the module, which the project's `noUnusedLocals` rejects.
 */

import assert from "node:assert/strict";
import { type BrokerFeature, BROKERS, missing } from "../_broker.ts";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT).href;

async function deno(args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT.pathname,
    env: { KAFKA_BROKERS: BROKERS.join(","), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const td = new TextDecoder();
  return { code: out.code, output: td.decode(out.stdout) + td.decode(out.stderr) };
}

/**
 * What a runnable JSDoc example may need beyond the core protocol: an example
 * whose code matches `uses` needs `feature`. On a broker that lacks it
 * (test/_broker.ts `missing`), the example must fail with the client's
 * UnsupportedVersionError naming one of `apis` (the typed error a user gets
 * there); everywhere else it must pass. `deno test --doc` cannot skip one
 * example, so the test reads the run's failures instead.
 */
const EXAMPLE_NEEDS: { feature: BrokerFeature; uses: RegExp; apis: string[] }[] = [
  {
    feature: "transactions",
    uses: /\.transaction\(|beginTransaction\(/,
    apis: ["EndTxn", "AddPartitionsToTxn"],
  },
  { feature: "share-groups", uses: /\.shareConsumer\(/, apis: ["ShareGroupHeartbeat", "ShareFetch"] },
];

/** The failed examples of a `deno test --doc` run: file (relative), first and last line, error text. */
function failedExamples(output: string): { file: string; from: number; to: number; error: string }[] {
  const start = output.indexOf(" ERRORS ");
  if (start < 0) return [];
  const errors = output.slice(start, output.indexOf(" FAILURES ", start));
  const parts = errors.split(/^file:\/\/\S+ => \.\/(\S+?)#(\d+)-(\d+)\.ts:\d+:\d+$/m);
  const failed = [];
  for (let i = 1; i + 2 < parts.length; i += 4) {
    failed.push({
      file: parts[i],
      from: Number(parts[i + 1]),
      to: Number(parts[i + 2]),
      error: parts[i + 3] ?? "",
    });
  }
  return failed;
}

Deno.test("the runnable JSDoc examples pass (deno test --doc, against the broker)", async () => {
  const { code, output } = await deno(
    ["test", "--doc", "--config", "deno.doctest.json", "-A", "mod.ts", "src/", "protocol/"],
    300_000,
  );
  const failures = /FAILED \| \d+ passed \| (\d+) failed/.exec(output);
  const expected = [];
  for (const f of failedExamples(output)) {
    const lines = (await Deno.readTextFile(new URL(f.file, ROOT))).split("\n").slice(f.from - 1, f.to).join(
      "\n",
    );
    const need = EXAMPLE_NEEDS.find((n) => n.uses.test(lines) && missing(n.feature) !== null);
    const where = `${f.file}#${f.from}-${f.to}`;
    assert.ok(need, `${where} failed:\n${f.error.slice(0, 3000)}`);
    assert.ok(
      need.apis.some((api) =>
        f.error.includes(`UnsupportedVersionError: Broker `) && f.error.includes(`does not offer ${api}`)
      ),
      `${where} needs ${need.feature}: expected the client's UnsupportedVersionError naming ${
        need.apis.join(" or ")
      }, got:\n${f.error.slice(0, 3000)}`,
    );
    console.log(
      `doc example ${where}: ${missing(need.feature)}; it fails with UnsupportedVersionError, as asserted`,
    );
    expected.push(where);
  }
  if (expected.length === 0) {
    assert.equal(code, 0, output.slice(-6000));
    assert.match(output, /ok \| \d+ passed \| 0 failed/);
  } else {
    assert.equal(Number(failures?.[1]), expected.length, output.slice(-6000));
  }
  // The main exports carry runnable examples (not `ignore`d ones).
  for (
    const file of [
      "mod.ts",
      "src/client.ts",
      "src/producer",
      "src/consumer.ts",
      "src/admin.ts",
      "src/errors.ts",
    ]
  ) {
    assert.match(output, new RegExp(`${file.replaceAll(".", "\\.")}.*#\\d+-\\d+\\.ts \\.\\.\\. ok`), file);
  }
});

/** The README's fenced blocks: language and text, with the line they start on. */
function readmeBlocks(text: string): { lang: string; code: string; line: number }[] {
  const blocks: { lang: string; code: string; line: number }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i]);
    blocks.push({ lang: open[1], code: body.join("\n"), line: start + 1 });
  }
  return blocks;
}

// Names the README's fragments use without declaring them (what the prose around them sets up).
const PRELUDE = `import * as kafka from "${MOD}";
declare const client: kafka.Client;
declare const consumer: kafka.Consumer;
declare const record: kafka.ConsumerRecord;
declare const topic: string;
declare const json: string;
declare function readMskSecret(): Promise<string>;
declare function handle(record: kafka.ConsumerRecord): Promise<void>;
const { connect } = kafka;
`;

/** A README block as a module that type-checks exactly when the block is right. */
function asModules(code: string): string[] {
  // Any way the README imports the library means this checkout's mod.ts.
  const local = code.replace(
    /from "(\.\/kafka-deno\/mod\.ts|jsr:@kafka-deno\/kafka|https:\/\/[^"]*\/kafka-deno\/[^"]*\/mod\.ts)"/g,
    `from "${MOD}"`,
  );
  const lines = local.split("\n");
  const imports = lines.filter((l) => l.startsWith("import "));
  const body = lines.filter((l) => !l.startsWith("import "));
  if (body.every((l) => l.trim() === "" || l.trim().startsWith("//"))) {
    // A block of alternative imports: each one on its own.
    return imports.map((l) => `${l}\nconsole.log(connect);\n`);
  }
  const prelude = imports.length ? PRELUDE.replace(/^const \{ connect \} = kafka;$/m, "") : PRELUDE;
  return [
    `${imports.join("\n")}\n${prelude}\nexport async function block(): Promise<void> {\n${
      body.join("\n")
    }\n}\n`,
  ];
}

Deno.test("every TypeScript block in the README type-checks against mod.ts", async () => {
  const text = await Deno.readTextFile(new URL("README.md", ROOT));
  const quickstart = text.slice(
    text.indexOf("<!-- quickstart:begin -->"),
    text.indexOf("<!-- quickstart:end -->"),
  );
  const blocks = readmeBlocks(text).filter((b) => b.lang === "ts" && !quickstart.includes(b.code));
  assert.ok(blocks.length >= 15, `found ${blocks.length} blocks`);
  const dir = await Deno.makeTempDir({ prefix: "readme-blocks-" });
  try {
    const files: string[] = [];
    for (const b of blocks) {
      for (const [j, m] of asModules(b.code).entries()) {
        const f = `${dir}/readme_line_${b.line}_${j}.ts`;
        await Deno.writeTextFile(f, m);
        files.push(f);
      }
    }
    const { code, output } = await deno(["check", "--config", "deno.doctest.json", ...files], 120_000);
    assert.equal(code, 0, `README blocks do not type-check (file names give the README line):\n${output}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's shell blocks name tasks that exist and the pinned Deno version", async () => {
  const text = await Deno.readTextFile(new URL("README.md", ROOT));
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  const pinned = /^DENO_VERSION=(\S+)/m.exec(ci)?.[1];
  assert.ok(pinned, ".ci/run pins DENO_VERSION");
  const sh = readmeBlocks(text).filter((b) => b.lang === "sh");
  assert.ok(sh.length >= 4);
  let tasks = 0;
  for (const b of sh) {
    for (const m of b.code.matchAll(/deno(?:@(\S+))? task ([\w:-]+)/g)) {
      tasks++;
      if (m[1]) assert.equal(m[1], pinned, `README line ${b.line}: deno@${m[1]}`);
      assert.ok(m[2] in config.tasks, `README line ${b.line}: no task "${m[2]}" in deno.json`);
    }
  }
  assert.ok(tasks >= 10, `found ${tasks} task commands`);
  // The README's test command is the one CI runs.
  assert.match(text, new RegExp(`npx -y deno@${pinned.replaceAll(".", "\\.")} task test`));
  // (Its output may be copied to a file for CI's closing summary line: `| tee -a ...`.)
  assert.ok(
    ci.split("\n").some((l) =>
      l === `npx -y deno@${pinned} task test` || l.startsWith(`npx -y deno@${pinned} task test | tee `)
    ),
    ".ci/run runs the README's test command",
  );
});
