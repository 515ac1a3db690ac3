/**
 * Real peers for interop tests: Kafka's own Java tools (from the same Maven
 * jars as the local broker) and kcat (librdkafka).
 *
 * @module
 */

import { ensureJars, toolArgs } from "../scripts/kafka.ts";
import { BROKERS } from "./_broker.ts";

/** What a tool printed. */
export interface ToolOutput {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

async function runTool(
  cmd: string,
  args: string[],
  stdin: string | undefined,
  timeoutMs: number,
): Promise<ToolOutput> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const td = new TextDecoder();
    return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one of Kafka's Java tools by main class; `--bootstrap-server` is up to the caller. */
export async function javaTool(
  mainClass: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<ToolOutput> {
  await ensureJars();
  return await runTool("java", toolArgs(mainClass, args), opts.stdin, opts.timeoutMs ?? 60_000);
}

/** Runs kcat against the test brokers (`-b` added). */
export function kcat(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ToolOutput> {
  return runTool("kcat", ["-b", BROKERS.join(","), ...args], opts.stdin, opts.timeoutMs ?? 60_000);
}

/** Throws with the tool's output unless it exited 0. */
export function ok(out: ToolOutput, what: string): ToolOutput {
  if (out.code !== 0) {
    throw new Error(`${what} exited ${out.code}\n${out.stderr.slice(-3000)}\n${out.stdout.slice(-1000)}`);
  }
  return out;
}
