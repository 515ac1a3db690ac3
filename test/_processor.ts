// examples/exactly_once.ts run as a child process by the exactly-once tests. Its stdout and stderr
// are read as they come (a pipe nobody reads fills up and blocks the child's next write) and
// kept, so that a test that finds it stalled or dead can say why.

/** A running processor. */
export interface Processor {
  /** The child process (kill it with `child.kill("SIGKILL")`). */
  readonly child: Deno.ChildProcess;
  /** Its exit status, once it exited and its output was read to the end. */
  readonly done: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  exited(): boolean;
  /** The tail of what it wrote to stderr so far. */
  stderr(): string;
  /** A few lines for an assertion message: whether it runs or exited (how), and its stderr's tail. */
  describe(): string;
}

/** How much of each stream is kept (the tail). */
const KEEP_CHARS = 400_000;

/**
 * Starts examples/exactly_once.ts for `input` and `output` with `env` (KAFKA_BROKERS and the
 * EOS_* settings).
 */
export function spawnProcessor(input: string, output: string, env: Record<string, string>): Processor {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      new URL("../examples/exactly_once.ts", import.meta.url).pathname,
      input,
      output,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  let status: Deno.CommandStatus | null = null;
  const read = async (stream: ReadableStream<Uint8Array>, keep: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) keep(decoder.decode(chunk, { stream: true }));
  };
  const done = Promise.all([
    read(child.stdout, () => {}),
    read(child.stderr, (text) => {
      err = (err + text).slice(-KEEP_CHARS);
    }),
  ]).then(() => child.status).then((s) => status = s);
  return {
    child,
    done,
    exited: () => status !== null,
    stderr: () => err,
    describe: () => {
      const state = status === null
        ? "the processor is still running"
        : `the processor exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`;
      return `${state}; its stderr ends with:\n${err.slice(-4000) || "(nothing)"}`;
    },
  };
}
