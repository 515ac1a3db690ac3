import assert from "node:assert/strict";
import { renderReadme } from "../../scripts/readme.ts";
import { BROKERS } from "../_broker.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("README's generated sections match the code (run `deno task readme` to update)", async () => {
  const text = await Deno.readTextFile(new URL("README.md", ROOT));
  assert.equal(await renderReadme(text), text);
});

Deno.test("the README's quickstart example runs against the broker", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "examples/quickstart.ts"],
    cwd: ROOT.pathname,
    env: { KAFKA_BROKERS: BROKERS.join(",") },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /wrote quickstart-[0-9a-f-]+\[\d\] at offset 0/);
  assert.match(stdout, /read user-1 -> \{ hello: "world" \}/);
});
