/**
 * The CLI's commands: each parses its own arguments and prints a table or JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Client, ConfigOp, ConfigResourceType, ConsumerRecord, ResetTarget } from "../mod.ts";
import { type Cell, json, table, UsageError } from "./format.ts";

/** Where output goes. */
export interface IO {
  /** Prints to stdout. */
  out: (s: string) => void;
  /** Prints to stderr. */
  err: (s: string) => void;
  /** The input. */
  stdin: ReadableStream<Uint8Array>;
}

/** Global options. */
export interface Globals {
  /** Print JSON instead of tables. */
  json: boolean;
  /** The per-call timeout. */
  timeoutMs?: number;
}

type Spec = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

function parse(args: string[], options: Spec, min: number, max = Infinity) {
  let r;
  try {
    r = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (r.positionals.length < min || r.positionals.length > max) {
    throw new UsageError(
      `expected ${
        min === max ? min : `${min}${max === Infinity ? "+" : `-${max}`}`
      } argument(s), got ${r.positionals.length}`,
    );
  }
  return r as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
}

function int(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  return n;
}

function pairs(name: string, list: unknown): [string, string][] {
  return ((list as string[] | undefined) ?? []).map((kv) => {
    const i = kv.indexOf("=");
    if (i <= 0) throw new UsageError(`--${name} takes key=value, got "${kv}"`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  });
}

/** "earliest", "latest", an ISO time or epoch milliseconds. */
function timeOrPosition(what: string, v: string): "earliest" | "latest" | { timestamp: number } {
  if (v === "earliest" || v === "latest") return v;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`${what} must be earliest, latest, an ISO time or epoch ms, got "${v}"`);
  }
  return { timestamp: ms };
}

/** The config sources that mean "set on this resource", per resource type. */
const OWN_SOURCES: Record<string, string[]> = {
  topic: ["DYNAMIC_TOPIC_CONFIG"],
  broker: ["DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG"],
  brokerLogger: ["DYNAMIC_BROKER_LOGGER_CONFIG"],
  clientMetrics: ["CLIENT_METRICS_CONFIG"],
  group: ["GROUP_CONFIG"],
};

function errorText(e: { message: string; type?: string } | null): string | null {
  return e ? (e.type ?? e.message) : null;
}

/**
 * Runs one command; returns the exit code.
 *
 * @param client The connected client.
 * @param args The command and its arguments.
 * @param g Global options.
 * @param io Output.
 */
