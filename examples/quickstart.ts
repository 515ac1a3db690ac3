// Produce a record and read it back. The README shows this file, and
// test/integration/readme_test.ts runs it, so the two cannot drift apart.
import { connect } from "../mod.ts";

const brokers = (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",");
await using client = await connect({ brokers, clientId: "quickstart" });

const topic = `quickstart-${crypto.randomUUID()}`;
await client.admin().createTopics([{ topic, partitions: 3 }]);

await using producer = client.producer({ compression: "lz4" });
const [meta] = await producer.send({
  topic,
  messages: [{ key: "user-1", value: JSON.stringify({ hello: "world" }), headers: { source: "quickstart" } }],
});
console.log(`wrote ${meta.topic}[${meta.partition}] at offset ${meta.offset}`);

await using consumer = client.consumer({
  groupId: `quickstart-${crypto.randomUUID()}`,
  topics: [topic],
  fromBeginning: true,
});
for await (const record of consumer) {
  console.log(`read ${record.key && new TextDecoder().decode(record.key)} ->`, record.json());
  await consumer.commit(record); // done with it: count it (the record in hand at `break` is not committed)
  break; // leaving the loop closes the consumer: it commits what was processed and leaves the group
}
await client.admin().deleteTopics([topic]);
