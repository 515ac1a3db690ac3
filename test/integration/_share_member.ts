/**
 * A share-group member in a child process, for the kill test:
 * `deno run -A _share_member.ts <brokers> <topic> <groupId> <count>`. It takes `count` records
 * in explicit mode, prints `r <offset> <deliveryCount>` for each, then `holding` and waits
 * (never acknowledging) until it is killed.
 *
 * @module
 */

import { connect } from "../../mod.ts";

if (import.meta.main) {
  const [brokers, topic, groupId, count] = Deno.args;
  const client = await connect({ brokers: brokers.split(","), clientId: "kafka-deno-share-member" });
  const queue = client.shareConsumer({
    groupId,
    topics: [topic],
    acknowledgementMode: "explicit",
    maxRecords: Number(count),
  });
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  let n = 0;
  for (let r = await queue.next(); !r.done; r = await queue.next()) {
    out(`r ${r.value.offset} ${r.value.deliveryCount}`);
    if (++n >= Number(count)) break;
  }
  out("holding");
  // Bounded: the parent kills this process long before.
  await new Promise((r) => setTimeout(r, 120_000));
}
