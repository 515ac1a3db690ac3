import assert from "node:assert/strict";
import { BROKERS, requires, testClient, uniqueName } from "../_broker.ts";
import { committedOffsets, describeGroup } from "../_group.ts";
import { endOffsets } from "../_read.ts";
import { USERS } from "../../examples/notify.ts";
import { BrokerError } from "../../mod.ts";
import { take } from "./_member.ts";

const ROOT = new URL("../../", import.meta.url);

/** `n` distinct free ports (the listeners stay open until all are chosen, so none is picked twice). */
function freePorts(n: number): number[] {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  for (const l of ls) l.close();
  return ls.map((l) => (l.addr as Deno.NetAddr).port);
}

function freePort(): number {
  return freePorts(1)[0];
}

/** The example as a child process (the real Deno binary, so signals reach it). */
class Service {
  readonly child: Deno.ChildProcess;
  output = "";
  readonly #done: Promise<void>;

  constructor(env: Record<string, string>, service?: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "examples/notify.ts", ...(service ? [service] : [])],
      cwd: ROOT.pathname,
      env: { KAFKA_BROKERS: BROKERS.join(","), ...env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s.pipeThrough(new TextDecoderStream())) this.output += chunk;
    };
    this.#done = Promise.all([pump(this.child.stdout), pump(this.child.stderr)]).then(() => {});
  }

  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms; output:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal and waits (bounded) for the exit code. */
  async stop(signal: Deno.Signal, timeoutMs = 10_000): Promise<{ code: number; ms: number }> {
    const t0 = Date.now();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.#done;
    return { code: status.code, ms: Date.now() - t0 };
  }
}

async function post(port: number, fields: Record<string, string>, multipart = false) {
  let body: BodyInit;
  if (multipart) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    body = fd;
  } else body = new URLSearchParams(fields);
  const res = await fetch(`http://127.0.0.1:${port}/send`, { method: "POST", body });
  return { status: res.status, body: await res.json() };
}

async function notifications(port: number, user: string) {
  const res = await fetch(`http://127.0.0.1:${port}/notifications/${user}`);
  return { status: res.status, body: await res.json() };
}

