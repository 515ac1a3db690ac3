/**
 * Security and transaction admin against the plain broker: quotas and SCRAM
 * credentials (stored in KRaft metadata, no SASL listener needed), ACLs
 * (refused clearly: the test brokers run without an authorizer), and
 * transactions and producers.
 */
import assert from "node:assert/strict";
import { BrokerError, UnsupportedVersionError } from "../../mod.ts";
import { findCoordinator } from "../../protocol/apis/find_coordinator.ts";
import { initProducerId } from "../../protocol/apis/init_producer_id.ts";
import { produce } from "../../protocol/apis/produce.ts";
import { addPartitionsToTxn } from "../../protocol/messages/add_partitions_to_txn.ts";
import { encodeRecordBatch } from "../../protocol/record_batch.ts";
import { badAnswer, deviates, newTopic, notOffered, testClient, uniqueName } from "../_broker.ts";

Deno.test("admin: client quotas are set, described and removed per entity", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const user = uniqueName("quota-user");
  if (deviates("tansuNoClientQuotas")) {
    await assert.rejects(
      admin.alterClientQuotas([{ entity: { user }, ops: { producer_byte_rate: 1 } }]),
      notOffered("AlterClientQuotas"),
    );
    await assert.rejects(
      admin.describeClientQuotas([{ entityType: "user", match: user }]),
      notOffered("DescribeClientQuotas"),
    );
    return;
  }
  const set = await admin.alterClientQuotas([
    { entity: { user }, ops: { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 } },
    { entity: { "no-such-entity-type": "x" }, ops: { producer_byte_rate: 1 } },
  ]);
  assert.equal(set[0].error, null);
  if (deviates("kfakeQuotaEntity")) assert.equal(set[1].error, null);
  else assert.ok(set[1].error instanceof BrokerError);
  // The change reaches the brokers through the metadata log: wait (bounded) for it to show.
  let found = await admin.describeClientQuotas([{ entityType: "user", match: user }], { strict: true });
  for (let i = 0; i < 50 && found.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    found = await admin.describeClientQuotas([{ entityType: "user", match: user }], { strict: true });
  }
  assert.deepEqual(found, [{
    entity: { user },
    values: { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 },
  }]);
  await admin.alterClientQuotas([{
    entity: { user },
    ops: { producer_byte_rate: null, consumer_byte_rate: null },
  }]);
  let after = await admin.describeClientQuotas([{ entityType: "user", match: user }]);
  for (let i = 0; i < 50 && after.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = await admin.describeClientQuotas([{ entityType: "user", match: user }]);
  }
  assert.deepEqual(after, []);
});

Deno.test("admin: SCRAM credentials are created, described and deleted", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const user = uniqueName("scram-user");
  // Kafka refuses two changes to one user in one request (DUPLICATE_RESOURCE): one call each.
  const twice = await admin.alterUserScramCredentials([
    { user, mechanism: "SCRAM-SHA-256", password: "pw-256", iterations: 4096 },
    { user, mechanism: "SCRAM-SHA-512", password: "pw-512" },
  ]);
  if (deviates("tansuScram")) {
    assert.deepEqual(twice, [{ user, error: null }]);
    await assert.rejects(
      admin.describeUserScramCredentials([user]),
      badAnswer("DescribeUserScramCredentialsResponse.Results"),
    );
    return;
  }
  assert.equal(twice[0].error?.type, "DUPLICATE_RESOURCE");
  assert.deepEqual(
    await admin.alterUserScramCredentials([{
      user,
      mechanism: "SCRAM-SHA-256",
      password: "pw-256",
      iterations: 4096,
    }]),
    [{ user, error: null }],
  );
  assert.deepEqual(
    await admin.alterUserScramCredentials([{ user, mechanism: "SCRAM-SHA-512", password: "pw-512" }]),
    [
      { user, error: null },
    ],
  );
  let [d] = await admin.describeUserScramCredentials([user]);
  for (let i = 0; i < 50 && d.credentials.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 200));
    [d] = await admin.describeUserScramCredentials([user]);
  }
  assert.equal(d.error, null);
  assert.deepEqual(d.credentials.sort((a, b) => a.mechanism < b.mechanism ? -1 : 1), [
    { mechanism: "SCRAM-SHA-256", iterations: 4096 },
    { mechanism: "SCRAM-SHA-512", iterations: 8192 },
  ]);
  assert.ok((await admin.describeUserScramCredentials()).some((u) => u.user === user));
  await admin.alterUserScramCredentials([{ user, mechanism: "SCRAM-SHA-256", delete: true }]);
  await admin.alterUserScramCredentials([{ user, mechanism: "SCRAM-SHA-512", delete: true }]);
  let [gone] = await admin.describeUserScramCredentials([user]);
  for (let i = 0; i < 50 && !gone.error; i++) {
    await new Promise((r) => setTimeout(r, 200));
    [gone] = await admin.describeUserScramCredentials([user]);
  }
  assert.equal(gone.error?.type, "RESOURCE_NOT_FOUND");
  await assert.rejects(
    admin.alterUserScramCredentials([{ user, mechanism: "SCRAM-SHA-256", password: "x", iterations: 10 }]),
    RangeError,
  );
});

