/**
 * Delegation tokens (KIP-48): create, describe, renew, expire. All go to any
 * broker (which forwards to the controller). The broker serves them only on
 * authenticated (SASL) connections with `delegation.token.secret.key` set;
 * otherwise each call fails with the broker's error, e.g.
 * DELEGATION_TOKEN_AUTH_DISABLED or DELEGATION_TOKEN_REQUEST_NOT_ALLOWED.
 *
 * @module
 */

import { createDelegationToken as createApi } from "../../protocol/messages/create_delegation_token.ts";
import { describeDelegationToken as describeApi } from "../../protocol/messages/describe_delegation_token.ts";
import { expireDelegationToken as expireApi } from "../../protocol/messages/expire_delegation_token.ts";
import { renewDelegationToken as renewApi } from "../../protocol/messages/renew_delegation_token.ts";
import { type AdminContext, check } from "./_context.ts";
import type { AdminCallOptions } from "./topics.ts";

/** A delegation token. */
export interface DelegationToken {
  /** The token id (the SCRAM user name to authenticate with). */
  tokenId: string;
  /** The HMAC (the SCRAM password, base64-encoded, to authenticate with). */
  hmac: Uint8Array;
  /** The owner, e.g. "User:alice". */
  owner: string;
  /** Who asked for it (KIP-373, v3+; the owner before). */
  requester: string;
  /** Issued at, epoch ms. */
  issueTimestampMs: bigint;
  /** Expires at unless renewed, epoch ms. */
  expiryTimestampMs: bigint;
  /** The latest it can be renewed to, epoch ms. */
  maxTimestampMs: bigint;
  /** Who may renew it, e.g. ["User:bob"]. */
  renewers: string[];
}

/** Options of {@linkcode Admin.createDelegationToken}. */
export interface CreateDelegationTokenOptions extends AdminCallOptions {
  /** Principals that may renew it, e.g. ["User:bob"]. */
  renewers?: string[];
  /** Its maximum lifetime; the broker's `delegation.token.max.lifetime.ms` when omitted. */
  maxLifetimeMs?: number;
  /** Create it for another principal (v3+, KIP-373; needs CREATE_TOKENS on that user). */
  owner?: string;
}

function principal(p: string): { principalType: string; principalName: string } {
  const i = p.indexOf(":");
  if (i <= 0) throw new TypeError(`A principal is "Type:name" (e.g. "User:alice"), got "${p}"`);
  return { principalType: p.slice(0, i), principalName: p.slice(i + 1) };
}

/** See {@linkcode Admin.createDelegationToken}. */
export async function createDelegationToken(
  ctx: AdminContext,
  opts: CreateDelegationTokenOptions,
): Promise<DelegationToken> {
  const deadline = ctx.begin(opts.timeoutMs);
  const renewers = (opts.renewers ?? []).map(principal);
  const owner = opts.owner === undefined ? null : principal(opts.owner);
  const r = await ctx.any("CreateDelegationToken", deadline, (conn, left) => {
    if (owner && conn.versionFor(createApi) < 3) {
      throw new TypeError(
        `Broker ${conn.address} cannot create tokens for another owner (CreateDelegationToken v3)`,
      );
    }
    return conn.request(createApi, {
      ownerPrincipalType: owner?.principalType ?? null,
      ownerPrincipalName: owner?.principalName ?? null,
      renewers,
      maxLifetimeMs: BigInt(opts.maxLifetimeMs ?? -1),
    }, { timeoutMs: left });
  });
  check(r.errorCode, { api: "CreateDelegationToken" });
  return {
    tokenId: r.tokenId,
    hmac: r.hmac,
    owner: `${r.principalType}:${r.principalName}`,
    requester: r.tokenRequesterPrincipalType
      ? `${r.tokenRequesterPrincipalType}:${r.tokenRequesterPrincipalName}`
      : `${r.principalType}:${r.principalName}`,
    issueTimestampMs: r.issueTimestampMs,
    expiryTimestampMs: r.expiryTimestampMs,
    maxTimestampMs: r.maxTimestampMs,
    renewers: opts.renewers ?? [],
  };
}

/** See {@linkcode Admin.describeDelegationTokens}. */
export async function describeDelegationTokens(
  ctx: AdminContext,
  owners: string[] | undefined,
  opts: AdminCallOptions,
): Promise<DelegationToken[]> {
  const deadline = ctx.begin(opts.timeoutMs);
  const wire = owners?.map(principal) ?? null;
  const r = await ctx.any(
    "DescribeDelegationToken",
    deadline,
    (conn, left) => conn.request(describeApi, { owners: wire }, { timeoutMs: left }),
  );
  check(r.errorCode, { api: "DescribeDelegationToken" });
  return r.tokens.map((t) => ({
    tokenId: t.tokenId,
    hmac: t.hmac,
    owner: `${t.principalType}:${t.principalName}`,
    requester: t.tokenRequesterPrincipalType
      ? `${t.tokenRequesterPrincipalType}:${t.tokenRequesterPrincipalName}`
      : `${t.principalType}:${t.principalName}`,
    issueTimestampMs: t.issueTimestamp,
    expiryTimestampMs: t.expiryTimestamp,
    maxTimestampMs: t.maxTimestamp,
    renewers: t.renewers.map((x) => `${x.principalType}:${x.principalName}`),
  }));
}

/** See {@linkcode Admin.renewDelegationToken}. */
export async function renewDelegationToken(
  ctx: AdminContext,
  hmac: Uint8Array,
  renewPeriodMs: number,
  opts: AdminCallOptions,
): Promise<bigint> {
  const deadline = ctx.begin(opts.timeoutMs);
  const r = await ctx.any(
    "RenewDelegationToken",
    deadline,
    (conn, left) =>
      conn.request(renewApi, { hmac, renewPeriodMs: BigInt(renewPeriodMs) }, { timeoutMs: left }),
  );
  check(r.errorCode, { api: "RenewDelegationToken" });
  return r.expiryTimestampMs;
}

/** See {@linkcode Admin.expireDelegationToken}. */
export async function expireDelegationToken(
  ctx: AdminContext,
  hmac: Uint8Array,
  expiryPeriodMs: number,
  opts: AdminCallOptions,
): Promise<bigint> {
  const deadline = ctx.begin(opts.timeoutMs);
  const r = await ctx.any(
    "ExpireDelegationToken",
    deadline,
    (conn, left) =>
      conn.request(expireApi, { hmac, expiryTimePeriodMs: BigInt(expiryPeriodMs) }, { timeoutMs: left }),
  );
  check(r.errorCode, { api: "ExpireDelegationToken" });
  return r.expiryTimestampMs;
}
