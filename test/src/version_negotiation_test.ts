/**
 * Version negotiation over every generated API (issue 13): each negotiates
 * min(ours, the broker's) per connection; an unstable top version is never
 * offered; an API the broker does not offer, or whose ranges do not overlap,
 * fails with UnsupportedVersionError naming the API and both ranges.
 */

import assert from "node:assert/strict";
import { GENERATED_APIS } from "../../protocol/messages/mod.ts";
import { Connection } from "../../src/connection.ts";
import { UnsupportedVersionError } from "../../src/errors.ts";
import { apiVersionsReply, fakeBroker } from "../_fake_broker.ts";

Deno.test("every generated API negotiates min(ours, broker's) and refuses what the broker lacks", async () => {
  // The broker offers every generated API with a range shifted around ours, except the last one.
  const offered = GENERATED_APIS.slice(0, -1);
  const missing = GENERATED_APIS[GENERATED_APIS.length - 1];
  const ranges: [number, number, number][] = [[18, 0, 4]];
  for (const [i, c] of offered.entries()) {
    if (c.apiKey === 18) continue;
    // Alternately a broker newer than us (max + 3) and one older (max - 1, when that is still ours).
    const max = i % 2 === 0 ? c.latestVersion + 3 : Math.max(c.minVersion, c.maxVersion - 1);
    ranges.push([c.apiKey, c.minVersion, max]);
  }
  await using broker = fakeBroker((h) => h.apiKey === 18 ? apiVersionsReply(h, ranges) : null);
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    for (const c of offered) {
      const theirs = conn.brokerVersions.get(c.apiKey)!;
      const v = conn.versionFor(c);
      assert.equal(v, Math.min(theirs.max, c.maxVersion), c.name);
      if (c.latestVersionUnstable) {
        assert.ok(v < c.latestVersion, `${c.name}: negotiated its unstable version`);
      }
    }
    assert.throws(
      () => conn.versionFor(missing),
      (err: unknown) =>
        err instanceof UnsupportedVersionError && err.message.includes(missing.name) &&
        err.message.includes(`v${missing.minVersion}-${missing.maxVersion}`) &&
        /no versions/.test(err.message),
    );
  } finally {
    conn.close();
  }
});

Deno.test("an unstable top version is not negotiated even when the broker offers it", async () => {
  const unstable = GENERATED_APIS.filter((c) => c.latestVersionUnstable);
  assert.ok(unstable.length > 0, "Kafka 4.3.1 marks InitProducerId v6 unstable");
  const ranges: [number, number, number][] = [
    [18, 0, 4],
    ...unstable.map((c): [number, number, number] => [
      c.apiKey,
      c.minVersion,
      c.latestVersion,
    ]),
  ];
  await using broker = fakeBroker((h) => h.apiKey === 18 ? apiVersionsReply(h, ranges) : null);
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    for (const c of unstable) assert.equal(conn.versionFor(c), c.latestVersion - 1, c.name);
  } finally {
    conn.close();
  }
});

Deno.test("non-overlapping ranges name the API and both ranges", async () => {
  const c = GENERATED_APIS.find((c) => c.name === "DescribeCluster")!;
  await using broker = fakeBroker((h) =>
    h.apiKey === 18
      ? apiVersionsReply(h, [[18, 0, 4], [c.apiKey, c.latestVersion + 1, c.latestVersion + 5]])
      : null
  );
  const conn = await Connection.connect({ host: "127.0.0.1", port: broker.port });
  try {
    assert.throws(
      () => conn.versionFor(c),
      new RegExp(
        `DescribeCluster v${c.latestVersion + 1}-${
          c.latestVersion + 5
        }, we speak v${c.minVersion}-${c.maxVersion}`,
      ),
    );
  } finally {
    conn.close();
  }
});