Deno.test("admin: ACL calls on a broker without an authorizer fail with SECURITY_DISABLED", async () => {
  await using client = await testClient();
  const admin = client.admin();
  if (deviates("tansuAcls")) {
    assert.deepEqual(await admin.describeAcls({ resourceType: "topic" }), []);
    await assert.rejects(
      admin.createAcls([{
        resourceType: "topic",
        resourceName: "t",
        principal: "User:alice",
        operation: "READ",
      }]),
      badAnswer("CreateAclsResponse.Results"),
    );
    await assert.rejects(
      admin.deleteAcls([{ resourceType: "topic", resourceName: "t" }]),
      notOffered("DeleteAcls"),
    );
    return;
  }
  if (deviates("kfakeAclsWithoutAuthorizer")) {
    assert.ok(Array.isArray(await admin.describeAcls({ resourceType: "topic" })));
  } else {
    await assert.rejects(
      admin.describeAcls({ resourceType: "topic" }),
      (e) => e instanceof BrokerError && e.type === "SECURITY_DISABLED",
    );
  }
  const [created] = await admin.createAcls([
    { resourceType: "topic", resourceName: "t", principal: "User:alice", operation: "READ" },
  ]);
  assert.equal(created.error?.type, deviates("kfakeAclsWithoutAuthorizer") ? undefined : "SECURITY_DISABLED");
  await assert.rejects(
    admin.createAcls([{ resourceType: "topic", resourceName: "t", principal: "User:a", operation: "SING" }]),
    TypeError,
  );
});

