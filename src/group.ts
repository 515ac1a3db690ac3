/**
 * Consumer group membership with the classic protocol: coordinator lookup,
 * JoinGroup (with the member-id-required round trip of KIP-394), SyncGroup
 * with the leader computing the assignment, a Heartbeat timer that runs on its
 * own (so a slow record handler never costs the membership; only the
 * application not polling for `maxPollIntervalMs` does), offset commit and
 * fetch, and LeaveGroup.
 *
 * The member runs one background loop. It joins, hands the assignment to the
 * consumer, then heartbeats; when the coordinator says the group rebalances,
 * that the generation is stale or that it forgot the member, the loop asks the
 * consumer to give its partitions up (committing first) and joins again.
 * With only cooperative assignors (KIP-429) it keeps its partitions through a
 * rebalance and gives up only those the new assignment moves.
 *
 * With `groupProtocol: "consumer"` the same member speaks KIP-848 instead: one
 * ConsumerGroupHeartbeat loop, the broker assigns, and the member reconciles
 * (revokes what left its target, takes what is new) through the same hooks;
 * commits, offset fetches and the coordinator lookup are shared.
 *
 * @module
 */

import { sleepUnlessAborted } from "./abort.ts";
import {
  CONSUMER_PROTOCOL_TYPE,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "../protocol/apis/consumer_protocol.ts";
import { describeGroups } from "../protocol/apis/describe_groups.ts";
import { CoordinatorKeyType, findCoordinator } from "../protocol/apis/find_coordinator.ts";
import { consumerGroupHeartbeat } from "../protocol/messages/consumer_group_heartbeat.ts";
import { heartbeat } from "../protocol/apis/heartbeat.ts";
import { joinGroup, type JoinGroupResponse } from "../protocol/apis/join_group.ts";
import { leaveGroup } from "../protocol/apis/leave_group.ts";
import { offsetCommit } from "../protocol/apis/offset_commit.ts";
import { offsetFetch, type OffsetFetchResponseTopic } from "../protocol/apis/offset_fetch.ts";
import { syncGroup } from "../protocol/apis/sync_group.ts";
import { errorByCode, ErrorCode } from "../protocol/error_codes.ts";
import type { EventHub } from "./observe/events.ts";
import type { Assignor, MemberSubscription } from "./assignors.ts";
import type { Cluster, Lane } from "./cluster.ts";
import type { Connection } from "./connection.ts";
import {
  AuthenticationError,
  BrokerError,
  ClosedError,
  CommitFailedError,
  KafkaError,
  UnsupportedVersionError,
} from "./errors.ts";

/**
 * A wake-up signal: `wait(ms)` resolves on the next `notify()` or after `ms`,
 * whichever comes first, and never leaves a timer behind.
 *
 * @internal
 */
export class Signal {
  #waiters: (() => void)[] = [];

  /** Wakes every current waiter. */
  notify(): void {
    const w = this.#waiters;
    if (w.length === 0) return;
    this.#waiters = [];
    for (const f of w) f();
  }

  /**
   * Waits for a notify or `ms` milliseconds.
   *
   * @param ms The longest wait.
   */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      }, Math.max(0, ms));
      this.#waiters.push(done);
    });
  }
}

/** Partitions by topic. */
export type TopicPartitions = Map<string, number[]>;

/** An offset to commit. */
export interface OffsetToCommit {
  /** The topic. */
  topic: string;
  /** The partition. */
  partition: number;
  /** The next offset to read (last processed + 1). */
  offset: bigint;
  /** The leader epoch of the last processed record (KIP-320); -1 or absent when unknown. */
  leaderEpoch?: number;
}

/** What the group member needs from the consumer. */
export interface GroupHooks {
  /**
   * Gives partitions up (every one, or `only` these in a cooperative rebalance): stop fetching,
   * drop buffered records, commit.
   */
  revoke(only?: TopicPartitions): Promise<void>;
  /** Takes the new assignment (partitions already held are kept as they are). */
  assign(assignment: TopicPartitions): Promise<void>;
  /** When the application last asked for records; `Infinity` while it waits for some. */
  lastPollAt(): number;
  /** The membership failed for good (fenced, not authorized...). */
  fail(err: Error): void;
  /** Something went wrong that the member recovers from, but the application should hear of. */
  report(err: KafkaError): void;
  /** A rebalance completed (an assignment was taken) in `ms` milliseconds, for metrics. */
  rebalanced?(ms: number): void;
}

/** Options of {@linkcode GroupMember}. */
export interface GroupMemberOptions {
  /** The group id. */
  groupId: string;
  /** The topics to subscribe to. */
  topics: readonly string[];
  /** The static member id (KIP-345), or null. */
  groupInstanceId: string | null;
  /** The session timeout. */
  sessionTimeoutMs: number;
  /** The rebalance timeout. */
  rebalanceTimeoutMs: number;
  /** The heartbeat interval. */
  heartbeatIntervalMs: number;
  /** The longest the application may go without polling. */
  maxPollIntervalMs: number;
  /** The assignors, in order of preference. */
  assignors: readonly Assignor[];
  /** The first retry backoff. */
  retryBackoffMs: number;
  /** The private connection lane to the coordinator. */
  lane: Lane;
  /** "classic" (JoinGroup/SyncGroup) or "consumer" (KIP-848, ConsumerGroupHeartbeat). */
  groupProtocol: "classic" | "consumer";
  /** KIP-848: the server-side assignor ("uniform", "range"), or null for the broker's default. */
  remoteAssignor: string | null;
  /** KIP-848: a server-side regular expression (RE2/J syntax) instead of `topics`, or null. */
  topicRegex: string | null;
  /** Where membership changes are emitted (joined, rebalancing). */
  events?: EventHub;
}

