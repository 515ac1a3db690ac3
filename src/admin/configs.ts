/**
 * Configs: describe (with synonyms and documentation), alter incrementally
 * (set, delete, append, subtract), and list config resources. Broker and
 * broker-logger resources go to the broker they name; the rest to any broker
 * (which forwards changes to the controller).
 *
 * @module
 */

import { describeConfigs as describeConfigsApi } from "../../protocol/messages/describe_configs.ts";
import { incrementalAlterConfigs as incrementalAlterConfigsApi } from "../../protocol/messages/incremental_alter_configs.ts";
import { listConfigResources as listConfigResourcesApi } from "../../protocol/messages/list_config_resources.ts";
import type { BrokerError } from "../errors.ts";
import type { AdminCallOptions } from "./topics.ts";
import { type AdminContext, check, itemError } from "./_context.ts";

/** Config resource types, by Kafka's codes. */
export const ConfigResourceType = {
  /** A topic. */
  topic: 2,
  /** A broker (name: its node id; "" for the cluster-wide default). */
  broker: 4,
  /** A broker's log4j loggers (name: its node id). */
  brokerLogger: 8,
  /** Client metrics subscriptions (KIP-714). */
  clientMetrics: 16,
  /** A consumer or share group (KIP-848). */
  group: 32,
} as const;
/** A config resource type name. */
export type ConfigResourceType = keyof typeof ConfigResourceType;

const TYPE_NAMES = new Map<number, ConfigResourceType>(
  Object.entries(ConfigResourceType).map(([k, v]) => [v, k as ConfigResourceType]),
);

/** Where a config value comes from, by Kafka's codes. */
export const CONFIG_SOURCES: readonly string[] = [
  "UNKNOWN",
  "DYNAMIC_TOPIC_CONFIG",
  "DYNAMIC_BROKER_CONFIG",
  "DYNAMIC_DEFAULT_BROKER_CONFIG",
  "STATIC_BROKER_CONFIG",
  "DEFAULT_CONFIG",
  "DYNAMIC_BROKER_LOGGER_CONFIG",
  "CLIENT_METRICS_CONFIG",
  "GROUP_CONFIG",
];

const CONFIG_TYPES: readonly string[] = [
  "UNKNOWN",
  "BOOLEAN",
  "STRING",
  "INT",
  "SHORT",
  "LONG",
  "DOUBLE",
  "LIST",
  "CLASS",
  "PASSWORD",
];

/** A resource whose configs to describe. */
export interface ConfigResource {
  /** The resource type. */
  type: ConfigResourceType;
  /** The resource name: topic name, broker id, group id... */
  name: string;
  /** Only these keys; all when omitted. */
  keys?: string[];
}

/** Options of {@linkcode Admin.describeConfigs}. */
export interface DescribeConfigsOptions extends AdminCallOptions {
  /** Include each entry's synonyms (the values it overrides). Default false. */
  includeSynonyms?: boolean;
  /** Include each entry's documentation. Default false. */
  includeDocumentation?: boolean;
}

/** One config value. */
export interface ConfigEntry {
  /** The key. */
  name: string;
  /** The value; null when sensitive or unset. */
  value: string | null;
  /** Whether it cannot be changed. */
  readOnly: boolean;
  /** Where it comes from, e.g. "DYNAMIC_TOPIC_CONFIG" or "DEFAULT_CONFIG". */
  source: string;
  /** Whether it is sensitive (its value is then null). */
  sensitive: boolean;
  /** The config's type, e.g. "INT" ("UNKNOWN" before DescribeConfigs v3). */
  type: string;
  /** Its documentation, when asked for. */
  documentation: string | null;
  /** The values it overrides, highest precedence first, when asked for. */
  synonyms: { name: string; value: string | null; source: string }[];
}

