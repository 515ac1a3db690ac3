/**
 * Integration-test helpers: the broker the tests use, unique names, topics the
 * tests create, and what a test needs beyond the Kafka protocol.
 *
 * `deno task test` starts the local broker and sets `KAFKA_BROKERS`; running
 * `deno test` by hand uses `KAFKA_BROKERS` or 127.0.0.1:9092. When no broker
 * answers, integration tests fail with a message that says how to start one:
 * they are never skipped silently.
 *
 * Portable tests: every test creates the topics it uses with explicit partition
 * counts ({@linkcode newTopic}), so the suite runs on clusters with
 * auto-creation off (Redpanda, managed clusters; the project's own test broker
 * has it off too, to prove it). A test that needs more than the Kafka protocol
 * says so with {@linkcode requires}: it runs on the project's own brokers and
 * is skipped, with the reason printed, elsewhere.
 *
 * @module
 */

import { type Client, type ClientOptions, connect, ProtocolError, UnsupportedVersionError } from "../mod.ts";
import { type DeviationId, DEVIATIONS } from "../scripts/compat_deviations.ts";

/** The bootstrap brokers for integration tests. */
export const BROKERS: string[] = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",").map((s) =>
  s.trim()
).filter(Boolean);

/** Whether the tests run against the broker that scripts/kafka.ts manages (so they may restart it). */
export const LOCAL_BROKER: boolean = Deno.env.get("KAFKA_DENO_LOCAL_BROKER") === "1";

/**
 * The other broker implementation a compatibility lane runs the suite against
 * (`deno task test:compat <name>` sets `KAFKA_DENO_COMPAT`), or null.
 */
export const COMPAT_BROKER: string | null = Deno.env.get("KAFKA_DENO_COMPAT")?.trim() || null;

/**
 * What a test may need beyond the Kafka protocol on the cluster at `KAFKA_BROKERS`:
 * - `java-tools`: Kafka's Java tools (console producer/consumer, TopicCommand...) against that cluster;
 * - `rdkafka`: the librdkafka peer (confluent-kafka) against that cluster;
 * - `broker-control`: killing or restarting the broker (scripts/kafka.ts);
 * - `secure-broker`: the TLS/SASL broker of scripts/kafka_secure.ts;
 * - `legacy-broker`: the Kafka 3.0.2 broker of scripts/kafka_legacy.ts;
 * - `cluster`: the 3-node cluster of scripts/kafka_cluster.ts (scripts/test.ts leaves test/cluster/ out
 *   of a full run against `KAFKA_BROKERS`, saying so).
 *
 * The project's own brokers provide all of them. A compatibility lane may also
 * declare broker behaviours it lacks ({@linkcode COMPAT_GAPS}).
 */
export type Requirement =
  | "java-tools"
  | "rdkafka"
  | "broker-control"
  | "secure-broker"
  | "legacy-broker"
  | "cluster"
  | BrokerFeature;

/** Broker behaviours beyond the core protocol that some Kafka-compatible brokers lack. */
export type BrokerFeature = "transactions" | "kip848" | "share-groups" | "acls" | "scram" | "configs";

/**
 * What each compatibility lane's broker lacks, with the reason printed when a
 * test that needs it is skipped. Each entry is also a row of the README's
 * compatibility table, and test/integration/compat_test.ts asserts what the
 * client does there.
 */
export const COMPAT_GAPS: Record<string, Partial<Record<BrokerFeature, string>>> = {
  tansu: {
    "share-groups":
      "no share-group APIs (ShareGroupHeartbeat, ShareFetch, ShareAcknowledge, ShareGroupDescribe; " +
      "the client's UnsupportedVersionError is asserted by share_consumer_test.ts)",
    "kip848": "no ConsumerGroupHeartbeat (KIP-848 groups; asserted by admin_test.ts)",
    "transactions":
      "no EndTxn or WriteTxnMarkers: a transaction cannot end (asserted by transactions_test.ts)",
  },
  kfake: {},
};

const LOCAL_ONLY: Record<Exclude<Requirement, BrokerFeature>, string> = {
  "java-tools": "runs Kafka's Java tools against the broker",
  "rdkafka": "runs the librdkafka peer against the broker",
  "broker-control": "kills or restarts the broker",
  "secure-broker": "starts the project's TLS/SASL broker",
  "legacy-broker": "starts the project's Kafka 3.0.2 broker",
  "cluster": "needs the project's 3-node cluster",
};

