/**
 * A local 3-node Apache Kafka cluster (KRaft, every node broker + controller,
 * three voters) on fixed loopback ports, from the same cached jars as the
 * single broker (scripts/kafka.ts). Replication factor 3, `min.insync.replicas`
 * 2. Each node is started and stopped by its own pid.
 *
 *     deno task kafka start --nodes 3      # cluster + a background fault proxy (no faults)
 *     deno task kafka stop --nodes 3
 *     deno task kafka status --nodes 3
 *     deno task kafka kill-node <id> [SIGKILL|SIGTERM]
 *     deno task kafka start-node <id>
 *
 * Ports, from one base `B` (`KAFKA_DENO_CLUSTER_PORT`, default 9292), node `i` = 1..3:
 *
 * | port          | what                                                                   |
 * | ------------- | ---------------------------------------------------------------------- |
 * | `B + i - 1`   | the fault proxy's listener for node i: what the CLIENT listener advertises |
 * | `B + 2 + i`   | node i's CLIENT listener (bound here, advertised as the proxy's port)  |
 * | `B + 5 + i`   | node i's INTERNAL listener: inter-broker traffic, and direct access     |
 * | `B + 8 + i`   | node i's CONTROLLER listener                                           |
 * | `B + 11 + i`  | node i's SECURE listener: SASL_SSL, SCRAM-SHA-256/512 (users are added |
 * |               | by tests with AlterUserScramCredentials), certificates in `certs/`     |
 *
 * A client bootstrapping from the proxy ports (or the CLIENT ports) is told the
 * proxy's ports, so all its traffic flows through the proxy
 * (scripts/fault_proxy.ts); that needs a proxy running. A client bootstrapping
 * from the INTERNAL ports is told the INTERNAL ports and talks to the brokers
 * directly: that is how independent checkers (Kafka's Java tools) read the
 * topics whatever faults the proxy injects.
 *
 * Who runs the proxy: `deno task kafka start --nodes 3` starts one in the
 * background (its own pid, no faults) so the cluster is usable by hand;
 * `deno task test` starts the cluster without it and every cluster test starts
 * its own proxy in-process on the fixed proxy ports ({@linkcode startClusterProxy}),
 * changes its faults and stops it.
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
  sleep,
  stateFiles,
  tail,
} from "./_broker_process.ts";
import { cacheDir, classpath, ensureJars, KAFKA_VERSION } from "./kafka.ts";
import { type FaultProxy, startFaultProxy } from "./fault_proxy.ts";
import { makeCertificates } from "./kafka_secure.ts";

/** The number of nodes. */
export const NODES = 3;
/** Node ids, 1-based. */
export const NODE_IDS: readonly number[] = [1, 2, 3];
/** The loopback host. */
export const HOST = "127.0.0.1";

/** The base port: `KAFKA_DENO_CLUSTER_PORT` or 9292 (clear of 9092/9093 and the secure broker's 9192-9199; it uses base..base+14). */
export function basePort(): number {
  const v = Number(Deno.env.get("KAFKA_DENO_CLUSTER_PORT") ?? 9292);
  if (!Number.isInteger(v) || v < 1024 || v > 65_000) {
    throw new Error(`KAFKA_DENO_CLUSTER_PORT must be a port in 1024..65000, got ${v}`);
  }
  return v;
}

/** The ports of node `id` (1..3). */
export function nodePorts(
  id: number,
): { proxy: number; client: number; internal: number; controller: number; secure: number } {
  checkId(id);
  const b = basePort();
  return {
    proxy: b + id - 1,
    client: b + 2 + id,
    internal: b + 5 + id,
    controller: b + 8 + id,
    secure: b + 11 + id,
  };
}

/** The bootstrap list of the SECURE (SASL_SSL, SCRAM) listeners. */
export function secureBootstrap(): string[] {
  return NODE_IDS.map((id) => `${HOST}:${nodePorts(id).secure}`);
}

/** The folder of the cluster's test PKI (ca.pem signs every node's certificate). */
export function clusterCertsDir(): string {
  return `${clusterDir()}/certs`;
}