/** The configs of one resource. */
export interface ConfigResourceResult {
  /** The resource type. */
  type: ConfigResourceType;
  /** The resource name. */
  name: string;
  /** Its entries ([] on error). */
  configs: ConfigEntry[];
  /** Why it could not be described; null when it was. */
  error: BrokerError | null;
}

/** A config change. */
export interface ConfigOp {
  /** The key. */
  name: string;
  /** "set" (default), "delete" (back to the default), "append" or "subtract" (list values). */
  op?: "set" | "delete" | "append" | "subtract";
  /** The value (not for "delete"). */
  value?: string;
}

/** Changes to one resource's configs. */
export interface AlterConfigResource {
  /** The resource type. */
  type: ConfigResourceType;
  /** The resource name. */
  name: string;
  /** The changes. */
  ops: ConfigOp[];
}

/** Options of {@linkcode Admin.incrementalAlterConfigs}. */
export interface AlterConfigsOptions extends AdminCallOptions {
  /** Only check; change nothing. */
  validateOnly?: boolean;
}

/** What happened to one resource. */
export interface AlterConfigResult {
  /** The resource type. */
  type: ConfigResourceType;
  /** The resource name. */
  name: string;
  /** The error; null on success. */
  error: BrokerError | null;
}

/** Options of {@linkcode Admin.listConfigResources}. */
export interface ListConfigResourcesOptions extends AdminCallOptions {
  /** Only these types; every type when omitted. */
  types?: ConfigResourceType[];
}

const OPS = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

function typeCode(t: ConfigResourceType): number {
  const c = ConfigResourceType[t];
  if (c === undefined) {
    throw new TypeError(
      `Unknown config resource type "${t}": expected one of ${Object.keys(ConfigResourceType).join(", ")}`,
    );
  }
  return c;
}

/** Broker-scoped resources go to that broker; everything else to any broker. */
function target(r: { type: ConfigResourceType; name: string }): number | null {
  if ((r.type === "broker" || r.type === "brokerLogger") && r.name !== "") {
    const id = Number(r.name);
    if (!Number.isInteger(id) || id < 0) {
      throw new TypeError(`Broker resource name must be a node id, got "${r.name}"`);
    }
    return id;
  }
  return null;
}

function groupByTarget<R extends { type: ConfigResourceType; name: string }>(
  items: R[],
): Map<number | null, R[]> {
  const m = new Map<number | null, R[]>();
  for (const r of items) {
    typeCode(r.type);
    const t = target(r);
    m.set(t, [...(m.get(t) ?? []), r]);
  }
  return m;
}

/** See {@linkcode Admin.describeConfigs}. */
export async function describeConfigs(
  ctx: AdminContext,
  resources: ConfigResource[],
  opts: DescribeConfigsOptions,
): Promise<ConfigResourceResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const results = new Map<ConfigResource, ConfigResourceResult>();
  await Promise.all([...groupByTarget(resources)].map(async ([node, items]) => {
    const send = (conn: Parameters<Parameters<AdminContext["any"]>[2]>[0], left: number) =>
      conn.request(describeConfigsApi, {
        resources: items.map((r) => ({
          resourceType: typeCode(r.type),
          resourceName: r.name,
          configurationKeys: r.keys ?? null,
        })),
        includeSynonyms: opts.includeSynonyms ?? false,
        includeDocumentation: conn.versionFor(describeConfigsApi) >= 3
          ? opts.includeDocumentation ?? false
          : undefined,
      }, { timeoutMs: left });
    const res = node === null
      ? await ctx.any("DescribeConfigs", deadline, send)
      : await ctx.broker("DescribeConfigs", node, deadline, send);
    items.forEach((r, i) => {
      const x = res.results.find((y) => y.resourceName === r.name && y.resourceType === typeCode(r.type)) ??
        res.results[i];
      results.set(r, {
        type: r.type,
        name: r.name,
        error: itemError(x.errorCode, {
          api: "DescribeConfigs",
          brokerMessage: `${r.type} "${r.name}": ${x.errorMessage ?? "failed"}`,
        }),
        configs: x.configs.map((c) => ({
          name: c.name,
          value: c.value,
          readOnly: c.readOnly,
          source: CONFIG_SOURCES[c.configSource] ?? "UNKNOWN",
          sensitive: c.isSensitive,
          type: CONFIG_TYPES[c.configType] ?? "UNKNOWN",
          documentation: c.documentation,
          synonyms: c.synonyms.map((s) => ({
            name: s.name,
            value: s.value,
            source: CONFIG_SOURCES[s.source] ?? "UNKNOWN",
          })),
        })),
      });
    });
  }));
  return resources.map((r) => results.get(r)!);
}