/** Why `need` is not available on this run's cluster, or null when it is. */
export function missing(need: Requirement): string | null {
  if (need in LOCAL_ONLY) {
    if (need === "cluster" ? Deno.env.get("KAFKA_DENO_LOCAL_CLUSTER") === "1" : LOCAL_BROKER) return null;
    const what = LOCAL_ONLY[need as keyof typeof LOCAL_ONLY];
    return COMPAT_BROKER
      ? `${what}: only on the project's own brokers, not the ${COMPAT_BROKER} compatibility lane`
      : `${what}: only on the project's own brokers, and KAFKA_BROKERS=${
        BROKERS.join(",")
      } is a cluster this run did not start`;
  }
  const gap = COMPAT_BROKER ? COMPAT_GAPS[COMPAT_BROKER]?.[need as BrokerFeature] : undefined;
  return gap ? `${COMPAT_BROKER} lacks ${need}: ${gap}` : null;
}

/**
 * The `ignore` value for a test that needs more than the Kafka protocol:
 * false when the cluster provides everything in `needs`; otherwise true, after
 * printing which test is skipped and why (never silently).
 *
 * ```ts ignore
 * Deno.test({ name: "interop", ignore: requires("java-tools"), fn: async () => {} });
 * ```
 */
export function requires(...needs: Requirement[]): boolean {
  const reasons = needs.map(missing).filter((r): r is string => r !== null);
  if (reasons.length === 0) return false;
  // The caller's file and line name the test (its name is not known yet here).
  const at =
    new Error().stack?.split("\n")[2]?.trim().replace(/^at .*?\(?(file:\/\/)?/, "").replace(/\)$/, "") ??
      "a test";
  const where = at.replace(`${Deno.cwd()}/`, "");
  console.log(`skip ${where}: ${reasons.join("; ")}`);
  return true;
}

/**
 * Whether this run's broker shows the deviation from Apache Kafka that `id`
 * names (scripts/compat_deviations.ts): true only on that compatibility lane.
 * A test branches on it to assert what the client does on that broker.
 */
export function deviates(id: DeviationId): boolean {
  return COMPAT_BROKER !== null && DEVIATIONS[id].broker === COMPAT_BROKER;
}

/**
 * An `assert.rejects` check: the client refused to send a request the broker
 * does not offer, with an {@linkcode UnsupportedVersionError} naming the API.
 */
export function notOffered(api: string): (e: unknown) => boolean {
  return (e) => e instanceof UnsupportedVersionError && e.message.includes(`does not offer ${api}`);
}

/** An `assert.rejects` check: the broker's answer broke the schema at `field`, a {@linkcode ProtocolError} naming it. */
export function badAnswer(field: string): (e: unknown) => boolean {
  return (e) => e instanceof ProtocolError && e.message.includes(field);
}

/** A unique name for a topic or group in one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Topics made by {@linkcode newTopic}, per client, deleted when the client closes. */
const created = new WeakMap<Client, Set<string>>();

/**
 * Creates a topic with a unique name and an explicit partition count (and
 * replication factor 1, so it works on a single node), waits until it is
 * usable, and returns its name. A client from {@linkcode testClient} deletes
 * it (best effort) when it closes.
 */
export async function newTopic(
  client: Client,
  prefix: string,
  partitions: number,
  configs?: Record<string, string>,
): Promise<string> {
  const topic = uniqueName(prefix);
  await createTopic(client, topic, partitions, configs);
  return topic;
}

/** Creates a topic by name (see {@linkcode newTopic}). */
export async function createTopic(
  client: Client,
  topic: string,
  partitions: number,
  configs?: Record<string, string>,
): Promise<void> {
  await client.admin().createTopics([{ topic, partitions, replicationFactor: 1, configs }]);
  let set = created.get(client);
  if (!set) created.set(client, set = new Set());
  set.add(topic);
}

/** Connects to the test cluster or fails saying how to get one. */
export async function testClient(opts: Partial<ClientOptions> = {}): Promise<Client> {
  let made: Client;
  try {
    made = await connect({ brokers: BROKERS, clientId: "kafka-deno-test", ...opts });
  } catch (err) {
    throw new Error(
      `No Kafka broker at ${
        BROKERS.join(",")
      }. Run the tests with \`deno task test\` (it starts a local broker), ` +
        `or start one with \`deno task kafka start\`, or set KAFKA_BROKERS.\n${(err as Error).message}`,
      { cause: err },
    );
  }
  const client = made;
  // After it closes (its producers flushed, its consumers gone), delete the topics it created, through a
  // connection of its own: best effort and bounded, a test's result never depends on it.
  const close = client.close.bind(client);
  let closing: Promise<void> | undefined;
  client.close = () =>
    closing ??= (async () => {
      await close();
      const topics = created.get(client);
      created.delete(client);
      if (topics?.size) await dropTopics([...topics]);
    })();
  return client;
}

async function dropTopics(topics: string[]): Promise<void> {
  try {
    await using admin = await connect({ brokers: BROKERS, clientId: "kafka-deno-test-cleanup" });
    await admin.admin().deleteTopics(topics, { ifExists: true, timeoutMs: 10_000 });
  } catch {
    // best effort: the names are unique, a topic left behind disturbs no other test
  }
}