export async function runCommand(client: Client, args: string[], g: Globals, io: IO): Promise<number> {
  const admin = client.admin();
  const t = { timeoutMs: g.timeoutMs };
  const [cmd, sub, ...rest] = args;
  const print = (data: unknown, headers: string[], rows: Cell[][]) =>
    io.out(g.json ? json(data) : rows.length ? table(headers, rows) : "(none)");
  const key = `${cmd} ${sub ?? ""}`.trim();
  switch (key) {
    case "topics list": {
      const { values } = parse(rest, { internal: { type: "boolean" } }, 0, 0);
      const topics = await admin.listTopics({ ...t, includeInternal: values.internal === true });
      print(topics, ["TOPIC", "PARTITIONS", "ID"], topics.map((x) => [x.name, x.partitions, x.topicId]));
      return 0;
    }
    case "topics describe": {
      const { positionals } = parse(rest, {}, 1);
      const topics = await admin.describeTopics(positionals, t);
      print(
        topics,
        ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE", "ERROR"],
        topics.flatMap((x) =>
          x.error ? [[x.name, null, null, null, null, null, errorText(x.error)]] : x.partitions.map((p) => [
            x.name,
            p.partition,
            p.leader,
            p.replicas.join(","),
            p.isr.join(","),
            p.offlineReplicas.join(",") || null,
            null,
          ])
        ),
      );
      return topics.some((x) => x.error) ? 1 : 0;
    }
    case "topics create": {
      const { values, positionals } = parse(
        rest,
        {
          partitions: { type: "string" },
          "replication-factor": { type: "string" },
          config: { type: "string", multiple: true },
          "if-not-exists": { type: "boolean" },
        },
        1,
        1,
      );
      const created = await admin.createTopics([{
        topic: positionals[0],
        partitions: int("partitions", values.partitions),
        replicationFactor: int("replication-factor", values["replication-factor"]),
        configs: Object.fromEntries(pairs("config", values.config)),
      }], { ...t, ifNotExists: values["if-not-exists"] === true });
      print(
        created,
        ["TOPIC", "CREATED", "PARTITIONS", "REPLICATION", "ID"],
        created.map((c) => [c.topic, c.created, c.partitions, c.replicationFactor, c.topicId]),
      );
      return 0;
    }
    case "topics delete": {
      const { positionals } = parse(rest, {}, 1);
      await admin.deleteTopics(positionals, t);
      print({ deleted: positionals }, ["DELETED"], positionals.map((p) => [p]));
      return 0;
    }
    case "groups list": {
      const { values } = parse(
        rest,
        { state: { type: "string", multiple: true }, type: { type: "string", multiple: true } },
        0,
        0,
      );
      const groups = await admin.listGroups({
        ...t,
        states: values.state as string[],
        types: values.type as string[],
      });
      print(
        groups,
        ["GROUP", "STATE", "TYPE", "PROTOCOL", "COORDINATOR"],
        groups.map((x) => [
          x.groupId,
          x.state || null,
          x.type || null,
          x.protocolType || null,
          x.coordinator,
        ]),
      );
      return 0;
    }
    case "groups describe": {
      const { positionals } = parse(rest, {}, 1, 1);
      const [d] = await admin.describeGroups(positionals, t);
      if (d.error) throw d.error;
      if (g.json) {
        io.out(json(d));
        return 0;
      }
      io.out(
        `group ${d.groupId}: ${d.state} (${d.type}, assignor ${
          d.assignor || "-"
        }, coordinator ${d.coordinator})`,
      );
      print(
        d,
        ["MEMBER", "CLIENT", "HOST", "ASSIGNMENT"],
        d.members.map((m) => [
          m.memberId,
          m.clientId,
          m.clientHost,
          m.assignment.map((a) => `${a.topic}:${a.partitions.join(",")}`).join(" ") || null,
        ]),
      );
      return 0;
    }
    case "share-groups list": {
      parse(rest, {}, 0, 0);
      const list = await admin.listShareGroups();
      print(list, ["GROUP", "STATE"], list.map((x) => [x.groupId, x.state]));
      return 0;
    }
    case "share-groups describe": {
      const { positionals } = parse(rest, {}, 1, 1);
      const [d] = await admin.describeShareGroups(positionals, t);
      if (g.json) {
        io.out(json(d));
        return 0;
      }
      io.out(`share group ${d.groupId}: ${d.state} (assignor ${d.assignor || "-"}, epoch ${d.groupEpoch})`);
      print(
        d,
        ["MEMBER", "CLIENT", "HOST", "ASSIGNMENT"],
        d.members.map((m) => [
          m.memberId,
          m.clientId,
          m.clientHost,
          m.assignment.map((a) => `${a.topic}:${a.partitions.join(",")}`).join(" ") || null,
        ]),
      );
      return 0;
    }
    case "share-groups offsets": {
      const { positionals } = parse(rest, {}, 1, 1);
      const offsets = await admin.describeShareGroupOffsets(positionals[0], undefined, t);
      print(
        offsets,
        ["TOPIC", "PARTITION", "START-OFFSET", "LAG"],
        offsets.map((o) => [o.topic, o.partition, o.startOffset, o.lag < 0n ? null : o.lag]),
      );
      return 0;
    }
    case "groups lag": {
      const { positionals } = parse(rest, {}, 1, 1);
      const lag = await admin.groupLag(positionals[0], t);
      if (g.json) {
        io.out(json(lag));
      } else {
        print(
          lag,
          ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"],
          lag.partitions.map((p) => [
            p.topic,
            p.partition,
            p.committed,
            p.end,
            p.lag,
          ]),
        );
        io.out(`total lag: ${lag.total}`);
      }
      return lag.partitions.some((p) => p.error) ? 1 : 0;
    }
    case "groups reset": {
      const { values, positionals } = parse(
        rest,
        {
          to: { type: "string" },
          topic: { type: "string", multiple: true },
          "dry-run": { type: "boolean" },
        },
        1,
        1,
      );
      if (typeof values.to !== "string") throw new UsageError("groups reset needs --to");
      const to = values.to;
      let target: ResetTarget;
      if (to.startsWith("shift:")) target = { shift: BigInt(to.slice(6)) };
      else if (to.startsWith("offset:")) target = { offset: BigInt(to.slice(7)) };
      else target = timeOrPosition("--to", to);
      const res = await admin.resetGroupOffsets(positionals[0], {
        ...t,
        to: target,
        topics: values.topic as string[] | undefined,
        dryRun: values["dry-run"] === true,
      });
      print(
        res,
        ["TOPIC", "PARTITION", "PREVIOUS", "NEW", "ERROR"],
        res.map((r) => [
          r.topic,
          r.partition,
          r.previous,
          r.offset,
          errorText(r.error),
        ]),
      );
      return res.some((r) => r.error) ? 1 : 0;
    }
    case "groups delete": {
      const { positionals } = parse(rest, {}, 1);
      const res = await admin.deleteGroups(positionals, t);
      print(res, ["GROUP", "ERROR"], res.map((r) => [r.groupId, errorText(r.error)]));
      return res.some((r) => r.error) ? 1 : 0;
    }
    case "configs describe": {
      const { values, positionals } = parse(rest, { all: { type: "boolean" } }, 2, 2);
      const [r] = await admin.describeConfigs([{
        type: positionals[0] as ConfigResourceType,
        name: positionals[1],
      }], t);
      if (r.error) throw r.error;
      // Without --all, only values set on the resource itself (like kafka-configs --describe).
      const own = OWN_SOURCES[positionals[0]] ?? [];
      const shown = values.all ? r.configs : r.configs.filter((c) => own.includes(c.source));
      print(
        { ...r, configs: shown },
        ["NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE"],
        shown.map((c) => [
          c.name,
          c.sensitive ? "(sensitive)" : c.value,
          c.source,
          c.readOnly,
          c.sensitive,
        ]),
      );
      return 0;
    }
    case "configs alter": {
      const { values, positionals } = parse(
        rest,
        {
          set: { type: "string", multiple: true },
          delete: { type: "string", multiple: true },
          append: { type: "string", multiple: true },
          subtract: { type: "string", multiple: true },
          "validate-only": { type: "boolean" },
        },
        2,
        2,
      );
      const ops: ConfigOp[] = [
        ...pairs("set", values.set).map(([name, value]) => ({ name, value, op: "set" as const })),
        ...((values.delete as string[] | undefined) ?? []).map((name) => ({ name, op: "delete" as const })),
        ...pairs("append", values.append).map(([name, value]) => ({ name, value, op: "append" as const })),
        ...pairs("subtract", values.subtract).map(([name, value]) => ({
          name,
          value,
          op: "subtract" as const,
        })),
      ];
      if (ops.length === 0) {
        throw new UsageError("configs alter needs at least one --set, --delete, --append or --subtract");
      }
      const [r] = await admin.incrementalAlterConfigs(
        [{ type: positionals[0] as ConfigResourceType, name: positionals[1], ops }],
        { ...t, validateOnly: values["validate-only"] === true },
      );
      print(r, ["TYPE", "NAME", "ERROR"], [[r.type, r.name, errorText(r.error)]]);
      return r.error ? 1 : 0;
    }
    case "cluster describe": {
      parse(rest, {}, 0, 0);
      const c = await admin.describeCluster(t);
      if (!g.json) io.out(`cluster ${c.clusterId}, controller ${c.controllerId}`);
      print(
        c,
        ["BROKER", "HOST", "PORT", "RACK", "FENCED"],
        c.brokers.map((b) => [b.nodeId, b.host, b.port, b.rack, b.fenced]),
      );
      return 0;
    }
  }
  if (cmd === "produce") return await produce(client, [sub, ...rest].filter((x) => x !== undefined), g, io);
  if (cmd === "consume") return await consume(client, [sub, ...rest].filter((x) => x !== undefined), g, io);
  throw new UsageError(`unknown command "${args.join(" ")}"`);
}

