import assert from "node:assert/strict";
import { BROKERS } from "../_broker.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("mod.ts imported from an http URL, with no deno.json, produces and consumes a record", async () => {
  // Serve the checkout as a static site, the way a user would import from a URL.
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, ROOT));
      return new Response(body, { headers: { "content-type": "application/typescript; charset=utf-8" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "kafka-deno-url-" });
  try {
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { connect } from "${base}/mod.ts";
const client = await connect({ brokers: Deno.env.get("KAFKA_BROKERS")!.split(",") });
const topic = "url-import-" + crypto.randomUUID();
await client.admin().createTopics([{ topic, partitions: 1 }]);
const producer = client.producer();
await producer.send({ topic, messages: [{ key: "k", value: "from a URL import" }] });
await producer.close();
const consumer = client.consumer({ groupId: topic, topics: [topic], fromBeginning: true });
for await (const r of consumer) {
  console.log("consumed:", new TextDecoder().decode(r.value!));
  break;
}
await client.admin().deleteTopics([topic]);
await client.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        `--reload=${base}`,
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--allow-net",
        "--allow-env",
        "main.ts",
      ],
      cwd: dir,
      env: { KAFKA_BROKERS: BROKERS.join(",") },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(new TextDecoder().decode(out.stdout), /consumed: from a URL import/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
