// AbortSignal on connect(), send(), close() and admin calls, against a scripted fake broker on 127.0.0.1:
// abort at each await point, already-aborted signals, AbortSignal.timeout() reasons, no listener leak.
import assert from "node:assert/strict";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { produce } from "../../protocol/apis/produce.ts";
import type { RequestHeader } from "../../protocol/framing.ts";
import { decodeRecordBatches } from "../../protocol/record_batch.ts";
import type { Reader } from "../../protocol/primitives.ts";
import { ClosedError, connect, SendAbortedError } from "../../mod.ts";
import { apiVersionsReply, fakeBroker, metadataReply, reply } from "../_fake_broker.ts";

// Old, non-flexible versions keep the fake broker simple (request header v1).
const RANGES: [number, number, number][] = [[18, 0, 2], [3, 0, 8], [0, 3, 8], [22, 0, 1]];

interface Script {
  /** Answer ApiVersions (else never). */
  apiVersions?: boolean;
  /** How many Metadata requests to answer (then never). Default all. */
  metadata?: number;
  /** Answer Produce (else never). */
  produce?: boolean;
  /** Metadata requests after the first `after` are answered once `open` resolves. */
  metadataGate?: { after: number; open: Promise<void> };
}

/** A one-node cluster with topic "t" (1 partition); records every produced value. */
function cluster(script: Script = {}) {
  const produced: string[] = [];
  const sequences: number[] = [];
  let produceRequests = 0;
  let metadataAnswered = 0;
  let offset = 0n;
  const broker = fakeBroker(async (h: RequestHeader, body: Reader) => {
    switch (h.apiKey) {
      case 18:
        return script.apiVersions === false ? null : apiVersionsReply(h, RANGES);
      case 3:
        if (script.metadata !== undefined && metadataAnswered >= script.metadata) return null;
        metadataAnswered++;
        if (script.metadataGate !== undefined && metadataAnswered > script.metadataGate.after) {
          await script.metadataGate.open;
        }
        return metadataReply(h, broker.port);
      case 22:
        return reply(
          initProducerId,
          h,
          {
            throttleTimeMs: 0,
            errorCode: 0,
            producerId: 7n,
            producerEpoch: 0,
            ongoingTxnProducerId: -1n,
            ongoingTxnProducerEpoch: -1,
          } as never,
        );
      case 0: {
        produceRequests++;
        const req = produce.decodeRequest(body, h.apiVersion);
        const p = req.topicData[0].partitionData[0];
        const [batch] = decodeRecordBatches(p.records!);
        sequences.push(batch.baseSequence);
        for (const r of batch.records) produced.push(new TextDecoder().decode(r.value!));
        if (script.produce === false) return null;
        const baseOffset = offset;
        offset += BigInt(batch.records.length);
        return reply(produce, h, {
          responses: [{
            name: "t",
            topicId: "AAAAAAAAAAAAAAAAAAAAAA",
            partitionResponses: [{
              index: p.index,
              errorCode: 0,
              baseOffset,
              logAppendTimeMs: -1n,
              logStartOffset: 0n,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
            }],
          }],
          throttleTimeMs: 0,
          nodeEndpoints: [],
        });
      }
    }
    return null;
  });
  return {
    broker,
    produced,
    sequences,
    get metadataRequests() {
      return metadataAnswered;
    },
    get produceRequests() {
      return produceRequests;
    },
  };
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Counts the listeners added to and removed from a signal. */
function countListeners(signal: AbortSignal): { added: number; removed: number } {
  const counts = { added: 0, removed: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<AbortSignal["addEventListener"]>) => {
    counts.added++;
    add(...args);
  }) as AbortSignal["addEventListener"];
  signal.removeEventListener = ((...args: Parameters<AbortSignal["removeEventListener"]>) => {
    counts.removed++;
    remove(...args);
  }) as AbortSignal["removeEventListener"];
  return counts;
}

// ---- connect() ----

Deno.test("connect({ signal }) aborted during the ApiVersions handshake rejects with the reason and closes the socket", async () => {
  const { broker } = cluster({ apiVersions: false });
  await using _b = broker;
  const ctl = new AbortController();
  const p = connect({ brokers: [broker.address], signal: ctl.signal });
  await until(() => broker.requests.length === 1, "the ApiVersions request");
  const reason = new Error("stop connecting");
  ctl.abort(reason);
  const err = await p.catch((e) => e);
  assert.equal(err, reason);
});

