/**
 * Integration-test helpers: the broker the tests use and unique names.
 *
 * `deno task test` starts the local broker and sets `KAFKA_BROKERS`; running
 * `deno test` by hand uses `KAFKA_BROKERS` or 127.0.0.1:9092. When no broker
 * answers, integration tests fail with a message that says how to start one:
 * they are never skipped silently.
 *
 * @module
 */

import { type Client, type ClientOptions, connect } from "../mod.ts";

/** The bootstrap brokers for integration tests. */
export const BROKERS: string[] = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",").map((s) =>
  s.trim()
).filter(Boolean);

/** Whether the tests run against the broker that scripts/kafka.ts manages (so they may restart it). */
export const LOCAL_BROKER: boolean = Deno.env.get("KAFKA_DENO_LOCAL_BROKER") === "1";

/** A unique name for a topic or group in one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Connects to the test cluster or fails saying how to get one. */
export async function testClient(opts: Partial<ClientOptions> = {}): Promise<Client> {
  try {
    return await connect({ brokers: BROKERS, clientId: "kafka-deno-test", ...opts });
  } catch (err) {
    throw new Error(
      `No Kafka broker at ${
        BROKERS.join(",")
      }. Run the tests with \`deno task test\` (it starts a local broker), ` +
        `or start one with \`deno task kafka start\`, or set KAFKA_BROKERS.\n${(err as Error).message}`,
      { cause: err },
    );
  }
}
