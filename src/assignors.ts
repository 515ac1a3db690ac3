/**
 * Partition assignors for the classic consumer group protocol. The group
 * leader runs one of them during SyncGroup; the others only read the result,
 * so what makes a member interoperable is the protocol name ("range",
 * "roundrobin") and the ConsumerProtocol byte layout, which every client
 * shares ("sticky" and "cooperative-sticky" too). Range and round-robin give
 * the layouts of Kafka's Java `RangeAssignor` and `RoundRobinAssignor`
 * (without rack awareness), so a group led by a Deno member looks the same as
 * one led by a Java member. The sticky assignors are our own algorithm with
 * the same contract as Java's (balanced within one partition per member when
 * the subscriptions are equal; a partition stays with its owner unless balance
 * needs it elsewhere) and the same userData layouts, so Java, librdkafka and
 * sarama members can lead or follow in the same group.
 *
 * @module
 */

import { Reader, Writer } from "../protocol/primitives.ts";

/**
 * How members give partitions up in a rebalance: "eager" revokes everything
 * before joining; "cooperative" (KIP-429) keeps its partitions and revokes only
 * those the new assignment moves, then joins once more so they are handed on.
 */
export type RebalanceProtocol = "eager" | "cooperative";

/** What one member subscribes to, as the leader sees it in JoinGroup. */
export interface MemberSubscription {
  /** The member id the coordinator gave it. */
  memberId: string;
  /** Its static instance id (KIP-345), or null. */
  groupInstanceId: string | null;
  /** The topics it subscribes to. */
  topics: readonly string[];
  /** The partitions it owns now (ConsumerProtocol v1+; none for a member that revoked eagerly). */
  ownedPartitions?: ReadonlyMap<string, readonly number[]>;
  /** The generation its owned partitions come from (ConsumerProtocol v2+); -1 when unknown. */
  generationId?: number;
  /** The assignor-specific bytes of its subscription, or null. */
  userData?: Uint8Array | null;
}

/** An assignment: member id -> topic -> partitions (ascending). */
export type GroupAssignment = Map<string, Map<string, number[]>>;

/** A partition assignor: a protocol name and a pure function. */
export interface Assignor {
  /** The protocol name members advertise in JoinGroup. */
  readonly name: string;
  /** How members using it give partitions up; "eager" when absent. */
  readonly rebalanceProtocol?: RebalanceProtocol;
  /**
   * The userData this member puts in its subscription, from its current assignment (e.g. for
   * stickiness); none when absent.
   *
   * @param assignment The partitions this member was last assigned.
   * @param generationId The generation of that assignment (-1 none).
   */
  subscriptionUserData?(
    assignment: ReadonlyMap<string, readonly number[]>,
    generationId: number,
  ): Uint8Array | null;
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

/** A member's previous assignment, as the sticky assignors read it. */
interface Previous {
  owned: ReadonlyMap<string, readonly number[]>;
  generation: number;
}

/**
 * Java's StickyAssignor userData (v1): `[topic: string, partitions: [int32]]`
 * then `generation: int32`; v0 lacks the generation.
 */
function encodeStickyUserData(
  assignment: ReadonlyMap<string, readonly number[]>,
  generation: number,
): Uint8Array {
  const w = new Writer(64);
  w.array([...assignment], (w, [topic, partitions]) => {
    w.string(topic);
    w.array(partitions, (w, p) => w.int32(p));
  });
  w.int32(generation);
  return w.finish().slice();
}

function decodeStickyUserData(bytes: Uint8Array): Previous | null {
  try {
    const r = new Reader(bytes);
    const owned = new Map<string, number[]>();
    for (const t of r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) }))) {
      owned.set(t.topic, t.partitions);
    }
    const generation = r.remaining >= 4 ? r.int32() : -1;
    return { owned, generation };
  } catch {
    // Another client's bytes we cannot read: that member simply starts without a history.
    return null;
  }
}

