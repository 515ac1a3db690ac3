/**
 * Where the brokers of the compatibility lanes (scripts/compat.ts) differ from
 * Apache Kafka, and what the client does there. One table, three uses: the
 * integration tests branch on it ({@linkcode deviates} in test/_broker.ts) to
 * assert the client's behaviour on that broker, the tests that need a
 * feature a broker lacks are skipped with its reason, and scripts/readme.ts
 * renders it as the README's compatibility table.
 *
 * @module
 */

/** The tansu release the tansu lane builds (crates.io). */
export const TANSU_VERSION = "0.6.0";

/** The kfake lane's Go main, whose go.mod pins kfake. */
export const KFAKE_SRC: string = new URL("./compat/kfake/", import.meta.url).pathname;

/** The kfake version pinned by scripts/compat/kfake/go.mod. */
export async function kfakeVersion(): Promise<string> {
  const mod = await Deno.readTextFile(`${KFAKE_SRC}go.mod`);
  const m = /github\.com\/twmb\/franz-go\/pkg\/kfake (v\S+)/.exec(mod);
  if (!m) {
    throw new Error("compat: scripts/compat/kfake/go.mod does not pin github.com/twmb/franz-go/pkg/kfake");
  }
  return m[1];
}

/** One way a broker differs from Apache Kafka. */
export interface Deviation {
  /** The compatibility lane (scripts/compat.ts). */
  broker: "tansu" | "kfake";
  /** The API or behaviour. */
  api: string;
  /** What the broker does, against what Apache Kafka does. */
  behaviour: string;
  /** What the client does there, and the test that asserts it. */
  client: string;
}

