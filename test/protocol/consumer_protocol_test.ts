import assert from "node:assert/strict";
import {
  CONSUMER_PROTOCOL_MAX_VERSION,
  CONSUMER_PROTOCOL_TYPE,
  type ConsumerProtocolAssignment,
  type ConsumerProtocolSubscription,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from "../../protocol/apis/consumer_protocol.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { HAVE_SHARED, sharedSchema } from "../_shared.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

function subscription(v: number): ConsumerProtocolSubscription {
  return {
    version: v,
    topics: ["orders", "payments"],
    userData: bytes(1, 2, 3),
    ownedPartitions: v >= 1
      ? [{ topic: "orders", partitions: [0, 2] }, { topic: "payments", partitions: [] }]
      : [],
    generationId: v >= 2 ? 12 : -1,
    rackId: v >= 3 ? "rack-a" : null,
  };
}

function assignment(v: number): ConsumerProtocolAssignment {
  return {
    version: v,
    assignedPartitions: [{ topic: "orders", partitions: [1, 3, 5] }, { topic: "payments", partitions: [0] }],
    userData: v % 2 === 0 ? null : bytes(9),
  };
}

function assertEveryPrefixFails(encoded: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < encoded.length; n++) {
    assert.throws(() => decode(encoded.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
}

Deno.test("consumer protocol", async (t) => {
  await t.step("names the protocol type and the highest version", () => {
    assert.equal(CONSUMER_PROTOCOL_TYPE, "consumer");
    assert.equal(CONSUMER_PROTOCOL_MAX_VERSION, 3);
  });

  for (let v = 0; v <= CONSUMER_PROTOCOL_MAX_VERSION; v++) {
    await t.step(`round-trips a full subscription and assignment at v${v}`, () => {
      assert.deepStrictEqual(
        decodeConsumerSubscription(encodeConsumerSubscription(subscription(v))),
        subscription(v),
      );
      assert.deepStrictEqual(
        decodeConsumerAssignment(encodeConsumerAssignment(assignment(v))),
        assignment(v),
      );
    });

    await t.step(`rejects truncated bytes at v${v}`, () => {
      assertEveryPrefixFails(encodeConsumerSubscription(subscription(v)), decodeConsumerSubscription);
      assertEveryPrefixFails(encodeConsumerAssignment(assignment(v)), decodeConsumerAssignment);
    });
  }

  await t.step("encodes the highest version by default and fills defaults on decode", () => {
    const sub = decodeConsumerSubscription(encodeConsumerSubscription({ topics: ["t"] }));
    assert.deepStrictEqual(sub, {
      version: 3,
      topics: ["t"],
      userData: null,
      ownedPartitions: [],
      generationId: -1,
      rackId: null,
    });
    const a = decodeConsumerAssignment(encodeConsumerAssignment({ assignedPartitions: [] }));
    assert.deepStrictEqual(a, { version: 3, assignedPartitions: [], userData: null });
  });

  await t.step("drops fields the chosen version lacks", () => {
    const v0 = encodeConsumerSubscription({ ...subscription(3), version: 0 });
    assert.deepStrictEqual(decodeConsumerSubscription(v0), subscription(0));
  });

  await t.step("reads a higher version with the v3 layout and ignores trailing bytes", () => {
    const sub = encodeConsumerSubscription(subscription(3));
    const v4 = bytes(0, 4, ...sub.subarray(2), 0xde, 0xad, 0xbe, 0xef);
    assert.deepStrictEqual(decodeConsumerSubscription(v4), { ...subscription(3), version: 4 });
    const asg = encodeConsumerAssignment(assignment(3));
    const v9 = bytes(0, 9, ...asg.subarray(2), 0, 0, 0, 7, 1);
    assert.deepStrictEqual(decodeConsumerAssignment(v9), { ...assignment(3), version: 9 });
  });

  await t.step("refuses a negative version and encoding an unknown version", () => {
    assert.throws(
      () => decodeConsumerSubscription(bytes(0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)),
      ProtocolError,
    );
    assert.throws(
      () => decodeConsumerAssignment(bytes(0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)),
      ProtocolError,
    );
    assert.throws(() => encodeConsumerSubscription({ version: 4, topics: [] }), RangeError);
    assert.throws(() => encodeConsumerAssignment({ version: -1, assignedPartitions: [] }), RangeError);
  });

  await t.step("decodes user data as a view into the input", () => {
    const encoded = encodeConsumerSubscription(subscription(1));
    assert.strictEqual(decodeConsumerSubscription(encoded).userData?.buffer, encoded.buffer);
  });

  await t.step("matches hand-derived bytes", () => {
    // Subscription v0: int16 version 0, array of one string "t", null bytes.
    const sub = bytes(0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff);
    assert.deepStrictEqual(encodeConsumerSubscription({ version: 0, topics: ["t"] }), sub);
    // v3 appends: empty owned partitions (int32 0), generation id int32 -1, null rack (int16 -1).
    const sub3 = bytes(0, 3, ...sub.subarray(2), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    assert.deepStrictEqual(encodeConsumerSubscription({ topics: ["t"] }), sub3);
    // Assignment v1: int16 version 1, array of one {string "t", array [0, 1]}, bytes [7].
    const asg = bytes(0, 1, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 7);
    const value = {
      version: 1,
      assignedPartitions: [{ topic: "t", partitions: [0, 1] }],
      userData: bytes(7),
    };
    assert.deepStrictEqual(encodeConsumerAssignment(value), asg);
    assert.deepStrictEqual(decodeConsumerAssignment(asg), value);
  });
});

Deno.test({
  name: "consumer protocol matches the versions in Kafka's schema files",
  ignore: !HAVE_SHARED,
  fn() {
    for (const file of ["ConsumerProtocolSubscription.json", "ConsumerProtocolAssignment.json"]) {
      const s = sharedSchema(file);
      assert.equal(s.validVersions, `0-${CONSUMER_PROTOCOL_MAX_VERSION}`);
      assert.equal(s.flexibleVersions, "none");
    }
  },
});