/** Java's CooperativeStickyAssignor userData: `generation: int32` (for leaders before ConsumerProtocol v2). */
function encodeGenerationUserData(generation: number): Uint8Array {
  return new Writer(4).int32(generation).finish().slice();
}

/** What a member owned before: its ownedPartitions, else what its userData says (eager sticky members). */
function previousOf(m: MemberSubscription): Previous {
  const gen = m.generationId ?? -1;
  if (m.ownedPartitions && m.ownedPartitions.size > 0) {
    let generation = gen;
    if (generation < 0 && m.userData && m.userData.length === 4) {
      generation = new DataView(m.userData.buffer, m.userData.byteOffset, 4).getInt32(0);
    }
    return { owned: m.ownedPartitions, generation };
  }
  if (m.userData && m.userData.length > 4) {
    const p = decodeStickyUserData(m.userData);
    if (p) return { owned: p.owned, generation: gen >= 0 ? gen : p.generation };
  }
  return { owned: new Map(), generation: gen };
}

/**
 * The sticky plan, and who owned each partition before ("topic\0partition" ->
 * member id). Steps: (1) every member keeps what it owned and still subscribes
 * to (a partition claimed by two members goes to the newer generation's claim);
 * (2) unowned partitions go to the least-loaded subscribed member; (3) while a
 * member has at least two more partitions than a member that could take one of
 * them, one moves. With equal subscriptions the loads end within one of each
 * other and only the partitions balance requires move.
 */
function stickyPlan(
  members: readonly MemberSubscription[],
  partitionCounts: ReadonlyMap<string, number>,
): { owner: Map<string, string>; previous: Map<string, string> } {
  const sorted = [...members].sort(compareMembers);
  const order = new Map(sorted.map((m, i) => [m.memberId, i]));
  const subs = new Map(sorted.map((m) => [m.memberId, new Set(m.topics)]));
  const claims = new Map<string, { id: string; gen: number }>();
  for (const m of sorted) {
    const prev = previousOf(m);
    for (const [topic, partitions] of prev.owned) {
      const n = partitionCounts.get(topic);
      if (n === undefined || !subs.get(m.memberId)!.has(topic)) continue;
      for (const p of partitions) {
        if (!Number.isInteger(p) || p < 0 || p >= n) continue;
        const key = `${topic}\0${p}`;
        const cur = claims.get(key);
        if (cur === undefined || prev.generation > cur.gen) {
          claims.set(key, { id: m.memberId, gen: prev.generation });
        }
      }
    }
  }
  const owner = new Map<string, string>();
  const previous = new Map<string, string>();
  const held = new Map<string, string[]>(sorted.map((m) => [m.memberId, []]));
  const load = (id: string) => held.get(id)!.length;
  const take = (id: string, key: string) => {
    owner.set(key, id);
    held.get(id)!.push(key);
  };
  for (const [key, c] of claims) {
    previous.set(key, c.id);
    take(c.id, key);
  }
  const topics = [...new Set(sorted.flatMap((m) => m.topics))].filter((t) =>
    (partitionCounts.get(t) ?? 0) > 0
  )
    .sort();
  const eligible = new Map(topics.map((t) => [t, sorted.filter((m) => subs.get(m.memberId)!.has(t))]));
  const leastLoaded = (list: readonly MemberSubscription[]) => {
    let best = list[0].memberId;
    for (const m of list) if (load(m.memberId) < load(best)) best = m.memberId;
    return best;
  };
  let total = 0;
  for (const t of topics) {
    const n = partitionCounts.get(t)!;
    total += n;
    for (let p = 0; p < n; p++) {
      const key = `${t}\0${p}`;
      if (!owner.has(key)) take(leastLoaded(eligible.get(t)!), key);
    }
  }
  // Each move lowers the sum of squared loads, so this ends; the bound is a safety net.
  for (let moves = 0; moves <= total * sorted.length; moves++) {
    const byLoad = [...sorted].sort((a, b) =>
      load(b.memberId) - load(a.memberId) || order.get(a.memberId)! - order.get(b.memberId)!
    );
    let moved = false;
    for (const m of byLoad) {
      const mine = held.get(m.memberId)!;
      for (let i = mine.length - 1; i >= 0 && !moved; i--) {
        const key = mine[i];
        const to = leastLoaded(eligible.get(key.slice(0, key.indexOf("\0")))!);
        if (load(to) > load(m.memberId) - 2) continue;
        mine.splice(i, 1);
        take(to, key);
        moved = true;
      }
      if (moved) break;
    }
    if (!moved) break;
  }
  return { owner, previous };
}

