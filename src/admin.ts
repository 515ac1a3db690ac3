/**
 * Admin: every operation by name. The code lives in src/admin/, one file per
 * area; this module re-exports the public surface.
 *
 * @module
 */

export { Admin } from "./admin/admin.ts";
export type * from "./admin/topics.ts";
export type * from "./admin/offsets.ts";
export type * from "./admin/groups.ts";
export type * from "./admin/cluster.ts";
export type * from "./admin/security.ts";
export type * from "./admin/transactions.ts";
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