/** See {@linkcode Admin.incrementalAlterConfigs}. */
export async function incrementalAlterConfigs(
  ctx: AdminContext,
  resources: AlterConfigResource[],
  opts: AlterConfigsOptions,
): Promise<AlterConfigResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  for (const r of resources) {
    for (const o of r.ops) {
      const op = o.op ?? "set";
      if (!(op in OPS)) {
        throw new TypeError(
          `Unknown config op "${op}" for ${r.name}: expected set, delete, append or subtract`,
        );
      }
      if (op !== "delete" && o.value === undefined) {
        throw new TypeError(`Config op "${op}" of "${o.name}" needs a value`);
      }
    }
  }
  const results = new Map<AlterConfigResource, AlterConfigResult>();
  await Promise.all([...groupByTarget(resources)].map(async ([node, items]) => {
    const send = (conn: Parameters<Parameters<AdminContext["any"]>[2]>[0], left: number) =>
      conn.request(incrementalAlterConfigsApi, {
        resources: items.map((r) => ({
          resourceType: typeCode(r.type),
          resourceName: r.name,
          configs: r.ops.map((o) => ({
            name: o.name,
            configOperation: OPS[o.op ?? "set"],
            value: o.value ?? null,
          })),
        })),
        validateOnly: opts.validateOnly ?? false,
      }, { timeoutMs: left });
    const res = node === null
      ? await ctx.any("IncrementalAlterConfigs", deadline, send)
      : await ctx.broker("IncrementalAlterConfigs", node, deadline, send);
    items.forEach((r, i) => {
      const x = res.responses.find((y) => y.resourceName === r.name && y.resourceType === typeCode(r.type)) ??
        res.responses[i];
      results.set(r, {
        type: r.type,
        name: r.name,
        error: itemError(x.errorCode, {
          api: "IncrementalAlterConfigs",
          brokerMessage: `${r.type} "${r.name}": ${x.errorMessage ?? "failed"}`,
        }),
      });
    });
  }));
  return resources.map((r) => results.get(r)!);
}

/** See {@linkcode Admin.listConfigResources}. */
export async function listConfigResources(
  ctx: AdminContext,
  opts: ListConfigResourcesOptions,
): Promise<{ type: ConfigResourceType | string; name: string }[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const types = (opts.types ?? []).map(typeCode);
  const res = await ctx.any("ListConfigResources", deadline, (conn, left) => {
    // v0 (Kafka 4.0, as ListClientMetricsResources) lists client-metrics resources only.
    const v = conn.versionFor(listConfigResourcesApi);
    if (v === 0 && types.some((t) => t !== ConfigResourceType.clientMetrics)) {
      throw new TypeError(
        `Broker ${conn.address} lists client-metrics config resources only (ListConfigResources v0)`,
      );
    }
    return conn.request(listConfigResourcesApi, v >= 1 ? { resourceTypes: types } : {}, { timeoutMs: left });
  });
  check(res.errorCode, { api: "ListConfigResources" });
  return res.configResources.map((r) => ({
    type: TYPE_NAMES.get(r.resourceType) ?? `type-${r.resourceType}`,
    name: r.resourceName,
  }));
}