Deno.test("connect({ signal }) aborted while bootstrap metadata is pending rejects with the reason", async () => {
  const { broker } = cluster({ metadata: 0 });
  await using _b = broker;
  const ctl = new AbortController();
  const p = connect({ brokers: [broker.address], signal: ctl.signal });
  await until(() => broker.requests.some((h) => h.apiKey === 3), "the Metadata request");
  ctl.abort();
  const err = await p.catch((e) => e);
  assert.ok(err instanceof DOMException && err.name === "AbortError", String(err));
});

Deno.test("connect({ signal }) with an AbortSignal.timeout() rejects with its TimeoutError", async () => {
  const { broker } = cluster({ apiVersions: false });
  await using _b = broker;
  const err = await connect({ brokers: [broker.address], signal: AbortSignal.timeout(200) }).catch((e) => e);
  assert.ok(err instanceof DOMException && err.name === "TimeoutError", String(err));
});

Deno.test("connect({ signal }) aborted during a TLS handshake that never completes rejects with the reason", async () => {
  // A listener that accepts and then says nothing: the ClientHello is never answered.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) accepted.push(c);
  })().catch(() => {});
  try {
    const ctl = new AbortController();
    const settled = connect({
      brokers: [`127.0.0.1:${(listener.addr as Deno.NetAddr).port}`],
      tls: true,
      signal: ctl.signal,
      connectTimeoutMs: 60_000,
    }).catch((e) => e);
    await until(() => accepted.length === 1, "the TCP connection");
    await new Promise((r) => setTimeout(r, 100));
    const reason = new Error("no TLS here");
    ctl.abort(reason);
    assert.equal(await settled, reason);
  } finally {
    listener.close();
    await accepting;
    for (const c of accepted) c.close();
  }
});

Deno.test("connect() with an already-aborted signal rejects at once and opens nothing", async () => {
  const { broker } = cluster();
  await using _b = broker;
  const reason = new Error("already");
  const err = await connect({ brokers: [broker.address], signal: AbortSignal.abort(reason) }).catch((e) => e);
  assert.equal(err, reason);
  assert.equal(broker.requests.length, 0);
  await assert.rejects(
    connect({ brokers: [broker.address], signal: "soon" as unknown as AbortSignal }),
    TypeError,
  );
});

Deno.test("connect({ signal }) that succeeds removes its listener", async () => {
  const { broker } = cluster();
  await using _b = broker;
  const ctl = new AbortController();
  const counts = countListeners(ctl.signal);
  await using client = await connect({ brokers: [broker.address], signal: ctl.signal });
  assert.ok(counts.added >= 1);
  assert.equal(counts.added, counts.removed);
  ctl.abort(); // too late: the client stays usable
  assert.equal((await client.metadata({ topics: ["t"] })).topics[0].name, "t");
});

// ---- send() ----

Deno.test("send({ signal }) aborted while the record lingers in the accumulator: never sent, buffer freed", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ lingerMs: 60_000, acks: 1 });
  const ctl = new AbortController();
  const aborted = producer.send({ topic: "t", messages: [{ value: "aborted" }] }, { signal: ctl.signal });
  const kept = producer.send({ topic: "t", messages: [{ value: "kept" }] });
  await until(() => producer.bufferedBytes > 0, "both records buffered");
  const reason = new Error("never mind");
  ctl.abort(reason);
  assert.equal(await aborted.catch((e) => e), reason);
  await producer.flush();
  const [meta] = await kept;
  assert.equal(meta.offset, 0n);
  assert.deepEqual(fake.produced, ["kept"]); // the aborted record was never sent; its batch-mate was
  assert.equal(producer.bufferedBytes, 0);
  await producer.close();
});

Deno.test("send({ signal }) of an idempotent producer aborted before its batch left: sequences stay gap-free", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ lingerMs: 60_000 });
  const ctl = new AbortController();
  const aborted = producer.send({ topic: "t", messages: [{ value: "a1" }, { value: "a2" }] }, {
    signal: ctl.signal,
  });
  await until(() => producer.bufferedBytes > 0, "the records buffered");
  ctl.abort();
  assert.equal((await aborted.catch((e) => e)).name, "AbortError");
  assert.equal(producer.bufferedBytes, 0);
  const sent = producer.send({ topic: "t", messages: [{ value: "b" }] });
  await producer.flush();
  assert.equal((await sent)[0].offset, 0n);
  const [, [meta]] = await Promise.all([
    until(() => producer.bufferedBytes > 0, "c buffered").then(() => producer.flush()),
    producer.send({ topic: "t", messages: [{ value: "c" }] }),
  ]);
  assert.equal(meta.offset, 1n);
  assert.deepEqual(fake.produced, ["b", "c"]);
  assert.deepEqual(fake.sequences, [0, 1]); // the withdrawn records took no sequence numbers
  await producer.close();
});

