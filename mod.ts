/**
 * kafka-deno: a Kafka client for Deno in pure TypeScript. It speaks Kafka's
 * binary wire protocol itself (no native addon, no librdkafka).
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 *
 * await using client = await connect({ brokers: ["127.0.0.1:9092"], clientId: "my-app" });
 * const md = await client.metadata({ topics: ["notifications"] });
 * for (const t of md.topics) console.log(t.name, t.partitions.length);
 * ```
 *
 * @module
 */

export { Client, type ClientOptions, connect, type MetadataOptions } from "./src/client.ts";
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
  Consumer,
  type ConsumerBaseOptions,
  type ConsumerBatch,
  type ConsumerOptions,
  ConsumerRecord,
  type GroupConsumerOptions,
  type OffsetSpec,
  type RecordHeader,
  type StandaloneConsumerOptions,
  type TopicPartition,
} from "./src/consumer.ts";
export { type Assignor, type GroupAssignment, type MemberSubscription } from "./src/assignors.ts";
export {
  AuthenticationError,
  BrokerError,
  type BrokerErrorContext,
  ClosedError,
  CommitFailedError,
  ConnectionError,
  KafkaError,
  type KafkaErrorOptions,
  LogTruncationError,
  ProtocolError,
  TimeoutError,
  UnsupportedVersionError,
} from "./src/errors.ts";
export {
  type CompressionName,
  type PartitionerFunction,
  type Payload,
  Producer,
  type ProducerMessage,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
} from "./src/producer/producer.ts";
export {
  Admin,
  type CreateTopicResult,
  type CreateTopicsOptions,
  type DeleteTopicsOptions,
  type NewTopic,
} from "./src/admin.ts";
export { VERSION } from "./src/version.ts";
export { SaslMechanism, type SaslOptions } from "./src/sasl.ts";
export type { TlsOptions, TlsSetting } from "./src/tls.ts";
