/**
 * Runs a local single-node Apache Kafka (KRaft, combined broker+controller) on
 * 127.0.0.1:9092 from Maven Central jars: no Docker, no tarball.
 *
 *     deno task kafka start|stop|status|kill|reset|logs
 *     deno task kafka tool <main class> [args...]   # Kafka's Java tools on the same classpath
 *
 * The jars are resolved once by Maven into a cache folder outside the repo
 * (`$KAFKA_DENO_CACHE`, default `~/.cache/kafka-deno`) and reused. When
 * `KAFKA_BROKERS` is set, `start` starts nothing: the tests use that cluster.
 *
 * The recipe is ../shared/kafka-broker.md, verified here: Kafka 4.1.1, format
 * with `--standalone`, readiness on "Kafka Server started" in the server log
 * plus a TCP connect. Differences found in practice: a properties-format log4j2
 * config avoids depending on YAML support, and the JVM's own stdout/stderr go to
 * a separate file so start-up crashes (before log4j) are still shown.
 *
 * @module
 */

import {
  BROKER_LOG4J,
  type BrokerInstance,
  exists,
  formattedBy,
  halt,
  instanceStatus,
  launch,
  markFormatted,
  portOpen,
  run,
  stateFiles,
  tail,
  waitReady,
} from "./_broker_process.ts";

export const KAFKA_VERSION = "4.4.0";
export const BROKER_HOST = "127.0.0.1";
/** The broker's port: 9092, or `KAFKA_DENO_PORT` (the controller listens on the next port). */
export const BROKER_PORT = Number(Deno.env.get("KAFKA_DENO_PORT") ?? 9092);
export const CONTROLLER_PORT = BROKER_PORT + 1;

const POM = new URL("./kafka/pom.xml", import.meta.url);

function home(): string {
  return Deno.env.get("HOME") ?? "/tmp";
}

/** The cache folder for jars and broker state, outside the repo. */
export function cacheDir(): string {
  return Deno.env.get("KAFKA_DENO_CACHE") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${home()}/.cache`}/kafka-deno`;
}

/** Where the resolved jars live. */
export function libsDir(): string {
  return `${cacheDir()}/kafka-${KAFKA_VERSION}/libs`;
}

/** The broker's state folder: config, data, logs, pid. */
export function stateDir(): string {
  return `${cacheDir()}/broker-${BROKER_PORT}`;
}

/** Paths of the files the broker uses. */
export function paths(): ReturnType<typeof stateFiles> {
  return stateFiles(stateDir());
}

