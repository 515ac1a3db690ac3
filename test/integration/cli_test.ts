/**
 * The CLI run as a subprocess (`deno run -A cli/cli.ts`), its results
 * cross-checked against Kafka's own tools (TopicCommand, ConsumerGroupCommand,
 * ConfigCommand) on the same broker.
 */
import assert from "node:assert/strict";
import { BROKERS, requires, testClient, uniqueName } from "../_broker.ts";
import { javaTool, ok } from "../_tools.ts";
import { groupConfigsApplied } from "../_group.ts";

const CLI = new URL("../../cli/cli.ts", import.meta.url).pathname;

async function cli(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { KAFKA_BROKERS: BROKERS.join(","), NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const out = await child.output();
    const td = new TextDecoder();
    return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function must(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const lines = (s: string) => s.trim().split("\n").filter(Boolean);

Deno.test("cli: topics, produce, consume, groups and configs, matching Kafka's own tools", {
  ignore: requires("java-tools"),
}, async () => {
  const topic = uniqueName("cli");
  const group = uniqueName("cli-g");
  const server = ["--bootstrap-server", BROKERS.join(",")];
  try {
    const created = must(
      await cli(["topics", "create", topic, "--partitions", "2", "--config", "retention.ms=123456"]),
      "topics create",
    );
    assert.match(created, new RegExp(`^TOPIC\\s+CREATED\\s+PARTITIONS.*\\n${topic}\\s+true\\s+2\\s+1`));

    // TopicCommand sees what the CLI created, and the CLI lists it.
    const kafkaDescribe = ok(
      await javaTool("org.apache.kafka.tools.TopicCommand", [...server, "--describe", "--topic", topic]),
      "TopicCommand",
    ).stdout;
    assert.match(kafkaDescribe, /PartitionCount: 2/);
    assert.match(kafkaDescribe, /retention.ms=123456/);
    const listed = JSON.parse(must(await cli(["topics", "list", "--json"]), "topics list"));
    assert.ok(
      listed.some((t: { name: string; partitions: number }) => t.name === topic && t.partitions === 2),
    );

    // The describe table is aligned: every row's columns start where the header's do.
    const table = lines(must(await cli(["topics", "describe", topic]), "topics describe"));
    assert.equal(table.length, 3);
    const col = table[0].indexOf("LEADER");
    assert.ok(table.slice(1).every((row) => row[col - 1] === " " && row[col] !== " "));

    const produced = await cli(
      ["produce", topic, "--key-separator", "|", "--header", "origin=cli", "--partition", "0"],
      "k1|v1\nk2|v2\nk3|v3\n",
    );
    must(produced, "produce");
    assert.match(produced.stderr, /produced 3 record\(s\)/);
    await cli(["produce", topic, "--partition", "1"], "x\ny");

    const read = lines(must(
      await cli(["consume", topic, "--from", "earliest", "--max", "5", "--json"]),
      "consume",
    )).map((l) => JSON.parse(l));
    const p0 = read.filter((r) => r.partition === 0);
    assert.deepEqual(p0.map((r) => [r.offset, r.key, r.value, r.headers.origin]), [
      [0, "k1", "v1", "cli"],
      [1, "k2", "v2", "cli"],
      [2, "k3", "v3", "cli"],
    ]);
    assert.deepEqual(read.filter((r) => r.partition === 1).map((r) => r.value), ["x", "y"]);
    const formatted = lines(must(
      await cli([
        "consume",
        topic,
        "--from",
        "earliest",
        "--max",
        "5",
        "--format",
        "{partition}:{offset} {key}={value}",
      ]),
      "consume --format",
    ));
    assert.ok(formatted.includes("0:1 k2=v2"), formatted.join("\n"));
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const fromTime = await cli(["consume", topic, "--from", future, "--idle-ms", "1500", "--json"]);
    assert.equal(must(fromTime, "consume --from <time>"), "");
    const past = await cli([
      "consume",
      topic,
      "--from",
      String(Date.now() - 3_600_000),
      "--max",
      "5",
      "--json",
    ]);
    assert.equal(lines(must(past, "consume --from <epoch ms>")).length, 5);
    const idle = await cli(["consume", topic, "--from", "latest", "--idle-ms", "1500"]);
    assert.equal(must(idle, "consume --idle-ms"), "");

    // A group consumes 4 of the 5 records (and commits them).
    must(
      await cli(["consume", topic, "--group", group, "--from", "earliest", "--max", "4"]),
      "consume --group",
    );
    const lag = JSON.parse(must(await cli(["groups", "lag", group, "--json"]), "groups lag"));
    assert.equal(lag.total, 1);
    // ConsumerGroupCommand reports the same offsets and lag.
    const kafkaGroup = ok(
      await javaTool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", [
        ...server,
        "--describe",
        "--group",
        group,
      ]),
      "ConsumerGroupCommand",
    ).stdout;
    for (const p of lag.partitions) {
      const row = kafkaGroup.split("\n").find((l) =>
        l.includes(topic) && l.split(/\s+/)[2] === String(p.partition)
      );
      assert.ok(row, `ConsumerGroupCommand lacks ${topic}[${p.partition}]:\n${kafkaGroup}`);
      const [, , , current, end, lagCol] = row.split(/\s+/);
      assert.deepEqual([current, end, lagCol], [String(p.committed), String(p.end), String(p.lag)]);
    }
    assert.match(must(await cli(["groups", "list"]), "groups list"), new RegExp(`${group}\\s+Empty`));
    assert.match(
      must(await cli(["groups", "describe", group]), "groups describe"),
      new RegExp(`group ${group}: Empty`),
    );
    const reset = lines(must(await cli(["groups", "reset", group, "--to", "earliest"]), "groups reset"));
    assert.equal(reset.length, 3);
    assert.equal(JSON.parse(must(await cli(["--json", "groups", "lag", group]), "groups lag")).total, 5);

    // configs alter, then ConfigCommand describes the result.
    must(
      await cli([
        "configs",
        "alter",
        "topic",
        topic,
        "--set",
        "cleanup.policy=compact",
        "--delete",
        "retention.ms",
      ]),
      "configs alter",
    );
    // The broker takes the change from the metadata log a moment after the controller answers: ask
    // again (bounded) until it shows.
    let cfg = must(await cli(["configs", "describe", "topic", topic]), "configs describe");
    for (let i = 0; i < 20 && (!/cleanup\.policy\s+compact\s/.test(cfg) || /retention\.ms/.test(cfg)); i++) {
      await new Promise((r) => setTimeout(r, 500));
      cfg = must(await cli(["configs", "describe", "topic", topic]), "configs describe");
    }
    assert.match(cfg, /cleanup\.policy\s+compact\s+DYNAMIC_TOPIC_CONFIG/);
    assert.doesNotMatch(cfg, /retention\.ms/);
    const kafkaCfg = ok(
      await javaTool("org.apache.kafka.tools.ConfigCommand", [
        ...server,
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        topic,
      ]),
      "ConfigCommand",
    ).stdout;
    assert.match(kafkaCfg, /cleanup\.policy=compact/);
    assert.doesNotMatch(kafkaCfg, /retention\.ms=/);

    must(await cli(["groups", "delete", group]), "groups delete");
  } finally {
    await cli(["topics", "delete", topic]);
  }
  assert.ok(
    !JSON.parse(must(await cli(["topics", "list", "--json"]), "topics list")).some((t: { name: string }) =>
      t.name === topic
    ),
  );
});

Deno.test("cli: bad usage exits 2 with the usage; a failed item exits 1 and says why", async () => {
  const bad = await cli(["topics", "frobnicate"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "topics frobnicate"[\s\S]*Usage:/);
  const badOpt = await cli(["topics", "create", "x", "--partitions", "many"]);
  assert.equal(badOpt.code, 2);
  assert.match(badOpt.stderr, /--partitions must be an integer/);
  const missing = await cli(["topics", "describe", uniqueName("cli-none")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /UNKNOWN_TOPIC_OR_PARTITION/);
  const help = await cli(["help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /groups lag <group>/);
});

Deno.test("cli: runs from an http URL with no deno.json (deno run -A <url>/cli/cli.ts)", async () => {
  const root = new URL("../../", import.meta.url);
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      return new Response(body, { headers: { "content-type": "application/typescript; charset=utf-8" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "kafka-deno-cli-url-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        `--reload=${base}`,
        "-A",
        `${base}/cli/cli.ts`,
        "cluster",
        "describe",
        "--json",
      ],
      cwd: dir,
      env: { KAFKA_BROKERS: BROKERS.join(","), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const cluster = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(cluster.clusterId && cluster.brokers.length >= 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: share-groups list, describe and offsets show a live share group", {
  ignore: requires("share-groups"),
}, async () => {
  await using client = await testClient();
  const admin = client.admin();
  const topic = uniqueName("cli-share");
  const group = uniqueName("cli-share-g");
  await admin.createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  try {
    await admin.alterShareGroupConfigs(group, { "share.auto.offset.reset": "earliest" });
    // The group coordinator takes it from the metadata log a moment after the answer.
    await groupConfigsApplied(client, group, { "share.auto.offset.reset": "earliest" });
    await using producer = client.producer();
    await producer.send({ topic, messages: [{ value: "a" }, { value: "b" }] });
    await using q = client.shareConsumer({ groupId: group, topics: [topic] });
    const first = await q.next();
    assert.ok(!first.done);
    first.value.accept();
    await q.commit();
    // The member is in the group while the consumer is open.
    const listed = JSON.parse(must(await cli(["--json", "share-groups", "list"]), "share-groups list"));
    assert.ok(listed.some((g: { groupId: string }) => g.groupId === group), `${group} listed`);
    const described = must(await cli(["share-groups", "describe", group]), "share-groups describe");
    assert.match(described, new RegExp(`share group ${group}: Stable`));
    assert.match(described, new RegExp(`${topic}:0`));
    const offsets = must(await cli(["share-groups", "offsets", group]), "share-groups offsets");
    assert.match(offsets, /TOPIC\s+PARTITION\s+START-OFFSET\s+LAG/);
    assert.match(offsets, new RegExp(`${topic}\\s+0\\s+\\d+`));
  } finally {
    await admin.deleteTopics([topic]).catch(() => {});
  }
});
