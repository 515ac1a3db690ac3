/**
 * kafka-deno's command-line tool, a user of mod.ts like any other:
 *
 * ```sh
 * deno run -A cli/cli.ts [--brokers host:port,...] [--json] <command> ...
 * ```
 *
 * Run it with `help` for the commands.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Client, connect } from "../mod.ts";
import { runCommand } from "./commands.ts";
import { UsageError } from "./format.ts";

/** The usage text. */
export const USAGE = `kafka-deno: Kafka from the command line

Usage: cli.ts [--brokers host:port,...] [--json] [--timeout-ms N] <command> [args]
  (brokers default to $KAFKA_BROKERS, else 127.0.0.1:9092)

Topics
  topics list [--internal]
  topics describe <topic>...
  topics create <topic> [--partitions N] [--replication-factor N] [--config key=value]...
  topics delete <topic>...
Consumer groups
  groups list [--state STATE]... [--type TYPE]...
  groups describe <group>
  groups lag <group>
  groups reset <group> --to earliest|latest|<ISO time or epoch ms>|shift:<n>|offset:<n> [--topic T]... [--dry-run]
  groups delete <group>...
Share groups (KIP-932)
  share-groups list
  share-groups describe <group>
  share-groups offsets <group>
Configs (type: topic, broker, brokerLogger, group, clientMetrics)
  configs describe <type> <name> [--all]
  configs alter <type> <name> [--set key=value]... [--delete key]... [--append key=value]... [--subtract key=value]...
Cluster
  cluster describe
Records
  produce <topic> [--key-separator SEP] [--header key=value]... [--partition N]    (one record per stdin line)
  consume <topic> [--group G] [--from earliest|latest|<ISO time or epoch ms>] [--max N] [--idle-ms N]
                  [--format "{key} {value}"]   (fields: topic partition offset timestamp key value headers)
`;

/**
 * Runs the CLI with `args`; returns the exit code (0 ok, 1 failure or a per-item error, 2 bad usage).
 *
 * @param args The command line, without the program.
 * @param io Where output goes (stdout lines and stderr lines).
 */
export async function main(
  args: string[],
  io: { out: (s: string) => void; err: (s: string) => void; stdin: ReadableStream<Uint8Array> },
): Promise<number> {
  // Global options may come anywhere before a "--".
  const globalArgs: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (a === "--brokers" || a === "--timeout-ms") globalArgs.push(a, args[++i] ?? "");
    else if (/^--(brokers|timeout-ms)=/.test(a) || a === "--json" || a === "--help" || a === "-h") {
      globalArgs.push(a);
    } else rest.push(a);
  }
  let g;
  try {
    g = parseArgs({
      args: globalArgs,
      options: {
        brokers: { type: "string" },
        json: { type: "boolean", default: false },
        "timeout-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    io.err(`error: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (g.help || rest.length === 0 || rest[0] === "help") {
    (rest.length === 0 && !g.help && rest[0] !== "help" ? io.err : io.out)(USAGE);
    return rest.length === 0 && !g.help ? 2 : 0;
  }
  const brokers = (g.brokers ?? Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",").map((s) =>
    s.trim()
  )
    .filter(Boolean);
  const timeoutMs = g["timeout-ms"] === undefined ? undefined : Number(g["timeout-ms"]);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    io.err(`error: --timeout-ms must be a positive number, got "${g["timeout-ms"]}"`);
    return 2;
  }
  let client: Client | null = null;
  try {
    client = await connect({ brokers, clientId: "kafka-deno-cli" });
    return await runCommand(client, rest, { json: g.json, timeoutMs }, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    await client?.close();
  }
}

if (import.meta.main) {
  const enc = new TextEncoder();
  const code = await main(Deno.args, {
    out: (s) => Deno.stdout.writeSync(enc.encode(s.endsWith("\n") ? s : s + "\n")),
    err: (s) => Deno.stderr.writeSync(enc.encode(s.endsWith("\n") ? s : s + "\n")),
    stdin: Deno.stdin.readable,
  });
  Deno.exit(code);
}
