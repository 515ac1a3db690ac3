/**
 * Admin: every operation by name. The code lives in src/admin/, one file per
 * area; this module re-exports the public surface.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * const admin = client.admin();
 * const topic = `doc-lag-${crypto.randomUUID()}`;
 * await admin.createTopics([{ topic, partitions: 2 }]);
 * const groupId = `doc-lag-${crypto.randomUUID()}`;
 * await admin.alterGroupOffsets(groupId, [{ topic, partition: 0, offset: 0 }]);
 * const lag = await admin.groupLag(groupId);
 * console.assert(lag.total === 0n && lag.partitions.length === 1);
 * await admin.deleteTopics([topic]);
 * ```
 *
 * @module
 */

export { Admin } from "./admin/admin.ts";
export { PartialFailureError } from "./admin/topics.ts";
export type * from "./admin/topics.ts";
export type * from "./admin/offsets.ts";
export type * from "./admin/groups.ts";
export type * from "./admin/cluster.ts";
export type * from "./admin/security.ts";
export type * from "./admin/transactions.ts";
export type * from "./admin/tokens.ts";
export type {
  AlterConfigResource,
  AlterConfigResult,
  AlterConfigsOptions,
  ConfigEntry,
  ConfigOp,
  ConfigResource,
  ConfigResourceResult,
  DescribeConfigsOptions,
  ListConfigResourcesOptions,
} from "./admin/configs.ts";
export { ConfigResourceType } from "./admin/configs.ts";
