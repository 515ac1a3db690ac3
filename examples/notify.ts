/**
 * The notification service: the Deno version of a Go/sarama example.
 *
 * - Producer service (default port 8080): `POST /send` with form fields
 *   `fromID`, `toID`, `message` (urlencoded or multipart) writes a record to
 *   the topic `notifications`, keyed by the recipient's id.
 * - Consumer service (default port 8081, group `notifications-group`): keeps
 *   every user's notifications in memory and serves
 *   `GET /notifications/:userID`.
 *
 * Run both in one process (no argument), or one of them:
 *
 *     deno run --allow-net --allow-env examples/notify.ts [producer|consumer|both]
 *
 * Environment: `KAFKA_BROKERS` (default 127.0.0.1:9092), `NOTIFY_SERVICE`
 * (producer|consumer|both), `PRODUCER_PORT` (8080), `CONSUMER_PORT` (8081),
 * `NOTIFY_PARTITIONER` (sarama, the default, places keys where the Go/sarama
 * producer does; murmur2 where Java clients do), `NOTIFY_TOPIC` (notifications), `NOTIFY_GROUP`
 * (notifications-group), `NOTIFY_SHUTDOWN_MS` (10000, the shutdown deadline), `NOTIFY_CONSUMER`
 * (`group`, the default: a consumer group, each partition read by one process; `share`: a share
 * group, a work queue where several consumer processes serve the same partition, each record to one
 * of them, accepted once stored and rejected when it is not valid JSON).
 *
 * Like the Go consumer, the consumer service logs one line per notification it
 * receives (`Received message Count: N: | Topic (t) | Message (value)`) and,
 * when it shuts down, how many it processed (`Processed N messages`).
 *
 * SIGINT or SIGTERM shuts down gracefully: stop accepting HTTP requests, flush
 * the producer, commit offsets and leave the group, close, exit 0. A second
 * signal, or the deadline passing, forces exit 1.
 *
 * @module
 */

import {
  type Client,
  connect,
  type Consumer,
  type ConsumerRecord,
  type Producer,
  type ShareConsumer,
  ShareRecord,
} from "../mod.ts";

/** A user of the service. */
export interface User {
  /** The user's id. */
  id: number;
  /** The user's name. */
  name: string;
}

/** The notification record's value. */
export interface Notification {
  /** Who sent it. */
  from: User;
  /** Who gets it. */
  to: User;
  /** The text. */
  message: string;
}

/** The fixed users. */
export const USERS: readonly User[] = [
  { id: 1, name: "Emma" },
  { id: 2, name: "Bruno" },
  { id: 3, name: "Rick" },
  { id: 4, name: "Lena" },
];

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function parseId(raw: FormDataEntryValue | null, field: string): number | Response {
  const text = typeof raw === "string" ? raw.trim() : "";
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return json({ message: `Invalid ${field}: ${JSON.stringify(text)} is not an integer` }, 400);
  }
  return Number(text);
}

/** Handles the producer service's requests. */
export function producerHandler(producer: Producer, topic: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/send") return json({ message: "Not found" }, 404);
    if (req.method !== "POST") return json({ message: "Use POST /send" }, 405);
    let form: FormData;
    try {
      form = await req.formData();
    } catch {
      return json({ message: "Send the fields fromID, toID and message as a form" }, 400);
    }
    const fromId = parseId(form.get("fromID"), "fromID");
    if (fromId instanceof Response) return fromId;
    const toId = parseId(form.get("toID"), "toID");
    if (toId instanceof Response) return toId;
    const from = USERS.find((u) => u.id === fromId);
    const to = USERS.find((u) => u.id === toId);
    if (!from || !to) return json({ message: "User not found" }, 404);
    const message = String(form.get("message") ?? "");
    const value: Notification = { from, to, message };
    try {
      await producer.send({ topic, messages: [{ key: String(to.id), value: JSON.stringify(value) }] });
    } catch (err) {
      return json({ message: err instanceof Error ? err.message : String(err) }, 500);
    }
    return json({ message: "Notification sent successfully!" });
  };
}

/** The consumer service's in-memory store: notifications per recipient id, in arrival order. */
export class NotificationStore {
  readonly #byUser = new Map<string, Notification[]>();

  /** Adds a notification under the record key. */
  add(key: string, n: Notification): void {
    const list = this.#byUser.get(key);
    if (list) list.push(n);
    else this.#byUser.set(key, [n]);
  }

  /** The notifications of a user. */
  get(key: string): Notification[] {
    return this.#byUser.get(key) ?? [];
  }

  /** Handles `GET /notifications/:userID`. */
  handler(): (req: Request) => Response {
    return (req) => {
      const m = /^\/notifications\/([^/]+)$/.exec(new URL(req.url).pathname);
      if (!m) return json({ message: "Not found" }, 404);
      if (req.method !== "GET") return json({ message: "Use GET /notifications/:userID" }, 405);
      const list = this.get(decodeURIComponent(m[1]));
      if (list.length === 0) return json({ message: "No notifications found for user", notifications: [] });
      return json({ notifications: list });
    };
  }
}

/** How many records the consumer service received, as the Go consumer counts them. */
export interface ConsumeStats {
  /** Records received. */
  count: number;
}