async function pollUntil<T>(
  f: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not reached within ${timeoutMs} ms, last ${JSON.stringify(v)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("the notification service delivers, shuts down on SIGINT with offsets committed, and resumes after them", async (t) => {
  await using client = await testClient();
  const topic = uniqueName("notifications");
  const group = uniqueName("notifications-group");
  const [producerPort, consumerPort] = freePorts(2);
  const env = {
    NOTIFY_TOPIC: topic,
    NOTIFY_GROUP: group,
    PRODUCER_PORT: String(producerPort),
    CONSUMER_PORT: String(consumerPort),
  };
  const pp = Number(env.PRODUCER_PORT);
  const cp = Number(env.CONSUMER_PORT);
  // Three partitions, as in the Go service's set-up, so that where each key lands is visible.
  await client.admin().createTopics([{ topic, partitions: 3 }]);
  const svc = new Service(env);
  try {
    await svc.waitFor(/consumer service listening/);
    await svc.waitFor(/producer service listening/);
    assert.match(svc.output, new RegExp(`using Kafka at ${BROKERS[0].replaceAll(".", "\\.")}`));

    await t.step("POST /send answers 200, 400 and 404 as specified", async () => {
      assert.deepEqual(await post(pp, { fromID: "2", toID: "1", message: "Hi Emma" }), {
        status: 200,
        body: { message: "Notification sent successfully!" },
      });
      assert.equal((await post(pp, { fromID: "3", toID: "1", message: "Second" }, true)).status, 200);
      assert.equal((await post(pp, { fromID: "1", toID: "4", message: "Hello Lena" })).status, 200);
      const bad = await post(pp, { fromID: "abc", toID: "1", message: "x" });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /fromID/);
      assert.equal((await post(pp, { fromID: "1", toID: "1.5", message: "x" })).status, 400);
      assert.deepEqual(await post(pp, { fromID: "1", toID: "9", message: "x" }), {
        status: 404,
        body: { message: "User not found" },
      });
    });

    await t.step("a record that is not JSON is logged and skipped, never fatal", async () => {
      // Placed as a Go/sarama producer would place it, beside the service's own records.
      await using producer = client.producer({ partitioner: "sarama" });
      await producer.send({ topic, messages: [{ key: "1", value: "{not json" }] });
      assert.equal((await post(pp, { fromID: "4", toID: "1", message: "Third" })).status, 200);
    });

    await t.step("GET /notifications/:id returns them in arrival order", async () => {
      const emma = await pollUntil(
        () => notifications(cp, "1"),
        (r) => r.body.notifications.length >= 3,
        "Emma's notifications",
      );
      assert.deepEqual(emma.body, {
        notifications: [
          { from: { id: 2, name: "Bruno" }, to: { id: 1, name: "Emma" }, message: "Hi Emma" },
          { from: { id: 3, name: "Rick" }, to: { id: 1, name: "Emma" }, message: "Second" },
          { from: { id: 4, name: "Lena" }, to: { id: 1, name: "Emma" }, message: "Third" },
        ],
      });
      const lena = await pollUntil(
        () => notifications(cp, "4"),
        (r) => r.body.notifications.length >= 1,
        "Lena's",
      );
      assert.equal(lena.body.notifications[0].message, "Hello Lena");
      assert.deepEqual((await notifications(cp, "2")).body, {
        message: "No notifications found for user",
        notifications: [],
      });
      await svc.waitFor(/not valid JSON/);
    });

    await t.step("keys land on the partitions sarama's hash partitioner picks (the default)", async () => {
      assert.equal((await post(pp, { fromID: "1", toID: "2", message: "Hi Bruno" })).status, 200);
      assert.equal((await post(pp, { fromID: "1", toID: "3", message: "Hi Rick" })).status, 200);
      // sarama's NewHashPartitioner: FNV-1a 32 of the key as int32, % 3, negated when negative:
      // "1" -> 0x340ca71c % 3 = 1, "2" -> 0x370cabd5 % 3 = 1, "3" -> 0x360caa42 % 3 = 2,
      // "4" -> 0x310ca263 % 3 = 1 (murmur2, Java's default, picks 0, 2, 2 and 1).
      const want: Record<string, number> = { "1": 1, "2": 1, "3": 2, "4": 1 };
      await using reader = client.consumer({ assign: [{ topic, from: "earliest" }] });
      const seen = (await take(reader[Symbol.asyncIterator](), 7, 30_000)).map((
        r,
      ) => [r.keyText()!, r.partition]);
      assert.equal(seen.length, 7);
      for (const [key, partition] of seen) assert.equal(partition, want[key], `key ${key}`);
    });

    await t.step("the consumer logs one line per notification, as the Go consumer does", async () => {
      await svc.waitFor(/Received message Count: 7: /);
      const lines = svc.output.split("\n").filter((l) => l.startsWith("Received message Count: "));
      assert.equal(lines.length, 7, lines.join("\n"));
      assert.deepEqual(lines.map((l) => Number(/^Received message Count: (\d+): /.exec(l)?.[1])), [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
      ]);
      assert.ok(
        lines.includes(
          `Received message Count: ${
            lines.findIndex((l) => l.includes("Hi Bruno")) + 1
          }: | Topic (${topic}) | ` +
            `Message (${JSON.stringify({ from: USERS[0], to: USERS[1], message: "Hi Bruno" })})`,
        ),
        lines.join("\n"),
      );
      assert.ok(lines.some((l) => l.endsWith(`| Topic (${topic}) | Message ({not json)`)));
    });

    await t.step("SIGINT: exit 0 within 10 s, no members left, offsets committed to the end", async () => {
      const { code, ms } = await svc.stop("SIGINT");
      assert.equal(code, 0, svc.output);
      assert.ok(ms < 10_000, `took ${ms} ms`);
      assert.match(svc.output, /stopped cleanly/);
      assert.match(svc.output, /^Interruption detected$/m);
      assert.match(svc.output, /^Processed 7 messages$/m);
      const g = await describeGroup(client, group);
      assert.equal(g.members.length, 0, `members left: ${g.members.map((m) => m.memberId)}`);
      const ends = await endOffsets(client, topic);
      const committed = await committedOffsets(client, group, topic);
      for (const [p, end] of ends) {
        if (end === 0n) continue;
        assert.equal(committed.get(p), end, `partition ${p}: committed ${committed.get(p)} vs end ${end}`);
      }
    });
  } finally {
    if (!svc.output.includes("stopped cleanly")) await svc.stop("SIGKILL").catch(() => {});
  }

  await t.step(
    "a second run of the consumer service alone re-delivers nothing that was committed",
    async () => {
      const again = new Service({ ...env, CONSUMER_PORT: String(freePort()) }, "consumer");
      try {
        await again.waitFor(/consumer service listening on http:\/\/127\.0\.0\.1:(\d+)/);
        const cport = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(again.output)![1]);
        assert.doesNotMatch(again.output, /producer service/);
        await using producer = client.producer();
        await producer.send({
          topic,
          messages: [{
            key: "1",
            value: JSON.stringify({
              from: { id: 2, name: "Bruno" },
              to: { id: 1, name: "Emma" },
              message: "After restart",
            }),
          }],
        });
        const emma = await pollUntil(
          () => notifications(cport, "1"),
          (r) => r.body.notifications.length >= 1,
          "new one",
        );
        assert.deepEqual(
          emma.body.notifications.map((n: { message: string }) => n.message),
          ["After restart"],
        );
        const { code } = await again.stop("SIGTERM");
        assert.equal(code, 0, again.output);
        assert.match(again.output, /^Processed 1 messages$/m);
      } finally {
        if (!again.output.includes("stopped cleanly")) {
          await again.stop("SIGKILL").catch(() => {});
        }
      }
    },
  );
});