/** Errors after which the coordinator must be looked up again. */
const COORDINATOR_ERRORS = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

/** Errors a group request is retried after (rediscovering the coordinator first for the ones above). */
const COORDINATOR_RETRY = new Set<number>([
  ...COORDINATOR_ERRORS,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

/** Whether a failed group request may succeed on a retry (after rediscovering the coordinator). */
function retriableCoordinatorError(err: unknown): boolean {
  if (err instanceof ClosedError) return false;
  if (err instanceof BrokerError) return COORDINATOR_RETRY.has(err.code);
  return err instanceof KafkaError && !(err instanceof AuthenticationError) &&
    !(err instanceof UnsupportedVersionError);
}

/** Errors with which the coordinator refuses an offset commit from a member that lost its partitions. */
const COMMIT_FAILED_ERRORS = new Set<number>([
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.FENCED_MEMBER_EPOCH,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
]);

/** Errors after which the member must join again. */
const REJOIN_ERRORS = new Set<number>([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
]);

function isConnectionProblem(err: unknown): boolean {
  return err instanceof KafkaError && !(err instanceof BrokerError);
}

/**
 * One member of a consumer group (classic protocol).
 *
 * @internal Used by the consumer.
 */
export class GroupMember {
  readonly #cluster: Cluster;
  readonly #opts: GroupMemberOptions;
  readonly #hooks: GroupHooks;
  readonly #wake = new Signal();
  #coordinator: Promise<Connection> | null = null;
  /** The coordinator connection found last (for a hard close's best-effort leave). */
  #coordinatorConn: Connection | null = null;
  #memberId = "";
  #generationId = -1;
  #protocol: string | null = null;
  #needJoin = true;
  /** As the leader: the partition counts the last assignment was computed from. */
  #ledCounts: Map<string, number> | null = null;
  #nextMetadataCheck = 0;
  #assigned = false;
  /** KIP-429: every assignor offered is cooperative (Java's rule), so partitions are kept through a rebalance. */
  readonly #cooperative: boolean;
  /** The partitions held now (cooperative), and the last assignment with its generation (sticky userData). */
  #owned: TopicPartitions = new Map();
  #lastAssignment: TopicPartitions = new Map();
  #lastGeneration = -1;
  /** Set when a cooperative member must give everything up before joining (its assignment failed). */
  #revokeAll = false;
  #stopping = false;
  #pollExpired = false;
  #loop: Promise<void> | null = null;
  #joinConn: Connection | null = null;
  readonly #conns = new Set<Connection>();
  /** Closed without leaving (a hard close): a LeaveGroup it cuts short is no failure to report. */
  #leaveCut = false;
  readonly #events: EventHub | null;

  /**
   * Creates a member; {@linkcode GroupMember.start} joins.
   *
   * @param cluster The cluster.
   * @param opts The group and its timeouts.
   * @param hooks The consumer's side of a rebalance.
   */
  constructor(cluster: Cluster, opts: GroupMemberOptions, hooks: GroupHooks) {
    this.#cluster = cluster;
    this.#opts = opts;
    this.#hooks = hooks;
    this.#events = opts.events ?? null;
    this.#cooperative = opts.assignors.length > 0 &&
      opts.assignors.every((a) => a.rebalanceProtocol === "cooperative");
  }

  /** "cooperative" when partitions are kept through a rebalance (KIP-429), else "eager". */
  get rebalanceProtocol(): "eager" | "cooperative" {
    return this.#cooperative ? "cooperative" : "eager";
  }

  /** The member id the coordinator gave ("" before the first join). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The current generation (-1 when not a member). */
  get generationId(): number {
    return this.#generationId;
  }

  /** The assignor the group chose. */
  get protocol(): string | null {
    return this.#protocol;
  }

  /** Starts joining and heartbeating in the background. */
  start(): void {
    this.#loop ??= this.#opts.groupProtocol === "consumer" ? this.#runConsumerProtocol() : this.#run();
  }

  /** Wakes the loop, e.g. when the application polls again after `maxPollIntervalMs`. */
  poke(): void {
    if (!this.#pollExpired) return;
    this.#pollExpired = false;
    this.#needJoin = true;
    this.#wake.notify();
  }

  /**
   * The consumer group protocol (KIP-848): one ConsumerGroupHeartbeat loop. The
   * coordinator computes the assignment (with `remoteAssignor`) and sends the
   * member its target; the member gives up what is no longer in it (committing
   * first), takes what is new, and acknowledges by reporting what it owns in the
   * next heartbeat. No member ever stops for another's rebalance.
   */
  async #runConsumerProtocol(): Promise<void> {
    // KIP-1082 (v1): the member id is made by the client and kept across rejoins.
    this.#memberId ||= crypto.randomUUID();
    this.#generationId = 0;
    let interval = this.#opts.heartbeatIntervalMs;
    let nextHeartbeat = 0;
    let backoff = this.#opts.retryBackoffMs;
    /** The last target, in case its topic ids could not be named yet. */
    let pending: { topicId: string; partitions: number[] }[] | null = null;
    let unnamed = 0;
    while (!this.#stopping) {
      try {
        if (this.#pollExpired) {
          await this.#wake.wait(1000);
          continue;
        }
        if (this.#needJoin && this.#assigned) {
          // Fenced or forgotten: the partitions are already someone else's (onLost), then join with epoch 0.
          this.#assigned = false;
          this.#owned = new Map();
          await this.#hooks.revoke();
        }
        if (this.#needJoin) {
          this.#needJoin = false;
          this.#generationId = 0;
          nextHeartbeat = 0;
        }
        const wait = nextHeartbeat - Date.now();
        if (wait > 0) {
          await this.#wake.wait(wait);
          continue;
        }
        if (this.#assigned && Date.now() - this.#hooks.lastPollAt() > this.#opts.maxPollIntervalMs) {
          this.#pollExpired = true;
          this.#assigned = false;
          this.#owned = new Map();
          await this.#hooks.revoke();
          await this.#leaveConsumerProtocol(-1);
          continue;
        }
        nextHeartbeat = Date.now() + interval;
        const res = await this.#consumerHeartbeat();
        if (this.#stopping) break;
        if (res.errorCode !== 0) {
          const code = res.errorCode;
          if (code === ErrorCode.UNSUPPORTED_VERSION) {
            // The API is there but the coordinator has the protocol disabled.
            throw new UnsupportedVersionError(
              res.errorMessage ?? "ConsumerGroupHeartbeat refused: UNSUPPORTED_VERSION",
            );
          }
          if (code === ErrorCode.FENCED_MEMBER_EPOCH || code === ErrorCode.UNKNOWN_MEMBER_ID) {
            if (this.#events?.active) this.#rebalancing(`ConsumerGroupHeartbeat: ${errorByCode(code).name}`);
            this.#generationId = -1;
            this.#needJoin = true;
            pending = null;
            continue;
          }
          if (COORDINATOR_ERRORS.has(code)) this.#coordinator = null;
          throw new BrokerError(code, {
            api: "ConsumerGroupHeartbeat",
            groupId: this.#opts.groupId,
            brokerMessage: res.errorMessage,
          });
        }
        backoff = this.#opts.retryBackoffMs;
        if (res.memberId) this.#memberId = res.memberId;
        if (res.memberEpoch !== this.#generationId && this.#events?.active) {
          this.#joined(res.memberEpoch, false);
        }
        this.#generationId = res.memberEpoch;
        if (res.heartbeatIntervalMs > 0) interval = res.heartbeatIntervalMs;
        if (res.assignment !== null) pending = res.assignment.topicPartitions;
        if (pending !== null) {
          const target = await this.#nameTopics(pending);
          if (target === null && ++unnamed === 10) {
            this.#hooks.report(
              new KafkaError(
                `Group ${this.#opts.groupId}: the coordinator assigned topics whose ids the metadata does not ` +
                  `name (${pending.map((t) => t.topicId).join(", ")}); waiting for the metadata to catch up`,
              ),
            );
          }
          if (target !== null) {
            unnamed = 0;
            pending = null;
            const reconcileStart = performance.now();
            if (await this.#reconcile(target)) {
              nextHeartbeat = 0; // acknowledge at once
              this.#hooks.rebalanced?.(performance.now() - reconcileStart);
            }
          }
        }
      } catch (err) {
        if (this.#stopping) break;
        if (err instanceof UnsupportedVersionError) {
          this.#hooks.fail(
            new UnsupportedVersionError(
              `The group coordinator does not speak the consumer group protocol (KIP-848, ConsumerGroupHeartbeat): ` +
                `it needs Kafka 4.0+ with "consumer" in group.coordinator.rebalance.protocols. Use ` +
                `groupProtocol: "classic" with this cluster (${err.message})`,
              { cause: err },
            ),
          );
          return;
        }
        if (err instanceof BrokerError && !err.retriable && !COORDINATOR_ERRORS.has(err.code)) {
          this.#hooks.fail(err);
          return;
        }
        if (!(err instanceof KafkaError) || err instanceof AuthenticationError) {
          this.#hooks.fail(err as Error);
          return;
        }
        await this.#wake.wait(backoff);
        backoff = Math.min(backoff * 2, 1000);
        nextHeartbeat = 0;
      }
    }
  }

  async #consumerHeartbeat() {
    const conn = await this.coordinator();
    const owned = [];
    for (const [topic, partitions] of this.#owned) {
      const id = this.#cluster.cachedTopic(topic)?.topicId;
      if (id) owned.push({ topicId: id, partitions });
    }
    const regex = this.#opts.topicRegex;
    try {
      return await conn.request(consumerGroupHeartbeat, {
        groupId: this.#opts.groupId,
        memberId: this.#memberId,
        memberEpoch: this.#generationId,
        instanceId: this.#opts.groupInstanceId,
        rackId: null,
        rebalanceTimeoutMs: this.#opts.rebalanceTimeoutMs,
        subscribedTopicNames: regex ? null : [...this.#opts.topics],
        subscribedTopicRegex: regex ?? null,
        serverAssignor: this.#opts.remoteAssignor,
        topicPartitions: owned,
      }, { timeoutMs: Math.max(this.#opts.sessionTimeoutMs, 5000) });
    } catch (err) {
      if (isConnectionProblem(err)) this.#coordinator = null;
      throw err;
    }
  }

  /** Topic ids to names (refreshing metadata for ids not seen yet); null while some stay unknown. */
  async #nameTopics(target: { topicId: string; partitions: number[] }[]): Promise<TopicPartitions | null> {
    if (target.some((t) => this.#cluster.topicName(t.topicId) === undefined)) {
      await this.#cluster.refreshMetadata(this.#opts.topicRegex ? undefined : [...this.#opts.topics]);
    }
    const out: TopicPartitions = new Map();
    for (const t of target) {
      const name = this.#cluster.topicName(t.topicId);
      if (name === undefined) return null;
      out.set(name, [...t.partitions].sort((a, b) => a - b));
    }
    return out;
  }

  /** Gives up what left the target and takes what is new; true when what this member owns changed. */
  async #reconcile(target: TopicPartitions): Promise<boolean> {
    const revoked = minus(this.#owned, target);
    const added = minus(target, this.#owned);
    if (revoked.size > 0) {
      await this.#hooks.revoke(revoked);
      this.#owned = minus(this.#owned, revoked);
    }
    if (added.size > 0 || !this.#assigned) {
      this.#assigned = true;
      this.#owned = target;
      await this.#hooks.assign(target);
    }
    this.#owned = target;
    return revoked.size > 0 || added.size > 0;
  }

  /** Leaves with epoch -1 (or -2: a static member that will come back, KIP-848). */
  async #leaveConsumerProtocol(epoch: -1 | -2): Promise<void> {
    // Epoch 0: never joined (or fenced and not back yet): nothing to leave.
    if (this.#generationId <= 0) return;
    this.#generationId = epoch;
    try {
      const conn = await this.coordinator();
      await conn.request(consumerGroupHeartbeat, {
        groupId: this.#opts.groupId,
        memberId: this.#memberId,
        memberEpoch: epoch,
        instanceId: this.#opts.groupInstanceId,
      }, { timeoutMs: 5000 });
    } catch (err) {
      // Unless a hard close cut it short: the session timeout removes the member, as the application asked.
      if (!this.#leaveCut) {
        this.#hooks.report(
          new KafkaError(
            `Leaving group ${this.#opts.groupId} failed (${(err as Error).message}); ` +
              `the coordinator removes the member after sessionTimeoutMs`,
            { cause: err },
          ),
        );
      }
    }
    this.#generationId = -1;
  }

  async #run(): Promise<void> {
    let nextHeartbeat = 0;
    let backoff = this.#opts.retryBackoffMs;
    let rejoins = 0;
    while (!this.#stopping) {
      try {
        if (this.#pollExpired) {
          await this.#wake.wait(1000);
          continue;
        }
        if (this.#needJoin) {
          // Eager: everything goes before joining. Cooperative (KIP-429): a member keeps its
          // partitions, unless it fell out of the group, where they are lost anyway.
          if (this.#assigned && (!this.#cooperative || this.#generationId < 0 || this.#revokeAll)) {
            this.#assigned = false;
            this.#revokeAll = false;
            this.#owned = new Map();
            await this.#hooks.revoke();
          }
          const rebalanceStart = performance.now();
          const assignment = await this.#joinAndSync();
          if (assignment === null) {
            // Join again at once, as the protocol asks; but should the coordinator keep sending
            // us back, slow down rather than hammer it.
            if (++rejoins > 3 && !this.#stopping) {
              await this.#wake.wait(backoff);
              backoff = Math.min(backoff * 2, 1000);
            }
            continue;
          }
          rejoins = 0;
          if (this.#cooperative && this.#assigned) {
            // KIP-429: give up only what moved, then join once more so it can be handed on.
            const revoked = minus(this.#owned, assignment);
            if (revoked.size > 0) {
              await this.#hooks.revoke(revoked);
              this.#needJoin = true;
            }
          }
          this.#assigned = true;
          this.#owned = assignment;
          this.#lastAssignment = assignment;
          this.#lastGeneration = this.#generationId;
          try {
            await this.#hooks.assign(assignment);
          } catch (err) {
            // Without its offsets the assignment is unusable: give it back and join again.
            this.#needJoin = true;
            this.#revokeAll = true;
            throw err;
          }
          this.#hooks.rebalanced?.(performance.now() - rebalanceStart);
          nextHeartbeat = Date.now() + this.#opts.heartbeatIntervalMs;
          backoff = this.#opts.retryBackoffMs;
          continue;
        }
        const wait = nextHeartbeat - Date.now();
        if (wait > 0) {
          await this.#wake.wait(wait);
          continue;
        }
        const lastPoll = this.#hooks.lastPollAt();
        if (Date.now() - lastPoll > this.#opts.maxPollIntervalMs) {
          // Like the Java client: a member that stopped polling leaves, so that its
          // partitions move on; it joins again when the application polls.
          this.#pollExpired = true;
          if (this.#assigned) {
            this.#assigned = false;
            await this.#hooks.revoke();
          }
          await this.#leave("the application did not poll within maxPollIntervalMs");
          continue;
        }
        if (this.#ledCounts && Date.now() >= this.#nextMetadataCheck && await this.#partitionsChanged()) {
          // The leader saw a subscribed topic gain partitions (or appear): rejoining starts a
          // rebalance that hands the new partitions out, as the Java client does.
          this.#needJoin = true;
          if (this.#events?.active) this.#rebalancing("the subscribed topics' partitions changed");
          continue;
        }
        nextHeartbeat = Date.now() + this.#opts.heartbeatIntervalMs;
        await this.#heartbeat();
        backoff = this.#opts.retryBackoffMs;
      } catch (err) {
        if (this.#stopping) break;
        if (
          err instanceof BrokerError && !err.retriable && !REJOIN_ERRORS.has(err.code) &&
          !COORDINATOR_ERRORS.has(err.code)
        ) {
          this.#hooks.fail(err);
          return;
        }
        // Refused credentials or an API the coordinator does not speak will not get better.
        if (
          !(err instanceof KafkaError) || err instanceof AuthenticationError ||
          err instanceof UnsupportedVersionError
        ) {
          this.#hooks.fail(err as Error);
          return;
        }
        await this.#wake.wait(backoff);
        backoff = Math.min(backoff * 2, 1000);
        nextHeartbeat = 0;
      }
    }
  }

  async #heartbeat(): Promise<void> {
    const conn = await this.coordinator();
    let res;
    try {
      res = await conn.request(heartbeat, {
        groupId: this.#opts.groupId,
        generationId: this.#generationId,
        memberId: this.#memberId,
        groupInstanceId: this.#opts.groupInstanceId,
      }, { timeoutMs: Math.max(this.#opts.sessionTimeoutMs, 5000) });
    } catch (err) {
      if (isConnectionProblem(err)) this.#coordinator = null;
      throw err;
    }
    this.#onGroupError(res.errorCode, "Heartbeat");
  }

  #joined(generationId: number, leader: boolean): void {
    const { groupId } = this.#opts;
    this.#events!.emit({ type: "group.joined", groupId, memberId: this.#memberId, generationId, leader });
  }

  #rebalancing(reason: string): void {
    this.#events!.emit({ type: "group.rebalancing", groupId: this.#opts.groupId, reason });
  }

  /** Acts on a group error code: rejoin, rediscover the coordinator, or throw. */
  #onGroupError(code: number, api: string): void {
    if (code === 0) return;
    if (
      !this.#needJoin && this.#events?.active &&
      (code === ErrorCode.REBALANCE_IN_PROGRESS || code === ErrorCode.ILLEGAL_GENERATION ||
        code === ErrorCode.UNKNOWN_MEMBER_ID)
    ) this.#rebalancing(`${api}: ${errorByCode(code).name}`);
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) {
      this.#needJoin = true;
      return;
    }
    if (code === ErrorCode.ILLEGAL_GENERATION) {
      this.#generationId = -1;
      this.#needJoin = true;
      return;
    }
    if (code === ErrorCode.UNKNOWN_MEMBER_ID) {
      this.#generationId = -1;
      this.#memberId = "";
      this.#needJoin = true;
      return;
    }
    if (COORDINATOR_ERRORS.has(code)) this.#coordinator = null;
    throw new BrokerError(code, { api, groupId: this.#opts.groupId });
  }

  /** How long a commit, an offset fetch or a leave keeps retrying coordinator errors. */
  get #retryBoundMs(): number {
    return this.#cluster.options.requestTimeoutMs;
  }

  /**
   * The coordinator's connection (lane "group"), found with FindCoordinator
   * and cached until a request to it fails.
   */
  coordinator(): Promise<Connection> {
    const cached = this.#coordinator;
    if (cached) {
      return cached.then((c) => {
        if (!c.isClosed) return c;
        if (this.#coordinator === cached) this.#coordinator = null;
        return this.coordinator();
      });
    }
    const p = this.#findCoordinator();
    this.#coordinator = p;
    p.catch(() => {
      if (this.#coordinator === p) this.#coordinator = null;
    });
    return p;
  }

  async #findCoordinator(): Promise<Connection> {
    const conn = await this.#cluster.anyConnection();
    const batched = conn.versionFor(findCoordinator) >= 4;
    const res = await conn.request(
      findCoordinator,
      batched
        ? { keyType: CoordinatorKeyType.GROUP, coordinatorKeys: [this.#opts.groupId] }
        : { key: this.#opts.groupId, keyType: CoordinatorKeyType.GROUP },
    );
    const c = batched ? res.coordinators[0] : res;
    if (!c) throw new KafkaError(`FindCoordinator answered without a coordinator for ${this.#opts.groupId}`);
    if (c.errorCode) {
      throw new BrokerError(c.errorCode, {
        api: "FindCoordinator",
        groupId: this.#opts.groupId,
        brokerMessage: c.errorMessage,
      });
    }
    if (!this.#cluster.brokers.some((b) => b.nodeId === c.nodeId)) await this.#cluster.refreshMetadata();
    const coordinator = await this.#cluster.connectionTo(c.nodeId, this.#opts.lane);
    this.#conns.add(coordinator);
    this.#coordinatorConn = coordinator;
    return coordinator;
  }

  /** Joins and syncs; null when the loop should start over (or stop). */
  async #joinAndSync(): Promise<TopicPartitions | null> {
    const conn = await this.coordinator();
    this.#joinConn = conn;
    let join: JoinGroupResponse;
    try {
      join = await conn.request(joinGroup, {
        groupId: this.#opts.groupId,
        sessionTimeoutMs: this.#opts.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#opts.rebalanceTimeoutMs,
        memberId: this.#memberId,
        groupInstanceId: this.#opts.groupInstanceId,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocols: this.#opts.assignors.map((a) => ({
          name: a.name,
          metadata: encodeConsumerSubscription({
            topics: [...this.#opts.topics],
            userData: a.subscriptionUserData?.(this.#lastAssignment, this.#lastGeneration) ?? null,
            ownedPartitions: [...this.#owned].map(([topic, partitions]) => ({ topic, partitions })),
            generationId: this.#owned.size > 0 ? this.#generationId : -1,
          }),
        })),
        reason: null,
      }, { timeoutMs: this.#opts.rebalanceTimeoutMs + 5000 });
    } catch (err) {
      if (isConnectionProblem(err)) this.#coordinator = null;
      throw err;
    } finally {
      this.#joinConn = null;
    }
    if (this.#stopping) return null;
    if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      // KIP-394: the coordinator names us and expects us to join again with that id at once.
      this.#memberId = join.memberId;
      return null;
    }
    if (join.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) return null;
    if (join.errorCode === ErrorCode.INCONSISTENT_GROUP_PROTOCOL) throw await this.#inconsistent(conn);
    this.#onGroupError(join.errorCode, "JoinGroup");
    if (join.errorCode) return null;
    this.#memberId = join.memberId;
    this.#generationId = join.generationId;
    this.#protocol = join.protocolName;
    if (this.#events?.active) this.#joined(join.generationId, join.leader === join.memberId);
    let assignments: { memberId: string; assignment: Uint8Array }[] = [];
    // KIP-814: a static leader that merely rejoined keeps the current assignment.
    this.#ledCounts = null;
    if (join.leader === join.memberId && !join.skipAssignment) assignments = await this.#lead(join);
    let sync;
    try {
      sync = await conn.request(syncGroup, {
        groupId: this.#opts.groupId,
        generationId: this.#generationId,
        memberId: this.#memberId,
        groupInstanceId: this.#opts.groupInstanceId,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocolName: join.protocolName,
        assignments,
      }, { timeoutMs: this.#opts.rebalanceTimeoutMs + 5000 });
    } catch (err) {
      if (isConnectionProblem(err)) this.#coordinator = null;
      throw err;
    }
    if (this.#stopping) return null;
    this.#onGroupError(sync.errorCode, "SyncGroup");
    if (sync.errorCode) return null;
    this.#needJoin = false;
    const out: TopicPartitions = new Map();
    if (sync.assignment.length === 0) return out;
    for (const tp of decodeConsumerAssignment(sync.assignment).assignedPartitions) {
      const list = out.get(tp.topic) ?? [];
      list.push(...tp.partitions);
      out.set(tp.topic, list);
    }
    return out;
  }

  /** INCONSISTENT_GROUP_PROTOCOL, saying what we offered and (as far as DescribeGroups tells) what the group uses. */
  async #inconsistent(conn: Connection): Promise<BrokerError> {
    const ours = this.#opts.assignors.map((a) => a.name).join(", ");
    let theirs = "protocols none of which we offer";
    try {
      // The coordinator names the group's protocol only once it is Stable: ask a few times.
      let g;
      for (let i = 0; i < 6 && !this.#stopping; i++) {
        const res = await conn.request(describeGroups, { groups: [this.#opts.groupId] }, { timeoutMs: 5000 });
        g = res.groups[0];
        if (!g || g.errorCode !== 0 || g.protocolData || g.groupState === "Empty") break;
        await sleep(500);
      }
      if (g && g.errorCode === 0) {
        theirs = g.protocolType !== CONSUMER_PROTOCOL_TYPE
          ? `protocol type "${g.protocolType}"${g.protocolData ? ` with "${g.protocolData}"` : ""}`
          : g.protocolData
          ? `"${g.protocolData}"`
          : theirs;
        theirs += ` (state ${g.groupState}, ${g.members.length} member${g.members.length === 1 ? "" : "s"})`;
      }
    } catch {
      // The description is a courtesy; the error stands without it.
    }
    return new BrokerError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, {
      api: "JoinGroup",
      groupId: this.#opts.groupId,
      brokerMessage: `the group's members use ${theirs}; this member offered protocol type ` +
        `"${CONSUMER_PROTOCOL_TYPE}" with assignors [${ours}] (the assignors option)`,
    });
  }

  /** As the leader: whether a subscribed topic's partition count differs from the last assignment's. */
  async #partitionsChanged(): Promise<boolean> {
    const led = this.#ledCounts!;
    this.#nextMetadataCheck = Date.now() + this.#cluster.options.metadataMaxAgeMs;
    await this.#cluster.refreshMetadata([...led.keys()]);
    for (const [topic, count] of led) {
      const info = this.#cluster.cachedTopic(topic);
      const now = info && info.errorCode === 0 ? info.partitions.length : 0;
      if (now !== count) return true;
    }
    return false;
  }

  /** As the leader: every member's assignment, by the assignor the group chose. */
  async #lead(join: JoinGroupResponse): Promise<{ memberId: string; assignment: Uint8Array }[]> {
    const assignor = this.#opts.assignors.find((a) => a.name === join.protocolName);
    if (!assignor) {
      throw new KafkaError(`The group chose assignor "${join.protocolName}", which we do not have`);
    }
    const members: MemberSubscription[] = join.members.map((m) => {
      const sub = decodeConsumerSubscription(m.metadata);
      const owned = new Map<string, number[]>();
      for (const tp of sub.ownedPartitions ?? []) {
        owned.set(tp.topic, [...(owned.get(tp.topic) ?? []), ...tp.partitions]);
      }
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        topics: sub.topics,
        ownedPartitions: owned,
        generationId: sub.generationId ?? -1,
        userData: sub.userData ?? null,
      };
    });
    const topics = [...new Set(members.flatMap((m) => m.topics))];
    await this.#cluster.refreshMetadata(topics);
    const counts = new Map<string, number>();
    for (const t of topics) {
      const info = this.#cluster.cachedTopic(t);
      if (info && info.errorCode === 0 && info.partitions.length > 0) counts.set(t, info.partitions.length);
    }
    const plan = assignor.assign(members, counts);
    this.#ledCounts = new Map(topics.map((t) => [t, counts.get(t) ?? 0]));
    this.#nextMetadataCheck = Date.now() + this.#cluster.options.metadataMaxAgeMs;
    return members.map((m) => ({
      memberId: m.memberId,
      assignment: encodeConsumerAssignment({
        version: 0,
        assignedPartitions: [...(plan.get(m.memberId) ?? new Map<string, number[]>())].map((
          [topic, partitions],
        ) => ({
          topic,
          partitions,
        })),
      }),
    }));
  }

  /**
   * Commits offsets with the current generation (or as a non-member when the
   * consumer is not in the group). Coordinator moves and connection failures
   * are retried (rediscovering the coordinator) with backoff for up to the
   * client's `requestTimeoutMs`.
   *
   * @param offsets What to commit.
   * @param signal Stops the retries: rejects with its reason.
   * @throws {CommitFailedError} When the coordinator refuses the commit because this member is
   * no longer in the generation that owned the partitions (rebalanced, expired, fenced).
   * @throws {BrokerError} Any other refusal.
   */
  async commit(offsets: readonly OffsetToCommit[], signal?: AbortSignal): Promise<void> {
    if (offsets.length === 0) return;
    const byTopic = new Map<
      string,
      {
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: null;
      }[]
    >();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: o.leaderEpoch ?? -1,
        committedMetadata: null,
      });
      byTopic.set(o.topic, list);
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    const deadline = Date.now() + this.#retryBoundMs;
    let backoff = this.#opts.retryBackoffMs;
    const retry = async (err: unknown) => {
      if (Date.now() + backoff > deadline) throw err;
      await sleepUnlessAborted(backoff, signal);
      backoff = Math.min(backoff * 2, 1000);
    };
    while (true) {
      // An abort stops the retries; a request already sent cannot be taken back.
      signal?.throwIfAborted();
      let res;
      const generationId = this.#generationId;
      try {
        const conn = await this.coordinator();
        res = await conn.request(offsetCommit, {
          groupId: this.#opts.groupId,
          generationIdOrMemberEpoch: generationId,
          memberId: this.#memberId,
          groupInstanceId: generationId >= 0 ? this.#opts.groupInstanceId : null,
          topics,
        });
      } catch (err) {
        if (!retriableCoordinatorError(err)) throw err;
        if (!(err instanceof BrokerError) || COORDINATOR_ERRORS.has(err.code)) this.#coordinator = null;
        await retry(err);
        continue;
      }
      let again: BrokerError | null = null;
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === 0) continue;
          const err = new BrokerError(p.errorCode, {
            api: "OffsetCommit",
            groupId: this.#opts.groupId,
            topic: t.name,
            partition: p.partitionIndex,
          });
          if (COORDINATOR_RETRY.has(p.errorCode)) {
            if (COORDINATOR_ERRORS.has(p.errorCode)) this.#coordinator = null;
            again = err;
            continue;
          }
          if (
            p.errorCode === ErrorCode.STALE_MEMBER_EPOCH && this.#generationId > 0 &&
            this.#generationId !== generationId
          ) {
            // KIP-848: the heartbeat moved the member to a new epoch meanwhile; commit with that one.
            again = err;
            continue;
          }
          if (COMMIT_FAILED_ERRORS.has(p.errorCode)) {
            if (
              p.errorCode !== ErrorCode.REBALANCE_IN_PROGRESS &&
              p.errorCode !== ErrorCode.FENCED_INSTANCE_ID &&
              this.#opts.groupProtocol === "classic"
            ) {
              // The member fell out of the generation: join again (the loop gives the partitions up first).
              if (generationId === this.#generationId) {
                this.#onGroupError(p.errorCode, "OffsetCommit");
                this.#wake.notify();
              }
            }
            throw new CommitFailedError(
              `The offset commit for group ${this.#opts.groupId} was refused (${err.type}): this member ` +
                `no longer owns ${t.name}[${p.partitionIndex}] (generation ${generationId}); the records ` +
                `since the last commit will be delivered again`,
              { cause: err },
            );
          }
          throw err;
        }
      }
      if (again === null) return;
      await retry(again);
    }
  }

  /**
   * The committed offsets of `partitions` (-1 where there is none).
   *
   * @param partitions Which partitions.
   * @param epochs Filled with the leader epoch committed with each offset, where known (KIP-320).
   */
  async committed(partitions: TopicPartitions, epochs?: Map<string, number>): Promise<Map<string, bigint>> {
    return await fetchCommitted(
      this.coordinator.bind(this),
      this.#opts.groupId,
      partitions,
      () => {
        this.#coordinator = null;
      },
      this.#opts.retryBackoffMs,
      this.#retryBoundMs,
      epochs,
    );
  }

  async #leave(reason: string): Promise<void> {
    const memberId = this.#memberId;
    this.#memberId = "";
    this.#generationId = -1;
    if (!memberId) return;
    // Bounded more tightly than commits: a member that cannot leave is removed by its session timeout.
    const deadline = Date.now() + Math.min(this.#retryBoundMs, 5000);
    let backoff = this.#opts.retryBackoffMs;
    while (true) {
      let err: unknown;
      try {
        const conn = await this.coordinator();
        const batched = conn.versionFor(leaveGroup) >= 3;
        const res = await conn.request(
          leaveGroup,
          batched
            ? {
              groupId: this.#opts.groupId,
              members: [{ memberId, groupInstanceId: this.#opts.groupInstanceId, reason }],
            }
            : { groupId: this.#opts.groupId, memberId },
          { timeoutMs: 5000 },
        );
        // UNKNOWN_MEMBER_ID: the coordinator already forgot us, which is what leaving is for.
        const code = res.errorCode || res.members.find((m) => m.errorCode)?.errorCode || 0;
        if (code === 0 || code === ErrorCode.UNKNOWN_MEMBER_ID) return;
        if (COORDINATOR_ERRORS.has(code)) this.#coordinator = null;
        err = new BrokerError(code, { api: "LeaveGroup", groupId: this.#opts.groupId });
      } catch (e) {
        if (isConnectionProblem(e)) this.#coordinator = null;
        err = e;
      }
      // A hard close cut it short: the session timeout removes the member, as the application asked.
      if (this.#leaveCut) return;
      if (!retriableCoordinatorError(err) || Date.now() + backoff > deadline) {
        // Not fatal: the session timeout removes the member; but the application hears of it.
        this.#hooks.report(
          new KafkaError(
            `Leaving group ${this.#opts.groupId} failed (${(err as Error).message}); ` +
              `the coordinator removes the member after sessionTimeoutMs`,
            { cause: err },
          ),
        );
        return;
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 1000);
    }
  }

  /**
   * Stops heartbeating and leaves the group (a static member stays, as in the
   * Java client: its session timeout or its return decides). Idempotent.
   *
   * @param opts `leave: false` stops without LeaveGroup (hard close); `"best-effort"` writes the
   * LeaveGroup (or the leaving heartbeat) to the coordinator connection already open, without
   * waiting for an answer, looking the coordinator up or retrying.
   */
  async close(opts: { leave?: boolean | "best-effort" } = {}): Promise<void> {
    // A hard close (no leave, or a best-effort one not awaited) cuts a pending LeaveGroup short.
    if (opts.leave === false || opts.leave === "best-effort") this.#leaveCut = true;
    if (!this.#stopping) {
      this.#stopping = true;
      this.#wake.notify();
      // A JoinGroup can be parked at the coordinator for the whole rebalance timeout.
      this.#joinConn?.close();
    }
    await this.#loop?.catch(() => {});
    if (opts.leave === "best-effort") {
      await this.#leaveNow();
    } else if (this.#opts.groupProtocol === "consumer") {
      if (opts.leave ?? true) {
        await this.#leaveConsumerProtocol(this.#opts.groupInstanceId === null ? -1 : -2);
      }
    } else if ((opts.leave ?? true) && this.#opts.groupInstanceId === null) {
      await this.#leave("the consumer is closing");
    }
    this.#memberId = "";
    this.#generationId = -1;
    this.#coordinator = null;
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }

  /** A hard close's leave: one request written to an open coordinator connection, its answer not awaited. */
  async #leaveNow(): Promise<void> {
    const conn = this.#coordinatorConn;
    const memberId = this.#memberId;
    if (conn === null || conn.isClosed || !memberId) return;
    const { groupId, groupInstanceId } = this.#opts;
    try {
      if (this.#opts.groupProtocol === "consumer") {
        if (this.#generationId <= 0) return;
        await conn.send(consumerGroupHeartbeat, {
          groupId,
          memberId,
          memberEpoch: groupInstanceId === null ? -1 : -2,
          instanceId: groupInstanceId,
        });
      } else {
        // A static member stays (as on a graceful close).
        if (groupInstanceId !== null) return;
        const batched = conn.versionFor(leaveGroup) >= 3;
        await conn.send(
          leaveGroup,
          batched
            ? { groupId, members: [{ memberId, groupInstanceId, reason: "the consumer closed hard" }] }
            : { groupId, memberId },
        );
      }
    } catch {
      // Best effort: the session timeout removes the member anyway.
    }
  }

  /** Whether the member holds an assignment of the current generation. */
  get stable(): boolean {
    return !this.#needJoin && this.#generationId >= 0;
  }
}

/** The partitions of `a` that are not in `b`. */
function minus(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  const out: TopicPartitions = new Map();
  for (const [topic, partitions] of a) {
    const keep = new Set(b.get(topic) ?? []);
    const gone = partitions.filter((p) => !keep.has(p));
    if (gone.length > 0) out.set(topic, gone);
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Committed offsets of a group (-1 where there is none), with OffsetFetch in
 * the shape the negotiated version wants. A group that never committed
 * (GROUP_ID_NOT_FOUND) has no committed offsets. Coordinator moves and
 * connection failures are retried with backoff for up to `boundMs`.
 *
 * @internal
 */
export async function fetchCommitted(
  coordinator: () => Promise<Connection>,
  groupId: string,
  partitions: TopicPartitions,
  onCoordinatorError: () => void,
  backoffMs = 100,
  boundMs = 30_000,
  epochs?: Map<string, number>,
): Promise<Map<string, bigint>> {
  const topics = [...partitions].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  const out = new Map<string, bigint>();
  if (topics.length === 0) return out;
  const deadline = Date.now() + boundMs;
  let backoff = backoffMs;
  while (true) {
    let resTopics: OffsetFetchResponseTopic[] = [];
    let err: unknown = null;
    try {
      const conn = await coordinator();
      const version = conn.versionFor(offsetFetch);
      const batched = version >= 8;
      // KIP-447: wait out offsets a transaction is still committing (UNSTABLE_OFFSET_COMMIT is retried), so a
      // member taking over partitions never starts before a transactional commit it would then repeat.
      const requireStable = version >= 7;
      const res = await conn.request(
        offsetFetch,
        batched
          ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics }], requireStable }
          : { groupId, topics, requireStable },
      );
      let code: number;
      if (batched) {
        const g = res.groups[0];
        code = g?.errorCode ?? 0;
        resTopics = g?.topics ?? [];
      } else {
        code = res.errorCode;
        resTopics = res.topics;
      }
      // A group the coordinator does not know has committed nothing.
      if (code === ErrorCode.GROUP_ID_NOT_FOUND) return out;
      if (code === 0) {
        for (const t of resTopics) {
          for (const p of t.partitions) {
            if (p.errorCode) code = p.errorCode;
            out.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
            if (p.committedLeaderEpoch >= 0) {
              epochs?.set(`${t.name}:${p.partitionIndex}`, p.committedLeaderEpoch);
            }
          }
        }
      }
      if (code === 0) return out;
      err = new BrokerError(code, { api: "OffsetFetch", groupId });
    } catch (e) {
      err = e;
    }
    const retriable = retriableCoordinatorError(err) ||
      (err instanceof BrokerError && err.retriable);
    if (!retriable || Date.now() + backoff > deadline) throw err;
    if (!(err instanceof BrokerError) || COORDINATOR_ERRORS.has(err.code)) onCoordinatorError();
    out.clear();
    epochs?.clear();
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 1000);
  }
}
