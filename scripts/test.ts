/**
 * `deno task test`: runs every test. When `KAFKA_BROKERS` is unset it starts
 * the local broker first (scripts/kafka.ts) and points the tests at it; a broker
 * it started is stopped again at the end. Ends with the plain summary line
 * `tests: N passed, N failed, N skipped`.
 *
 * It also starts the local 3-node cluster (scripts/kafka_cluster.ts) when the
 * run includes cluster tests (no path given, or a path naming "cluster"),
 * unless `KAFKA_CLUSTER_BROKERS` names an external one (or `KAFKA_BROKERS` does
 * and no path is given: then test/cluster/ is left out, saying so), and passes it to the
 * tests as `KAFKA_CLUSTER_BROKERS` (direct), `KAFKA_CLUSTER_PROXY_BROKERS`
 * (through the fault proxy, which each cluster test runs in-process) and
 * `KAFKA_DENO_LOCAL_CLUSTER=1`. A background proxy left by
 * `deno task kafka start --nodes 3` is stopped (the tests need its ports).
 *
 * Extra arguments are passed to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

import * as kafka from "./kafka.ts";
import { secureStatus, stopSecure } from "./kafka_secure.ts";
import * as cluster from "./kafka_cluster.ts";

/** Whether this run includes the cluster tests: no test path given (all tests), or one that names them. */
function wantsCluster(args: string[]): boolean {
  const paths = args.filter((a) => {
    try {
      Deno.statSync(a);
      return true;
    } catch {
      return false;
    }
  });
  return paths.length === 0 || args.some((a) => /cluster/.test(a));
}

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
  let clusterStartedHere = false;
  const externalCluster = Deno.env.get("KAFKA_CLUSTER_BROKERS")?.trim();
  // The cluster tests kill and restart nodes: against a cluster this run did not start (KAFKA_BROKERS) they are
  // left out of a full run, saying so, unless a path asks for them.
  const skipCluster = !!external && !externalCluster && Deno.args.length === 0;
  if (skipCluster) {
    console.log(
      `skip test/cluster/: the 3-node cluster tests kill and restart nodes, so they run only on the project's own ` +
        `cluster, and KAFKA_BROKERS=${external} is a cluster this run did not start`,
    );
  } else if (externalCluster) {
    console.error(`test: using KAFKA_CLUSTER_BROKERS=${externalCluster} (tests that kill nodes will fail)`);
  } else if (wantsCluster(Deno.args)) {
    if (await cluster.stopBackgroundProxy()) {
      console.error("test: stopped the background fault proxy (the cluster tests run their own)");
    }
    clusterStartedHere = await cluster.startCluster();
    env.KAFKA_CLUSTER_BROKERS = cluster.directBootstrap().join(",");
    env.KAFKA_CLUSTER_PROXY_BROKERS = cluster.proxyBootstrap().join(",");
    env.KAFKA_DENO_LOCAL_CLUSTER = "1";
    env.KAFKA_DENO_CLUSTER_PORT = String(cluster.basePort());
  }
  try {
    const args = [
      "test",
      "-A",
      "--no-check=remote",
      ...(Deno.args.length ? Deno.args : skipCluster ? ["--ignore=test/cluster/", "test/"] : ["test/"]),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    // Stopped (e.g. by scripts/compat.ts or CI): stop deno test by its pid too, then clean up as usual below.
    const forward = (signal: Deno.Signal) => () => {
      try {
        child.kill(signal);
      } catch {
        // gone already
      }
    };
    const signals = (["SIGINT", "SIGTERM"] as const).map((s) => [s, forward(s)] as const);
    for (const [s, f] of signals) Deno.addSignalListener(s, f);
    // Echo the output as it comes and keep its tail to read the summary.
    let tailText = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      await Deno.stdout.write(chunk);
      tailText = (tailText + decoder.decode(chunk, { stream: true })).slice(-8192);
    }
    const status = await child.status;
    for (const [s, f] of signals) Deno.removeSignalListener(s, f);
    // deno's summary: "ok | 12 passed (30 steps) | 0 failed | 1 ignored (5s)"
    const clean = tailText.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
    // The last one: a failed test may quote another deno test's summary (docs_test.ts runs deno test --doc).
    const m = [
      ...clean.matchAll(/(ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed(?:[^|]*\| (\d+) ignored)?/g),
    ].at(-1);
    if (m) {
      console.log(`tests: ${m[2]} passed, ${m[3]} failed${m[4] ? `, ${m[4]} skipped` : ""}`);
    } else {
      console.log(`tests: 0 passed, 1 failed`);
      console.error("test: could not find deno test's summary line");
    }
    return status.success && m ? 0 : status.code || 1;
  } finally {
    if (startedHere && !Deno.env.get("KAFKA_KEEP")) await kafka.stop();
    if (clusterStartedHere && !Deno.env.get("KAFKA_KEEP")) await cluster.stopCluster();
    if (!secureWasRunning && !Deno.env.get("KAFKA_KEEP")) await stopSecure();
  }
}

Deno.exit(await main());
