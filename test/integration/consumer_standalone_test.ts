import assert from "node:assert/strict";
import { deviates, newTopic, testClient, uniqueName } from "../_broker.ts";
import { take, until, within } from "./_member.ts";

Deno.test("standalone consumers start at earliest, latest or a timestamp; seek moves them", async (t) => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-assign", 1);
  const t0 = Date.now() - 60_000;
  await using producer = client.producer();
  const ten = Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, timestamp: t0 + i * 1000 }));
  // Where a fetch inside a batch skips the rest of it, one record per batch (the seeks land inside).
  if (deviates("tansuFetchMidBatch")) { for (const m of ten) await producer.send({ topic, messages: [m] }); }
  else await producer.send({ topic, messages: ten });

  await t.step("earliest", async () => {
    await using c = client.consumer({ assign: [{ topic, from: "earliest" }] });
    const got = await take(c[Symbol.asyncIterator](), 10, 20_000);
    assert.deepEqual(got.map((r) => r.text()), Array.from({ length: 10 }, (_, i) => `v${i}`));
    assert.deepEqual(got.map((r) => r.timestamp), Array.from({ length: 10 }, (_, i) => t0 + i * 1000));
    assert.deepEqual(c.assignment(), [{ topic, partition: 0 }]);
  });

  await t.step("by timestamp: the first record at or after it", async () => {
    await using c = client.consumer({ assign: [{ topic, partitions: [0], from: { timestamp: t0 + 4500 } }] });
    const [r] = await take(c[Symbol.asyncIterator](), 1, 20_000);
    if (deviates("tansuListOffsetsTimestamp")) {
      assert.equal(r.offset, 0n, "the broker answers the log start for any timestamp");
      return;
    }
    assert.equal(r.offset, 5n);
    // A timestamp after every record starts at the end.
    await using late = client.consumer({
      assign: [{ topic, from: { timestamp: new Date(Date.now() + 3600_000) } }],
    });
    await until(() => (late.position(topic, 0) ?? -1n) >= 0n, 20_000, "the position");
    assert.equal(late.position(topic, 0), 10n);
  });

  await t.step("latest: only records produced afterwards", async () => {
    await using c = client.consumer({ assign: [{ topic, from: "latest" }] });
    await until(() => (c.position(topic, 0) ?? -1n) >= 0n, 20_000, "the position");
    await producer.send({ topic, messages: [{ value: "after" }] });
    const [r] = await take(c[Symbol.asyncIterator](), 1, 20_000);
    assert.equal(r.text(), "after");
    assert.equal(r.offset, 10n);
  });

  await t.step("seek to an offset, to earliest, and to a timestamp", async () => {
    await using c = client.consumer({ assign: [{ topic, from: "earliest" }] });
    const it = c[Symbol.asyncIterator]();
    assert.equal((await take(it, 3, 20_000)).at(-1)!.offset, 2n);
    c.seek(topic, 0, 7n);
    assert.deepEqual((await take(it, 2, 20_000)).map((r) => r.offset), [7n, 8n]);
    c.seek(topic, 0, "earliest");
    assert.equal((await take(it, 1, 20_000))[0].offset, 0n);
    c.seek(topic, 0, { timestamp: t0 + 3000 });
    assert.equal((await take(it, 1, 20_000))[0].offset, deviates("tansuListOffsetsTimestamp") ? 0n : 3n);
    assert.throws(() => c.seek(topic, 1, 0n), RangeError);
  });

  await t.step(
    "an offset out of range resets by the policy (fromBeginning: earliest, else latest)",
    async () => {
      if (deviates("tansuNoOffsetOutOfRange")) {
        await using past = client.consumer({
          assign: [{ topic, from: { offset: 1000n } }],
          fromBeginning: true,
        });
        const next = past[Symbol.asyncIterator]().next();
        await assert.rejects(within(next, 3000, "a record past the end"), /no result/);
        assert.equal(past.position(topic, 0), 1000n, "no reset: the broker reported no OFFSET_OUT_OF_RANGE");
        await past.close();
        await next.catch(() => {});
        return;
      }
      await using early = client.consumer({
        assign: [{ topic, from: { offset: 1000n } }],
        fromBeginning: true,
      });
      const [r] = await take(early[Symbol.asyncIterator](), 1, 20_000);
      assert.equal(r.offset, 0n);
      await using late = client.consumer({ assign: [{ topic, from: { offset: 1000n } }] });
      // The position is undefined until the assignment starts, then 1000, -1 while the reset looks up the end.
      await until(
        () => {
          const p = late.position(topic, 0);
          return p !== undefined && p >= 0n && p !== 1000n;
        },
        20_000,
        "the reset offset",
      );
      assert.equal(late.position(topic, 0), 11n);
    },
  );
});

