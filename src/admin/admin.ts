/**
 * The `Admin` class: every admin operation by name. Each area lives in its
 * own file (topics, configs, offsets, groups, cluster); this class only binds
 * them to the client. Share-group admin (KIP-932) belongs in share_groups.ts.
 *
 * @module
 */

import type { ClientContext } from "../context.ts";
import type { BrokerError } from "../errors.ts";
import { AdminContext } from "./_context.ts";
import { abortable, type AbortOptions, checkSignal } from "../abort.ts";
import * as cluster from "./cluster.ts";
import * as configs from "./configs.ts";
import * as groups from "./groups.ts";
import * as share from "./share_groups.ts";
import * as offsets from "./offsets.ts";
import * as security from "./security.ts";
import * as tokens from "./tokens.ts";
import * as transactions from "./transactions.ts";
import * as topics_ from "./topics.ts";
import type * as topics from "./topics.ts";

/**
 * Administration: topics, configs, offsets, consumer groups and the cluster.
 * Get one with `client.admin()`. Every call is bounded by its `timeoutMs`
 * (default: the client's request timeout), goes to the broker that serves it
 * (controller, group coordinator, partition leader, or any broker) and is
 * retried there when that broker moves. Where Kafka reports errors per item,
 * each result carries its own `error` (null on success) and the other items
 * still succeed.
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers });
 * const admin = client.admin();
 * const topic = `doc-admin-${crypto.randomUUID()}`;
 * await admin.createTopics([{ topic, partitions: 6, replicationFactor: 1 }], { ifNotExists: true });
 * const [description] = await admin.describeTopics([topic]);
 * console.assert(description.partitions.length === 6);
 * await admin.deleteTopics([topic]);
 * ```
 */
export class Admin {
  readonly #ctx: AdminContext;

  /**
   * Use `client.admin()` instead.
   *
   * @param client The client.
   */
  constructor(client: ClientContext) {
    this.#ctx = new AdminContext(client);
  }