Deno.test("NOTIFY_CONSUMER=share: two consumer processes serve one partition as a work queue", {
  ignore: requires("share-groups"),
}, async () => {
  await using client = await testClient();
  const topic = uniqueName("notifications-share");
  const group = uniqueName("notifications-share-group");
  await client.admin().createTopics([{ topic, partitions: 1 }]);
  const base = { NOTIFY_TOPIC: topic, NOTIFY_GROUP: group, NOTIFY_CONSUMER: "share" };
  const ports = freePorts(2);
  const workers = ports.map((p) => new Service({ ...base, CONSUMER_PORT: String(p) }, "consumer"));
  try {
    for (const w of workers) await w.waitFor(/consumer service listening on .* \(share group /);
    // Both are members with the partition before anything is sent.
    await pollUntil(
      // The service says it listens before its first heartbeat reaches the
      // coordinator, so the group may not exist yet.
      async () => {
        try {
          return (await client.admin().describeShareGroups([group]))[0].members;
        } catch (e) {
          if (e instanceof BrokerError && e.type === "GROUP_ID_NOT_FOUND") return [];
          throw e;
        }
      },
      (m) => m.length === 2 && m.every((x) => x.assignment.length === 1),
      "two share members",
      60_000,
    );
    await using producer = client.producer();
    const total = 200;
    // Many small sends, spaced: each goes to whichever member's fetch is waiting, so that both get some
    // even when one of them is slow for a while.
    for (let i = 0; i < total; i += 5) {
      await producer.send({
        topic,
        messages: Array.from({ length: 5 }, (_, j) => ({
          key: "1",
          value: JSON.stringify({ from: USERS[1], to: USERS[0], message: `m${i + j}` }),
        })),
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    await producer.send({ topic, messages: [{ key: "1", value: "{not json" }] });
    const count = (w: Service) => w.output.split("\n").filter((l) => l.startsWith("Received message")).length;
    await pollUntil(
      () => Promise.resolve(workers.map(count)),
      (c) => c[0] + c[1] >= total + 1,
      "every record received",
      60_000,
    );
    const served = await Promise.all(
      ports.map(async (p) =>
        ((await notifications(p, "1")).body.notifications as { message: string }[]).map((n) => n.message)
      ),
    );
    const all = [...served[0], ...served[1]];
    assert.equal(all.length, total, "each notification served by exactly one process");
    assert.equal(new Set(all).size, total);
    assert.ok(served[0].length > 0 && served[1].length > 0, `split ${served[0].length}/${served[1].length}`);
    assert.equal(workers.filter((w) => /not valid JSON/.test(w.output)).length, 1);
    for (const w of workers) {
      const { code } = await w.stop("SIGTERM");
      assert.equal(code, 0, w.output);
      assert.match(w.output, /stopped cleanly/);
    }
    const [g] = await client.admin().describeShareGroups([group]);
    assert.equal(g.members.length, 0);
  } finally {
    for (const w of workers) {
      if (!w.output.includes("stopped cleanly")) await w.stop("SIGKILL").catch(() => {});
    }
  }
});