function checkId(id: number): void {
  if (!NODE_IDS.includes(id)) throw new Error(`node id must be 1, 2 or 3, got ${id}`);
}

/** The bootstrap list through the proxy (what clients under test use). */
export function proxyBootstrap(): string[] {
  return NODE_IDS.map((id) => `${HOST}:${nodePorts(id).proxy}`);
}

/** The bootstrap list straight to the brokers (INTERNAL listener), bypassing the proxy: for checkers. */
export function directBootstrap(): string[] {
  return NODE_IDS.map((id) => `${HOST}:${nodePorts(id).internal}`);
}

/** The proxy routes: proxy port -> the node's CLIENT port. */
export function proxyRoutes(): { listenPort: number; targetPort: number }[] {
  return NODE_IDS.map((id) => ({ listenPort: nodePorts(id).proxy, targetPort: nodePorts(id).client }));
}

/** The cluster's state folder. */
export function clusterDir(): string {
  return `${cacheDir()}/cluster-${basePort()}`;
}

function nodeFiles(id: number): ReturnType<typeof stateFiles> {
  return stateFiles(`${clusterDir()}/node-${id}`);
}

function instance(id: number): BrokerInstance {
  return {
    name: `kafka-node-${id}`,
    files: nodeFiles(id),
    readyPort: nodePorts(id).internal,
    classpath: classpath(),
    jvmOptions: [
      "-Xms256m",
      "-Xmx512m",
      "-server",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExplicitGCInvokesConcurrent",
      "-XX:TieredStopAtLevel=1",
      "-Djava.awt.headless=true",
    ],
  };
}

function serverProperties(id: number): string {
  const p = nodePorts(id);
  const voters = NODE_IDS.map((n) => `${n}@${HOST}:${nodePorts(n).controller}`).join(",");
  return `# Written by scripts/kafka_cluster.ts: node ${id} of a 3-node KRaft cluster on loopback for tests.
process.roles=broker,controller
node.id=${id}
controller.quorum.voters=${voters}
listeners=CLIENT://${HOST}:${p.client},INTERNAL://${HOST}:${p.internal},CONTROLLER://${HOST}:${p.controller},SECURE://${HOST}:${p.secure}
advertised.listeners=CLIENT://${HOST}:${p.proxy},INTERNAL://${HOST}:${p.internal},CONTROLLER://${HOST}:${p.controller},SECURE://${HOST}:${p.secure}
listener.security.protocol.map=CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL
listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.location=${clusterCertsDir()}/broker-keystore.pem
listener.name.secure.ssl.truststore.type=PEM
listener.name.secure.ssl.truststore.location=${clusterCertsDir()}/ca.pem
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
log.dirs=${nodeFiles(id).data}
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
log.cleaner.enable=false
controlled.shutdown.enable=true
replica.lag.time.max.ms=10000
# An out-of-sync replica under a replication throttle still fetches one burst (up to
# replica.fetch.max.bytes) whenever its measured rate is under the quota; with 1 s windows that is
# a burst every 11 s, enough on a slow machine for the throttled followers of the unclean-election
# test to catch up. 60 s windows make it one burst per 11 minutes.
replication.quota.window.size.seconds=60
`;
}

/** One node's state. */
export interface NodeStatus {
  /** Node id, 1..3. */
  id: number;
  /** Whether its JVM runs. */
  running: boolean;
  /** Its pid when running. */
  pid: number | null;
  /** Its server log. */
  log: string;
}

/** The state of every node. */
export function clusterStatus(): Promise<NodeStatus[]> {
  return Promise.all(NODE_IDS.map(async (id) => ({ id, ...await instanceStatus(instance(id)) })));
}

/** The pids of the running nodes, by id. */
export async function nodePids(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const s of await clusterStatus()) if (s.pid !== null) out.set(s.id, s.pid);
  return out;
}

