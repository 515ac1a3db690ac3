/**
 * The Admin API's ACL calls against a broker that enforces them (the secured
 * broker of scripts/kafka_secure.ts: StandardAuthorizer, super user
 * `User:ANONYMOUS` on the PLAINTEXT inter-broker listener). The admin is that
 * super user; the restricted principal is a SCRAM user made for this file,
 * logging in with SCRAM-SHA-512 on the SASL_PLAINTEXT listener. What the
 * client describes is checked against Kafka's own AclCommand on the same
 * broker. Every ACL made here is deleted at the end.
 */

import assert from "node:assert/strict";
import {
  type AclBinding,
  type AclFilter,
  type Admin,
  AuthorizationError,
  type Client,
  connect,
} from "../../mod.ts";
import { SECURE_HOST, SECURE_PORTS as P, startSecure } from "../../scripts/kafka_secure.ts";
import { requires, uniqueName } from "../_broker.ts";
import { javaTool } from "../_tools.ts";

/** Every test here needs the project's TLS/SASL broker: skipped elsewhere, saying why. */
const SKIP = requires("secure-broker");
if (!SKIP) await startSecure({ quiet: true });

const ACL_COMMAND = "org.apache.kafka.tools.AclCommand";
const SUPER = `${SECURE_HOST}:${P.internal}`;
const USER = uniqueName("acl-bob");
const PASSWORD = "bob-secret";
const PRINCIPAL = `User:${USER}`;

