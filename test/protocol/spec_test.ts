/**
 * Conformance of the client's codec registry with Kafka's own message schemas
 * (../shared/kafka-protocol/4.3.1/messages): every codec's key, lowest version
 * and first flexible version, a highest version within the schema's stable
 * range, and a codec for every API the project implements. The generated
 * codecs themselves are checked field by field in generated_test.ts.
 */

import assert from "node:assert/strict";
import {
  API_CODECS,
  CONSUMER_PROTOCOL_MAX_VERSION,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "../../protocol/mod.ts";
import { HAVE_SHARED, SHARED_DIR } from "../_shared.ts";

/** The APIs the project implements (issue 3), by schema name. */
const IMPLEMENTED = [
  "ApiVersions",
  "Metadata",
  "Produce",
  "Fetch",
  "ListOffsets",
  "FindCoordinator",
  "JoinGroup",
  "SyncGroup",
  "Heartbeat",
  "LeaveGroup",
  "OffsetCommit",
  "OffsetFetch",
  "CreateTopics",
  "DeleteTopics",
  "InitProducerId",
  "DescribeGroups",
  "SaslHandshake",
  "SaslAuthenticate",
  "OffsetForLeaderEpoch",
];

interface Schema {
  file: string;
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
}

function loadSchemas(): Schema[] {
  const dir = new URL("kafka-protocol/4.3.1/messages/", SHARED_DIR);
  const out: Schema[] = [];
  const files = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".json"));
  for (const e of files) {
    const text = Deno.readTextFileSync(new URL(e.name, dir));
    const json = JSON.parse(text.split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n"));
    out.push({ file: e.name, ...json });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

function versionRange(s: Schema): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s.validVersions);
  assert.ok(m, `${s.file}: validVersions "${s.validVersions}" is not N or N-M`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function firstFlexible(s: Schema): number {
  if (s.flexibleVersions === "none") return Infinity;
  const m = /^(\d+)\+$/.exec(s.flexibleVersions);
  assert.ok(m, `${s.file}: flexibleVersions "${s.flexibleVersions}" is not "none" or "N+"`);
  return Number(m[1]);
}

Deno.test({
  name: "every codec matches Kafka's message schemas",
  ignore: !HAVE_SHARED,
  fn: async (t) => {
    const schemas = loadSchemas();
    assert.equal(schemas.length, 198, "the shared folder holds Kafka 4.3.1's 198 message files");
    const byName = new Map(schemas.map((s) => [s.name, s]));

    await t.step("the registry has one codec per API key, in key order", () => {
      const keys = API_CODECS.map((c) => c.apiKey);
      assert.equal(new Set(keys).size, keys.length, `duplicate API keys in ${keys}`);
      assert.deepStrictEqual(keys, [...keys].sort((a, b) => a - b));
      assert.equal(new Set(API_CODECS.map((c) => c.name)).size, API_CODECS.length);
    });

    for (const codec of API_CODECS) {
      await t.step(`${codec.name} (key ${codec.apiKey}): key, versions and flexibility`, () => {
        const req = byName.get(`${codec.name}Request`);
        const res = byName.get(`${codec.name}Response`);
        assert.ok(req && res, `no ${codec.name}Request.json / ${codec.name}Response.json`);
        assert.equal(req.type, "request");
        assert.equal(res.type, "response");
        const unstable = req.latestVersionUnstable === true;
        for (const s of [req, res]) {
          assert.equal(codec.apiKey, s.apiKey, `${s.file}: apiKey`);
          const [lo, hi] = versionRange(s);
          assert.equal(codec.minVersion, lo, `${s.file}: lowest version`);
          // The unstable top version of a request is not part of the released protocol; a codec may
          // stop below the top when a later version changes what the client must do (e.g. topic ids).
          assert.ok(codec.maxVersion <= (unstable ? hi - 1 : hi), `${s.file}: highest version`);
          assert.ok(codec.maxVersion >= lo, `${s.file}: highest version below the lowest`);
          assert.equal(codec.flexibleFrom, firstFlexible(s), `${s.file}: first flexible version`);
        }
      });
    }

    await t.step("every request/response API in the schema folder that we implement has a codec", () => {
      const apis = new Set(
        schemas.filter((s) => s.type === "request" || s.type === "response").map((s) =>
          s.name.replace(/(Request|Response)$/, "")
        ),
      );
      const have = new Set(API_CODECS.map((c) => c.name));
      for (const api of IMPLEMENTED) {
        assert.ok(apis.has(api), `${api} is not among the schema files`);
        assert.ok(have.has(api), `no codec for ${api}`);
      }
      assert.deepStrictEqual([...have].filter((a) => !IMPLEMENTED.includes(a)), []);
    });

    await t.step("the consumer protocol covers ConsumerProtocol data versions 0-3", () => {
      for (const name of ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"]) {
        const s = byName.get(name);
        assert.ok(s, `no ${name}.json`);
        assert.equal(s.type, "data");
        assert.deepStrictEqual(versionRange(s), [0, CONSUMER_PROTOCOL_MAX_VERSION]);
        assert.equal(firstFlexible(s), Infinity, `${name} is never flexible`);
      }
      for (let version = 0; version <= CONSUMER_PROTOCOL_MAX_VERSION; version++) {
        const sub = decodeConsumerSubscription(
          encodeConsumerSubscription({ version, topics: ["t"], generationId: 3, rackId: "r" }),
        );
        assert.equal(sub.version, version);
        assert.equal(sub.generationId, version >= 2 ? 3 : -1);
        assert.equal(sub.rackId, version >= 3 ? "r" : null);
        const a = decodeConsumerAssignment(
          encodeConsumerAssignment({ version, assignedPartitions: [{ topic: "t", partitions: [1] }] }),
        );
        assert.equal(a.version, version);
        assert.deepStrictEqual(a.assignedPartitions, [{ topic: "t", partitions: [1] }]);
      }
    });
  },
});

if (!HAVE_SHARED) {
  console.log("spec_test: skipped, ../shared/kafka-protocol is absent");
}