async function consume(
  consumer: AsyncIterable<ConsumerRecord>,
  store: NotificationStore,
  stats: ConsumeStats,
): Promise<void> {
  const td = new TextDecoder();
  for await (const record of consumer) {
    const key = record.key ? td.decode(record.key) : "";
    stats.count++;
    console.log(
      `Received message Count: ${stats.count}: | Topic (${record.topic}) | Message (${
        record.value ? td.decode(record.value) : ""
      })`,
    );
    try {
      const n = JSON.parse(record.value ? td.decode(record.value) : "") as Notification;
      store.add(key, n);
      // In a share group each record is acknowledged on its own: stored, so done.
      if (record instanceof ShareRecord) record.accept();
    } catch (err) {
      // Not JSON will never be: a share group must not deliver it again.
      if (record instanceof ShareRecord) record.reject();
      console.error(
        `notify: skipping ${record.topic}[${record.partition}]@${record.offset}: value is not valid JSON (${
          (err as Error).message
        })`,
      );
    }
  }
}

async function main(): Promise<number> {
  const which = (Deno.args[0] ?? Deno.env.get("NOTIFY_SERVICE") ?? "both").toLowerCase();
  if (!["producer", "consumer", "both"].includes(which)) {
    console.error(`notify: unknown service "${which}": use producer, consumer or both`);
    return 2;
  }
  const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",").map((s) => s.trim());
  const topic = Deno.env.get("NOTIFY_TOPIC") ?? "notifications";
  const groupId = Deno.env.get("NOTIFY_GROUP") ?? "notifications-group";
  // sarama by default: beside the Go producer it replaces, each user's notifications share a partition.
  const partitioner = Deno.env.get("NOTIFY_PARTITIONER") ?? "sarama";
  if (partitioner !== "murmur2" && partitioner !== "sarama") {
    console.error(`notify: NOTIFY_PARTITIONER must be murmur2 or sarama, got "${partitioner}"`);
    return 2;
  }
  const deadlineMs = Number(Deno.env.get("NOTIFY_SHUTDOWN_MS") ?? 10_000);
  const consumerKind = Deno.env.get("NOTIFY_CONSUMER") ?? "group";
  if (consumerKind !== "group" && consumerKind !== "share") {
    console.error(`notify: NOTIFY_CONSUMER must be group or share, got "${consumerKind}"`);
    return 2;
  }

  const client: Client = await connect({ brokers, clientId: "notify" });
  await client.admin().createTopics([{ topic }], { ifNotExists: true });
  console.log(`notify: using Kafka at ${brokers.join(",")} (topic ${topic})`);

  const servers: Deno.HttpServer[] = [];
  let producer: Producer | undefined;
  let consumer: Consumer | ShareConsumer | undefined;
  let consuming: Promise<void> | undefined;
  const stats: ConsumeStats = { count: 0 };
  if (which !== "consumer") {
    producer = client.producer({ partitioner });
    const port = Number(Deno.env.get("PRODUCER_PORT") ?? 8080);
    servers.push(Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: ({ hostname, port }) =>
        console.log(`notify: producer service listening on http://${hostname}:${port}`),
    }, producerHandler(producer, topic)));
  }
  if (which !== "producer") {
    const store = new NotificationStore();
    if (consumerKind === "share") {
      // A share group starts at the latest record unless told otherwise: from the beginning, as the group consumer.
      await client.admin().alterShareGroupConfigs(groupId, { "share.auto.offset.reset": "earliest" });
      consumer = client.shareConsumer({ groupId, topics: [topic], acknowledgementMode: "explicit" });
    } else consumer = client.consumer({ groupId, topics: [topic], fromBeginning: true });
    consuming = consume(consumer, store, stats);
    const port = Number(Deno.env.get("CONSUMER_PORT") ?? 8081);
    servers.push(Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: ({ hostname, port }) =>
        console.log(
          `notify: consumer service listening on http://${hostname}:${port} (${
            consumerKind === "share" ? "share group" : "group"
          } ${groupId})`,
        ),
    }, store.handler()));
  }

  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  let signals = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    signals++;
    if (signals === 1) stop(sig);
    else {
      console.error(`notify: second ${sig}, exiting now`);
      Deno.exit(1);
    }
  };
  const listeners: [Deno.Signal, () => void][] = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]];
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);

  // A consumer that fails for good (not a rebalance) also stops the service.
  consuming?.catch((err) => {
    console.error(`notify: consumer failed: ${err instanceof Error ? err.message : err}`);
    stop("consumer failure");
  });
  const reason = await stopped;
  if (reason.startsWith("SIG")) console.log("Interruption detected");
  console.log(`notify: ${reason}: shutting down`);
  const force = setTimeout(() => {
    console.error(`notify: shutdown took longer than ${deadlineMs} ms, exiting`);
    Deno.exit(1);
  }, deadlineMs);
  try {
    await Promise.all(servers.map((s) => s.shutdown()));
    await producer?.close();
    await consumer?.close();
    await consuming?.catch(() => {});
    await client.close();
    if (consumer) console.log("Processed", stats.count, "messages");
  } finally {
    clearTimeout(force);
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
  }
  console.log("notify: stopped cleanly");
  return reason === "consumer failure" ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
