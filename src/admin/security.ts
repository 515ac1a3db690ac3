/**
 * Security admin: ACLs (describe, create, delete by filter), client quotas
 * and SCRAM credentials. All go to any broker, which forwards changes to the
 * controller, except SCRAM changes, which go to the controller itself.
 *
 * @module
 */

import { alterClientQuotas as alterClientQuotasApi } from "../../protocol/messages/alter_client_quotas.ts";
import { alterUserScramCredentials as alterScramApi } from "../../protocol/messages/alter_user_scram_credentials.ts";
import { createAcls as createAclsApi } from "../../protocol/messages/create_acls.ts";
import { deleteAcls as deleteAclsApi } from "../../protocol/messages/delete_acls.ts";
import { describeAcls as describeAclsApi } from "../../protocol/messages/describe_acls.ts";
import { describeClientQuotas as describeClientQuotasApi } from "../../protocol/messages/describe_client_quotas.ts";
import { describeUserScramCredentials as describeScramApi } from "../../protocol/messages/describe_user_scram_credentials.ts";
import { ErrorCode } from "../../protocol/error_codes.ts";
import { BrokerError } from "../errors.ts";
import { ACL_OPERATIONS, type AdminContext, check, itemError } from "./_context.ts";
import type { AdminCallOptions } from "./topics.ts";

const RESOURCE_TYPES = [
  "unknown",
  "any",
  "topic",
  "group",
  "cluster",
  "transactionalId",
  "delegationToken",
  "user",
] as const;
const PATTERN_TYPES: readonly AclPatternType[] = ["unknown", "any", "match", "literal", "prefixed"];
const PERMISSIONS: readonly AclPermission[] = ["unknown", "any", "deny", "allow"];

/** An ACL resource type. */
export type AclResourceType =
  | "unknown"
  | "any"
  | "topic"
  | "group"
  | "cluster"
  | "transactionalId"
  | "delegationToken"
  | "user";
/** How an ACL's resource name matches: literally, as a prefix (filters also: any, match). */
export type AclPatternType = "unknown" | "any" | "match" | "literal" | "prefixed";
/** Allow or deny (filters also: any). */
export type AclPermission = "unknown" | "any" | "deny" | "allow";

/** An ACL binding. */
export interface Acl {
  /** The resource type, e.g. "topic". */
  resourceType: AclResourceType;
  /** The resource name ("kafka-cluster" for the cluster, "*" for all). */
  resourceName: string;
  /** "literal" (default) or "prefixed". */
  patternType?: AclPatternType;
  /** The principal, e.g. "User:alice". */
  principal: string;
  /** The host ("*" for any; the default). */
  host?: string;
  /** The operation, e.g. "READ", "WRITE", "ALL". */
  operation: string;
  /** "allow" (default) or "deny". */
  permission?: AclPermission;
}

/** An ACL filter: omitted fields match anything. */
export interface AclFilter {
  /** The resource type; "any" when omitted. */
  resourceType?: AclResourceType;
  /** The resource name; any when omitted. */
  resourceName?: string;
  /** The pattern type; "any" when omitted ("match" also matches prefixes and wildcards). */
  patternType?: AclPatternType;
  /** The principal; any when omitted. */
  principal?: string;
  /** The host; any when omitted. */
  host?: string;
  /** The operation; "ANY" when omitted. */
  operation?: string;
  /** The permission; "any" when omitted. */
  permission?: AclPermission;
}

/** A described or deleted ACL, every field filled in. */
export type AclBinding = Required<Acl>;

/** What happened to one ACL creation. */
export interface CreateAclResult {
  /** The ACL. */
  acl: Acl;
  /** The error; null on success. */
  error: BrokerError | null;
}

/** What one delete filter matched. */
export interface DeleteAclsResult {
  /** The filter. */
  filter: AclFilter;
  /** The ACLs it deleted. */
  deleted: AclBinding[];
  /** The error for the whole filter; null on success. */
  error: BrokerError | null;
}

/** A client-quota entity, e.g. `{ user: "alice" }` or `{ "client-id": null }` (the default). */
export type QuotaEntity = Record<string, string | null>;

/** A client-quota filter component. */
export interface QuotaFilterComponent {
  /** "user", "client-id" or "ip". */
  entityType: string;
  /** The name to match; omitted: any entity of this type; null: the default entity. */
  match?: string | null;
}

