/**
 * `deno task test:compat <tansu|kafka> [--nodes N] [test paths or deno test args]`:
 * runs the portable test suite against another Kafka-compatible broker.
 *
 * - **tansu** (Rust, from crates.io): `cargo install --locked tansu --version
 *   {@linkcode TANSU_VERSION} --features dynostore` (with a quick release
 *   profile, {@linkcode TANSU_BUILD}) into the cache folder, run with
 *   in-memory storage on one loopback port.
 * - **kfake** (franz-go's in-memory cluster, Go, from the Go module proxy): the
 *   tiny main in scripts/compat/kfake (its go.mod pins the version) built with
 *   `go build` into the cache folder, run as a 3-node cluster by default
 *   (`--nodes 1` for one node).
 *
 * A broker already built is reused (a fresh machine builds it unattended:
 * `cargo` or `go` on PATH is all it needs). The broker starts on 127.0.0.1 at
 * `KAFKA_DENO_COMPAT_PORT` (default 9392; kfake uses that port and the next
 * ones), the suite runs through scripts/test.ts with `KAFKA_BROKERS` pointing
 * at it and `KAFKA_DENO_COMPAT=<broker>` (test/_broker.ts reads it), and the
 * broker is stopped by its pid at the end, whatever happened. The summary line
 * is `compat-<broker>: N passed, N failed, N skipped`.
 *
 *     deno task test:compat kfake
 *     deno task test:compat tansu test/integration/consumer_test.ts
 *     deno run -A scripts/compat.ts build tansu     # only build (or find) the broker
 *
 * @module
 */

import { cacheDir } from "./kafka.ts";
import { exists, portOpen, sleep, tail } from "./_broker_process.ts";
import { KFAKE_SRC, kfakeVersion, TANSU_VERSION } from "./compat_deviations.ts";

export { kfakeVersion, TANSU_VERSION };

/** The compatibility lanes. */
export const BROKERS = ["tansu", "kfake"] as const;
/** One of {@linkcode BROKERS}. */
export type CompatBroker = typeof BROKERS[number];

const HOST = "127.0.0.1";

/** The first port of the compat broker: `KAFKA_DENO_COMPAT_PORT` or 9392. */
export function compatPort(): number {
  return Number(Deno.env.get("KAFKA_DENO_COMPAT_PORT") ?? 9392);
}

/** The version string of a lane's broker, as the README's compatibility table names it. */
export async function brokerVersion(broker: CompatBroker): Promise<string> {
  return broker === "tansu" ? TANSU_VERSION : await kfakeVersion();
}

async function runLogged(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> }) {
  console.error(`compat: ${cmd} ${args.join(" ")}`);
  let child;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    throw new Error(`compat: cannot run ${cmd} (is it installed and on PATH?): ${err}`, { cause: err });
  }
  const status = await child.status;
  if (!status.success) throw new Error(`compat: ${cmd} ${args.join(" ")} exited ${status.code}`);
}

/** A toolchain command: on the PATH, else where its installer puts it (rustup's ~/.cargo/bin, Go's /usr/local/go/bin). */
async function tool(name: "cargo" | "go"): Promise<string> {
  const home = Deno.env.get("HOME") ?? "/root";
  const fallback = name === "cargo" ? `${home}/.cargo/bin/cargo` : "/usr/local/go/bin/go";
  try {
    const out = await new Deno.Command(name, { args: ["version"], stdout: "null", stderr: "null" }).output();
    if (out.success) return name;
  } catch {
    // not on the PATH
  }
  return await exists(fallback) ? fallback : name;
}

/**
 * How the tansu lane builds tansu: `cargo install --locked` (tansu's own
 * Cargo.lock pins every dependency) with only the feature the in-memory
 * storage needs (`dynostore`: `memory://` is part of it), and a release
 * profile made for a test broker rather than a production one: optimized a
 * little (opt-level 1), no LTO, 16 codegen units, no debug info. A clean build
 * takes a fraction of the default profile's time (README: Compatibility).
 */
export const TANSU_BUILD = {
  features: ["dynostore"],
  env: {
    CARGO_PROFILE_RELEASE_OPT_LEVEL: "1",
    CARGO_PROFILE_RELEASE_LTO: "false",
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS: "16",
    CARGO_PROFILE_RELEASE_DEBUG: "0",
    CARGO_INCREMENTAL: "0",
  },
} as const;