/** Bounded polling: ACLs and SCRAM credentials reach the broker through the metadata log. */
async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  let lastErr: unknown;
  for (let i = 0; i < 75; i++) {
    try {
      last = await f();
      if (ok(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not reached in 15 s (last: ${JSON.stringify(last)}, error: ${lastErr})`);
}

const byKey = (a: AclBinding, b: AclBinding) =>
  JSON.stringify(Object.entries(a)) < JSON.stringify(Object.entries(b)) ? -1 : 1;

async function superAdmin(): Promise<{ client: Client; admin: Admin }> {
  const client = await connect({ brokers: [SUPER] });
  return { client, admin: client.admin() };
}

/** The restricted user: made on first use, then logged in (retried while its credential propagates). */
async function bob(): Promise<Client> {
  return await until("SCRAM login of the restricted user", () =>
    connect({
      brokers: [`${SECURE_HOST}:${P.saslPlaintext}`],
      sasl: { mechanism: "SCRAM-SHA-512", username: USER, password: PASSWORD },
    }), () => true);
}

// One setup for the file: the SCRAM user, two topics (one denied to it), and a cluster
// ACL pair that keeps everyone else's cluster rights (an ALLOW for User:*) but denies it ALTER.
const deniedTopic = uniqueName("acl-denied");
const openTopic = uniqueName("acl-open");
const groupId = uniqueName("acl-group");
const clusterAcls = [
  { resourceType: "cluster", resourceName: "kafka-cluster", principal: "User:*", operation: "ALL" },
  {
    resourceType: "cluster",
    resourceName: "kafka-cluster",
    principal: PRINCIPAL,
    operation: "ALTER",
    permission: "deny",
  },
] as const;
if (!SKIP) {
  const { client, admin } = await superAdmin();
  try {
    const [made] = await admin.alterUserScramCredentials([
      { user: USER, mechanism: "SCRAM-SHA-512", password: PASSWORD, iterations: 4096 },
    ]);
    assert.equal(made.error, null);
    const created = await admin.createTopics([
      { topic: deniedTopic, partitions: 1, replicationFactor: 1 },
      { topic: openTopic, partitions: 1, replicationFactor: 1 },
    ]);
    assert.deepEqual(created.map((r) => r.error), [null, null]);
  } finally {
    await client.close();
  }
}

Deno.test(
  "admin ACLs against an authorizer: create, describe by filter (as AclCommand lists them), delete by filter",
  { ignore: SKIP || requires("java-tools") },
  async () => {
    const { client, admin } = await superAdmin();
    try {
      const acls = [
        {
          resourceType: "topic",
          resourceName: deniedTopic,
          principal: PRINCIPAL,
          operation: "READ",
          permission: "deny",
        },
        {
          resourceType: "topic",
          resourceName: deniedTopic,
          principal: PRINCIPAL,
          operation: "DESCRIBE",
          permission: "deny",
        },
        { resourceType: "group", resourceName: groupId, principal: PRINCIPAL, operation: "READ" },
      ] as const;
      const results = await admin.createAcls([...acls]);
      assert.deepEqual(results.map((r) => r.error), [null, null, null]);
      const expected: AclBinding[] = acls.map((a) => ({
        patternType: "literal",
        host: "*",
        permission: "allow",
        ...a,
      }));

      // Filters: by principal (all three), by topic (the two denials), by group and permission.
      const byPrincipal = await until(
        "describeAcls by principal",
        () => admin.describeAcls({ principal: PRINCIPAL }),
        (x) => x.length >= 3,
      );
      assert.deepEqual(byPrincipal.sort(byKey), [...expected].sort(byKey));
      assert.deepEqual(
        (await admin.describeAcls({ resourceType: "topic", resourceName: deniedTopic })).sort(byKey),
        expected.slice(0, 2).sort(byKey),
      );
      assert.deepEqual(
        await admin.describeAcls({ resourceType: "group", resourceName: groupId, permission: "allow" }),
        [expected[2]],
      );
      assert.deepEqual(
        await admin.describeAcls({ resourceType: "group", resourceName: groupId, permission: "deny" }),
        [],
      );

      // Kafka's own tool lists the same bindings on the same broker.
      const listed = await javaTool(ACL_COMMAND, [
        "--bootstrap-server",
        SUPER,
        "--list",
        "--principal",
        PRINCIPAL,
      ]);
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout.split("\n").filter((l) => l.includes(`principal=${PRINCIPAL}`)).sort();
      const tool = expected.map((a) =>
        `(principal=${a.principal}, host=${a.host}, operation=${a.operation}, permissionType=${a.permission.toUpperCase()})`
      ).sort();
      assert.deepEqual(lines.map((l) => l.trim()), tool, listed.stdout);
      assert.match(listed.stdout, new RegExp(`resourceType=TOPIC, name=${deniedTopic}, patternType=LITERAL`));
      assert.match(listed.stdout, new RegExp(`resourceType=GROUP, name=${groupId}, patternType=LITERAL`));

      // Delete by filter: each filter reports exactly what it removed.
      const filters: AclFilter[] = [
        { resourceType: "topic", resourceName: deniedTopic, principal: PRINCIPAL },
        { resourceType: "group", patternType: "literal", resourceName: groupId },
      ];
      const deleted = await admin.deleteAcls(filters);
      assert.deepEqual(deleted.map((d) => d.error), [null, null]);
      assert.deepEqual(deleted.map((d) => d.filter), filters);
      assert.deepEqual(deleted[0].deleted.sort(byKey), expected.slice(0, 2).sort(byKey));
      assert.deepEqual(deleted[1].deleted, [expected[2]]);
      await until(
        "describeAcls after deleteAcls",
        () => admin.describeAcls({ principal: PRINCIPAL }),
        (x) => x.length === 0,
      );
      const after = await javaTool(ACL_COMMAND, [
        "--bootstrap-server",
        SUPER,
        "--list",
        "--principal",
        PRINCIPAL,
      ]);
      assert.equal(after.code, 0, after.stderr);
      assert.doesNotMatch(after.stdout, new RegExp(`principal=${PRINCIPAL}`));
    } finally {
      await client.close();
    }
  },
);

Deno.test(
  "admin ACLs against an authorizer: a denied topic is a per-item AuthorizationError, the other topic is described",
  { ignore: SKIP },
  async () => {
    const { client, admin } = await superAdmin();
    const acl = {
      resourceType: "topic",
      resourceName: deniedTopic,
      principal: PRINCIPAL,
      operation: "DESCRIBE",
      permission: "deny",
    } as const;
    try {
      assert.deepEqual((await admin.createAcls([acl])).map((r) => r.error), [null]);
      await using restricted = await bob();
      const described = await until(
        "the DESCRIBE denial to take effect",
        () => restricted.admin().describeTopics([deniedTopic, openTopic]),
        (x) => x[0].error !== null,
      );
      const [denied, open] = described;
      assert.ok(denied.error instanceof AuthorizationError, String(denied.error));
      assert.equal(denied.error.type, "TOPIC_AUTHORIZATION_FAILED");
      assert.deepEqual(denied.error.resource, { type: "topic", name: deniedTopic });
      assert.match(denied.error.message, new RegExp(deniedTopic));
      assert.deepEqual(denied.partitions, []);
      assert.equal(open.error, null);
      assert.equal(open.name, openTopic);
      assert.equal(open.partitions.length, 1);
    } finally {
      await admin.deleteAcls([{ resourceType: "topic", resourceName: deniedTopic, principal: PRINCIPAL }]);
      await client.close();
    }
  },
);

Deno.test(
  "admin ACLs against an authorizer: createAcls by a user without ALTER on the cluster is a typed AuthorizationError",
  { ignore: SKIP },
  async () => {
    const { client, admin } = await superAdmin();
    try {
      assert.deepEqual((await admin.createAcls([...clusterAcls])).map((r) => r.error), [null, null]);
      await using restricted = await bob();
      // The broker refuses each creation: the error is per item (createAcls does not throw).
      const res = await until(
        "the cluster ALTER denial to take effect",
        () =>
          restricted.admin().createAcls([
            { resourceType: "topic", resourceName: openTopic, principal: PRINCIPAL, operation: "ALL" },
          ]),
        (x) => x[0].error !== null,
      );
      assert.equal(res.length, 1);
      const err = res[0].error;
      assert.ok(err instanceof AuthorizationError, String(err));
      assert.equal(err.type, "CLUSTER_AUTHORIZATION_FAILED");
      assert.equal(err.resource.type, "cluster");
      assert.equal(err.retriable, false);
      // Nothing was created.
      assert.deepEqual(await admin.describeAcls({ resourceType: "topic", resourceName: openTopic }), []);
    } finally {
      const cleanup = await admin.deleteAcls([
        { resourceType: "cluster", resourceName: "kafka-cluster", principal: "User:*" },
        { resourceType: "cluster", resourceName: "kafka-cluster", principal: PRINCIPAL },
        { resourceType: "topic", resourceName: openTopic },
      ]);
      assert.deepEqual(cleanup.map((d) => d.error), [null, null, null]);
      await admin.deleteTopics([deniedTopic, openTopic]);
      await admin.alterUserScramCredentials([{ user: USER, mechanism: "SCRAM-SHA-512", delete: true }]);
      await client.close();
    }
  },
);
