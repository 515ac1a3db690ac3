// Leader epochs (KIP-320) against the real broker: records carry their batch's leader epoch, a commit
// stores the epoch of the last processed record (OffsetCommit's committedLeaderEpoch), and a member
// that resumes from it validates the committed offset (OffsetForLeaderEpoch) and reads on from there.
import assert from "node:assert/strict";
import { CoordinatorKeyType, findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { offsetFetch } from "../../protocol/apis/offset_fetch.ts";
import { BROKERS, deviates, testClient, uniqueName } from "../_broker.ts";
import { createTopic, produceNumbered, take } from "./_member.ts";

Deno.test("a commit carries the leader epoch of the last processed record, and a resuming member reads on from it", async () => {
  await using client = await testClient();
  const topic = uniqueName("epoch");
  const groupId = uniqueName("g-epoch");
  await createTopic(BROKERS, topic, 1);
  await produceNumbered(client, topic, 10, { partitions: 1 });
  const epoch = (await client.cluster.readyTopic(topic)).partitions[0].leaderEpoch;
  assert.ok(epoch >= 0, `leader epoch ${epoch}`);

  // Where the broker keeps the producer's -1 in its batches, the records (and so the commit) carry -1.
  const recordEpoch = deviates("tansuBatchLeaderEpoch") ? -1 : epoch;
  const opts = { groupId, topics: [topic], fromBeginning: true, autoCommit: false };
  {
    await using consumer = client.consumer(opts);
    const it = consumer[Symbol.asyncIterator]();
    const got = await take(it, 6, 60_000);
    assert.deepStrictEqual(got.map((r) => r.leaderEpoch), got.map(() => recordEpoch));
    await it.next(); // the 7th record: the 6 before it are processed
    await consumer.commit();
  }

  // What the broker stored: offset 6 (or 7, with the record in hand), with the records' epoch.
  const conn0 = await client.cluster.anyConnection();
  const byList = conn0.versionFor(findCoordinator) >= 4;
  const fc = await conn0.request(
    findCoordinator,
    byList
      ? { keyType: CoordinatorKeyType.GROUP, coordinatorKeys: [groupId] }
      : { keyType: CoordinatorKeyType.GROUP, key: groupId },
  );
  const nodeId = byList ? fc.coordinators[0].nodeId : fc.nodeId;
  const conn = await client.cluster.connectionTo(nodeId);
  const batched = conn.versionFor(offsetFetch) >= 8;
  const tps = [{ name: topic, partitionIndexes: [0] }];
  const res = await conn.request(
    offsetFetch,
    batched
      ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: tps }] }
      : { groupId, topics: tps },
  );
  const p = (batched ? res.groups[0].topics : res.topics)[0].partitions[0];
  assert.equal(p.errorCode, 0);
  assert.ok(p.committedOffset >= 6n, `committed ${p.committedOffset}`);
  assert.equal(p.committedLeaderEpoch, recordEpoch);

  // A member of the same group resumes at the committed offset (validated against the leader first).
  await using again = client.consumer(opts);
  const [next] = await take(again[Symbol.asyncIterator](), 1, 60_000);
  assert.equal(next.offset, p.committedOffset);
});