Deno.test("pause() stops a partition while others flow; resume() continues where it stopped", async () => {
  await using client = await testClient();
  const a = await newTopic(client, "c-pause-a", 1);
  const b = await newTopic(client, "c-pause-b", 1);
  await using producer = client.producer();
  if (deviates("tansuFetchMidBatch")) {
    await producer.send({ topic: a, messages: [{ value: "a0" }] });
    await producer.send({ topic: a, messages: [{ value: "a1" }] });
  } else await producer.send({ topic: a, messages: [{ value: "a0" }, { value: "a1" }] });
  await producer.send({ topic: b, messages: [{ value: "b0" }] });
  await using c = client.consumer({ assign: [{ topic: a, from: "earliest" }, { topic: b, from: "latest" }] });
  const it = c[Symbol.asyncIterator]();
  const [first] = await take(it, 1, 20_000);
  assert.equal(first.text(), "a0");
  c.pause([{ topic: a, partition: 0 }]);
  assert.deepEqual(c.paused(), [{ topic: a, partition: 0 }]);
  await until(() => (c.position(b, 0) ?? -1n) >= 0n, 20_000, "b's position");
  await producer.send({ topic: a, messages: [{ value: "a2" }] });
  await producer.send({ topic: b, messages: [{ value: "b1" }] });
  // a1 was buffered before the pause, but a paused partition hands nothing out.
  const [r] = await take(it, 1, 20_000);
  assert.equal(r.text(), "b1");
  const next = it.next();
  await assert.rejects(within(next, 1500, "a paused record"), /no result/);
  c.resume([{ topic: a, partition: 0 }]);
  const resumed = await within(next, 20_000, "a resumed record");
  assert.equal(resumed.done, false);
  assert.equal(resumed.value!.text(), "a1");
  assert.equal((await take(it, 1, 20_000))[0].text(), "a2");
});

Deno.test("ConsumerRecord reads text, JSON and headers; batches() yields per-partition batches", async () => {
  await using client = await testClient();
  const topic = await newTopic(client, "c-json", 1);
  await using producer = client.producer();
  await producer.send({
    topic,
    messages: [
      {
        key: "user-1",
        value: JSON.stringify({ id: 1, name: "Ada" }),
        headers: { type: "user", empty: null },
      },
      { key: null, value: null },
    ],
  });
  const groupId = uniqueName("g-json");
  const c = client.consumer({ groupId, assign: [{ topic }], fromBeginning: true });
  for await (const batch of c.batches()) {
    assert.equal(batch.topic, topic);
    assert.equal(batch.partition, 0);
    assert.equal(batch.highWatermark, 2n);
    const [r, tomb] = batch.records;
    assert.equal(r.keyText(), "user-1");
    assert.deepEqual(r.json(), { id: 1, name: "Ada" });
    assert.equal(r.headerText("type"), "user");
    assert.equal(r.header("empty"), null);
    assert.equal(r.header("missing"), undefined);
    assert.equal(tomb.key, null);
    assert.equal(tomb.value, null);
    assert.equal(tomb.json(), null);
    await c.commit();
    break;
  }
  // A standalone consumer with a groupId commits (as a non-member); the next one resumes there.
  await using again = client.consumer({ groupId, assign: [{ topic }] });
  await until(() => (again.position(topic, 0) ?? -1n) >= 0n, 20_000, "the position");
  assert.equal(again.position(topic, 0), 2n);
});