/** A short hash of the tansu version and build recipe (FNV-1a), so that a change builds a new cache folder. */
function tansuRecipeHash(): string {
  let h = 0x811c9dc5;
  for (const c of JSON.stringify([TANSU_VERSION, TANSU_BUILD])) {
    h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Where tansu is installed (`bin/tansu` inside): one folder per version and build recipe. */
export function tansuDir(): string {
  return `${cacheDir()}/tansu-${TANSU_VERSION}-${tansuRecipeHash()}`;
}

/** A hash of the kfake main's sources, so that a change rebuilds it. */
async function kfakeSourceHash(): Promise<string> {
  const parts: string[] = [];
  for (const f of ["go.mod", "go.sum", "main.go"]) parts.push(await Deno.readTextFile(`${KFAKE_SRC}${f}`));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where the kfake binary goes. */
export async function kfakeBinary(): Promise<string> {
  return `${cacheDir()}/kfake-${await kfakeVersion()}-${await kfakeSourceHash()}/kfake`;
}

/**
 * Builds the broker into the cache folder unless it is there already; returns
 * the binary's path. The build goes to a temporary folder renamed at the end,
 * so an interrupted build is never taken for a finished one (tansu's compiled
 * dependencies are kept, so the next build resumes).
 */
export async function ensureBroker(broker: CompatBroker): Promise<string> {
  if (broker === "tansu") {
    const bin = `${tansuDir()}/bin/tansu`;
    if (await exists(bin)) return bin;
    await Deno.mkdir(cacheDir(), { recursive: true });
    const tmp = `${tansuDir()}.tmp-${Deno.pid}`;
    const t0 = Date.now();
    console.error(
      `compat: building tansu ${TANSU_VERSION} from crates.io into ${tansuDir()} (once; ~5-15 min)`,
    );
    // The compiled dependencies stay in a target folder in the cache until the build succeeds, so a build that
    // was stopped (e.g. CI's time ran out) resumes where it stopped. Lowest CPU priority: it may run beside tests.
    const target = `${tansuDir()}-target`;
    try {
      await runLogged("nice", [
        "-n",
        "19",
        await tool("cargo"),
        "install",
        "--locked",
        "--quiet",
        "tansu",
        "--version",
        TANSU_VERSION,
        "--features",
        TANSU_BUILD.features.join(","),
        "--root",
        tmp,
        "--target-dir",
        target,
      ], { env: { ...TANSU_BUILD.env } });
      // A folder left by an earlier, unfinished install (no bin/tansu: checked above) would refuse the rename.
      await Deno.remove(tansuDir(), { recursive: true }).catch(() => {});
      await Deno.rename(tmp, tansuDir());
      await Deno.remove(target, { recursive: true }).catch(() => {});
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    console.error(`compat: built tansu in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return bin;
  }
  const bin = await kfakeBinary();
  if (await exists(bin)) return bin;
  const dir = bin.slice(0, bin.lastIndexOf("/"));
  const tmp = `${dir}.tmp-${Deno.pid}`;
  const t0 = Date.now();
  console.error(`compat: building kfake ${await kfakeVersion()} (Go module proxy) into ${dir} (once)`);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    await runLogged(await tool("go"), ["build", "-mod=readonly", "-trimpath", "-o", `${tmp}/kfake`, "."], {
      cwd: KFAKE_SRC,
    });
    await Deno.rename(tmp, dir);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  console.error(`compat: built kfake in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return bin;
}

/** A running compat broker. */
export interface RunningBroker {
  /** The lane. */
  broker: CompatBroker;
  /** Its bootstrap addresses. */
  bootstrap: string[];
  /** Its process id. */
  pid: number;
  /** Its output. */
  log: string;
  /** Stops it by pid: SIGTERM, then SIGKILL after a bounded wait. */
  stop(): Promise<void>;
}

/** Starts the broker on loopback and waits (bounded) until every port accepts connections. */
export async function startBroker(
  broker: CompatBroker,
  opts: { nodes?: number; timeoutMs?: number } = {},
): Promise<RunningBroker> {
  const bin = await ensureBroker(broker);
  const base = compatPort();
  const nodes = broker === "tansu" ? 1 : opts.nodes ?? 3;
  if (broker === "tansu" && (opts.nodes ?? 1) !== 1) throw new Error("compat: the tansu lane runs one node");
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 5) throw new Error(`compat: --nodes ${nodes}: 1 to 5`);
  const ports = Array.from({ length: nodes }, (_, i) => base + i);
  for (const p of ports) {
    if (await portOpen(p)) {
      throw new Error(`compat: ${HOST}:${p} is taken; stop what listens there or set KAFKA_DENO_COMPAT_PORT`);
    }
  }
  const stateDir = `${cacheDir()}/compat-${broker}-${base}`;
  await Deno.mkdir(stateDir, { recursive: true });
  const log = `${stateDir}/broker.log`;
  const args = broker === "tansu"
    ? [
      "broker",
      "--listener-url",
      `tcp://${HOST}:${base}`,
      "--advertised-listener-url",
      `tcp://${HOST}:${base}`,
      "--storage-engine",
      "memory://tansu/",
    ]
    : ["-ports", ports.join(",")];
  await Deno.writeTextFile(log, "");
  const child = new Deno.Command(bin, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: broker === "tansu" ? { RUST_LOG: Deno.env.get("RUST_LOG") ?? "warn" } : {},
  }).spawn();
  // Both streams go to the log (appended, so neither overwrites the other).
  for (const stream of [child.stdout, child.stderr]) {
    const f = await Deno.open(log, { write: true, append: true });
    stream.pipeTo(f.writable).catch(() => {});
  }
  const pid = child.pid;
  await Deno.writeTextFile(`${stateDir}/pid`, String(pid));
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        // gone already
      }
      const timer = setTimeout(() => {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }, 10_000);
      await status;
      clearTimeout(timer);
    }
    await Deno.remove(`${stateDir}/pid`).catch(() => {});
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      throw new Error(
        `compat: ${broker} exited at start-up (code ${(await status).code}):\n${await tail(log)}`,
      );
    }
    const open = await Promise.all(ports.map(portOpen));
    if (open.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`compat: ${broker} did not listen on ${ports.join(",")} in time:\n${await tail(log)}`);
    }
    await sleep(200);
  }
  return { broker, bootstrap: ports.map((p) => `${HOST}:${p}`), pid, log, stop };
}