/** Options of {@linkcode Admin.describeClientQuotas}. */
export interface DescribeClientQuotasOptions extends AdminCallOptions {
  /** Only entities with exactly these components. Default false. */
  strict?: boolean;
}

/** The quotas of one entity. */
export interface ClientQuotaEntry {
  /** The entity. */
  entity: QuotaEntity;
  /** The quota values, e.g. `{ "producer_byte_rate": 1048576 }`. */
  values: Record<string, number>;
}

/** Quota changes for one entity: a number sets, null removes. */
export interface ClientQuotaAlteration {
  /** The entity. */
  entity: QuotaEntity;
  /** The changes. */
  ops: Record<string, number | null>;
}

/** A SCRAM mechanism. */
export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** A user's SCRAM credentials. */
export interface UserScramCredentials {
  /** The user. */
  user: string;
  /** The mechanisms and iteration counts. */
  credentials: { mechanism: ScramMechanism | "UNKNOWN"; iterations: number }[];
  /** The error (RESOURCE_NOT_FOUND for a user without credentials); null on success. */
  error: BrokerError | null;
}

/** A SCRAM credential change. */
export type ScramAlteration =
  | { user: string; mechanism: ScramMechanism; password: string; iterations?: number; salt?: Uint8Array }
  | { user: string; mechanism: ScramMechanism; delete: true };

function code<T extends string>(table: readonly T[], what: string, v: T): number {
  const i = table.indexOf(v);
  if (i < 0) throw new TypeError(`Unknown ${what} "${v}": expected one of ${table.join(", ")}`);
  return i;
}

function operationCode(op: string): number {
  const i = ACL_OPERATIONS.indexOf(op.toUpperCase());
  if (i < 0) {
    throw new TypeError(`Unknown ACL operation "${op}": expected one of ${ACL_OPERATIONS.join(", ")}`);
  }
  return i;
}

function binding(x: {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}): AclBinding {
  return {
    resourceType: RESOURCE_TYPES[x.resourceType] ?? "unknown",
    resourceName: x.resourceName,
    patternType: PATTERN_TYPES[x.patternType] ?? "unknown",
    principal: x.principal,
    host: x.host,
    operation: ACL_OPERATIONS[x.operation] ?? "UNKNOWN",
    permission: PERMISSIONS[x.permissionType] ?? "unknown",
  };
}

function wireFilter(f: AclFilter) {
  return {
    resourceTypeFilter: code(RESOURCE_TYPES, "resource type", f.resourceType ?? "any"),
    resourceNameFilter: f.resourceName ?? null,
    patternTypeFilter: code(PATTERN_TYPES, "pattern type", f.patternType ?? "any"),
    principalFilter: f.principal ?? null,
    hostFilter: f.host ?? null,
    operation: operationCode(f.operation ?? "ANY"),
    permissionType: code(PERMISSIONS, "permission", f.permission ?? "any"),
  };
}

/** See {@linkcode Admin.describeAcls}. */
export async function describeAcls(
  ctx: AdminContext,
  filter: AclFilter,
  opts: AdminCallOptions,
): Promise<AclBinding[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const req = wireFilter(filter);
  const r = await ctx.any(
    "DescribeAcls",
    deadline,
    (conn, left) => conn.request(describeAclsApi, req, { timeoutMs: left }),
  );
  check(r.errorCode, { api: "DescribeAcls", brokerMessage: r.errorMessage });
  return r.resources.flatMap((res) =>
    res.acls.map((a) =>
      binding({
        ...a,
        resourceType: res.resourceType,
        resourceName: res.resourceName,
        patternType: res.patternType,
      })
    )
  );
}

