/**
 * `deno task test`: runs every test. When `KAFKA_BROKERS` is unset it starts
 * the local broker first (scripts/kafka.ts) and points the tests at it; a broker
 * it started is stopped again at the end. Ends with the plain summary line
 * `tests: N passed, N failed, N skipped`.
 *
 * Extra arguments are passed to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

import * as kafka from "./kafka.ts";
import { secureStatus, stopSecure } from "./kafka_secure.ts";

async function main(): Promise<number> {
  const env: Record<string, string> = {};
  let startedHere = false;
  // test/integration/security_test.ts starts the secured broker; stop it at the end unless it ran before.
  const secureWasRunning = (await secureStatus()).running;
  const external = kafka.brokersFromEnv();
  if (external) {
    console.error(`test: using KAFKA_BROKERS=${external}`);
  } else {
    startedHere = await kafka.start();
    env.KAFKA_BROKERS = `${kafka.BROKER_HOST}:${kafka.BROKER_PORT}`;
    env.KAFKA_DENO_LOCAL_BROKER = "1";
  }
  env.KAFKA_DENO_JARS = kafka.libsDir();
  try {
    const args = ["test", "-A", "--no-check=remote", ...(Deno.args.length ? Deno.args : ["test/"])];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    // Echo the output as it comes and keep its tail to read the summary.
    let tailText = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      await Deno.stdout.write(chunk);
      tailText = (tailText + decoder.decode(chunk, { stream: true })).slice(-8192);
    }
    const status = await child.status;
    // deno's summary: "ok | 12 passed (30 steps) | 0 failed | 1 ignored (5s)"
    const clean = tailText.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
    const m = /(ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed(?:[^|]*\| (\d+) ignored)?/.exec(clean);
    if (m) {
      console.log(`tests: ${m[2]} passed, ${m[3]} failed${m[4] ? `, ${m[4]} skipped` : ""}`);
    } else {
      console.log(`tests: 0 passed, 1 failed`);
      console.error("test: could not find deno test's summary line");
    }
    return status.success && m ? 0 : status.code || 1;
  } finally {
    if (startedHere && !Deno.env.get("KAFKA_KEEP")) await kafka.stop();
    if (!secureWasRunning && !Deno.env.get("KAFKA_KEEP")) await stopSecure();
  }
}

Deno.exit(await main());