async function produce(client: Client, args: string[], g: Globals, io: IO): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      "key-separator": { type: "string" },
      header: { type: "string", multiple: true },
      partition: { type: "string" },
    },
    1,
    1,
  );
  const topic = positionals[0];
  const sep = values["key-separator"] as string | undefined;
  if (sep === "") throw new UsageError("--key-separator must not be empty");
  const headers = pairs("header", values.header);
  const partition = int("partition", values.partition);
  await using producer = client.producer();
  const pending: Promise<unknown>[] = [];
  let count = 0;
  let buf = "";
  const decoder = new TextDecoder();
  const send = (line: string) => {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    let key: string | null = null;
    let value = line;
    if (sep !== undefined) {
      const i = line.indexOf(sep);
      if (i < 0) {
        throw new UsageError(`line ${count + 1} has no key separator "${sep}": ${JSON.stringify(line)}`);
      }
      key = line.slice(0, i);
      value = line.slice(i + sep.length);
    }
    count++;
    pending.push(
      producer.send({
        topic,
        messages: [{ key, value, headers: headers.length ? headers : undefined, partition }],
      }),
    );
  };
  for await (const chunk of io.stdin) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      send(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    if (pending.length >= 1000) await Promise.all(pending.splice(0));
  }
  buf += decoder.decode();
  if (buf.length > 0) send(buf);
  await Promise.all(pending);
  if (g.json) io.out(json({ topic, produced: count }));
  else io.err(`produced ${count} record(s) to ${topic}`);
  return 0;
}

