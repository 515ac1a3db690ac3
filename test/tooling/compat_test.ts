/**
 * The portable-suite machinery: requires() skips with a printed reason off the
 * project's own brokers, deviates() is true only on its lane, and every row of
 * the deviations table is asserted by a test.
 */

import assert from "node:assert/strict";
import { DEVIATIONS, kfakeVersion } from "../../scripts/compat_deviations.ts";

const ROOT = new URL("../../", import.meta.url);

/** Runs a snippet that imports test/_broker.ts with the given environment; returns its stdout. */
async function probe(code: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import * as b from "./test/_broker.ts";\n${code}`],
    cwd: ROOT.pathname,
    env: { KAFKA_DENO_LOCAL_BROKER: "", KAFKA_DENO_COMPAT: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("requires(): runs on the project's own broker, skips elsewhere saying why", async () => {
  const own = await probe(`console.log(b.requires("java-tools", "broker-control"));`, {
    KAFKA_BROKERS: "127.0.0.1:1",
    KAFKA_DENO_LOCAL_BROKER: "1",
  });
  assert.equal(own.trim(), "false");
  const other = await probe(`console.log(b.requires("java-tools"));`, { KAFKA_BROKERS: "elsewhere:9092" });
  assert.match(
    other,
    /^skip .*: runs Kafka's Java tools .*KAFKA_BROKERS=elsewhere:9092 is a cluster this run/m,
  );
  assert.match(other, /\ntrue\n$/);
  const lane = await probe(`console.log(b.requires("secure-broker"));`, {
    KAFKA_BROKERS: "127.0.0.1:1",
    KAFKA_DENO_COMPAT: "kfake",
  });
  assert.match(lane, /not the kfake compatibility lane/);
});

Deno.test("deviates(): true only on the deviation's own lane", async () => {
  const id = Object.keys(DEVIATIONS).find((k) =>
    DEVIATIONS[k as keyof typeof DEVIATIONS].broker === "kfake"
  )!;
  const code = `console.log(b.deviates(${JSON.stringify(id)}));`;
  assert.equal((await probe(code, { KAFKA_BROKERS: "x:1", KAFKA_DENO_COMPAT: "kfake" })).trim(), "true");
  assert.equal((await probe(code, { KAFKA_BROKERS: "x:1", KAFKA_DENO_COMPAT: "tansu" })).trim(), "false");
  assert.equal((await probe(code, { KAFKA_BROKERS: "x:1" })).trim(), "false");
});

Deno.test("every deviation in the table is asserted by a test (deviates(id), or a NULL_AS_EMPTY protocol test)", async () => {
  let tests = "";
  for (const dir of ["test/integration/", "test/src/"]) {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      if (e.name.endsWith(".ts")) tests += await Deno.readTextFile(new URL(dir + e.name, ROOT));
    }
  }
  const gen = await Deno.readTextFile(new URL("scripts/gen_protocol.ts", ROOT));
  for (const [id, d] of Object.entries(DEVIATIONS)) {
    const asserted = tests.includes(`deviates("${id}")`) ||
      (d.client.includes("NULL_AS_EMPTY") && gen.includes(d.api.split(" ")[0] + "Response"));
    assert.ok(asserted, `${id}: no test branches on deviates("${id}")`);
  }
  assert.match(await kfakeVersion(), /^v\d/);
});
