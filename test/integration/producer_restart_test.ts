import assert from "node:assert/strict";
import { KafkaError } from "../../mod.ts";
import * as kafka from "../../scripts/kafka.ts";
import { requires, testClient, uniqueName } from "../_broker.ts";
import { readAll } from "../_read.ts";

Deno.test({
  name: "a broker killed with SIGKILL and restarted mid-stream loses and duplicates no acknowledged record",
  ignore: requires("broker-control"),
  async fn() {
    await using client = await testClient({ reconnectBackoffMaxMs: 500 });
    const topic = uniqueName("restart");
    await client.admin().createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
    await using producer = client.producer({ acks: "all", deliveryTimeoutMs: 120_000 }); // natural batching (lingerMs 0);
    const N = 50_000;
    const CHUNK = 100;
    const acked = new Set<number>();
    const rejected: unknown[] = [];
    let next = 0;
    let ackedAtKill = -1;
    const worker = async () => {
      while (next < N) {
        const start = next;
        next += CHUNK;
        const messages = Array.from(
          { length: CHUNK },
          (_, i) => ({ key: `${(start + i) % 97}`, value: `${start + i}` }),
        );
        try {
          await producer.send({ topic, messages });
          for (let i = 0; i < CHUNK; i++) acked.add(start + i);
        } catch (err) {
          rejected.push(err);
        }
      }
    };
    const restart = (async () => {
      // Kill once a fifth of the records are acknowledged, while the rest are being sent.
      for (let i = 0; i < 600 && acked.size < N / 5; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(await kafka.kill(), "the broker was running");
      ackedAtKill = acked.size;
      await new Promise((r) => setTimeout(r, 1000));
      await kafka.start({ quiet: true });
    })();
    await Promise.all([...Array.from({ length: 10 }, worker), restart]);
    assert.ok(
      ackedAtKill >= 0 && ackedAtKill < N,
      `the kill happened mid-stream (${ackedAtKill} acknowledged then)`,
    );
    for (const err of rejected) assert.ok(err instanceof KafkaError, `untyped rejection: ${err}`);

    const stored = await readAll(client, topic);
    const count = new Map<number, number>();
    for (const records of stored.values()) {
      for (const r of records) {
        const id = Number(new TextDecoder().decode(r.value!));
        count.set(id, (count.get(id) ?? 0) + 1);
      }
    }
    const dupes = [...count.values()].filter((c) => c > 1).length;
    const lost = [...acked].filter((id) => !count.has(id)).length;
    console.log(
      `restart: killed at ${ackedAtKill} acknowledged; ${acked.size} acknowledged, ${rejected.length} send() calls rejected, ${count.size} distinct stored, ${dupes} duplicated, ${lost} lost`,
    );
    assert.equal(lost, 0, "acknowledged records missing after the restart");
    assert.equal(dupes, 0, "records stored more than once");
  },
});