async function consume(client: Client, args: string[], g: Globals, io: IO): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      group: { type: "string" },
      from: { type: "string" },
      max: { type: "string" },
      "idle-ms": { type: "string" },
      format: { type: "string" },
    },
    1,
    1,
  );
  const topic = positionals[0];
  const max = int("max", values.max);
  const idleMs = int("idle-ms", values["idle-ms"]);
  const from = values.from === undefined ? undefined : timeOrPosition("--from", values.from as string);
  const group = values.group as string | undefined;
  if (group !== undefined && from !== undefined && typeof from === "object") {
    throw new UsageError(
      "--from with --group takes earliest or latest (a group resumes at its committed offsets)",
    );
  }
  const consumer = group !== undefined
    ? client.consumer({ groupId: group, topics: [topic], fromBeginning: from === "earliest" })
    : client.consumer({ assign: [{ topic, from: from ?? "latest" }] });
  const format = (values.format as string | undefined) ?? "{value}";
  const text = (b: Uint8Array | null) => (b === null ? "null" : new TextDecoder().decode(b));
  let n = 0;
  let last: ConsumerRecord | null = null;
  const it = consumer[Symbol.asyncIterator]();
  try {
    while (max === undefined || n < max) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = idleMs === undefined ? await it.next() : await Promise.race([
        it.next(),
        new Promise<"idle">((r) => timer = setTimeout(() => r("idle"), idleMs)),
      ]).finally(() => clearTimeout(timer));
      if (next === "idle" || next.done) break;
      const r = next.value;
      n++;
      if (g.json) {
        io.out(json({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : text(r.key),
          value: r.value === null ? null : text(r.value),
          headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value === null ? null : text(h.value)])),
        }));
      } else {
        io.out(format.replace(/\{(\w+)\}/g, (m, f: string) => {
          switch (f) {
            case "topic":
              return r.topic;
            case "partition":
              return String(r.partition);
            case "offset":
              return String(r.offset);
            case "timestamp":
              return new Date(r.timestamp).toISOString();
            case "key":
              return text(r.key);
            case "value":
              return text(r.value);
            case "headers":
              return r.headers.map((h) => `${h.key}=${text(h.value)}`).join(",");
            default:
              return m;
          }
        }));
      }
      last = r;
    }
    // Auto-commit covers what came before; the record in hand when we stop is done too.
    if (group !== undefined && last) await consumer.commit(last);
  } finally {
    await consumer.close();
  }
  return 0;
}