/** Turns "topic\0partition" -> member into an assignment with partitions ascending. */
function planToAssignment(
  members: readonly MemberSubscription[],
  owner: ReadonlyMap<string, string>,
): GroupAssignment {
  const out = emptyAssignment(members);
  const keys = [...owner.keys()].map((k) => {
    const i = k.indexOf("\0");
    return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), key: k };
  }).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
  for (const k of keys) give(out, owner.get(k.key)!, k.topic, k.partition);
  return out;
}

/**
 * The "sticky" assignor (eager): balanced like round-robin, but each member
 * keeps as many of its previous partitions as balance allows. Members say
 * what they had in their subscription's userData (Java's StickyAssignor
 * layout), since an eager member owns nothing when it joins.
 *
 * @example
 * ```ts
 * import { stickyAssignor } from "./assignors.ts";
 * const members = ["a", "b"].map((memberId) => ({ memberId, groupInstanceId: null, topics: ["t"] }));
 * const plan = stickyAssignor.assign(members, new Map([["t", 4]]));
 * console.assert(plan.get("a")!.get("t")!.length === 2);
 * ```
 */
export const stickyAssignor: Assignor = {
  name: "sticky",
  rebalanceProtocol: "eager",
  subscriptionUserData: encodeStickyUserData,
  assign(members, partitionCounts) {
    return planToAssignment(members, stickyPlan(members, partitionCounts).owner);
  },
};

/**
 * The "cooperative-sticky" assignor (KIP-429): the sticky plan, except that a
 * partition moving from one member to another is left out of this round; its
 * owner sees it missing, revokes only it and joins again, and the next round
 * hands it on. Members keep consuming their other partitions throughout.
 *
 * @example
 * ```ts
 * import { cooperativeStickyAssignor } from "./assignors.ts";
 * const a = { memberId: "a", groupInstanceId: null, topics: ["t"], ownedPartitions: new Map([["t", [0, 1]]]) };
 * const b = { memberId: "b", groupInstanceId: null, topics: ["t"] };
 * const plan = cooperativeStickyAssignor.assign([a, b], new Map([["t", 2]]));
 * console.assert(plan.get("a")!.get("t")!.length === 1); // it keeps one...
 * console.assert(plan.get("b")!.size === 0); // ...and b gets the other once a has revoked it
 * ```
 */
export const cooperativeStickyAssignor: Assignor = {
  name: "cooperative-sticky",
  rebalanceProtocol: "cooperative",
  subscriptionUserData: (_assignment, generation) => encodeGenerationUserData(generation),
  assign(members, partitionCounts) {
    const { owner, previous } = stickyPlan(members, partitionCounts);
    for (const [key, was] of previous) {
      // Moving: its owner must revoke it first (KIP-429's second round assigns it).
      if (owner.get(key) !== was) owner.delete(key);
    }
    return planToAssignment(members, owner);
  },
};

/**
 * The assignors a member advertises by default, in order of preference: like
 * Java's, range first (eager) and cooperative-sticky second, so a Deno member
 * joins groups whose other members offer either.
 */
export const DEFAULT_ASSIGNORS: readonly Assignor[] = [rangeAssignor, cooperativeStickyAssignor];
