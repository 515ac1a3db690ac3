/**
 * One Kafka broker JVM managed by its pid file: status, launch (detached, its
 * own session, readiness bounded in time), and stop by pid. Shared by the plain
 * local broker (scripts/kafka.ts) and the secured one (scripts/kafka_secure.ts).
 *
 * @module
 */

/** The files of one broker instance. */
export interface BrokerFiles {
  /** server.properties. */
  config: string;
  /** The log4j2 config of the broker. */
  log4j: string;
  /** The folder for server.log. */
  logs: string;
  /** The broker's log, where readiness is read. */
  serverLog: string;
  /** The JVM's own stdout/stderr (crashes before log4j starts). */
  jvmOut: string;
  /** The pid file. */
  pid: string;
}

/** The files of a broker instance whose state lives in one folder, plus that folder and its data folder. */
export function stateFiles(dir: string): BrokerFiles & { state: string; data: string } {
  return {
    state: dir,
    config: `${dir}/server.properties`,
    log4j: `${dir}/log4j2.properties`,
    data: `${dir}/data`,
    logs: `${dir}/logs`,
    serverLog: `${dir}/logs/server.log`,
    jvmOut: `${dir}/logs/jvm.out`,
    pid: `${dir}/kafka.pid`,
  };
}

/** A broker instance: its name in messages, its files, and the port that must answer when it is ready. */
export interface BrokerInstance {
  /** "kafka" or "kafka-secure", for messages. */
  name: string;
  /** Its files. */
  files: BrokerFiles;
  /** A port that accepts connections once the broker is ready. */
  readyPort: number;
  /** Extra JVM options (heap, JIT) before the classpath. */
  jvmOptions: string[];
  /** The classpath. */
  classpath: string;
}