/** Every known deviation, by id. */
export const DEVIATIONS = {
  kfakeQuotaEntity: {
    broker: "kfake",
    api: "AlterClientQuotas",
    behaviour: "accepts an unknown entity type (Kafka: INVALID_REQUEST for that entry)",
    client: "reports the broker's answer per entry: no error (admin_security_test.ts, quotas)",
  },
  kfakeAclsWithoutAuthorizer: {
    broker: "kfake",
    api: "DescribeAcls, CreateAcls",
    behaviour: "serves ACL calls without an authorizer (Kafka: SECURITY_DISABLED)",
    client: "returns the ACLs and results the broker gives (admin_security_test.ts, ACL calls)",
  },
  kfakeTxnTimeoutFences: {
    broker: "kfake",
    api: "EndTxn after transactionTimeoutMs",
    behaviour:
      "answers PRODUCER_FENCED to the producer whose transaction it aborted on timeout (Kafka 4 with transaction.version 2: a new epoch for the same producer, KIP-890)",
    client:
      "the producer is fenced, a fatal ProducerFencedError naming the transactional id (transactions_test.ts, transactionTimeoutMs)",
  },
  kfakeAbortedTxnStart: {
    broker: "kfake",
    api: "DescribeProducers",
    behaviour: "keeps currentTransactionStartOffset after the abort marker (Kafka: -1)",
    client: "reports the offset the broker gives (admin_security_test.ts, hanging transaction)",
  },
  kfakeNoDelegationTokens: {
    broker: "kfake",
    api: "CreateDelegationToken, DescribeDelegationToken, RenewDelegationToken, ExpireDelegationToken",
    behaviour:
      "not offered in ApiVersions (Kafka: offered, DELEGATION_TOKEN_AUTH_DISABLED without token auth)",
    client:
      "UnsupportedVersionError naming the API, before sending (admin_security_test.ts, delegation tokens)",
  },
  kfakeConfigDocs: {
    broker: "kfake",
    api: "DescribeConfigs",
    behaviour: "sends no documentation (null) when asked for it",
    client: "documentation is null (admin_test.ts, configs)",
  },
  kfakeBrokerConfigs: {
    broker: "kfake",
    api: "DescribeConfigs (broker)",
    behaviour: "knows only the broker configs it models: log.retention.hours is absent",
    client: "returns the configs the broker sends (admin_test.ts, configs)",
  },
  kfakeOffsetMetadataNull: {
    broker: "kfake",
    api: "OffsetFetch",
    behaviour: 'answers null metadata for an offset committed without metadata (Kafka: "")',
    client: "metadata is null, as sent (admin_test.ts, consumer group)",
  },
  kfakeElectionNeeded: {
    broker: "kfake",
    api: "ElectLeaders",
    behaviour: "no ELECTION_NOT_NEEDED for a partition already led by its preferred leader",
    client: "the partition's result has no error (admin_test.ts, cluster)",
  },
  kfakeNoOnlineMigration: {
    broker: "kfake",
    api: "ConsumerGroupHeartbeat",
    behaviour: "a consumer-protocol member joining a classic group with members gets GROUP_ID_NOT_FOUND " +
      "(Kafka 4: converts the group online)",
    client:
      "the consumer fails with BrokerError GROUP_ID_NOT_FOUND naming the group (consumer_group_protocol_test.ts, migration)",
  },
  kfakeShareGroupConfigs: {
    broker: "kfake",
    api: "IncrementalAlterConfigs (share group)",
    behaviour: "refuses share.record.lock.duration.ms / share.renew.acknowledge.enable with INVALID_CONFIG",
    client: "BrokerError INVALID_CONFIG naming the group (share_consumer_test.ts, expired lock)",
  },
  kfakeShareGroupDelete: {
    broker: "kfake",
    api: "DeleteGroups (share group)",
    behaviour:
      "answers GROUP_ID_NOT_FOUND for a share group whose start offsets were deleted (Kafka: deletes it)",
    client: "BrokerError GROUP_ID_NOT_FOUND (share_consumer_test.ts, share-group admin)",
  },
  kfakeShareFetchNullRecords: {
    broker: "kfake",
    api: "ShareFetch v1+",
    behaviour: "null Records for a partition without records (the schema: non-nullable from v1)",
    client: "read as no records (gen_protocol.ts NULL_AS_EMPTY; messages_runtime_test.ts)",
  },
  tansuMetadataV12: {
    broker: "tansu",
    api: "Metadata",
    behaviour: "offers Metadata up to v12 (Kafka 4: v13)",
    client: "negotiates v12 (connect_test.ts, ApiVersions)",
  },
  tansuNoClientQuotas: {
    broker: "tansu",
    api: "AlterClientQuotas, DescribeClientQuotas",
    behaviour: "not offered in ApiVersions",
    client: "UnsupportedVersionError naming the API, before sending (admin_security_test.ts, quotas)",
  },
  tansuScram: {
    broker: "tansu",
    api: "AlterUserScramCredentials, DescribeUserScramCredentials",
    behaviour: "no DUPLICATE_RESOURCE for two changes to one user in one request; " +
      "DescribeUserScramCredentials answers a null Results array (non-nullable in the schema)",
    client: "reports no error per entry, as sent; the describe fails with ProtocolError naming " +
      "DescribeUserScramCredentialsResponse.Results (admin_security_test.ts, SCRAM)",
  },
  tansuAcls: {
    broker: "tansu",
    api: "DescribeAcls, CreateAcls, DeleteAcls",
    behaviour: "DescribeAcls answers no ACLs without an authorizer (Kafka: SECURITY_DISABLED); CreateAcls " +
      "answers a null Results array (non-nullable in the schema); DeleteAcls is not offered",
    client: "returns the empty list; createAcls fails with ProtocolError naming CreateAclsResponse.Results " +
      "(admin_security_test.ts, ACL calls)",
  },
  tansuNoTransactionAdmin: {
    broker: "tansu",
    api: "ListTransactions, DescribeTransactions, DescribeProducers, WriteTxnMarkers",
    behaviour: "not offered in ApiVersions",
    client: "UnsupportedVersionError naming the API, before sending (admin_security_test.ts, transactions)",
  },
  tansuNoDelegationTokens: {
    broker: "tansu",
    api: "CreateDelegationToken, DescribeDelegationToken, RenewDelegationToken, ExpireDelegationToken",
    behaviour:
      "not offered in ApiVersions (Kafka: offered, DELEGATION_TOKEN_AUTH_DISABLED without token auth)",
    client:
      "UnsupportedVersionError naming the API, before sending (admin_security_test.ts, delegation tokens)",
  },
  tansuCreateTopicsValidateOnly: {
    broker: "tansu",
    api: "CreateTopics (validateOnly), CreatePartitions",
    behaviour: "validateOnly creates the topic; CreatePartitions is not offered",
    client: "reports the topic the broker made; createPartitions: UnsupportedVersionError naming the API " +
      "(admin_test.ts, topics)",
  },
  tansuConfigs: {
    broker: "tansu",
    api: "DescribeConfigs",
    behaviour: "a topic's config set at creation reads as DEFAULT_CONFIG, type STRING, no synonyms; " +
      "a broker resource asked for named keys closes the connection",
    client: "returns the topic configs as sent; the broker resource: TimeoutError at the call's timeoutMs, " +
      "naming the closed connection (admin_test.ts, configs)",
  },
  tansuListOffsetsLatest: {
    broker: "tansu",
    api: "ListOffsets (latest)",
    behaviour:
      "answers the last batch's base offset + 1, not the log end offset (10 records in one batch: 1)",
    client: "reports the offset the broker gives (admin_test.ts, offsets); metrics_test.ts takes the end " +
      "offsets from the produce acknowledgements there",
  },
  tansuDescribeGroupMembers: {
    broker: "tansu",
    api: "DescribeGroups",
    behaviour: "a Stable classic group is described without its members",
    client:
      "reports no members, as sent (admin_test.ts, consumer group); a member whose assignors the group " +
      "does not use gets INCONSISTENT_GROUP_PROTOCOL naming the group's state, not its assignors " +
      "(consumer_rebalance_test.ts)",
  },
  tansuNoKip848: {
    broker: "tansu",
    api: "ConsumerGroupHeartbeat, ConsumerGroupDescribe",
    behaviour: "not offered in ApiVersions (no KIP-848 consumer groups)",
    client: "UnsupportedVersionError naming the API, before sending (admin_test.ts, KIP-848 group)",
  },
  tansuClusterAdmin: {
    broker: "tansu",
    api: "DescribeCluster, DescribeLogDirs, ElectLeaders",
    behaviour:
      "no authorized operations in DescribeCluster; DescribeLogDirs and ElectLeaders are not offered",
    client:
      "authorizedOperations is null; the others: UnsupportedVersionError naming the API (admin_test.ts, " +
      "cluster)",
  },
  tansuFetchMidBatch: {
    broker: "tansu",
    api: "Fetch",
    behaviour: "a fetch from an offset inside a record batch skips the rest of that batch: it answers the " +
      "later batches, or nothing when the batch is the last (Kafka: answers the batch that holds the offset)",
    client: "delivers what the broker answers, so a group resuming inside a batch waits for new records; " +
      "the portable tests produce one record per batch there (_member.ts produceNumbered)",
  },
  tansuCommitOutsideGroup: {
    broker: "tansu",
    api: "OffsetCommit",
    behaviour: "takes a commit from outside a group that has active members (Kafka: UNKNOWN_MEMBER_ID)",
    client:
      "the commits succeed: no onError, close() resolves (consumer_delivery_test.ts, background auto-commit); " +
      "a commit.succeeded event (events_test.ts)",
  },
  tansuTopicLimits: {
    broker: "tansu",
    api: "CreateTopics, Produce",
    behaviour: "takes a replication factor above the broker count (Kafka: INVALID_REPLICATION_FACTOR) and " +
      "stores a record over the topic's max.message.bytes (Kafka: MESSAGE_TOO_LARGE)",
    client: "reports the topic created and the record delivered, as the broker answers (producer_test.ts)",
  },
  tansuListOffsetsTimestamp: {
    broker: "tansu",
    api: "ListOffsets (timestamp)",
    behaviour: "answers the log start offset for a timestamp (Kafka: the first offset at or after it)",
    client: "starts or seeks where the broker says (consumer_standalone_test.ts, by timestamp)",
  },
  tansuNoOffsetOutOfRange: {
    broker: "tansu",
    api: "Fetch",
    behaviour: "a fetch past the log end answers no records and no error (Kafka: OFFSET_OUT_OF_RANGE)",
    client: "waits at that offset as at the log end; no reset, no offsets.reset event or warning " +
      "(consumer_standalone_test.ts, out of range; events_test.ts)",
  },
  tansuNoShareGroups: {
    broker: "tansu",
    api: "ShareGroupHeartbeat, ShareFetch, ShareAcknowledge, ShareGroupDescribe",
    behaviour: "not offered in ApiVersions (no share groups)",
    client: "the share consumer's iterator fails with UnsupportedVersionError naming ShareGroupHeartbeat " +
      "(share_consumer_test.ts); the other share tests are skipped there, saying why",
  },
  tansuNoEndTxn: {
    broker: "tansu",
    api: "EndTxn",
    behaviour: "not offered in ApiVersions: a transaction cannot commit or abort",
    client:
      "transaction() fails with UnsupportedVersionError naming EndTxn (transactions_test.ts); the other " +
      "transaction tests are skipped there, saying why",
  },
  tansuBatchLeaderEpoch: {
    broker: "tansu",
    api: "Produce, Fetch",
    behaviour: "stores a batch with the producer's partitionLeaderEpoch (-1) instead of the leader's epoch",
    client: "records carry leaderEpoch -1 and a commit stores -1, so a resuming member skips the epoch " +
      "validation (leader_epoch_test.ts)",
  },
  tansuOffsetFetchAll: {
    broker: "tansu",
    api: "OffsetFetch v7 (all topics: null)",
    behaviour: "answers a truncated response when asked for all of a group's offsets",
    client: "ProtocolError naming OffsetFetch v7, never a hang (admin_test.ts, consumer group)",
  },
  tansuGenerationZero: {
    broker: "tansu",
    api: "JoinGroup",
    behaviour: "a classic group's first generation is 0 (Kafka: 1)",
    client: "generationId is 0, as sent (consumer_test.ts, slow handler)",
  },
  tansuGroupRebalance: {
    broker: "tansu",
    api: "JoinGroup, SyncGroup, Heartbeat (classic groups)",
    behaviour: "a member whose session expires is dropped without a new generation, so only the member " +
      "whose request noticed it is told to rejoin (the others' heartbeats answer no error); JoinGroup " +
      "answers at once instead of waiting for every member, and the leader's SyncGroup completes the " +
      "generation: the survivors of a killed member, or three cooperative members, may never settle " +
      "(Kafka: a new generation that every member joins)",
    client: "follows the broker's answers: a member told to rejoin does, the others keep what they hold; " +
      "no error, no hang, close() resolves (consumer_test.ts, killed member; consumer_rebalance_test.ts, " +
      "cooperative-sticky; consumer_group_protocol_test.ts, classic scaling)",
  },
} as const satisfies Record<string, Deviation>;

/** A deviation's id. */
export type DeviationId = keyof typeof DEVIATIONS;
