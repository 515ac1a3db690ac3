// Issue 11, item 5: admin requests that need the controller go to the node the metadata names as
// controller; when that node is gone (here: SIGKILLed just before), the admin refreshes metadata and
// retries on the one named next, within the operation's timeout.
import assert from "node:assert/strict";
import { uniqueName } from "../_broker.ts";
import { cluster, directClient, ensureHealthy, localCluster, result } from "./_cluster.ts";

Deno.test(
  "cluster: createTopics and deleteTopics succeed when the node the metadata names as controller was just killed",
  {
    sanitizeOps: false, // the killed broker's connections close on their own schedule
    sanitizeResources: false,
  },
  async () => {
    const env = localCluster();
    await ensureHealthy(env);
    const client = await directClient(env);
    let killed: number | null = null;
    try {
      await client.cluster.refreshMetadata();
      const named = client.cluster.controllerId;
      assert.ok(cluster.NODE_IDS.includes(named), `controller id ${named}`);
      // Open a connection to it first, so that the admin's first attempt really goes to a dead node.
      await client.cluster.controllerConnection();
      await cluster.killNode(named, "SIGKILL");
      killed = named;
      const topic = uniqueName("ctrl");
      const started = Date.now();
      const [r] = await client.admin().createTopics([{ topic, partitions: 2, replicationFactor: 2 }], {
        timeoutMs: 60_000,
      });
      const createMs = Date.now() - started;
      assert.equal(r.created, true);
      await client.admin().deleteTopics([topic], { timeoutMs: 60_000 });
      result({ scenario: "admin with the named controller killed", killed: named, createMs });
    } finally {
      await client.close();
      if (killed !== null) await cluster.startNode(killed);
    }
  },
);