Deno.test("admin: transactions are listed and described on their coordinator; producers on the leader", async () => {
  await using client = await testClient();
  const admin = client.admin();
  if (deviates("tansuNoTransactionAdmin")) {
    await assert.rejects(admin.listTransactions(), notOffered("ListTransactions"));
    await assert.rejects(
      admin.describeTransactions([uniqueName("adm-txn")]),
      notOffered("DescribeTransactions"),
    );
    return;
  }
  const txnId = uniqueName("adm-txn");
  const topic = uniqueName("adm-prod");
  await admin.createTopics([{ topic, partitions: 1 }]);
  try {
    // Register a transactional id by hand, on its coordinator.
    // The first use creates __transaction_state; until its leaders are up the answer is a coordinator error.
    const any = await client.cluster.anyConnection();
    const batched = any.versionFor(findCoordinator) >= 4;
    const find = () =>
      any.request(
        findCoordinator,
        batched ? { keyType: 1, coordinatorKeys: [txnId] } : { key: txnId, keyType: 1 },
      );
    let found = await find();
    for (let i = 0; i < 100 && (batched ? found.coordinators[0].errorCode : found.errorCode) !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      found = await find();
    }
    const conn = await client.cluster.connectionTo(batched ? found.coordinators[0].nodeId : found.nodeId);
    let init = await conn.request(initProducerId, { transactionalId: txnId, transactionTimeoutMs: 30_000 });
    for (let i = 0; i < 100 && init.errorCode !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      init = await conn.request(initProducerId, { transactionalId: txnId, transactionTimeoutMs: 30_000 });
    }
    assert.equal(init.errorCode, 0);
    const listed = await admin.listTransactions();
    const mine = listed.find((t) => t.transactionalId === txnId);
    assert.equal(mine?.producerId, init.producerId);
    assert.equal(mine?.state, "Empty");
    assert.ok((await admin.listTransactions({ states: ["Empty"] })).some((t) => t.transactionalId === txnId));
    const [d, missing] = await admin.describeTransactions([txnId, uniqueName("adm-txn-none")]);
    assert.equal(d.error, null);
    assert.equal(d.state, "Empty");
    assert.equal(d.timeoutMs, 30_000);
    assert.equal(d.producerId, init.producerId);
    assert.equal(missing.error?.type, "TRANSACTIONAL_ID_NOT_FOUND");

    await using producer = client.producer();
    await producer.send({ topic, messages: [{ value: "x" }] });
    const [p] = await admin.describeProducers([{ topic, partitions: [0] }]);
    assert.equal(p.error, null);
    assert.ok(Array.isArray(p.producers));
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: a hanging transaction is found with describeProducers and aborted with abortTransaction", async () => {
  await using client = await testClient();
  const admin = client.admin();
  if (deviates("tansuNoTransactionAdmin")) {
    const topic = await newTopic(client, "adm-hang", 1);
    await assert.rejects(
      admin.describeProducers([{ topic, partitions: [0] }]),
      notOffered("DescribeProducers"),
    );
    return;
  }
  const txnId = uniqueName("adm-hang");
  const topic = uniqueName("adm-hang");
  await admin.createTopics([{ topic, partitions: 1 }]);
  try {
    // Open a transaction by hand: InitProducerId, AddPartitionsToTxn (client versions, <= 3), one
    // transactional batch; then never end it.
    const any = await client.cluster.anyConnection();
    const wait = async <T>(f: () => Promise<T>, ok: (t: T) => boolean): Promise<T> => {
      let v = await f();
      for (let i = 0; i < 100 && !ok(v); i++) {
        await new Promise((r) => setTimeout(r, 200));
        v = await f();
      }
      return v;
    };
    const batched = any.versionFor(findCoordinator) >= 4;
    const found = await wait(
      () =>
        any.request(
          findCoordinator,
          batched ? { keyType: 1, coordinatorKeys: [txnId] } : { key: txnId, keyType: 1 },
        ),
      (r) => (batched ? r.coordinators[0].errorCode : r.errorCode) === 0,
    );
    // The transaction API to the coordinator, the batch to the partition's leader.
    const conn = await client.cluster.connectionTo(batched ? found.coordinators[0].nodeId : found.nodeId);
    const leader = await client.cluster.connectionTo(
      (await client.cluster.readyTopic(topic)).partitions[0].leader,
    );
    const init = await wait(
      () => conn.request(initProducerId, { transactionalId: txnId, transactionTimeoutMs: 60_000 }),
      (r) => r.errorCode === 0,
    );
    const added = await conn.request(addPartitionsToTxn, {
      v3AndBelowTransactionalId: txnId,
      v3AndBelowProducerId: init.producerId,
      v3AndBelowProducerEpoch: init.producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions: [0] }],
    }, { version: Math.min(3, conn.versionFor(addPartitionsToTxn)) });
    assert.equal(added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 0);
    const batch = encodeRecordBatch([{ value: new TextEncoder().encode("hanging") }], {
      producerId: init.producerId,
      producerEpoch: init.producerEpoch,
      baseSequence: 0,
      transactional: true,
    });
    const produced = await leader.request(produce, {
      transactionalId: txnId,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    }, { version: Math.min(12, leader.versionFor(produce)) });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);

    const stable = async () =>
      (await admin.listOffsets([topic], { isolationLevel: "read_committed" }))[0].offset;
    assert.equal(await stable(), 0n, "the open transaction holds the last stable offset");
    const [p] = await admin.describeProducers([{ topic, partitions: [0] }]);
    const open = p.producers.find((x) => x.producerId === init.producerId)!;
    assert.equal(open.currentTransactionStartOffset, 0n);
    assert.ok(
      (await admin.listTransactions({ states: ["Ongoing"] })).some((t) => t.transactionalId === txnId),
    );

    await admin.abortTransaction({
      topic,
      partition: 0,
      producerId: open.producerId,
      producerEpoch: open.producerEpoch,
      coordinatorEpoch: open.coordinatorEpoch,
    });
    assert.equal(await stable(), 2n, "the abort marker released the last stable offset");
    const [after] = await admin.describeProducers([{ topic, partitions: [0] }]);
    assert.equal(
      after.producers.find((x) => x.producerId === init.producerId)?.currentTransactionStartOffset,
      deviates("kfakeAbortedTxnStart") ? 0n : -1n,
    );
  } finally {
    await admin.deleteTopics([topic]);
  }
});

Deno.test("admin: delegation tokens on a broker without token auth fail with the broker's error", async () => {
  await using client = await testClient();
  const admin = client.admin();
  const isTokenError = deviates("kfakeNoDelegationTokens") || deviates("tansuNoDelegationTokens")
    ? (e: unknown) => e instanceof UnsupportedVersionError && /DelegationToken/.test(e.message)
    : (e: unknown) =>
      e instanceof BrokerError && /DELEGATION_TOKEN_(AUTH_DISABLED|REQUEST_NOT_ALLOWED)/.test(e.type);
  await assert.rejects(admin.createDelegationToken({ renewers: ["User:bob"] }), isTokenError);
  await assert.rejects(admin.describeDelegationTokens(), isTokenError);
  await assert.rejects(admin.renewDelegationToken(new Uint8Array(8), 60_000), isTokenError);
  await assert.rejects(admin.expireDelegationToken(new Uint8Array(8), -1), isTokenError);
  await assert.rejects(admin.createDelegationToken({ renewers: ["bob"] }), TypeError);
});