async function writeConfigs(id: number): Promise<void> {
  const f = nodeFiles(id);
  // One test PKI for the three SECURE listeners (the broker certificate names 127.0.0.1), made once.
  if (!await exists(`${clusterCertsDir()}/broker-keystore.pem`)) await makeCertificates(clusterCertsDir());
  await Deno.mkdir(f.logs, { recursive: true });
  await Deno.writeTextFile(f.config, serverProperties(id));
  await Deno.writeTextFile(f.log4j, BROKER_LOG4J);
}

async function formatAll(): Promise<void> {
  const formatted = await Promise.all(
    NODE_IDS.map((id) => formattedBy(nodeFiles(id), KAFKA_VERSION, `node ${id}`)),
  );
  if (formatted.every(Boolean)) return;
  // A partly formatted cluster cannot be repaired: start afresh.
  for (const id of NODE_IDS) await Deno.remove(nodeFiles(id).data, { recursive: true }).catch(() => {});
  const java = (id: number) => [
    "-Xmx256m",
    `-Dlog4j2.configurationFile=${nodeFiles(id).log4j}`,
    `-Dkafka.logs.dir=${nodeFiles(id).logs}`,
    "-cp",
    classpath(),
  ];
  const clusterId = (await run("java", [...java(1), "kafka.tools.StorageTool", "random-uuid"])).trim();
  await Promise.all(
    NODE_IDS.map((id) =>
      run("java", [
        ...java(id),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        nodeFiles(id).config,
      ])
    ),
  );
  for (const id of NODE_IDS) await markFormatted(nodeFiles(id), KAFKA_VERSION);
}

/** Starts node `id` unless it runs; waits (bounded) until it answers. Returns whether this call started it. */
export async function startNode(id: number, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  checkId(id);
  const st = await instanceStatus(instance(id));
  if (st.running) return false;
  const ports = nodePorts(id);
  for (const port of [ports.client, ports.internal, ports.controller, ports.secure]) {
    if (await portOpen(port)) {
      throw new Error(
        `kafka-node-${id}: ${HOST}:${port} is taken by a process that is not this cluster's node`,
      );
    }
  }
  await writeConfigs(id);
  await launch(instance(id), opts.timeoutMs ?? 180_000);
  return true;
}

/**
 * Starts the 3-node cluster (formats it the first time), nodes in parallel;
 * waits (bounded) until every node answers and the cluster has a controller and
 * three registered brokers. Returns whether any node was started by this call.
 */
export async function startCluster(opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<boolean> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const began = Date.now();
  await ensureJars();
  for (const id of NODE_IDS) await writeConfigs(id);
  const st = await clusterStatus();
  if (st.every((s) => !s.running)) await formatAll();
  const started = await Promise.all(NODE_IDS.map((id) => startNode(id, { timeoutMs })));
  await waitClusterReady(Math.max(10_000, timeoutMs - (Date.now() - began)));
  if (!opts.quiet) {
    const pids = await nodePids();
    console.error(
      `kafka: 3-node cluster ${started.some(Boolean) ? "started" : "already running"} in ${
        ((Date.now() - began) / 1000).toFixed(1)
      } s (pids ${[...pids.values()].join(", ")}); direct ${directBootstrap().join(",")}; ` +
        `via proxy ${proxyBootstrap().join(",")}; logs in ${clusterDir()}`,
    );
  }
  return started.some(Boolean);
}

/** Waits (bounded) until every node's server log says it started and its INTERNAL port answers. */
export async function waitClusterReady(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of NODE_IDS) {
    for (;;) {
      const f = nodeFiles(id);
      const log = await Deno.readTextFile(f.serverLog).catch(() => "");
      if (log.includes("Kafka Server started") && await portOpen(nodePorts(id).internal)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `kafka-node-${id} is not ready after ${timeoutMs} ms\n--- ${f.serverLog}\n${await tail(
            f.serverLog,
          )}`,
        );
      }
      await sleep(250);
    }
  }
}

/**
 * Stops node `id` by its pid: `SIGTERM` is a controlled shutdown (bounded
 * wait, then SIGKILL), `SIGKILL` a crash. Returns whether it was running.
 */