/** The default test paths of a lane: the integration suite (the cluster tests need the project's cluster). */
export const PORTABLE_SUITE = ["test/integration/", "test/src/"];

/** Stops a child process by its pid: SIGTERM, then SIGKILL after a bounded wait. */
async function stopChild(child: Deno.ChildProcess, ms = 15_000): Promise<void> {
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // gone already
    }
  };
  send("SIGTERM");
  const timer = setTimeout(() => send("SIGKILL"), ms);
  try {
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

async function runSuite(
  running: RunningBroker,
  args: string[],
  started: (child: Deno.ChildProcess) => void,
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./test.ts", import.meta.url).pathname,
      ...(args.length ? args : PORTABLE_SUITE),
    ],
    env: {
      KAFKA_BROKERS: running.bootstrap.join(","),
      KAFKA_DENO_COMPAT: running.broker,
      KAFKA_DENO_COMPAT_VERSION: await brokerVersion(running.broker),
      KAFKA_DENO_LOCAL_BROKER: "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  started(child);
  let tailText = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    tailText = (tailText + text).slice(-4096);
    // scripts/test.ts's own summary is renamed below: the lane prints its own.
    await Deno.stdout.write(new TextEncoder().encode(text.replace(/^tests: /m, `${running.broker} tests: `)));
  }
  const status = await child.status;
  const m = /tests: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?/.exec(tailText);
  console.log(
    m
      ? `compat-${running.broker}: ${m[1]} passed, ${m[2]} failed, ${m[3] ?? 0} skipped`
      : `compat-${running.broker}: 0 passed, 1 failed`,
  );
  return status.code;
}

async function main(argv: string[]): Promise<number> {
  const build = argv[0] === "build";
  const rest = build ? argv.slice(1) : argv;
  const broker = rest[0] as CompatBroker;
  if (!BROKERS.includes(broker)) {
    console.error(
      `usage: deno task test:compat ${BROKERS.join("|")} [--nodes N] [test paths or deno test args]\n` +
        `       deno run -A scripts/compat.ts build ${BROKERS.join("|")}`,
    );
    return 2;
  }
  if (build) {
    console.log(await ensureBroker(broker));
    return 0;
  }
  let args = rest.slice(1);
  let nodes: number | undefined;
  const at = args.indexOf("--nodes");
  if (at >= 0) {
    nodes = Number(args[at + 1]);
    args = args.filter((_, i) => i !== at && i !== at + 1);
  }
  const t0 = Date.now();
  const running = await startBroker(broker, { nodes });
  console.error(
    `compat: ${broker} ${await brokerVersion(broker)} (pid ${running.pid}) on ${
      running.bootstrap.join(",")
    } ` +
      `after ${((Date.now() - t0) / 1000).toFixed(1)} s; log ${running.log}`,
  );
  // Interrupted (Ctrl-C, CI's timeout): the test run stops first (by its pid; scripts/test.ts passes it on to
  // deno test), then the broker.
  let suite: Deno.ChildProcess | null = null;
  const onSignal = () => {
    const stopping = suite ? stopChild(suite) : Promise.resolve();
    stopping.finally(() => running.stop()).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    return await runSuite(running, args, (child) => suite = child);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await running.stop();
    console.error(
      `compat: stopped ${broker} (pid ${running.pid}) after ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