Deno.test("send({ signal }) aborted in flight rejects with SendAbortedError (mayHaveBeenDelivered) and the reason as cause", async () => {
  const fake = cluster({ produce: false });
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ acks: 1, requestTimeoutMs: 60_000 });
  const ctl = new AbortController();
  const p = producer.send({ topic: "t", messages: [{ value: "in flight" }] }, { signal: ctl.signal });
  await until(() => fake.produceRequests === 1, "the Produce request");
  const reason = new Error("too late");
  ctl.abort(reason);
  const err = await p.catch((e) => e);
  assert.ok(err instanceof SendAbortedError, String(err));
  assert.equal(err.mayHaveBeenDelivered, true);
  assert.equal(err.cause, reason);
  await producer.close({ timeoutMs: 100 }).catch(() => {});
});

Deno.test("send({ signal }) aborted while waiting for buffer room takes nothing and leaves the line", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ lingerMs: 60_000, acks: 1, bufferBytes: 200 });
  const first = producer.send({ topic: "t", messages: [{ value: "x".repeat(150) }] });
  const used = producer.bufferedBytes;
  const ctl = new AbortController();
  const waiting = producer.send({ topic: "t", messages: [{ value: "y".repeat(150) }] }, {
    signal: ctl.signal,
  });
  ctl.abort();
  assert.equal((await waiting.catch((e) => e)).name, "AbortError");
  assert.equal(producer.bufferedBytes, used);
  await producer.flush();
  await first;
  assert.equal(fake.produced.length, 1);
  await producer.close();
});

Deno.test("send() with an already-aborted signal rejects at once and queues nothing; bad signals are TypeErrors", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ acks: 1 });
  const reason = new Error("already");
  const err = await producer.send({ topic: "t", messages: [{ value: "v" }] }, {
    signal: AbortSignal.abort(reason),
  })
    .catch((e) => e);
  assert.equal(err, reason);
  assert.equal(producer.bufferedBytes, 0);
  await assert.rejects(
    producer.send({ topic: "t", messages: [{ value: "v" }] }, { sginal: undefined } as never),
    /Unknown send\(\) options key "sginal" \(did you mean "signal"\?\)/,
  );
  await assert.rejects(
    producer.send({ topic: "t", messages: [{ value: "v" }] }, { signal: {} as AbortSignal }),
    TypeError,
  );
  await producer.close();
  assert.equal(fake.produceRequests, 0);
});

Deno.test("send({ signal: AbortSignal.timeout() }) rejects with a TimeoutError DOMException", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ lingerMs: 60_000, acks: 1 });
  const err = await producer.send({ topic: "t", messages: [{ value: "v" }] }, {
    signal: AbortSignal.timeout(50),
  })
    .catch((e) => e);
  assert.ok(err instanceof DOMException && err.name === "TimeoutError", String(err));
  await producer.close();
  assert.equal(fake.produceRequests, 0);
});

Deno.test("one signal for 100,000 sends (10,000 at a time) leaves no listener behind and adds one per burst", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ acks: 1 });
  const ctl = new AbortController();
  const counts = countListeners(ctl.signal);
  const opts = { signal: ctl.signal };
  for (let round = 0; round < 10; round++) {
    const sends = [];
    for (let i = 0; i < 10_000; i++) {
      sends.push(producer.send({ topic: "t", messages: [{ value: "v" }] }, opts));
    }
    await Promise.all(sends);
    assert.equal(counts.added - counts.removed, 0, `round ${round}`);
  }
  // One listener per burst of concurrent sends, not one per send.
  assert.ok(counts.added <= 10, `${counts.added} listeners added`);
  assert.equal(fake.produced.length, 100_000);
  await producer.close();
});

// ---- close() ----

