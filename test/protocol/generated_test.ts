/**
 * Conformance of the generated message codecs (protocol/messages/) with
 * Kafka's own schemas (../shared/kafka-protocol/4.3.1/messages):
 *
 * - the committed files are exactly what scripts/gen_protocol.ts generates;
 * - every generated API has the schema's key, version window, flexible
 *   boundary and unstable top version, and every broker-facing API is either
 *   generated or left out with a reason;
 * - for every request and response at every version, a populated instance
 *   (every field present at that version set to a non-default value, nested
 *   structs and arrays included) encodes to exactly the bytes a small schema
 *   interpreter in this test writes, and decodes back to the same object, whose
 *   keys are exactly the schema's fields; the same with every nullable field
 *   null, and with unknown tagged fields in flexible versions.
 *
 * Skipped, saying why, when ../shared is absent.
 */

import assert from "node:assert/strict";
import { GENERATED_APIS, type GeneratedApi, LEFT_OUT } from "../../protocol/messages/mod.ts";
import { Reader, Writer } from "../../protocol/primitives.ts";
import {
  codecName,
  EXCLUDED,
  fileName,
  generate,
  loadSchemas,
  OUT_DIR,
  parseRange,
  type Schema,
  selectApis,
} from "../../scripts/gen_protocol.ts";
import { flexFromOf, HAVE_SCHEMAS, Model, type Obj, SCHEMAS } from "./_schema_model.ts";

if (!HAVE_SCHEMAS) {
  console.log(
    `generated_test: skipped, ${SCHEMAS.pathname} is absent (the schemas the codecs are generated from)`,
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test({
  name: "generated codecs match Kafka 4.3.1's schemas",
  ignore: !HAVE_SCHEMAS,
  fn: async (t) => {
    const schemas = loadSchemas(SCHEMAS);
    const byName = new Map(schemas.map((s) => [s.name, s]));

    await t.step("the committed files are the generator's output (run `deno task gen`)", () => {
      const files = generate(schemas);
      const committed = [...Deno.readDirSync(OUT_DIR)]
        .filter((e) => e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_"))
        .map((e) => e.name).sort();
      assert.deepStrictEqual(committed, [...files.keys()].sort(), "the file set differs");
      for (const [name, text] of files) {
        const have = Deno.readTextFileSync(new URL(name, OUT_DIR));
        assert.ok(have === text, `protocol/messages/${name} differs from the generator's output`);
      }
    });

    await t.step("every broker API a client sends is generated; the rest are left out with a reason", () => {
      const { apis, left } = selectApis(schemas);
      assert.deepStrictEqual(GENERATED_APIS.map((c) => c.name), apis.map((a) => a.name));
      assert.deepStrictEqual(Object.keys(LEFT_OUT).sort(), left.map((l) => l.name).sort());
      for (const name of Object.keys(EXCLUDED)) {
        const req = byName.get(`${name}Request`);
        assert.ok(req?.listeners?.includes("broker"), `${name} is excluded but is no broker API`);
      }
      for (const s of schemas.filter((s) => s.type === "request")) {
        const name = s.name.replace(/Request$/, "");
        const generated = GENERATED_APIS.some((c) => c.name === name);
        assert.ok(generated !== (name in LEFT_OUT), `${name}: generated and left out, or neither`);
        if (s.listeners?.includes("broker") && parseRange(s.validVersions) !== null && !generated) {
          assert.ok(EXCLUDED[name], `${name} serves brokers but is neither generated nor excluded`);
        }
      }
      const keys = GENERATED_APIS.map((c) => c.apiKey);
      assert.deepStrictEqual(keys, [...keys].sort((a, b) => a - b));
      assert.equal(new Set(keys).size, keys.length);
      assert.ok(GENERATED_APIS.length >= 60, `only ${GENERATED_APIS.length} APIs`);
    });

    for (const codec of GENERATED_APIS) {
      await t.step(`${codec.name} (key ${codec.apiKey})`, () => {
        checkApi(codec, byName);
      });
    }
  },
});

function checkApi(codec: GeneratedApi<unknown, unknown>, byName: Map<string, Schema>): void {
  const req = byName.get(`${codec.name}Request`);
  const res = byName.get(`${codec.name}Response`);
  assert.ok(req && res, `no schemas for ${codec.name}`);
  assert.equal(codec.requestSpec, req.file);
  assert.equal(codec.responseSpec, res.file);
  assert.equal(fileName(codec.name).length > 3 && codecName(codec.name).length > 0, true);
  const unstable = req.latestVersionUnstable === true;
  for (const s of [req, res]) {
    assert.equal(codec.apiKey, s.apiKey, `${s.file}: apiKey`);
    const r = parseRange(s.validVersions)!;
    assert.equal(codec.minVersion, r.lo, `${s.file}: lowest version`);
    assert.equal(codec.latestVersion, r.hi, `${s.file}: latest version`);
    assert.equal(codec.latestVersionUnstable, unstable);
    assert.equal(codec.maxVersion, unstable ? r.hi - 1 : r.hi, `${s.file}: highest negotiable version`);
    assert.equal(codec.flexibleFrom, flexFromOf(s), `${s.file}: first flexible version`);
  }
  const range = { lo: codec.minVersion, hi: codec.latestVersion };
  for (
    const [schema, encode, decode] of [
      [req, codec.encodeRequest, codec.decodeRequest],
      [res, codec.encodeResponse, codec.decodeResponse],
    ] as const
  ) {
    const model = new Model(schema, range, flexFromOf(schema));
    for (let v = range.lo; v <= range.hi; v++) {
      const cases: [string, Obj][] = [
        ["populated", model.populate(schema.fields, v, "value", 0, false)],
        ["nullables null", model.populate(schema.fields, v, "null", 0, false)],
      ];
      if (v >= model.flexFrom) {
        cases.push(["unknown tags", model.populate(schema.fields, v, "value", 0, true)]);
      }
      for (const [label, value] of cases) {
        const where = `${schema.file} v${v} ${label}`;
        const want = new Writer();
        model.write(want, schema.fields, value, v);
        const wantBytes = want.finish().slice();
        const w = new Writer();
        encode.call(codec, w, value as never, v);
        const got = w.finish().slice();
        assert.ok(
          bytesEqual(got, wantBytes),
          `${where}: encoding differs from the schema's (${got.length}/${wantBytes.length} bytes)`,
        );
        const r = new Reader(got);
        const back = decode.call(codec, r, v) as Obj;
        r.done(where);
        assert.deepStrictEqual(back, value, `${where}: round trip`);
        model.checkKeys(schema.fields, back, where, v);
      }
    }
    // Outside the version window: refused both ways.
    assert.throws(() => encode.call(codec, new Writer(), {} as never, range.hi + 1), RangeError);
    assert.throws(() => decode.call(codec, new Reader(new Uint8Array(0)), range.lo - 1));
  }
}
