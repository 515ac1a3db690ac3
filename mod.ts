/**
 * kafka-deno: a Kafka client for Deno in pure TypeScript. It speaks Kafka's
 * binary wire protocol itself (no native addon, no librdkafka).
 *
 * Everything starts with {@linkcode connect}: the {@linkcode Client} it returns
 * makes producers ({@linkcode Producer}), consumers ({@linkcode Consumer}) and
 * {@linkcode Admin}. Every error is a {@linkcode KafkaError}.
 *
 * @example Produce a record and read it back
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
 * await using client = await connect({ brokers, clientId: "my-app" });
 * const topic = `example-${crypto.randomUUID()}`;
 * await client.admin().createTopics([{ topic, partitions: 1 }]);
 *
 * await using producer = client.producer();
 * await producer.send({ topic, messages: [{ key: "user-1", value: "hello" }] });
 *
 * await using consumer = client.consumer({ assign: [{ topic, from: "earliest" }] });
 * for await (const record of consumer) {
 *   console.log(record.keyText(), record.text()); // user-1 hello
 *   break;
 * }
 * await client.admin().deleteTopics([topic]);
 * ```
 *
 * @module
 */

export {
  Client,
  type ClientOptions,
  type CloseOptions,
  connect,
  type MetadataOptions,
} from "./src/client.ts";
export type { AbortOptions } from "./src/abort.ts";
export {
  type BrokerInfo,
  Cluster,
  type ClusterMetadata,
  type ClusterOptions,
  type Lane,
  type PartitionInfo,
  type TopicInfo,
} from "./src/cluster.ts";
export { Connection, type ConnectionOptions, type RequestOptions } from "./src/connection.ts";
export type {
  MetadataResponse,
  MetadataResponseBroker,
  MetadataResponsePartition,
  MetadataResponseTopic,
} from "./protocol/apis/metadata.ts";
export type { ApiCodec } from "./protocol/framing.ts";
export { Reader, type TaggedField, Writer, type WriterOptions } from "./protocol/primitives.ts";
export {
  type AssignedTopic,
  type CommitOffset,
  type CommitOptions,
  Consumer,
  type ConsumerBaseOptions,
  type ConsumerBatch,
  type ConsumerCloseOptions,
  type ConsumerOptions,
  ConsumerRecord,
  type GroupConsumerOptions,
  type IterateOptions,
  type OffsetSpec,
  type RebalanceListener,
  type RecordHeader,
  type StandaloneConsumerOptions,
  type TopicPartition,
} from "./src/consumer.ts";
export {
  type Assignor,
  type GroupAssignment,
  type MemberSubscription,
  type RebalanceProtocol,
} from "./src/assignors.ts";
export {
  AuthenticationError,
  AuthorizationError,
  type AuthorizationResource,
  type AuthorizationResourceType,
  BrokerError,
  type BrokerErrorContext,
  ClosedError,
  CommitFailedError,
  ConnectionError,
  KafkaError,
  type KafkaErrorOptions,
  LogTruncationError,
  ProtocolError,
  SendAbortedError,
  TimeoutError,
  UnsupportedVersionError,
} from "./src/errors.ts";
export {
  type CompressionName,
  type GroupMetadata,
  type PartitionerFunction,
  type Payload,
  Producer,
  type ProducerCloseOptions,
  ProducerFencedError,
  type ProducerMessage,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
  type SendOptions,
  type Transaction,
  TransactionAbortedError,
  type TransactionConsumer,
  type TransactionOffset,
  type TransactionState,
} from "./src/producer/producer.ts";
export {
  type AbortTransactionSpec,
  type Acl,
  type AclBinding,
  type AclFilter,
  type AclPatternType,
  type AclPermission,
  type AclResourceType,
  Admin,
  type AdminCallOptions,
  type AlterConfigResource,
  type AlterConfigResult,
  type AlterConfigsOptions,
  type ClientQuotaAlteration,
  type ClientQuotaEntry,
  type ClusterDescription,
  type ConfigEntry,
  type ConfigOp,
  type ConfigResource,
  type ConfigResourceResult,
  ConfigResourceType,
  type CreateAclResult,
  type CreateDelegationTokenOptions,
  type CreatePartitionsOptions,
  type CreateTopicResult,
  type CreateTopicsOptions,
  type DelegationToken,
  type DeleteAclsResult,
  type DeleteRecordsResult,
  type DeleteRecordsSpec,
  type DeleteTopicsOptions,
  type DescribeClientQuotasOptions,
  type DescribeClusterOptions,
  type DescribeConfigsOptions,
  type DescribeGroupsOptions,
  type DescribeTopicsOptions,
  type ElectLeadersOptions,
  type FeatureDescription,
  type FeaturesDescription,
  type GroupDescription,
  type GroupLag,
  type GroupLagOptions,
  type GroupListing,
  type GroupMember,
  type GroupOffset,
  type GroupOffsetSpec,
  type GroupPartitionResult,
  type ListConfigResourcesOptions,
  type ListGroupOffsetsOptions,
  type ListGroupsOptions,
  type ListOffsetsOptions,
  type ListTopicsOptions,
  type ListTransactionsOptions,
  type LogDirDescription,
  type NewPartitions,
  type NewReassignment,
  type NewTopic,
  type OffsetQuery,
  PartialFailureError,
  type PartitionLag,
  type PartitionOffset,
  type PartitionProducers,
  type PartitionReassignment,
  type PartitionResult,
  type QuotaEntity,
  type QuotaFilterComponent,
  type ResetGroupOffsetsOptions,
  type ResetOffsetResult,
  type ResetTarget,
  type ScramAlteration,
  type ScramMechanism,
  type TopicById,
  type TopicDescription,
  type TopicListing,
  type TopicPartitions,
  type TopicPartitionsSpec,
  type TopicResult,
  type TransactionDescription,
  type TransactionListing,
  type UserScramCredentials,
} from "./src/admin.ts";
export {
  type AcknowledgeType,
  AcquisitionLockExpiredError,
  type ShareCloseOptions,
  ShareConsumer,
  type ShareConsumerOptions,
  type ShareIterateOptions,
  ShareRecord,
} from "./src/share/consumer.ts";
export type {
  ShareGroupAdminOptions,
  ShareGroupDescription,
  ShareGroupListing,
  ShareGroupMember,
  ShareGroupOffset,
} from "./src/admin/share_groups.ts";
export { VERSION } from "./src/version.ts";
export type {
  BatchExpiredEvent,
  BatchRetriedEvent,
  CommitFailedEvent,
  CommitSucceededEvent,
  ConnectedEvent,
  ConnectionRef,
  DisconnectedEvent,
  DroppedEvent,
  EventBase,
  EventsOptions,
  GroupAssignedEvent,
  GroupJoinedEvent,
  GroupLostEvent,
  GroupRebalancingEvent,
  GroupRevokedEvent,
  KafkaEvent,
  KafkaEventType,
  MetadataEvent,
  OffsetsResetEvent,
  ProducerIdEvent,
  ReconnectingEvent,
  ThrottledEvent,
} from "./src/observe/events.ts";
export type { Logger, LogLevel } from "./src/observe/log.ts";
export type {
  BrokerMetrics,
  ClientMetrics,
  ConsumerMetrics,
  Distribution,
  PartitionLagMetrics,
  ProducerMetrics,
  RequestMetrics,
  ShareConsumerMetrics,
} from "./src/observe/metrics.ts";
export {
  type AwsCredentials,
  type AwsCredentialsProvider,
  type AwsIamOptions,
  type AwsMskIamSaslOptions,
  mskIamTokenProvider,
  type OAuthBearerSaslOptions,
  type OAuthBearerToken,
  type OAuthBearerTokenProvider,
  type OidcClientCredentialsOptions,
  oidcTokenProvider,
  type PasswordSaslOptions,
  SaslMechanism,
  type SaslOptions,
} from "./src/sasl.ts";
export type { TlsOptions, TlsSetting } from "./src/tls.ts";