export function stopNode(id: number, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<boolean> {
  checkId(id);
  return halt(instance(id), { signal, timeoutMs: signal === "SIGKILL" ? 10_000 : 60_000 });
}

/** Kills node `id` with `signal` (SIGKILL by default): a crash or a clean stop, for failure tests. */
export function killNode(id: number, signal: "SIGTERM" | "SIGKILL" = "SIGKILL"): Promise<boolean> {
  return stopNode(id, signal);
}

/** Restarts node `id`: stops it if it runs (SIGTERM), starts it, waits until it answers. */
export async function restartNode(id: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  await stopNode(id);
  await startNode(id, opts);
}

/** Stops every node (in parallel, SIGTERM then SIGKILL after a bounded wait) and the background proxy. */
export async function stopCluster(): Promise<boolean> {
  await stopBackgroundProxy();
  const stopped = await Promise.all(NODE_IDS.map((id) => stopNode(id)));
  return stopped.some(Boolean);
}

/** Stops the cluster and removes its data (the next start formats afresh). */
export async function resetCluster(): Promise<void> {
  await stopCluster();
  await Deno.remove(clusterDir(), { recursive: true }).catch(() => {});
}

/** The last lines of node `id`'s server log. */
export function nodeLog(id: number, lines = 60): Promise<string> {
  return tail(nodeFiles(id).serverLog, lines);
}

/** Starts the fault proxy for this cluster in-process on the fixed proxy ports (no faults yet). */
export function startClusterProxy(): Promise<FaultProxy> {
  return startFaultProxy({ routes: proxyRoutes(), hostname: HOST });
}

// ---- the background proxy of `deno task kafka start --nodes 3` ----

function proxyPidFile(): string {
  return `${clusterDir()}/proxy.pid`;
}

function proxyLogFile(): string {
  return `${clusterDir()}/proxy.log`;
}

async function backgroundProxyPid(): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(proxyPidFile())).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    return cmdline.includes("fault_proxy.ts") ? pid : null;
  } catch {
    return null;
  }
}

/** Whether the background proxy runs; its pid. */
export async function backgroundProxyStatus(): Promise<{ running: boolean; pid: number | null }> {
  const pid = await backgroundProxyPid();
  return { running: pid !== null, pid };
}

/** Starts the fault proxy as a background process (its own session, recorded pid) on the fixed proxy ports. */
export async function startBackgroundProxy(): Promise<number> {
  const running = await backgroundProxyPid();
  if (running !== null) return running;
  for (const r of proxyRoutes()) {
    if (await portOpen(r.listenPort)) {
      throw new Error(`fault proxy: ${HOST}:${r.listenPort} is taken (another proxy or process)`);
    }
  }
  await Deno.mkdir(clusterDir(), { recursive: true });
  const script = new URL("./fault_proxy.ts", import.meta.url).pathname;
  const routes = proxyRoutes().map((r) => `${r.listenPort}:${r.targetPort}`).join(",");
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const cmd = `echo $$ > ${q(proxyPidFile())}; exec ${q(Deno.execPath())} run --allow-net ${q(script)} ` +
    `--routes ${routes} > ${q(proxyLogFile())} 2>&1 < /dev/null`;
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", cmd],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  for (let i = 0; i < 200; i++) {
    await sleep(100);
    const pid = await backgroundProxyPid();
    if (pid !== null && await portOpen(proxyRoutes()[2].listenPort)) return pid;
  }
  throw new Error(`fault proxy did not start\n--- ${proxyLogFile()}\n${await tail(proxyLogFile())}`);
}

/** Stops the background proxy by its pid. Returns whether it was running. */
export async function stopBackgroundProxy(): Promise<boolean> {
  const pid = await backgroundProxyPid();
  if (pid === null) return false;
  Deno.kill(pid, "SIGTERM");
  for (let i = 0; i < 50 && await backgroundProxyPid() !== null; i++) await sleep(100);
  if (await backgroundProxyPid() !== null) Deno.kill(pid, "SIGKILL");
  await Deno.remove(proxyPidFile()).catch(() => {});
  return true;
}
