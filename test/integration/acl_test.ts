/**
 * ACL-denied operations on the secured broker (StandardAuthorizer, see
 * scripts/kafka_secure.ts) give typed authorization errors that name the
 * resource. The denied principal is `User:mallory` (an unsecured JWT on the
 * OAUTH listener); the ACLs are created over the PLAINTEXT inter-broker
 * listener, whose ANONYMOUS principal is a super user.
 */

import assert from "node:assert/strict";
import { AuthorizationError, connect } from "../../mod.ts";
import { Connection } from "../../src/connection.ts";
import { createAcls } from "../../protocol/messages/create_acls.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { SECURE_HOST, SECURE_PORTS as P, startSecure } from "../../scripts/kafka_secure.ts";
import { unsecuredJwt } from "../_oidc.ts";
import { requires, uniqueName } from "../_broker.ts";

/** Every test here needs the project's TLS/SASL broker: skipped elsewhere, saying why. */
const SKIP = requires("secure-broker");
if (!SKIP) await startSecure({ quiet: true });

const RESOURCE = { topic: 2, group: 3, transactionalId: 5 } as const;
const OP_ALL = 2;
const DENY = 2;
const LITERAL = 3;

/** Denies every operation on a resource to User:mallory. */
async function deny(resourceType: number, resourceName: string): Promise<void> {
  const conn = await Connection.connect({ host: SECURE_HOST, port: P.internal });
  try {
    const res = await conn.request(
      createAcls as unknown as ApiCodec<unknown, { results: { errorCode: number }[] }>,
      {
        creations: [{
          resourceType,
          resourceName,
          resourcePatternType: LITERAL,
          principal: "User:mallory",
          host: "*",
          operation: OP_ALL,
          permissionType: DENY,
        }],
      },
    );
    assert.deepEqual(res.results.map((r) => r.errorCode), [0]);
  } finally {
    conn.close();
  }
  // CreateAcls answers once the controller committed the ACL; the broker's authorizer applies it
  // from the metadata log a moment later. DescribeAcls answers from that authorizer: wait (bounded)
  // until it lists the denial, or a request made meanwhile would still be allowed.
  await using admin = await connect({ brokers: [`${SECURE_HOST}:${P.internal}`] });
  const deadline = Date.now() + 30_000;
  while ((await admin.admin().describeAcls({ resourceName, principal: "User:mallory" })).length === 0) {
    assert.ok(Date.now() < deadline, `the denial of ${resourceName} never reached the authorizer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function mallory() {
  return connect({
    brokers: [`${SECURE_HOST}:${P.oauth}`],
    sasl: { mechanism: "OAUTHBEARER", token: () => Promise.resolve(unsecuredJwt("mallory", 300)) },
  });
}

Deno.test("a topic ACL denial is an AuthorizationError naming the topic", { ignore: SKIP }, async () => {
  const topic = uniqueName("acl-topic");
  await deny(RESOURCE.topic, topic);
  await using client = await mallory();
  await using producer = client.producer({ lingerMs: 0, deliveryTimeoutMs: 5_000 });
  const err = await producer.send({ topic, messages: [{ value: "x" }] }).then(() => null, (e: Error) => e);
  assert.ok(err instanceof AuthorizationError, String(err));
  assert.equal(err.type, "TOPIC_AUTHORIZATION_FAILED");
  assert.deepEqual(err.resource, { type: "topic", name: topic });
  assert.match(err.message, new RegExp(topic));
  assert.equal(err.retriable, false);
});

Deno.test("a group ACL denial is an AuthorizationError naming the group", { ignore: SKIP }, async () => {
  const topic = uniqueName("acl-open");
  const groupId = uniqueName("acl-group");
  await deny(RESOURCE.group, groupId);
  await using client = await mallory();
  await client.admin().createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  await using producer = client.producer({ lingerMs: 0 });
  await producer.send({ topic, messages: [{ value: "x" }] });
  const consumer = client.consumer({ groupId, topics: [topic], fromBeginning: true });
  const timer = setTimeout(() => consumer.close(), 20_000);
  let err: Error | null = null;
  try {
    for await (const _ of consumer) break;
  } catch (e) {
    err = e as Error;
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  assert.ok(err instanceof AuthorizationError, String(err));
  assert.equal(err.type, "GROUP_AUTHORIZATION_FAILED");
  assert.deepEqual(err.resource, { type: "group", name: groupId });
  assert.match(err.message, new RegExp(groupId));
});

Deno.test(
  "a transactional id ACL denial is a fatal AuthorizationError naming the id",
  { ignore: SKIP },
  async () => {
    const transactionalId = uniqueName("acl-txn");
    await deny(RESOURCE.transactionalId, transactionalId);
    await using client = await mallory();
    await using producer = client.producer({ transactionalId, deliveryTimeoutMs: 10_000 });
    const err = await producer.initTransactions().then(() => null, (e: Error) => e);
    assert.ok(err instanceof AuthorizationError, String(err));
    assert.equal(err.type, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED");
    assert.deepEqual(err.resource, { type: "transactionalId", name: transactionalId });
    assert.match(err.message, new RegExp(transactionalId));
    assert.equal(producer.transactionState, "fatal");
    await assert.rejects(producer.beginTransaction(), AuthorizationError);
  },
);