/** See {@linkcode Admin.createAcls}. */
export async function createAcls(
  ctx: AdminContext,
  acls: Acl[],
  opts: AdminCallOptions,
): Promise<CreateAclResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const creations = acls.map((a) => ({
    resourceType: code(RESOURCE_TYPES, "resource type", a.resourceType),
    resourceName: a.resourceName,
    resourcePatternType: code(PATTERN_TYPES, "pattern type", a.patternType ?? "literal"),
    principal: a.principal,
    host: a.host ?? "*",
    operation: operationCode(a.operation),
    permissionType: code(PERMISSIONS, "permission", a.permission ?? "allow"),
  }));
  if (creations.length === 0) return [];
  const r = await ctx.any(
    "CreateAcls",
    deadline,
    (conn, left) => conn.request(createAclsApi, { creations }, { timeoutMs: left }),
  );
  return acls.map((acl, i) => ({
    acl,
    error: itemError(r.results[i]?.errorCode ?? 0, {
      api: "CreateAcls",
      brokerMessage: r.results[i]?.errorMessage,
    }),
  }));
}

/** See {@linkcode Admin.deleteAcls}. */
export async function deleteAcls(
  ctx: AdminContext,
  filters: AclFilter[],
  opts: AdminCallOptions,
): Promise<DeleteAclsResult[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const wire = filters.map(wireFilter);
  if (wire.length === 0) return [];
  const r = await ctx.any(
    "DeleteAcls",
    deadline,
    (conn, left) => conn.request(deleteAclsApi, { filters: wire }, { timeoutMs: left }),
  );
  return filters.map((filter, i) => {
    const x = r.filterResults[i];
    return {
      filter,
      deleted: (x?.matchingAcls ?? []).filter((m) => m.errorCode === 0).map(binding),
      error: itemError(x?.errorCode ?? 0, { api: "DeleteAcls", brokerMessage: x?.errorMessage }) ??
        itemError(x?.matchingAcls.find((m) => m.errorCode !== 0)?.errorCode ?? 0, { api: "DeleteAcls" }),
    };
  });
}

/** See {@linkcode Admin.describeClientQuotas}. */
export async function describeClientQuotas(
  ctx: AdminContext,
  components: QuotaFilterComponent[],
  opts: DescribeClientQuotasOptions,
): Promise<ClientQuotaEntry[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const r = await ctx.any(
    "DescribeClientQuotas",
    deadline,
    (conn, left) =>
      conn.request(describeClientQuotasApi, {
        // matchType: 0 exact name, 1 the default entity, 2 any entity of the type.
        components: components.map((c) => ({
          entityType: c.entityType,
          matchType: c.match === undefined ? 2 : c.match === null ? 1 : 0,
          match: c.match ?? null,
        })),
        strict: opts.strict ?? false,
      }, { timeoutMs: left }),
  );
  check(r.errorCode, { api: "DescribeClientQuotas", brokerMessage: r.errorMessage });
  return (r.entries ?? []).map((e) => ({
    entity: Object.fromEntries(e.entity.map((x) => [x.entityType, x.entityName])),
    values: Object.fromEntries(e.values.map((v) => [v.key, v.value])),
  }));
}

/** See {@linkcode Admin.alterClientQuotas}. */
export async function alterClientQuotas(
  ctx: AdminContext,
  alterations: ClientQuotaAlteration[],
  opts: AdminCallOptions & { validateOnly?: boolean },
): Promise<{ entity: QuotaEntity; error: BrokerError | null }[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  if (alterations.length === 0) return [];
  const r = await ctx.any("AlterClientQuotas", deadline, (conn, left) =>
    conn.request(alterClientQuotasApi, {
      entries: alterations.map((a) => ({
        entity: Object.entries(a.entity).map(([entityType, entityName]) => ({ entityType, entityName })),
        ops: Object.entries(a.ops).map(([key, value]) => ({
          key,
          value: value ?? 0,
          remove: value === null,
        })),
      })),
      validateOnly: opts.validateOnly ?? false,
    }, { timeoutMs: left }));
  // The broker answers in its own order: match entries by entity.
  const key = (e: { entityType: string; entityName: string | null }[]) =>
    JSON.stringify(e.map((x) => [x.entityType, x.entityName]).sort());
  const byEntity = new Map(r.entries.map((e) => [key(e.entity), e]));
  return alterations.map((a) => {
    const x = byEntity.get(
      key(Object.entries(a.entity).map(([entityType, entityName]) => ({ entityType, entityName }))),
    );
    return {
      entity: a.entity,
      error: x
        ? itemError(x.errorCode, { api: "AlterClientQuotas", brokerMessage: x.errorMessage })
        : new BrokerError(ErrorCode.UNKNOWN_SERVER_ERROR, {
          api: "AlterClientQuotas",
          brokerMessage: `the response does not mention entity ${JSON.stringify(a.entity)}`,
        }),
    };
  });
}

