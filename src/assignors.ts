/**
 * Partition assignors for the classic consumer group protocol. The group
 * leader runs one of them during SyncGroup; the others only read the result,
 * so what makes a member interoperable is the protocol name ("range",
 * "roundrobin") and the ConsumerProtocol byte layout, which every client
 * shares. The layouts below are those of Kafka's Java `RangeAssignor` and
 * `RoundRobinAssignor` (without rack awareness), so a group led by a Deno
 * member looks the same as one led by a Java member.
 *
 * @module
 */

/** What one member subscribes to, as the leader sees it in JoinGroup. */
export interface MemberSubscription {
  /** The member id the coordinator gave it. */
  memberId: string;
  /** Its static instance id (KIP-345), or null. */
  groupInstanceId: string | null;
  /** The topics it subscribes to. */
  topics: readonly string[];
}

/** An assignment: member id -> topic -> partitions (ascending). */
export type GroupAssignment = Map<string, Map<string, number[]>>;

/** A partition assignor: a protocol name and a pure function. */
export interface Assignor {
  /** The protocol name members advertise in JoinGroup. */
  readonly name: string;
  /**
   * Assigns every partition of every subscribed topic to one member.
   *
   * @param members The group's members and their subscriptions.
   * @param partitionCounts Partition count per topic (topics missing here are skipped).
   */
  assign(
    members: readonly MemberSubscription[],
    partitionCounts: ReadonlyMap<string, number>,
  ): GroupAssignment;
}

/**
 * The member order both Java assignors use: members with a static instance id
 * first, by instance id, then the others by member id. Keeping the order of a
 * static member stable across restarts keeps its partitions stable too.
 */
function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) {
    return a.groupInstanceId < b.groupInstanceId ? -1 : a.groupInstanceId > b.groupInstanceId ? 1 : 0;
  }
  if (a.groupInstanceId !== null) return -1;
  if (b.groupInstanceId !== null) return 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

function emptyAssignment(members: readonly MemberSubscription[]): GroupAssignment {
  const out: GroupAssignment = new Map();
  for (const m of members) out.set(m.memberId, new Map());
  return out;
}

function give(out: GroupAssignment, memberId: string, topic: string, partition: number): void {
  const topics = out.get(memberId)!;
  const list = topics.get(topic);
  if (list) list.push(partition);
  else topics.set(topic, [partition]);
}

/**
 * The "range" assignor: per topic, the subscribed members in order each take a
 * contiguous range; the first `partitions % members` take one extra. With 7
 * partitions and 3 members: [0,1,2], [3,4], [5,6].
 *
 * @example
 * ```ts
 * import { rangeAssignor } from "./assignors.ts";
 * const members = ["a", "b", "c"].map((memberId) => ({ memberId, groupInstanceId: null, topics: ["t"] }));
 * const plan = rangeAssignor.assign(members, new Map([["t", 7]]));
 * console.assert(plan.get("a")!.get("t")!.join() === "0,1,2");
 * ```
 */
export const rangeAssignor: Assignor = {
  name: "range",
  assign(members, partitionCounts) {
    const out = emptyAssignment(members);
    const byTopic = new Map<string, MemberSubscription[]>();
    for (const m of members) {
      for (const t of new Set(m.topics)) {
        const list = byTopic.get(t);
        if (list) list.push(m);
        else byTopic.set(t, [m]);
      }
    }
    for (const [topic, subs] of byTopic) {
      const n = partitionCounts.get(topic);
      if (n === undefined || n <= 0) continue;
      subs.sort(compareMembers);
      const per = Math.floor(n / subs.length);
      const extra = n % subs.length;
      for (let i = 0; i < subs.length; i++) {
        const start = per * i + Math.min(i, extra);
        const len = per + (i < extra ? 1 : 0);
        for (let p = start; p < start + len; p++) give(out, subs[i].memberId, topic, p);
      }
    }
    return out;
  },
};

/**
 * The "roundrobin" assignor: every partition of every subscribed topic, sorted
 * by topic then partition, dealt in turn to the members in order, skipping a
 * member that does not subscribe to the partition's topic.
 *
 * @example
 * ```ts
 * import { roundRobinAssignor } from "./assignors.ts";
 * const members = ["a", "b"].map((memberId) => ({ memberId, groupInstanceId: null, topics: ["t"] }));
 * const plan = roundRobinAssignor.assign(members, new Map([["t", 3]]));
 * console.assert(plan.get("a")!.get("t")!.join() === "0,2");
 * ```
 */
export const roundRobinAssignor: Assignor = {
  name: "roundrobin",
  assign(members, partitionCounts) {
    const out = emptyAssignment(members);
    const sorted = [...members].sort(compareMembers);
    if (sorted.length === 0) return out;
    const subscribed = sorted.map((m) => new Set(m.topics));
    const topics = [...new Set(sorted.flatMap((m) => m.topics))].sort();
    let next = 0;
    for (const topic of topics) {
      const n = partitionCounts.get(topic);
      if (n === undefined || n <= 0) continue;
      for (let p = 0; p < n; p++) {
        // Someone subscribes to `topic` (it came from a subscription), so this ends within one lap.
        while (!subscribed[next].has(topic)) next = (next + 1) % sorted.length;
        give(out, sorted[next].memberId, topic, p);
        next = (next + 1) % sorted.length;
      }
    }
    return out;
  },
};

/** The assignors a member advertises by default, in order of preference. */
export const DEFAULT_ASSIGNORS: readonly Assignor[] = [rangeAssignor, roundRobinAssignor];