/** Resolves Kafka's jars with Maven into the cache, once. */
export async function ensureJars(): Promise<string> {
  const libs = libsDir();
  const marker = `${libs}/.complete`;
  if (!await exists(toolsLog4j())) {
    await Deno.mkdir(cacheDir(), { recursive: true });
    await Deno.writeTextFile(toolsLog4j(), TOOLS_LOG4J);
  }
  if (await exists(marker)) return libs;
  console.error(
    `kafka: resolving Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs} (first time only)`,
  );
  await Deno.mkdir(libs, { recursive: true });
  await run("mvn", [
    "-B",
    "-q",
    "-f",
    POM.pathname,
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${libs}`,
  ]);
  const names: string[] = [];
  for await (const e of Deno.readDir(libs)) names.push(e.name);
  for (
    const want of [
      `kafka_2.13-${KAFKA_VERSION}.jar`,
      `kafka-tools-${KAFKA_VERSION}.jar`,
      "slf4j-api-1.7.36.jar",
    ]
  ) {
    if (!names.includes(want)) throw new Error(`kafka: ${want} missing after Maven resolution in ${libs}`);
  }
  if (names.some((n) => /^slf4j-api-2|^log4j-slf4j2/.test(n))) {
    throw new Error(`kafka: SLF4J 2 on the classpath in ${libs}; the pom's pins need fixing`);
  }
  await Deno.writeTextFile(marker, new Date().toISOString());
  return libs;
}

/** The classpath argument for Kafka's JVMs. */
export function classpath(): string {
  return `${libsDir()}/*`;
}

function serverProperties(p: ReturnType<typeof paths>): string {
  return `# Written by scripts/kafka.ts: a combined KRaft node on loopback for tests.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${BROKER_HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${BROKER_HOST}:${BROKER_PORT},CONTROLLER://${BROKER_HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${BROKER_HOST}:${BROKER_PORT},CONTROLLER://${BROKER_HOST}:${CONTROLLER_PORT}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${p.data}
# Tests create every topic they use with explicit partition counts (they must pass on clusters with
# auto-creation off, the default on Redpanda and managed services): this broker proves it every run.
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.share.min.record.lock.duration.ms=1000
group.initial.rebalance.delay.ms=0
# Timed-out transactions are aborted within a second of their timeout, not up to 10 s later (the default
# interval): transactions_test.ts waits 12 s after a 1 s timeout and needs the abort done by then.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
num.network.threads=2
num.io.threads=4
`;
}

const TOOLS_LOG4J = `# Written by scripts/kafka.ts: Kafka's tools log warnings to stderr only.
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
`;

function toolsLog4j(): string {
  return `${cacheDir()}/tools-log4j2.properties`;
}

/** A java command line for one of Kafka's tools (console producer, perf tests...). Call {@linkcode ensureJars} first. */
export function toolArgs(mainClass: string, args: string[], heap = "512m"): string[] {
  return [
    `-Xmx${heap}`,
    `-Dlog4j2.configurationFile=${toolsLog4j()}`,
    "-cp",
    classpath(),
    mainClass,
    ...args,
  ];
}

/** The broker's state: its pid when running. */
export function status(): Promise<{ running: boolean; pid: number | null; log: string }> {
  return instanceStatus(instance());
}

/** This broker as a managed instance. */
function instance(): BrokerInstance {
  return {
    name: "kafka",
    files: paths(),
    readyPort: BROKER_PORT,
    classpath: classpath(),
    jvmOptions: [
      "-Xms1g",
      "-Xmx1g",
      "-server",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:InitiatingHeapOccupancyPercent=35",
      "-XX:+ExplicitGCInvokesConcurrent",
      "-Djava.awt.headless=true",
    ],
  };
}

/** The bootstrap address list the tests should use. */
export function brokersFromEnv(): string | undefined {
  const v = Deno.env.get("KAFKA_BROKERS")?.trim();
  return v ? v : undefined;
}

/**
 * Starts the broker unless one of ours already runs; waits (bounded) until it
 * answers. Returns whether this call started it.
 */
export async function start(opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<boolean> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const p = paths();
  const st = await status();
  if (st.running) {
    await waitReady(instance(), st.pid!, timeoutMs, Date.now());
    if (!opts.quiet) console.error(`kafka: already running (pid ${st.pid}) on ${BROKER_HOST}:${BROKER_PORT}`);
    return false;
  }
  if (await portOpen(BROKER_PORT)) {
    throw new Error(
      `kafka: ${BROKER_HOST}:${BROKER_PORT} is taken by a process that is not this project's broker; ` +
        `stop it or set KAFKA_BROKERS to use it`,
    );
  }
  await ensureJars();
  await Deno.mkdir(p.logs, { recursive: true });
  await Deno.writeTextFile(p.config, serverProperties(p));
  await Deno.writeTextFile(p.log4j, BROKER_LOG4J);
  if (!await formattedBy(p, KAFKA_VERSION, "kafka")) {
    const java = [
      "-Xmx256m",
      `-Dlog4j2.configurationFile=${p.log4j}`,
      `-Dkafka.logs.dir=${p.logs}`,
      "-cp",
      classpath(),
    ];
    const clusterId = (await run("java", [...java, "kafka.tools.StorageTool", "random-uuid"])).trim();
    await run("java", [
      ...java,
      "kafka.tools.StorageTool",
      "format",
      "--standalone",
      "-t",
      clusterId,
      "-c",
      p.config,
    ]);
    await markFormatted(p, KAFKA_VERSION);
  }
  const started = Date.now();
  const pid = await launch(instance(), timeoutMs);
  if (!opts.quiet) {
    console.error(
      `kafka: started (pid ${pid}) on ${BROKER_HOST}:${BROKER_PORT} in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s; log ${p.serverLog}`,
    );
  }
  return true;
}

/** Stops our broker by its pid: SIGTERM (controlled shutdown), SIGKILL after a bounded wait. */
export function stop(opts: { timeoutMs?: number; signal?: Deno.Signal } = {}): Promise<boolean> {
  return halt(instance(), opts);
}

/** Kills the broker with SIGKILL (a crash, for failure tests). */
export function kill(): Promise<boolean> {
  return stop({ signal: "SIGKILL", timeoutMs: 10_000 });
}

async function main(argv: string[]): Promise<number> {
  const nodesAt = argv.indexOf("--nodes");
  const nodes = nodesAt >= 0 ? Number(argv[nodesAt + 1]) : 1;
  const args = nodesAt >= 0 ? argv.filter((_, i) => i !== nodesAt && i !== nodesAt + 1) : argv;
  const [cmd, ...rest] = args;
  if (nodes !== 1 || /-node$/.test(cmd ?? "")) {
    if (nodes !== 1 && nodes !== 3) throw new Error(`--nodes must be 1 or 3, got ${argv[nodesAt + 1]}`);
    return await clusterMain(cmd, rest);
  }
  const ext = brokersFromEnv();
  switch (cmd) {
    case "start":
      if (ext) {
        console.error(`kafka: KAFKA_BROKERS=${ext} is set: using that cluster, starting nothing`);
        return 0;
      }
      await start();
      return 0;
    case "stop": {
      const stopped = await stop();
      console.error(stopped ? "kafka: stopped" : "kafka: not running");
      return 0;
    }
    case "kill":
      console.error(await kill() ? "kafka: killed" : "kafka: not running");
      return 0;
    case "status": {
      if (ext) console.error(`kafka: KAFKA_BROKERS=${ext} is set; the local broker is not used`);
      const st = await status();
      console.log(st.running ? `running (pid ${st.pid}); log ${st.log}` : `stopped; log ${st.log}`);
      return 0;
    }
    case "reset":
      await stop();
      await Deno.remove(paths().data, { recursive: true }).catch(() => {});
      console.error(`kafka: removed ${paths().data}`);
      return 0;
    case "logs":
      console.log(await tail(paths().serverLog, Number(rest[0] ?? 60)));
      return 0;
    case "jars":
      console.log(await ensureJars());
      return 0;
    case "tool": {
      if (!rest[0]) throw new Error("usage: deno task kafka tool <main class> [args...]");
      await ensureJars();
      const out = await new Deno.Command("java", { args: toolArgs(rest[0], rest.slice(1)) }).spawn().status;
      return out.code;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

const USAGE = `usage: deno task kafka start|stop|status|kill|reset|logs|jars|tool <class> [args]
       deno task kafka start|stop|status|reset|logs [node id] --nodes 3   (the 3-node cluster)
       deno task kafka kill-node <id> [SIGKILL|SIGTERM] | start-node <id> | restart-node <id>`;

/** The 3-node cluster's commands (scripts/kafka_cluster.ts). */
async function clusterMain(cmd: string | undefined, rest: string[]): Promise<number> {
  const c = await import("./kafka_cluster.ts");
  const id = () => {
    const n = Number(rest[0]);
    if (!c.NODE_IDS.includes(n)) throw new Error(`${cmd}: which node? 1, 2 or 3`);
    return n;
  };
  switch (cmd) {
    case "start":
      if (Deno.env.get("KAFKA_CLUSTER_BROKERS")) {
        console.error(`kafka: KAFKA_CLUSTER_BROKERS is set: using that cluster, starting nothing`);
        return 0;
      }
      await c.startCluster();
      if (!rest.includes("--no-proxy")) {
        const pid = await c.startBackgroundProxy();
        console.error(`kafka: fault proxy (no faults) running in the background (pid ${pid})`);
      }
      return 0;
    case "stop":
      console.error(await c.stopCluster() ? "kafka: cluster stopped" : "kafka: cluster not running");
      return 0;
    case "status": {
      for (const s of await c.clusterStatus()) {
        console.log(
          `node ${s.id}: ${s.running ? `running (pid ${s.pid})` : "stopped"}; ports ${
            JSON.stringify(c.nodePorts(s.id))
          }; log ${s.log}`,
        );
      }
      const p = await c.backgroundProxyStatus();
      console.log(`proxy: ${p.running ? `running (pid ${p.pid})` : "not running in the background"}`);
      console.log(`bootstrap via proxy: ${c.proxyBootstrap().join(",")}`);
      console.log(`bootstrap direct:    ${c.directBootstrap().join(",")}`);
      return 0;
    }
    case "reset":
      await c.resetCluster();
      console.error(`kafka: removed ${c.clusterDir()}`);
      return 0;
    case "logs":
      console.log(await c.nodeLog(id(), Number(rest[1] ?? 60)));
      return 0;
    case "kill-node": {
      const signal = (rest[1] ?? "SIGKILL").toUpperCase();
      if (signal !== "SIGKILL" && signal !== "SIGTERM") {
        throw new Error("kill-node: signal is SIGKILL or SIGTERM");
      }
      console.error(
        await c.killNode(id(), signal) ? `kafka: node ${rest[0]} stopped (${signal})` : "not running",
      );
      return 0;
    }
    case "start-node":
      await c.startNode(id());
      console.error(`kafka: node ${rest[0]} running`);
      return 0;
    case "restart-node":
      await c.restartNode(id());
      console.error(`kafka: node ${rest[0]} restarted`);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

if (import.meta.main) {
  // No top-level await: the cluster commands import a module that imports this one.
  main(Deno.args).then((code) => Deno.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  });
}