const MECHANISMS: Record<ScramMechanism, { code: number; hash: string; bits: number }> = {
  "SCRAM-SHA-256": { code: 1, hash: "SHA-256", bits: 256 },
  "SCRAM-SHA-512": { code: 2, hash: "SHA-512", bits: 512 },
};

/** See {@linkcode Admin.describeUserScramCredentials}. */
export async function describeUserScramCredentials(
  ctx: AdminContext,
  users: string[] | undefined,
  opts: AdminCallOptions,
): Promise<UserScramCredentials[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const r = await ctx.any(
    "DescribeUserScramCredentials",
    deadline,
    (conn, left) =>
      conn.request(describeScramApi, { users: users?.map((name) => ({ name })) ?? null }, {
        timeoutMs: left,
      }),
  );
  check(r.errorCode, { api: "DescribeUserScramCredentials", brokerMessage: r.errorMessage });
  return r.results.map((x) => ({
    user: x.user,
    credentials: x.credentialInfos.map((c) => ({
      mechanism: c.mechanism === 1 ? "SCRAM-SHA-256" : c.mechanism === 2 ? "SCRAM-SHA-512" : "UNKNOWN",
      iterations: c.iterations,
    })),
    error: itemError(x.errorCode, { api: "DescribeUserScramCredentials", brokerMessage: x.errorMessage }),
  }));
}

/** See {@linkcode Admin.alterUserScramCredentials}. */
export async function alterUserScramCredentials(
  ctx: AdminContext,
  alterations: ScramAlteration[],
  opts: AdminCallOptions,
): Promise<{ user: string; error: BrokerError | null }[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const deletions: { name: string; mechanism: number }[] = [];
  const upsertions: {
    name: string;
    mechanism: number;
    iterations: number;
    salt: Uint8Array;
    saltedPassword: Uint8Array;
  }[] = [];
  for (const a of alterations) {
    const m = MECHANISMS[a.mechanism];
    if (!m) throw new TypeError(`Unknown SCRAM mechanism "${a.mechanism}"`);
    if ("delete" in a) {
      deletions.push({ name: a.user, mechanism: m.code });
      continue;
    }
    const iterations = a.iterations ?? 8192;
    if (!Number.isInteger(iterations) || iterations < 4096) {
      throw new RangeError(
        `SCRAM iterations must be an integer >= 4096 (Kafka's minimum), got ${iterations}`,
      );
    }
    const salt = new Uint8Array(a.salt ?? crypto.getRandomValues(new Uint8Array(32)));
    // SaltedPassword := Hi(password, salt, i), which is PBKDF2 with the mechanism's HMAC (RFC 5802).
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(a.password), "PBKDF2", false, [
      "deriveBits",
    ]);
    const saltedPassword = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "PBKDF2", hash: m.hash, salt, iterations }, key, m.bits),
    );
    upsertions.push({ name: a.user, mechanism: m.code, iterations, salt, saltedPassword });
  }
  if (alterations.length === 0) return [];
  // The broker answers once per user. Sent to the controller: Kafka's brokers forward it there, but not every
  // Kafka-compatible broker does (franz-go's kfake answers NOT_CONTROLLER), and those users are sent again.
  const users = [...new Set(alterations.map((a) => a.user))];
  const r = await ctx.controller(
    "AlterUserScramCredentials",
    users,
    deadline,
    async (conn, pending, left) => {
      const res = await conn.request(alterScramApi, {
        deletions: deletions.filter((d) => pending.includes(d.name)),
        upsertions: upsertions.filter((u) => pending.includes(u.name)),
      }, { timeoutMs: left });
      return new Map(
        pending.map((user) => {
          const x = res.results.find((y) => y.user === user);
          return [user, { errorCode: x?.errorCode ?? 0, errorMessage: x?.errorMessage ?? null }];
        }),
      );
    },
  );
  return users.map((user) => {
    const x = r.get(user)!;
    return {
      user,
      error: itemError(x.errorCode, { api: "AlterUserScramCredentials", brokerMessage: x.errorMessage }),
    };
  });
}
