import assert from "node:assert/strict";
import { ERROR_TABLE, errorByCode, ErrorCode } from "../../protocol/error_codes.ts";
import { needsRefresh, parseErrorsTsv } from "../../scripts/gen_error_codes.ts";

const TSV = new URL("../../../shared/kafka-protocol/errors.tsv", import.meta.url);
let tsv: string | undefined;
try {
  tsv = await Deno.readTextFile(TSV);
} catch (err) {
  if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable)) throw err;
  console.log(`Skipping the errors.tsv comparison: ${TSV.pathname} is not readable (${(err as Error).name})`);
}

Deno.test({
  name: "ERROR_TABLE matches ../shared/kafka-protocol/errors.tsv row by row",
  ignore: tsv === undefined,
  fn() {
    const rows = parseErrorsTsv(tsv!);
    assert.equal(rows.length, 135);
    assert.equal(ERROR_TABLE.length, rows.length);
    rows.forEach((row, i) => {
      const e = ERROR_TABLE[i];
      assert.deepEqual(
        {
          code: e.code,
          name: e.name,
          retriable: e.retriable,
          refreshMetadata: e.refreshMetadata,
          message: e.message,
        },
        {
          code: row.code,
          name: row.name,
          retriable: row.retriable,
          refreshMetadata: needsRefresh(row),
          message: row.message,
        },
      );
      assert.equal(ErrorCode[row.name as keyof typeof ErrorCode], row.code);
    });
  },
});

Deno.test("errorByCode() classifies the codes a client acts on", async (t) => {
  await t.step("metadata-refresh codes", () => {
    for (
      const name of [
        "NOT_LEADER_OR_FOLLOWER",
        "UNKNOWN_TOPIC_OR_PARTITION",
        "LEADER_NOT_AVAILABLE",
        "NOT_COORDINATOR",
        "COORDINATOR_NOT_AVAILABLE",
        "FENCED_LEADER_EPOCH",
        "UNKNOWN_LEADER_EPOCH",
        "KAFKA_STORAGE_ERROR",
        "NOT_CONTROLLER",
        "UNKNOWN_TOPIC_ID",
      ] as const
    ) {
      const e = errorByCode(ErrorCode[name]);
      assert.equal(e.name, name);
      assert.ok(e.retriable && e.refreshMetadata, name);
    }
  });
  await t.step("retriable without refresh, and fatal", () => {
    assert.deepEqual(
      [
        errorByCode(ErrorCode.REQUEST_TIMED_OUT).retriable,
        errorByCode(ErrorCode.REQUEST_TIMED_OUT).refreshMetadata,
      ],
      [true, false],
    );
    assert.equal(errorByCode(ErrorCode.TOPIC_AUTHORIZATION_FAILED).retriable, false);
    assert.equal(errorByCode(ErrorCode.NONE).code, 0);
    assert.equal(errorByCode(-1).name, "UNKNOWN_SERVER_ERROR");
  });
  await t.step("unknown codes get a synthetic, non-retriable entry", () => {
    const e = errorByCode(4242);
    assert.deepEqual([e.code, e.name, e.retriable, e.refreshMetadata], [
      4242,
      "UNKNOWN_CODE_4242",
      false,
      false,
    ]);
  });
});