Deno.test("producer.close({ signal }) aborted while a batch is in flight closes hard: the send says it may be delivered", async () => {
  const fake = cluster({ produce: false });
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ acks: 1, requestTimeoutMs: 60_000 });
  const sent = producer.send({ topic: "t", messages: [{ value: "v" }] });
  await until(() => fake.produceRequests === 1, "the Produce request");
  const ctl = new AbortController();
  const closing = producer.close({ signal: ctl.signal });
  const reason = new Error("shut down now");
  ctl.abort(reason);
  assert.equal(await closing.catch((e) => e), reason);
  const err = await sent.catch((e) => e);
  assert.ok(err instanceof SendAbortedError && err.cause === reason, String(err));
  assert.equal(producer.bufferedBytes, 0);
  await assert.rejects(producer.send({ topic: "t", messages: [{ value: "w" }] }), /closed/);
});

Deno.test("producer.close({ signal }) already aborted drops unsent records (rejected with the reason) and sends nothing", async () => {
  const fake = cluster();
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ lingerMs: 60_000, acks: 1 });
  const sent = producer.send({ topic: "t", messages: [{ value: "v" }] });
  await until(() => producer.bufferedBytes > 0, "the record buffered");
  const reason = new Error("now");
  assert.equal(await producer.close({ signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
  assert.equal(await sent.catch((e) => e), reason);
  assert.equal(fake.produceRequests, 0);
});

// A send() that awaits a topic's metadata when the producer closes must not queue its records after the
// close: the sender has stopped, so nothing would ever settle the call.
for (const how of ["hard", "graceful"] as const) {
  Deno.test(`a send() waiting for metadata when a ${how} close ends the producer rejects with ClosedError`, async () => {
    let open!: () => void;
    const fake = cluster({ metadataGate: { after: 1, open: new Promise<void>((r) => open = r) } });
    await using _b = fake.broker;
    await using client = await connect({ brokers: [fake.broker.address], metadataMaxAgeMs: 1 });
    const producer = client.producer({ acks: 1 });
    await new Promise((r) => setTimeout(r, 10)); // the bootstrap metadata is stale: send() asks again
    const sent = producer.send({ topic: "t", messages: [{ value: "late" }] });
    await until(() => fake.metadataRequests > 1, "the send's Metadata request");
    const reason = new Error("now");
    if (how === "hard") {
      assert.equal(await producer.close({ signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
    } else await producer.close();
    open();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      sent.then(() => "resolved", (e) => e),
      new Promise((r) => timer = setTimeout(() => r("still pending after 5 s"), 5_000)),
    ]);
    clearTimeout(timer);
    assert.ok(outcome instanceof ClosedError, String(outcome));
    assert.equal(fake.produceRequests, 0);
    assert.equal(producer.bufferedBytes, 0);
  });
}

Deno.test("client.close({ signal }) turns a close in progress hard", async () => {
  const fake = cluster({ produce: false });
  await using _b = fake.broker;
  const client = await connect({ brokers: [fake.broker.address] });
  const producer = client.producer({ acks: 1, requestTimeoutMs: 60_000 });
  const sent = producer.send({ topic: "t", messages: [{ value: "v" }] });
  await until(() => fake.produceRequests === 1, "the Produce request");
  const graceful = client.close(); // would wait for the answer that never comes
  const ctl = new AbortController();
  const hard = client.close({ signal: ctl.signal });
  ctl.abort();
  assert.equal((await hard.catch((e) => e)).name, "AbortError");
  await graceful;
  assert.ok((await sent.catch((e) => e)) instanceof SendAbortedError);
  await assert.rejects(() => client.close({ signal: 1 } as unknown as { signal: AbortSignal }), TypeError);
});

// ---- admin ----

Deno.test("an admin call aborted while its request is pending rejects with the reason; already aborted sends nothing", async () => {
  const fake = cluster({ metadata: 1 }); // bootstrap only: later Metadata requests are never answered
  await using _b = fake.broker;
  await using client = await connect({ brokers: [fake.broker.address] });
  const admin = client.admin();
  const ctl = new AbortController();
  const p = admin.listTopics({ signal: ctl.signal, timeoutMs: 60_000 });
  await until(() => fake.broker.requests.filter((h) => h.apiKey === 3).length === 2, "the Metadata request");
  const reason = new Error("enough");
  ctl.abort(reason);
  assert.equal(await p.catch((e) => e), reason);
  const before = fake.broker.requests.length;
  assert.equal(
    await admin.describeTopics(["t"], { signal: AbortSignal.abort(reason) }).catch((e) => e),
    reason,
  );
  const err = await admin.describeCluster({ signal: AbortSignal.timeout(100) }).catch((e) => e);
  assert.ok(err instanceof DOMException && err.name === "TimeoutError", String(err));
  assert.equal(fake.broker.requests.length, before + 1); // describeCluster's request; none for describeTopics
});
