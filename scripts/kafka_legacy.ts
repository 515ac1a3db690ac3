/**
 * The oldest broker the client supports, for a smoke test: Apache Kafka 3.0.2
 * with the ZooKeeper it needs (3.0's KRaft mode was early access, without
 * transactions, so ZooKeeper mode is what 3.0 users run). Both come from Maven
 * Central (kafka_2.13 3.0.2 depends on zookeeper 3.6.3) into the cache folder
 * outside the repo, like the main broker's jars. Two JVMs on loopback: ZooKeeper
 * on `KAFKA_DENO_LEGACY_PORT`+1 and the broker on `KAFKA_DENO_LEGACY_PORT`
 * (default 9290). Every start begins with empty data (it is a throwaway broker).
 *
 *     deno task kafka-legacy start|stop|status|jars
 *
 * @module
 */

import { cacheDir } from "./kafka.ts";
import { exists, portOpen, run, sleep, tail } from "./_broker_process.ts";

/** The oldest supported Kafka release. */
export const LEGACY_KAFKA_VERSION = "3.0.2";
/** The host everything listens on. */
export const LEGACY_HOST = "127.0.0.1";
/** The legacy broker's port. */
export const LEGACY_PORT = Number(Deno.env.get("KAFKA_DENO_LEGACY_PORT") ?? 9290);
/** Its ZooKeeper's port. */
export const LEGACY_ZK_PORT = LEGACY_PORT + 1;

const POM = new URL("./kafka_legacy/pom.xml", import.meta.url);

/** Where the jars go. */
export function legacyLibsDir(): string {
  return `${cacheDir()}/kafka-${LEGACY_KAFKA_VERSION}/libs`;
}

/** The files of the legacy broker and its ZooKeeper. */
export function legacyPaths(): Record<
  | "state"
  | "zkData"
  | "data"
  | "logs"
  | "zkConfig"
  | "config"
  | "log4j"
  | "zkPid"
  | "pid"
  | "zkOut"
  | "jvmOut",
  string
> {
  const state = `${cacheDir()}/broker-legacy-${LEGACY_PORT}`;
  return {
    state,
    zkData: `${state}/zookeeper`,
    data: `${state}/data`,
    logs: `${state}/logs`,
    zkConfig: `${state}/zookeeper.properties`,
    config: `${state}/server.properties`,
    log4j: `${state}/log4j.properties`,
    zkPid: `${state}/zookeeper.pid`,
    pid: `${state}/kafka.pid`,
    zkOut: `${state}/logs/zookeeper.out`,
    jvmOut: `${state}/logs/kafka.out`,
  };
}

/** Resolves the legacy broker's jars with Maven into the cache, once. */
export async function ensureLegacyJars(): Promise<string> {
  const libs = legacyLibsDir();
  const marker = `${libs}/.complete`;
  if (await exists(marker)) return libs;
  console.error(
    `kafka-legacy: resolving Kafka ${LEGACY_KAFKA_VERSION} + ZooKeeper jars into ${libs} (first time only)`,
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
      `kafka_2.13-${LEGACY_KAFKA_VERSION}.jar`,
      "zookeeper-3.6.3.jar",
      "slf4j-log4j12-1.7.30.jar",
    ]
  ) {
    if (!names.includes(want)) {
      throw new Error(`kafka-legacy: ${want} missing after Maven resolution in ${libs}`);
    }
  }
  await Deno.writeTextFile(marker, new Date().toISOString());
  return libs;
}

// Kafka 3.0 and ZooKeeper 3.6 log with log4j 1.
const LOG4J = `# Written by scripts/kafka_legacy.ts
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${kafka.logs.dir}/\${log.name}.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
`;

function zkProperties(p: ReturnType<typeof legacyPaths>): string {
  return `# Written by scripts/kafka_legacy.ts
dataDir=${p.zkData}
clientPort=${LEGACY_ZK_PORT}
clientPortAddress=${LEGACY_HOST}
maxClientCnxns=0
admin.enableServer=false
`;
}

function serverProperties(p: ReturnType<typeof legacyPaths>): string {
  return `# Written by scripts/kafka_legacy.ts: Kafka ${LEGACY_KAFKA_VERSION} in ZooKeeper mode on loopback, for a smoke test.
broker.id=0
zookeeper.connect=${LEGACY_HOST}:${LEGACY_ZK_PORT}
zookeeper.connection.timeout.ms=30000
listeners=PLAINTEXT://${LEGACY_HOST}:${LEGACY_PORT}
advertised.listeners=PLAINTEXT://${LEGACY_HOST}:${LEGACY_PORT}
log.dirs=${p.data}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
`;
}

/** A running JVM of ours: the pid in `pidFile` is alive and its command line names `config`. */
async function ourPid(pidFile: string, config: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return cmdline.includes(config) && !/^\d+ \(.*\) Z/.test(stat) ? pid : null;
  } catch {
    return null;
  }
}

/** Starts a JVM detached (own session; `exec`, so the recorded pid is the JVM's). */
async function spawnJvm(pidFile: string, out: string, args: string[]): Promise<number> {
  await Deno.remove(pidFile).catch(() => {});
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", `echo $$ > '${pidFile}'; exec java ${quoted} > '${out}' 2>&1 < /dev/null`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    const n = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim());
    if (Number.isInteger(n) && n > 0) return n;
  }
  throw new Error(`kafka-legacy: ${pidFile} was not written`);
}