  /** Runs a call; with a signal, in a context that the signal cancels. */
  #run<T>(opts: AbortOptions | undefined, call: (ctx: AdminContext) => Promise<T>): Promise<T> {
    const signal = opts?.signal;
    if (signal === undefined) return call(this.#ctx);
    try {
      checkSignal(signal, "admin");
    } catch (err) {
      return Promise.reject(err);
    }
    return abortable(call(this.#ctx.withSignal(signal)), signal);
  }

  // ---- Topics ----

  /**
   * Creates topics (on the controller) and waits until each has a leader for
   * every partition. When the broker refuses some, the others are still
   * created and waited for, then the call throws a `PartialFailureError` (a
   * `BrokerError` for the first refused topic) whose `results` say which.
   *
   * @param topics The topics, with partitions/replication factor or an explicit assignment, and configs.
   * @param opts `ifNotExists`, `validateOnly`, `timeoutMs`.
   */
  createTopics(
    topics: topics.NewTopic[],
    opts: topics.CreateTopicsOptions = {},
  ): Promise<topics.CreateTopicResult[]> {
    return this.#run(opts, (ctx) => topics_.createTopics(ctx, topics, opts));
  }

  /**
   * Deletes topics, by name or by `{ topicId }`, and waits until metadata no
   * longer lists them. When some cannot be deleted, the others still are, then
   * the call throws a `PartialFailureError` whose `results` say which.
   *
   * @param topics Names or ids.
   * @param opts `ifExists`, `timeoutMs`.
   */
  deleteTopics(topics: (string | topics.TopicById)[], opts: topics.DeleteTopicsOptions = {}): Promise<void> {
    return this.#run(opts, (ctx) => topics_.deleteTopics(ctx, topics, opts));
  }

  /**
   * Lists the topics, sorted by name.
   *
   * @param opts `includeInternal`, `timeoutMs`.
   */
  listTopics(opts: topics.ListTopicsOptions = {}): Promise<topics.TopicListing[]> {
    return this.#run(opts, (ctx) => topics_.listTopics(ctx, opts));
  }

  /**
   * Describes topics: partitions, leaders, replicas, ISR, offline replicas,
   * topic id and (optionally) authorized operations. A missing topic has an `error`.
   *
   * @param topics The names.
   * @param opts `includeAuthorizedOperations`, `timeoutMs`.
   */
  describeTopics(
    topics: string[],
    opts: topics.DescribeTopicsOptions = {},
  ): Promise<topics.TopicDescription[]> {
    return this.#run(opts, (ctx) => topics_.describeTopics(ctx, topics, opts));
  }

  /**
   * Raises topics' partition counts (on the controller) and waits until metadata shows them.
   *
   * @param topics The topics and their new totals.
   * @param opts `validateOnly`, `timeoutMs`.
   */
  createPartitions(
    topics: topics.NewPartitions[],
    opts: topics.CreatePartitionsOptions = {},
  ): Promise<topics.TopicResult[]> {
    return this.#run(opts, (ctx) => topics_.createPartitions(ctx, topics, opts));
  }

  // ---- Configs ----

  /**
   * Describes configs of topics, brokers, broker loggers, groups or client-metrics resources.
   *
   * @param resources The resources (and optionally keys).
   * @param opts `includeSynonyms`, `includeDocumentation`, `timeoutMs`.
   */
  describeConfigs(
    resources: configs.ConfigResource[],
    opts: configs.DescribeConfigsOptions = {},
  ): Promise<configs.ConfigResourceResult[]> {
    return this.#run(opts, (ctx) => configs.describeConfigs(ctx, resources, opts));
  }

  /**
   * Changes configs key by key: set, delete, append, subtract.
   *
   * @param resources The resources and their changes.
   * @param opts `validateOnly`, `timeoutMs`.
   */
  incrementalAlterConfigs(
    resources: configs.AlterConfigResource[],
    opts: configs.AlterConfigsOptions = {},
  ): Promise<configs.AlterConfigResult[]> {
    return this.#run(opts, (ctx) => configs.incrementalAlterConfigs(ctx, resources, opts));
  }

  /**
   * Lists config resources (Kafka 4.0+: client metrics; 4.1+: every type).
   *
   * @param opts `types`, `timeoutMs`.
   */
  listConfigResources(
    opts: configs.ListConfigResourcesOptions = {},
  ): Promise<{ type: configs.ConfigResourceType | string; name: string }[]> {
    return this.#run(opts, (ctx) => configs.listConfigResources(ctx, opts));
  }

  // ---- Records and offsets ----

  /**
   * Looks up offsets on each partition's leader.
   *
   * @param topics Topic names (every partition) or `{ topic, partitions }`.
   * @param opts `at` ("earliest", "latest", `{ timestamp }`, "max-timestamp", "earliest-local",
   *   "latest-tiered"), `isolationLevel`, `timeoutMs`.
   */
  listOffsets(
    topics: (string | offsets.TopicPartitionsSpec)[],
    opts: offsets.ListOffsetsOptions = {},
  ): Promise<offsets.PartitionOffset[]> {
    return this.#run(opts, (ctx) => offsets.listOffsets(ctx, topics, opts));
  }

  /**
   * Deletes records before the given offsets (-1: before the high watermark).
   *
   * @param specs Partitions and offsets.
   * @param opts `timeoutMs`.
   */
  deleteRecords(
    specs: offsets.DeleteRecordsSpec[],
    opts: topics.AdminCallOptions = {},
  ): Promise<offsets.DeleteRecordsResult[]> {
    return this.#run(opts, (ctx) => offsets.deleteRecords(ctx, specs, opts));
  }

  // ---- Consumer groups ----

  /**
   * Lists the groups of every broker, sorted by id.
   *
   * @param opts `states`, `types`, `timeoutMs`.
   */
  listGroups(opts: groups.ListGroupsOptions = {}): Promise<groups.GroupListing[]> {
    return this.#run(opts, (ctx) => groups.listGroups(ctx, opts));
  }

  /**
   * Describes groups on their coordinators: members and their decoded
   * assignments, state, assignor. KIP-848 groups through ConsumerGroupDescribe.
   *
   * @param groupIds The groups.
   * @param opts `includeAuthorizedOperations`, `timeoutMs`.
   */
  describeGroups(
    groupIds: string[],
    opts: groups.DescribeGroupsOptions = {},
  ): Promise<groups.GroupDescription[]> {
    return this.#run(opts, (ctx) => groups.describeGroups(ctx, groupIds, opts));
  }

  /**
   * Deletes empty groups (and their committed offsets).
   *
   * @param groupIds The groups.
   * @param opts `timeoutMs`.
   */
  deleteGroups(
    groupIds: string[],
    opts: topics.AdminCallOptions = {},
  ): Promise<{ groupId: string; error: BrokerError | null }[]> {
    return this.#run(opts, (ctx) => groups.deleteGroups(ctx, groupIds, opts));
  }

  /**
   * A group's committed offsets.
   *
   * @param groupId The group.
   * @param opts `topics`, `requireStable`, `timeoutMs`.
   */
  listGroupOffsets(
    groupId: string,
    opts: groups.ListGroupOffsetsOptions = {},
  ): Promise<groups.GroupOffset[]> {
    return this.#run(opts, (ctx) => groups.listGroupOffsets(ctx, groupId, opts));
  }

  /**
   * Commits offsets for a group that has no active members.
   *
   * @param groupId The group.
   * @param offsets The offsets (the next record to consume).
   * @param opts `timeoutMs`.
   */
  alterGroupOffsets(
    groupId: string,
    offsets: groups.GroupOffsetSpec[],
    opts: topics.AdminCallOptions = {},
  ): Promise<groups.GroupPartitionResult[]> {
    return this.#run(opts, (ctx) => groups.alterGroupOffsets(ctx, groupId, offsets, opts));
  }

  /**
   * Deletes a group's committed offsets for topics it no longer consumes.
   *
   * @param groupId The group.
   * @param topics Topics (every partition) or `{ topic, partitions }`.
   * @param opts `timeoutMs`.
   */
  deleteGroupOffsets(
    groupId: string,
    topics: (string | offsets.TopicPartitionsSpec)[],
    opts: topics.AdminCallOptions = {},
  ): Promise<groups.GroupPartitionResult[]> {
    return this.#run(opts, (ctx) => groups.deleteGroupOffsets(ctx, groupId, topics, opts));
  }

  /**
   * Moves an empty group's offsets to earliest, latest, a timestamp, an
   * offset or by a shift (clamped to the log). Refused with a `KafkaError`
   * while the group has members.
   *
   * @param groupId The group.
   * @param opts `to`, `topics`, `dryRun`, `timeoutMs`.
   */
  resetGroupOffsets(
    groupId: string,
    opts: groups.ResetGroupOffsetsOptions,
  ): Promise<groups.ResetOffsetResult[]> {
    return this.#run(opts, (ctx) => groups.resetGroupOffsets(ctx, groupId, opts));
  }

  /**
   * A group's lag: per partition committed offset, end offset and lag, with per-topic and total sums.
   *
   * @param groupId The group.
   * @param opts `topics`, `isolationLevel`, `timeoutMs`.
   */
  groupLag(groupId: string, opts: groups.GroupLagOptions = {}): Promise<groups.GroupLag> {
    return this.#run(opts, (ctx) => groups.groupLag(ctx, groupId, opts));
  }

  // ---- Share groups (KIP-932), in ./share_groups.ts ----

  /**
   * Lists the share groups.
   *
   * @param opts `signal`.
   */
  listShareGroups(opts: AbortOptions = {}): Promise<share.ShareGroupListing[]> {
    return this.#run(opts, (ctx) => share.listShareGroups(ctx));
  }

  /**
   * Describes share groups: state, members, assignments.
   *
   * @param groupIds The groups.
   * @param opts Timeout.
   */
  describeShareGroups(
    groupIds: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<share.ShareGroupDescription[]> {
    return this.#run(opts, (ctx) => share.describeShareGroups(ctx, groupIds, opts));
  }

  /**
   * A share group's start offsets.
   *
   * @param groupId The group.
   * @param topics Only these topics.
   * @param opts Timeout.
   */
  describeShareGroupOffsets(
    groupId: string,
    topics?: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<share.ShareGroupOffset[]> {
    return this.#run(opts, (ctx) => share.describeShareGroupOffsets(ctx, groupId, topics, opts));
  }

  /**
   * Sets a share group's start offsets (the group must be empty).
   *
   * @param groupId The group.
   * @param offsets The new start offsets.
   * @param opts Timeout.
   */
  alterShareGroupOffsets(
    groupId: string,
    offsets: { topic: string; partition: number; offset: bigint }[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<void> {
    return this.#run(opts, (ctx) => share.alterShareGroupOffsets(ctx, groupId, offsets, opts));
  }

  /**
   * Deletes a share group's state for whole topics (the group must be empty).
   *
   * @param groupId The group.
   * @param topics The topics.
   * @param opts Timeout.
   */
  deleteShareGroupOffsets(
    groupId: string,
    topics: string[],
    opts?: share.ShareGroupAdminOptions,
  ): Promise<void> {
    return this.#run(opts, (ctx) => share.deleteShareGroupOffsets(ctx, groupId, topics, opts));
  }

  /**
   * Deletes share groups (each must be empty).
   *
   * @param groupIds The groups.
   * @param opts Timeout.
   */
  deleteShareGroups(groupIds: string[], opts?: share.ShareGroupAdminOptions): Promise<void> {
    return this.#run(opts, (ctx) => share.deleteShareGroups(ctx, groupIds, opts));
  }

  /**
   * Sets (or with null removes) a share group's dynamic configs, e.g. `share.auto.offset.reset`.
   *
   * @param groupId The group.
   * @param configs Names to values.
   * @param opts `signal`.
   */
  alterShareGroupConfigs(
    groupId: string,
    configs: Record<string, string | null>,
    opts: AbortOptions = {},
  ): Promise<void> {
    return this.#run(opts, (ctx) => share.alterShareGroupConfigs(ctx, groupId, configs));
  }

  // ---- Cluster ----

  /**
   * Brokers (with fencing), controller and cluster id.
   *
   * @param opts `includeAuthorizedOperations`, `timeoutMs`.
   */
  describeCluster(opts: cluster.DescribeClusterOptions = {}): Promise<cluster.ClusterDescription> {
    return this.#run(opts, (ctx) => cluster.describeCluster(ctx, opts));
  }

  /**
   * Finalized and supported feature versions (e.g. metadata.version).
   *
   * @param opts `timeoutMs`.
   */
  describeFeatures(opts: topics.AdminCallOptions = {}): Promise<cluster.FeaturesDescription> {
    return this.#run(opts, (ctx) => cluster.describeFeatures(ctx, opts));
  }

  /**
   * Log dirs of the given brokers (all when omitted) and the replicas in them.
   *
   * @param brokers Node ids.
   * @param opts `timeoutMs`.
   */
  describeLogDirs(
    brokers?: number[],
    opts: topics.AdminCallOptions = {},
  ): Promise<cluster.LogDirDescription[]> {
    return this.#run(opts, (ctx) => cluster.describeLogDirs(ctx, brokers, opts));
  }

  /**
   * Elects leaders (preferred or unclean) on the controller.
   *
   * @param opts `type`, `partitions`, `timeoutMs`.
   */
  electLeaders(opts: cluster.ElectLeadersOptions = {}): Promise<cluster.PartitionResult[]> {
    return this.#run(opts, (ctx) => cluster.electLeaders(ctx, opts));
  }

  /**
   * Starts (replicas) or cancels (null) partition reassignments.
   *
   * @param reassignments The partitions and their target replicas.
   * @param opts `timeoutMs`.
   */
  alterPartitionReassignments(
    reassignments: cluster.NewReassignment[],
    opts: topics.AdminCallOptions = {},
  ): Promise<cluster.PartitionResult[]> {
    return this.#run(opts, (ctx) => cluster.alterPartitionReassignments(ctx, reassignments, opts));
  }

  /**
   * Ongoing partition reassignments.
   *
   * @param partitions Only these; all when omitted.
   * @param opts `timeoutMs`.
   */
  listPartitionReassignments(
    partitions?: groups.TopicPartitions[],
    opts: topics.AdminCallOptions = {},
  ): Promise<cluster.PartitionReassignment[]> {
    return this.#run(opts, (ctx) => cluster.listPartitionReassignments(ctx, partitions, opts));
  }

  // ---- Security ----

  /**
   * ACLs matching a filter (omitted fields match anything).
   *
   * @param filter The filter.
   * @param opts `timeoutMs`.
   */
  describeAcls(
    filter: security.AclFilter = {},
    opts: topics.AdminCallOptions = {},
  ): Promise<security.AclBinding[]> {
    return this.#run(opts, (ctx) => security.describeAcls(ctx, filter, opts));
  }

  /**
   * Creates ACLs; each has its own error.
   *
   * @param acls The ACLs.
   * @param opts `timeoutMs`.
   */
  createAcls(acls: security.Acl[], opts: topics.AdminCallOptions = {}): Promise<security.CreateAclResult[]> {
    return this.#run(opts, (ctx) => security.createAcls(ctx, acls, opts));
  }

  /**
   * Deletes the ACLs matching each filter and says which.
   *
   * @param filters The filters.
   * @param opts `timeoutMs`.
   */
  deleteAcls(
    filters: security.AclFilter[],
    opts: topics.AdminCallOptions = {},
  ): Promise<security.DeleteAclsResult[]> {
    return this.#run(opts, (ctx) => security.deleteAcls(ctx, filters, opts));
  }

  /**
   * Client quotas of the entities matching the filter components.
   *
   * @param components E.g. `[{ entityType: "user", match: "alice" }]`; [] for all.
   * @param opts `strict`, `timeoutMs`.
   */
  describeClientQuotas(
    components: security.QuotaFilterComponent[] = [],
    opts: security.DescribeClientQuotasOptions = {},
  ): Promise<security.ClientQuotaEntry[]> {
    return this.#run(opts, (ctx) => security.describeClientQuotas(ctx, components, opts));
  }

  /**
   * Sets (number) or removes (null) client quotas per entity.
   *
   * @param alterations The entities and changes.
   * @param opts `validateOnly`, `timeoutMs`.
   */
  alterClientQuotas(
    alterations: security.ClientQuotaAlteration[],
    opts: topics.AdminCallOptions & { validateOnly?: boolean } = {},
  ): Promise<{ entity: security.QuotaEntity; error: BrokerError | null }[]> {
    return this.#run(opts, (ctx) => security.alterClientQuotas(ctx, alterations, opts));
  }

  /**
   * SCRAM credentials of the given users (all when omitted).
   *
   * @param users The users.
   * @param opts `timeoutMs`.
   */
  describeUserScramCredentials(
    users?: string[],
    opts: topics.AdminCallOptions = {},
  ): Promise<security.UserScramCredentials[]> {
    return this.#run(opts, (ctx) => security.describeUserScramCredentials(ctx, users, opts));
  }

  /**
   * Creates, updates (salting and hashing the password here) or deletes SCRAM credentials.
   *
   * @param alterations The changes.
   * @param opts `timeoutMs`.
   */
  alterUserScramCredentials(
    alterations: security.ScramAlteration[],
    opts: topics.AdminCallOptions = {},
  ): Promise<{ user: string; error: BrokerError | null }[]> {
    return this.#run(opts, (ctx) => security.alterUserScramCredentials(ctx, alterations, opts));
  }

  // ---- Delegation tokens ----

  /**
   * Creates a delegation token for the authenticated principal (or `owner`).
   * Needs a SASL connection and a broker with `delegation.token.secret.key`.
   *
   * @param opts `renewers`, `maxLifetimeMs`, `owner`, `timeoutMs`.
   */
  createDelegationToken(opts: tokens.CreateDelegationTokenOptions = {}): Promise<tokens.DelegationToken> {
    return this.#run(opts, (ctx) => tokens.createDelegationToken(ctx, opts));
  }

  /**
   * Delegation tokens of the given owners (all this client may see when omitted).
   *
   * @param owners Principals, e.g. ["User:alice"].
   * @param opts `timeoutMs`.
   */
  describeDelegationTokens(
    owners?: string[],
    opts: topics.AdminCallOptions = {},
  ): Promise<tokens.DelegationToken[]> {
    return this.#run(opts, (ctx) => tokens.describeDelegationTokens(ctx, owners, opts));
  }

  /**
   * Renews a delegation token; resolves with its new expiry (epoch ms).
   *
   * @param hmac The token's HMAC.
   * @param renewPeriodMs How long from now.
   * @param opts `timeoutMs`.
   */
  renewDelegationToken(
    hmac: Uint8Array,
    renewPeriodMs: number,
    opts: topics.AdminCallOptions = {},
  ): Promise<bigint> {
    return this.#run(opts, (ctx) => tokens.renewDelegationToken(ctx, hmac, renewPeriodMs, opts));
  }

  /**
   * Expires a delegation token after `expiryPeriodMs` (now when negative); resolves with its expiry.
   *
   * @param hmac The token's HMAC.
   * @param expiryPeriodMs How long from now.
   * @param opts `timeoutMs`.
   */
  expireDelegationToken(
    hmac: Uint8Array,
    expiryPeriodMs: number,
    opts: topics.AdminCallOptions = {},
  ): Promise<bigint> {
    return this.#run(opts, (ctx) => tokens.expireDelegationToken(ctx, hmac, expiryPeriodMs, opts));
  }

  // ---- Transactions and producers ----

  /**
   * Transactions known to every broker's transaction coordinator.
   *
   * @param opts `states`, `producerIds`, `minDurationMs`, `pattern`, `timeoutMs`.
   */
  listTransactions(
    opts: transactions.ListTransactionsOptions = {},
  ): Promise<transactions.TransactionListing[]> {
    return this.#run(opts, (ctx) => transactions.listTransactions(ctx, opts));
  }

  /**
   * Describes transactions on their coordinators.
   *
   * @param transactionalIds The transactional ids.
   * @param opts `timeoutMs`.
   */
  describeTransactions(
    transactionalIds: string[],
    opts: topics.AdminCallOptions = {},
  ): Promise<transactions.TransactionDescription[]> {
    return this.#run(opts, (ctx) => transactions.describeTransactions(ctx, transactionalIds, opts));
  }

  /**
   * Aborts a hanging transaction on one partition by writing the abort marker
   * on its leader (KIP-664; the broker must offer WriteTxnMarkers to clients,
   * and with an authorizer the caller needs CLUSTER_ACTION). Find the values
   * with {@linkcode Admin.describeProducers}.
   *
   * @param spec The partition and the open transaction's producer id, epoch and coordinator epoch.
   * @param opts `timeoutMs`.
   */
  abortTransaction(
    spec: transactions.AbortTransactionSpec,
    opts: topics.AdminCallOptions = {},
  ): Promise<void> {
    return this.#run(opts, (ctx) => transactions.abortTransaction(ctx, spec, opts));
  }

  /**
   * Active producers of partitions, from each partition's leader.
   *
   * @param partitions The partitions.
   * @param opts `timeoutMs`.
   */
  describeProducers(
    partitions: groups.TopicPartitions[],
    opts: topics.AdminCallOptions = {},
  ): Promise<transactions.PartitionProducers[]> {
    return this.#run(opts, (ctx) => transactions.describeProducers(ctx, partitions, opts));
  }
}
