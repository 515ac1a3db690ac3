/**
 * What a producer, consumer or admin needs from the client that made it. The
 * client builds one and hands it over, so those roles never import the client
 * (no import circle: client.ts -> producer -> client.ts).
 *
 * @module
 */

import type { Cluster } from "./cluster.ts";
import type { Telemetry } from "./observe/otel.ts";

/** @internal The client's side of a producer, consumer or admin. */
export interface ClientContext {
  /** The cluster layer whose connections they share. */
  readonly cluster: Cluster;
  /** Throws `ClosedError` when the client is closed. */
  assertOpen(): void;
  /**
   * Registers something to close before the client's connections; returns the
   * unregister function. `signal` aborts when the client's close turns hard.
   */
  track(close: (signal?: AbortSignal) => Promise<void>): () => void;
  /** OpenTelemetry (spans and instruments) when it is on, else null. */
  readonly telemetry: Telemetry | null;
}