/** The broker log4j2 config: INFO to server.log, chatty loggers at WARN. */
export const BROKER_LOG4J = `# Written by scripts/_broker_process.ts
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
`;

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command; its stdout, or an error with the end of its output. */
export async function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${(text + err).slice(-4000)}`);
  }
  return text;
}

/** The last lines of a file, for error messages. */
export async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return `(no ${path})`;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A failed /proc read means the process is gone, unless Deno refused the read (it needs -A). */
function procGone(err: unknown): false {
  if (err instanceof Deno.errors.NotFound) return false;
  throw new Error(`cannot inspect processes under /proc (${(err as Error).message}); run with -A`, {
    cause: err,
  });
}

async function readPid(files: BrokerFiles): Promise<number | null> {
  try {
    const n = Number((await Deno.readTextFile(files.pid)).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Whether the process runs and is this instance's broker (its command line names kafka.Kafka and our config). */
async function isOurBroker(pid: number, files: BrokerFiles): Promise<boolean> {
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.includes("kafka.Kafka") && cmdline.includes(files.config);
  } catch (err) {
    return procGone(err);
  }
}

/** Whether the process exists and is not a zombie (the pid is recorded before `exec java`). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    return !/^\d+ \(.*\) Z/.test(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch (err) {
    return procGone(err);
  }
}

/** The instance's state: its pid when running. */
export async function instanceStatus(
  inst: BrokerInstance,
): Promise<{ running: boolean; pid: number | null; log: string }> {
  const pid = await readPid(inst.files);
  const running = pid !== null && await isOurBroker(pid, inst.files);
  return { running, pid: running ? pid : null, log: inst.files.serverLog };
}

/** Waits (bounded) until the broker logged its start and its port answers; fails with the logs' last lines. */
export async function waitReady(
  inst: BrokerInstance,
  pid: number,
  timeoutMs: number,
  since: number,
): Promise<void> {
  const f = inst.files;
  const deadline = since + timeoutMs;
  while (Date.now() < deadline) {
    if (!await isAlive(pid)) {
      throw new Error(
        `${inst.name}: the broker (pid ${pid}) exited during start-up.\n--- ${f.jvmOut}\n${await tail(
          f.jvmOut,
        )}\n` +
          `--- ${f.serverLog}\n${await tail(f.serverLog)}`,
      );
    }
    const log = await Deno.readTextFile(f.serverLog).catch(() => "");
    if (log.includes("Kafka Server started") && await portOpen(inst.readyPort)) return;
    await sleep(250);
  }
  throw new Error(
    `${inst.name}: the broker (pid ${pid}) did not answer within ${timeoutMs} ms.\n--- ${f.serverLog}\n${await tail(
      f.serverLog,
    )}`,
  );
}

/**
 * Starts the broker JVM detached (its own session, so a Ctrl-C aimed at a test
 * run does not reach it; `exec`, so the recorded pid is the JVM's) and waits
 * until it is ready. A broker that does not come up is killed by its pid.
 * Returns the pid.
 */
export async function launch(inst: BrokerInstance, timeoutMs: number): Promise<number> {
  const f = inst.files;
  // Truncate the server log so readiness is judged on this start's lines only.
  await Deno.writeTextFile(f.serverLog, "");
  const jvm = [
    ...inst.jvmOptions,
    `-Dkafka.logs.dir=${f.logs}`,
    `-Dlog4j2.configurationFile=${f.log4j}`,
    "-cp",
    inst.classpath,
    "kafka.Kafka",
    f.config,
  ];
  const started = Date.now();
  await Deno.remove(f.pid).catch(() => {});
  const quoted = jvm.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", `echo $$ > '${f.pid}'; exec java ${quoted} > '${f.jvmOut}' 2>&1 < /dev/null`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  let pid: number | null = null;
  for (let i = 0; i < 100 && pid === null; i++) {
    await sleep(50);
    pid = await readPid(f);
  }
  if (pid === null) throw new Error(`${inst.name}: the broker process did not record its pid`);
  try {
    await waitReady(inst, pid, timeoutMs, started);
  } catch (err) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    await Deno.remove(f.pid).catch(() => {});
    throw err;
  }
  return pid;
}

/** Stops the broker by its pid: `signal` (SIGTERM: controlled shutdown), SIGKILL after a bounded wait. */
export async function halt(
  inst: BrokerInstance,
  opts: { timeoutMs?: number; signal?: Deno.Signal } = {},
): Promise<boolean> {
  const st = await instanceStatus(inst);
  if (!st.running) {
    await Deno.remove(inst.files.pid).catch(() => {});
    return false;
  }
  const pid = st.pid!;
  Deno.kill(pid, opts.signal ?? "SIGTERM");
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline && await isOurBroker(pid, inst.files)) await sleep(100);
  if (await isOurBroker(pid, inst.files)) {
    Deno.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && await isOurBroker(pid, inst.files); i++) await sleep(100);
  }
  await Deno.remove(inst.files.pid).catch(() => {});
  return true;
}

/** The file in a broker's state folder that names the Kafka version that formatted its data. */
function formatMarker(state: string): string {
  return `${state}/formatted-with`;
}

/**
 * Whether `files.data` holds storage formatted by Kafka `version`. Storage
 * from another version (or of unknown origin) is removed, so the caller formats
 * it again: these are throwaway test brokers, and feature levels such as
 * `share.version` or `transaction.version` are fixed when storage is formatted,
 * so an old folder would silently run a new broker with old features.
 */
export async function formattedBy(
  files: { state: string; data: string },
  version: string,
  name: string,
): Promise<boolean> {
  if (!await exists(`${files.data}/meta.properties`)) return false;
  const was = await Deno.readTextFile(formatMarker(files.state)).then((t) => t.trim(), () => "");
  if (was === version) return true;
  console.error(
    `${name}: its storage was formatted by ${
      was ? `Kafka ${was}` : "an earlier version"
    }, not Kafka ${version}: formatting it again (its topics are dropped)`,
  );
  await Deno.remove(files.data, { recursive: true });
  return false;
}

/** Records that `files.data` was formatted by Kafka `version` (see {@linkcode formattedBy}). */
export async function markFormatted(files: { state: string }, version: string): Promise<void> {
  await Deno.writeTextFile(formatMarker(files.state), `${version}\n`);
}