async function waitFor(
  what: string,
  pid: number,
  ready: () => Promise<boolean>,
  deadline: number,
  log: string,
) {
  while (Date.now() < deadline) {
    if (await ready()) return;
    try {
      if (/^\d+ \(.*\) Z/.test(await Deno.readTextFile(`/proc/${pid}/stat`))) break;
    } catch {
      break; // exited
    }
    await sleep(250);
  }
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  throw new Error(`kafka-legacy: ${what} (pid ${pid}) did not come up.\n--- ${log}\n${await tail(log)}`);
}

/** Whether the legacy broker runs. */
export async function legacyStatus(): Promise<
  { running: boolean; pid: number | null; zkPid: number | null }
> {
  const p = legacyPaths();
  const pid = await ourPid(p.pid, p.config);
  const zkPid = await ourPid(p.zkPid, p.zkConfig);
  return { running: pid !== null && zkPid !== null, pid, zkPid };
}

/**
 * Starts ZooKeeper and the broker with empty data unless both already run;
 * waits (bounded) until the broker is up. Returns whether this call started it.
 */
export async function startLegacy(opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<boolean> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 180_000);
  const st = await legacyStatus();
  if (st.running) return false;
  await stopLegacy();
  for (const port of [LEGACY_PORT, LEGACY_ZK_PORT]) {
    if (await portOpen(port)) {
      throw new Error(
        `kafka-legacy: ${LEGACY_HOST}:${port} is taken by another process; set KAFKA_DENO_LEGACY_PORT`,
      );
    }
  }
  const libs = await ensureLegacyJars();
  const p = legacyPaths();
  await Deno.remove(p.state, { recursive: true }).catch(() => {});
  await Deno.mkdir(p.logs, { recursive: true });
  await Deno.writeTextFile(p.log4j, LOG4J);
  await Deno.writeTextFile(p.zkConfig, zkProperties(p));
  await Deno.writeTextFile(p.config, serverProperties(p));
  const common = [
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${p.log4j}`,
    `-Dkafka.logs.dir=${p.logs}`,
    "-cp",
    `${libs}/*`,
  ];
  const zkPid = await spawnJvm(p.zkPid, p.zkOut, [
    "-Xmx128m",
    "-Dlog.name=zookeeper",
    "-Dzookeeper.4lw.commands.whitelist=ruok",
    ...common,
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    p.zkConfig,
  ]);
  await waitFor("ZooKeeper", zkPid, () => portOpen(LEGACY_ZK_PORT), deadline, `${p.logs}/zookeeper.log`);
  const serverLog = `${p.logs}/server.log`;
  const pid = await spawnJvm(p.pid, p.jvmOut, [
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-Dlog.name=server",
    ...common,
    "kafka.Kafka",
    p.config,
  ]);
  await waitFor(
    `Kafka ${LEGACY_KAFKA_VERSION}`,
    pid,
    async () =>
      /\] started \(kafka\.server\.KafkaServer\)/.test(await Deno.readTextFile(serverLog).catch(() => "")) &&
      await portOpen(LEGACY_PORT),
    deadline,
    serverLog,
  ).catch(async (err) => {
    await stopLegacy();
    throw err;
  });
  if (!opts.quiet) {
    console.error(
      `kafka-legacy: Kafka ${LEGACY_KAFKA_VERSION} (pid ${pid}, ZooKeeper pid ${zkPid}) on ${LEGACY_HOST}:${LEGACY_PORT} ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${p.logs}`,
    );
  }
  return true;
}

async function halt(pidFile: string, config: string, timeoutMs: number): Promise<boolean> {
  const pid = await ourPid(pidFile, config);
  if (pid === null) {
    await Deno.remove(pidFile).catch(() => {});
    return false;
  }
  Deno.kill(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && await ourPid(pidFile, config) !== null) await sleep(100);
  if (await ourPid(pidFile, config) !== null) {
    Deno.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && await ourPid(pidFile, config) !== null; i++) await sleep(100);
  }
  await Deno.remove(pidFile).catch(() => {});
  return true;
}

/** Stops the broker, then its ZooKeeper, by their pids. Returns whether anything ran. */
export async function stopLegacy(): Promise<boolean> {
  const p = legacyPaths();
  const broker = await halt(p.pid, p.config, 30_000);
  const zk = await halt(p.zkPid, p.zkConfig, 10_000);
  return broker || zk;
}

async function main(args: string[]): Promise<number> {
  switch (args[0]) {
    case "start":
      if (!await startLegacy()) {
        console.error(`kafka-legacy: already running on ${LEGACY_HOST}:${LEGACY_PORT}`);
      }
      return 0;
    case "stop":
      console.error(await stopLegacy() ? "kafka-legacy: stopped" : "kafka-legacy: not running");
      return 0;
    case "status": {
      const st = await legacyStatus();
      console.log(
        st.running
          ? `running (pid ${st.pid}, ZooKeeper pid ${st.zkPid}); logs ${legacyPaths().logs}`
          : "stopped",
      );
      return 0;
    }
    case "jars":
      console.log(await ensureLegacyJars());
      return 0;
    default:
      console.error("usage: deno task kafka-legacy start|stop|status|jars");
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
