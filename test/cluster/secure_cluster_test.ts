// Issue 19, item 3: the 3-node cluster with TLS and SCRAM between clients and brokers (its SECURE
// listeners, SASL_SSL). The SCRAM user is created here with AlterUserScramCredentials over the
// PLAINTEXT inter-broker listener, so a cluster formatted before this listener existed works too.
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { Connection } from "../../src/connection.ts";
import { alterUserScramCredentials } from "../../protocol/messages/alter_user_scram_credentials.ts";
import type { ApiCodec } from "../../protocol/framing.ts";
import { uniqueName } from "../_broker.ts";
import { cluster, ensureHealthy, localCluster } from "./_cluster.ts";

const USER = "cluster-alice";
const PASSWORD = "cluster-alice-secret";
const ITERATIONS = 4096;

async function saltedPassword(
  hash: "SHA-256" | "SHA-512",
  salt: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(PASSWORD), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = hash === "SHA-256" ? 256 : 512;
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash, salt, iterations: ITERATIONS }, key, bits),
  );
}

/** Upserts the SCRAM-SHA-256 and -512 credentials of USER (mechanism 1 and 2 in the protocol). */
async function addScramUser(direct: string): Promise<void> {
  const [host, port] = direct.split(":");
  const conn = await Connection.connect({ host, port: Number(port) });
  try {
    // One request per mechanism: the broker refuses two changes to one user in a request.
    for (const [mechanism, hash] of [[1, "SHA-256"], [2, "SHA-512"]] as const) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const upsertion = {
        name: USER,
        mechanism,
        iterations: ITERATIONS,
        salt,
        saltedPassword: await saltedPassword(hash, salt),
      };
      const res = await conn.request(
        alterUserScramCredentials as unknown as ApiCodec<
          unknown,
          { results: { user: string; errorCode: number; errorMessage: string | null }[] }
        >,
        { deletions: [], upsertions: [upsertion] },
      );
      assert.deepEqual(res.results.map((r) => r.errorCode), [0], JSON.stringify(res.results));
    }
  } finally {
    conn.close();
  }
}

Deno.test("cluster: produce and consume over SASL_SSL with SCRAM on all three brokers", async () => {
  const env = localCluster();
  await ensureHealthy(env);
  await addScramUser(env.direct[0]);
  const ca = await Deno.readTextFile(`${cluster.clusterCertsDir()}/ca.pem`);
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    const opts = { tls: { ca }, sasl: { mechanism, username: USER, password: PASSWORD } };
    // The credential reaches every broker through the metadata log; a moment may pass, and not the
    // same moment on each: wait (bounded) until each broker takes it, since the client will log in
    // to all three (an authentication failure is final, not retried).
    for (const broker of cluster.secureBootstrap()) {
      for (let i = 0;; i++) {
        const ok = await connect({ brokers: [broker], ...opts }).then(async (c) => {
          await c.close();
          return true;
        }, async (e) => {
          if (i === 99) throw e;
          await new Promise((r) => setTimeout(r, 200));
          return false;
        });
        if (ok) break;
      }
    }
    await using c = await connect({ brokers: cluster.secureBootstrap(), ...opts });
    // Every broker is reached on its SECURE listener: the metadata names those ports only.
    assert.deepEqual(
      c.cluster.brokers.map((b) => b.port).sort(),
      cluster.NODE_IDS.map((id) => cluster.nodePorts(id).secure).sort(),
    );
    const topic = uniqueName("secure-cluster");
    await c.admin().createTopics([{ topic, partitions: 3, replicationFactor: 3 }]);
    await using producer = c.producer({ lingerMs: 0 });
    const sent = Array.from({ length: 9 }, (_, i) => `r${i}`);
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i}`, value })) });
    const consumer = c.consumer({
      groupId: uniqueName("secure-cluster"),
      topics: [topic],
      fromBeginning: true,
    });
    const got: string[] = [];
    const timer = setTimeout(() => consumer.close(), 60_000);
    try {
      for await (const r of consumer) {
        got.push(r.text()!);
        if (got.length === sent.length) break;
      }
    } finally {
      clearTimeout(timer);
      await consumer.close();
    }
    assert.deepEqual(got.sort(), sent.sort());
  }
});
