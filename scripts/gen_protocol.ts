/**
 * Generates the message codecs in protocol/messages/ from Kafka's own JSON
 * schemas (../shared/kafka-protocol/4.3.1/messages): `deno task gen`.
 *
 * One file per API, holding the request and response types with every field at
 * every version and straight-line encoders and decoders (no schema is read at
 * run time). Every API whose `listeners` include `broker` and that a client
 * sends is generated; {@linkcode EXCLUDED} lists the broker-facing APIs left
 * out, with the reason. Record batches (`records` fields) stay raw bytes.
 *
 * `generate()` is pure (schemas in, file texts out) so the up-to-date test can
 * compare its output with the committed files.
 *
 * @module
 */

/** The Kafka release whose schemas are read. */
export const KAFKA_VERSION = "4.3.1";

/** The schema folder, relative to the repository root. */
export const SCHEMA_DIR: URL = new URL(
  `../../shared/kafka-protocol/${KAFKA_VERSION}/messages/`,
  import.meta.url,
);

/** The output folder. */
export const OUT_DIR: URL = new URL("../protocol/messages/", import.meta.url);

/** Broker-facing APIs that a client does not send, and why they are left out. */
export const EXCLUDED: Readonly<Record<string, string>> = {
  UnregisterBroker: "decommissions a broker in the controller quorum; an operator action, not a client's",
  InitializeShareGroupState:
    "share-group state API: brokers to the share coordinator (KIP-932), broker to broker",
  ReadShareGroupState: "share-group state API: brokers to the share coordinator (KIP-932), broker to broker",
  WriteShareGroupState: "share-group state API: brokers to the share coordinator (KIP-932), broker to broker",
  DeleteShareGroupState:
    "share-group state API: brokers to the share coordinator (KIP-932), broker to broker",
  ReadShareGroupStateSummary:
    "share-group state API: brokers to the share coordinator (KIP-932), broker to broker",
};

/**
 * Non-nullable response arrays (and bytes) that a Kafka-compatible broker sends
 * as null where the only possible meaning is "none": they decode null as empty. The
 * key is `<struct>.<field>` as in the schema; the value says which broker and
 * why the reading is unambiguous (README, "Compatibility"). Any other null in a
 * non-nullable array is a ProtocolError naming the field.
 */
export const NULL_AS_EMPTY: Readonly<Record<string, string>> = {
  "ShareFetchResponsePartitionData.Records":
    "franz-go's kfake answers ShareFetch v1+ for a partition without records (e.g. acknowledgements only) " +
    "with null records; no records is the only reading",
  "OffsetFetchResponse.Topics":
    "tansu 0.6 answers OffsetFetch v7 for a group without committed offsets with a null topic list; " +
    "no topics with committed offsets is the only reading (an error would be in ErrorCode)",
};

const NULL_AS_EMPTY_USED = new Set<string>();

// ---------------------------------------------------------------------------------------------
// Schemas

/** A field as written in a schema file. */
export interface SchemaField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  fields?: SchemaField[];
}

/** A struct declared in `commonStructs`. */
export interface SchemaStruct {
  name: string;
  versions: string;
  fields: SchemaField[];
}

/** A message schema file. */
export interface Schema {
  file: string;
  apiKey?: number;
  type: string;
  name: string;
  listeners?: string[];
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: SchemaField[];
  commonStructs?: SchemaStruct[];
}

/** Parses one schema file (JSON with whole-line `//` comments). */
export function parseSchema(file: string, text: string): Schema {
  const json = JSON.parse(text.split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n"));
  return { file, ...json };
}

/** Reads every schema file of a folder, by file name. */
export function loadSchemas(dir: URL = SCHEMA_DIR): Schema[] {
  const out: Schema[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    out.push(parseSchema(e.name, Deno.readTextFileSync(new URL(e.name, dir))));
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** An inclusive version range; `hi` is Infinity for "N+"; null for "none". */
export type Range = { lo: number; hi: number } | null;

/** Parses "N", "N-M", "N+" or "none". */
export function parseRange(s: string | undefined): Range {
  if (s === undefined || s === "none") return null;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { lo: Number(m[1]), hi: Infinity };
  m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new Error(`Bad version range "${s}"`);
  return { lo: Number(m[1]), hi: Number(m[2] ?? m[1]) };
}

function intersect(a: Range, b: Range): Range {
  if (!a || !b) return null;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo <= hi ? { lo, hi } : null;
}

function showRange(r: Range): string {
  if (!r) return "none";
  if (r.hi === Infinity) return `${r.lo}+`;
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`;
}

/** The API name of a request or response schema ("ProduceRequest" -> "Produce"). */
export function apiName(s: Schema): string {
  return s.name.replace(/(Request|Response)$/, "");
}

/** One API to generate: its request and response schemas. */
export interface ApiSchemas {
  name: string;
  apiKey: number;
  request: Schema;
  response: Schema;
}

/** The APIs to generate, and every request schema left out with the reason. */
export function selectApis(schemas: Schema[]): { apis: ApiSchemas[]; left: { name: string; why: string }[] } {
  const apis: ApiSchemas[] = [];
  const left: { name: string; why: string }[] = [];
  const byName = new Map(schemas.map((s) => [s.name, s]));
  for (const req of schemas.filter((s) => s.type === "request")) {
    const name = apiName(req);
    if (parseRange(req.validVersions) === null) {
      left.push({ name, why: "removed from Kafka: no valid versions" });
    } else if (!(req.listeners ?? []).includes("broker")) {
      left.push({ name, why: `served only by ${(req.listeners ?? []).join(", ")}, never by a broker` });
    } else if (EXCLUDED[name]) {
      left.push({ name, why: EXCLUDED[name] });
    } else {
      const res = byName.get(`${name}Response`);
      if (!res) throw new Error(`${req.file}: no ${name}Response.json`);
      apis.push({ name, apiKey: req.apiKey!, request: req, response: res });
    }
  }
  apis.sort((a, b) => a.apiKey - b.apiKey);
  return { apis, left };
}

// ---------------------------------------------------------------------------------------------
// The model

type Prim =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "int64"
  | "float64"
  | "string"
  | "bytes"
  | "records"
  | "uuid";
const PRIMS = new Set([
  "bool",
  "int8",
  "int16",
  "uint16",
  "int32",
  "int64",
  "float64",
  "string",
  "bytes",
  "records",
  "uuid",
]);

interface Struct {
  ts: string;
  spec: string;
  file: string;
  range: { lo: number; hi: number };
  fields: Field[];
  request: boolean;
}

interface Field {
  spec: SchemaField;
  prop: string;
  array: boolean;
  prim?: Prim;
  struct?: Struct;
  versions: { lo: number; hi: number };
  nullable: Range;
  tagged: Range;
  tag?: number;
  optional: boolean;
}

function lowerCamel(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

class MessageModel {
  readonly structs: Struct[] = [];
  readonly top: Struct;
  readonly #common = new Map<string, SchemaStruct>();
  readonly #byName = new Map<string, Struct>();

  constructor(readonly schema: Schema, readonly range: { lo: number; hi: number }) {
    for (const c of schema.commonStructs ?? []) this.#common.set(c.name, c);
    this.top = this.#struct(schema.name, schema.name, schema.fields, range);
  }

  #struct(ts: string, spec: string, fields: SchemaField[], range: { lo: number; hi: number }): Struct {
    const s: Struct = {
      ts,
      spec,
      file: this.schema.file,
      range,
      fields: [],
      request: this.schema.type === "request",
    };
    this.structs.push(s);
    for (const f of fields) {
      if (f.flexibleVersions !== undefined) {
        throw new Error(`${this.schema.file}: ${f.name} overrides flexibleVersions`);
      }
      const versions = intersect(parseRange(f.versions), range);
      if (!versions) continue; // never on the wire in the versions we generate
      const array = f.type.startsWith("[]");
      const t = array ? f.type.slice(2) : f.type;
      const field: Field = {
        spec: f,
        prop: lowerCamel(f.name),
        array,
        versions,
        nullable: intersect(parseRange(f.nullableVersions), versions),
        tagged: intersect(parseRange(f.taggedVersions), versions),
        tag: f.tag,
        optional: false,
      };
      if (PRIMS.has(t)) {
        field.prim = t as Prim;
      } else {
        field.struct = this.#structFor(t, f, versions);
      }
      if ((f.taggedVersions === undefined) !== (f.tag === undefined)) {
        throw new Error(`${this.schema.file}: ${f.name} has a tag without taggedVersions or the reverse`);
      }
      const impliedNull = f.default === undefined && field.nullable !== null &&
        (t === "string" || t === "bytes") &&
        !array;
      // Request fields a caller may leave out: those with a default, those some version lacks, and
      // UUIDs (the zero UUID means "no id").
      field.optional = s.request &&
        (f.default !== undefined || impliedNull || t === "uuid" || versions.lo > range.lo ||
          versions.hi < range.hi ||
          field.tagged !== null);
      s.fields.push(field);
    }
    return s;
  }

  #structFor(t: string, f: SchemaField, versions: { lo: number; hi: number }): Struct {
    // Prefixed with the message name, unless the schema already did (SyncGroupRequestAssignment).
    const ts = t.startsWith(this.schema.name) ? t : `${this.schema.name}${t}`;
    if (f.fields) {
      if (this.#byName.has(t)) throw new Error(`${this.schema.file}: struct ${t} declared twice`);
      const s = this.#struct(ts, t, f.fields, versions);
      this.#byName.set(t, s);
      return s;
    }
    const known = this.#byName.get(t);
    if (known) return known;
    const c = this.#common.get(t);
    if (!c) throw new Error(`${this.schema.file}: unknown type ${t} of ${f.name}`);
    // A common struct may be used in several places: it is generated for the message's versions.
    const placeholder = this.#struct(ts, t, c.fields, this.range);
    this.#byName.set(t, placeholder);
    return placeholder;
  }
}

// ---------------------------------------------------------------------------------------------
// Code generation

class Code {
  readonly lines: string[] = [];
  #indent = 0;
  line(s = ""): this {
    this.lines.push(s === "" ? "" : "  ".repeat(this.#indent) + s);
    return this;
  }
  open(s: string): this {
    this.line(s);
    this.#indent++;
    return this;
  }
  close(s = "}"): this {
    this.#indent--;
    return this.line(s);
  }
  toString(): string {
    return this.lines.join("\n");
  }
}

const NUM_TS: Record<Prim, string> = {
  bool: "boolean",
  int8: "number",
  int16: "number",
  uint16: "number",
  int32: "number",
  int64: "bigint",
  float64: "number",
  string: "string",
  bytes: "Uint8Array",
  records: "Uint8Array",
  uuid: "string",
};

const READ: Record<string, string> = {
  bool: "boolean",
  int8: "int8",
  int16: "int16",
  uint16: "uint16",
  int32: "int32",
  int64: "int64",
  float64: "float64",
  uuid: "uuid",
};

interface Ctx {
  api: string;
  imports: Set<string>;
  runtime: Set<string>;
  defaults: Set<Struct>;
  isDefault: Set<Struct>;
}

function elemTs(f: Field): string {
  return f.struct ? f.struct.ts : NUM_TS[f.prim!];
}

function fieldTs(f: Field): string {
  const base = f.array ? `${elemTs(f)}[]` : elemTs(f);
  return f.nullable ? `${base} | null` : base;
}

/** The default value of a field, as a TS expression. */
function defaultExpr(f: Field, ctx: Ctx): string {
  const d = f.spec.default;
  // A nullable string or bytes field without a default defaults to null (Kafka's Java classes use
  // ""), so that a field a version lacks reads as absent rather than as an empty value.
  const isNull = d === "null" ||
    (d === undefined && f.nullable !== null && (f.prim === "string" || f.prim === "bytes"));
  if (isNull && !f.nullable) {
    // Kafka allows a null default only on a field nullable in some version; keep the type honest.
    throw new Error(`${f.struct?.file ?? ""} ${f.spec.name}: null default on a non-nullable field`);
  }
  if (f.array) return isNull ? "null" : "[]";
  if (f.struct) {
    if (isNull) return "null";
    ctx.defaults.add(f.struct);
    return `default${f.struct.ts}()`;
  }
  switch (f.prim!) {
    case "bool":
      return d === undefined ? "false" : String(d === true || d === "true");
    case "int8":
    case "int16":
    case "uint16":
    case "int32":
    case "float64":
      return d === undefined || d === "" ? "0" : String(Number(d));
    case "int64":
      return d === undefined || d === "" ? "0n" : `${BigInt(d)}n`;
    case "string":
      return isNull ? "null" : JSON.stringify(d === undefined ? "" : String(d));
    case "uuid":
      ctx.imports.add("ZERO_UUID");
      return "ZERO_UUID";
    case "bytes":
      if (isNull) return "null";
      ctx.runtime.add("EMPTY_BYTES");
      return "EMPTY_BYTES";
    case "records":
      if (f.nullable) return "null";
      ctx.runtime.add("EMPTY_BYTES");
      return "EMPTY_BYTES";
  }
}

/** A TS expression that is true when `v` differs from the field's default. */
function nonDefault(f: Field, v: string, ctx: Ctx): string {
  const d = defaultExpr(f, ctx);
  if (d === "null") return `${v} !== null`;
  if (f.array || d === "EMPTY_BYTES") {
    return f.nullable ? `(${v} === null || ${v}.length > 0)` : `${v}.length > 0`;
  }
  if (f.struct) {
    ctx.isDefault.add(f.struct);
    return f.nullable
      ? `(${v} === null || !isDefault${f.struct.ts}(${v}))`
      : `!isDefault${f.struct.ts}(${v})`;
  }
  return `${v} !== ${d}`;
}

/** A condition on `version` for a range inside `within`; "" when always true. */
function versionCond(r: { lo: number; hi: number }, within: { lo: number; hi: number }): string {
  const parts: string[] = [];
  if (r.lo > within.lo) parts.push(`version >= ${r.lo}`);
  if (r.hi < within.hi) parts.push(`version <= ${r.hi}`);
  return parts.join(" && ");
}

/** How a struct's functions test flexibility: "flex", or a constant. */
function flexOf(s: Struct, flexFrom: number): "flex" | "true" | "false" {
  if (s.range.lo >= flexFrom) return "true";
  if (s.range.hi < flexFrom) return "false";
  return "flex";
}

function pick(flex: string, yes: string, no: string): string {
  if (flex === "true") return yes;
  if (flex === "false") return no;
  return `(flex ? ${yes} : ${no})`;
}

function pickStmt(flex: string, yes: string, no: string): string {
  if (flex === "true") return `${yes};`;
  if (flex === "false") return `${no};`;
  return `if (flex) ${yes};\n else ${no};`;
}

class Gen {
  readonly ctx: Ctx;
  readonly code = new Code();
  #n = 0;

  constructor(readonly api: ApiSchemas, readonly flexFrom: number) {
    this.ctx = {
      api: api.name,
      imports: new Set(),
      runtime: new Set(),
      defaults: new Set(),
      isDefault: new Set(),
    };
  }

  tmp(p: string): string {
    return `${p}${this.#n++}`;
  }

  /** Statements writing one element / value of a field (not arrays' lengths). */
  writeValue(
    c: Code,
    f: Field,
    v: string,
    w: string,
    flex: string,
    within: { lo: number; hi: number },
  ): void {
    if (f.struct) {
      if (f.nullable) {
        const x = this.tmp("s");
        c.line(`const ${x} = ${v};`);
        c.line(`if (${x} === null) ${w}.int8(-1);`);
        c.line(`else encode${f.struct.ts}(${w}.int8(1), ${x}, version);`);
      } else c.line(`encode${f.struct.ts}(${w}, ${v}, version);`);
      return;
    }
    const p = f.prim!;
    if (READ[p]) {
      c.line(`${w}.${READ[p]}(${v});`);
      return;
    }
    const [compact, classic] = p === "string" ? ["compactString", "string"] : ["compactBytes", "bytes"];
    const [cn, cln] = p === "string"
      ? ["compactNullableString", "nullableString"]
      : ["compactNullableBytes", "nullableBytes"];
    const nullCond = f.nullable && !f.array ? versionCond(f.nullable, within) : null;
    if (f.array || !f.nullable) {
      for (const s of pickStmt(flex, `${w}.${compact}(${v})`, `${w}.${classic}(${v})`).split("\n")) {
        c.line(s.trim());
      }
    } else if (nullCond === "") {
      for (const s of pickStmt(flex, `${w}.${cn}(${v})`, `${w}.${cln}(${v})`).split("\n")) c.line(s.trim());
    } else {
      this.ctx.runtime.add("notNull");
      const what = JSON.stringify(f.spec.name);
      c.open(`if (${nullCond}) {`);
      for (const s of pickStmt(flex, `${w}.${cn}(${v})`, `${w}.${cln}(${v})`).split("\n")) c.line(s.trim());
      c.close("} else {");
      c.line(`  const nn = notNull(${v}, ${what}, version);`);
      for (const s of pickStmt(flex, `${w}.${compact}(nn)`, `${w}.${classic}(nn)`).split("\n")) {
        c.line("  " + s.trim());
      }
      c.line("}");
    }
  }

  /** Statements writing a field present at this version. */
  writeField(
    c: Code,
    f: Field,
    v: string,
    w: string,
    flex: string,
    within: { lo: number; hi: number },
  ): void {
    if (!f.array) {
      this.writeValue(c, f, v, w, flex, within);
      return;
    }
    const a = this.tmp("a");
    const i = this.tmp("i");
    this.ctx.runtime.add("writeArrayLength");
    c.open("{");
    c.line(`const ${a} = ${v};`);
    const nullCond = f.nullable ? versionCond(f.nullable, within) : null;
    if (f.nullable) {
      this.ctx.runtime.add("writeNullArray");
      if (nullCond !== "") {
        this.ctx.runtime.add("notNull");
        c.line(
          `if (${a} === null && !(${nullCond})) notNull(${a}, ${JSON.stringify(f.spec.name)}, version);`,
        );
      }
      c.line(`if (${a} === null) writeNullArray(${w}, ${flex});`);
      c.open("else {");
    }
    c.line(`writeArrayLength(${w}, ${flex}, ${a}.length);`);
    c.open(`for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
    this.writeValue(c, { ...f, array: false, nullable: null }, `${a}[${i}]`, w, flex, within);
    c.close();
    if (f.nullable) c.close();
    c.close();
  }

  /** Statements reading a field into a new local; returns the local's name. */
  readField(
    c: Code,
    f: Field,
    r: string,
    flex: string,
    within: { lo: number; hi: number },
    owner: Struct,
  ): string {
    const v = this.tmp("v");
    if (!f.array) {
      c.line(`const ${v} = ${this.readValue(f, r, flex, within, owner)};`);
      return v;
    }
    const n = this.tmp("n");
    const i = this.tmp("i");
    const el = { ...f, array: false, nullable: null };
    const field = `${owner.ts}.${f.spec.name}`;
    let plain = `readArrayLength(${r}, ${flex}, ${JSON.stringify(field)})`;
    if (field in NULL_AS_EMPTY) {
      if (owner.request || f.nullable) {
        throw new Error(`NULL_AS_EMPTY: ${field} is not a non-nullable response array`);
      }
      NULL_AS_EMPTY_USED.add(field);
      plain = `readArrayLengthNullAsEmpty(${r}, ${flex})`;
    }
    const plainFn = plain.slice(0, plain.indexOf("("));
    if (f.nullable) {
      const nullCond = versionCond(f.nullable, within);
      this.ctx.runtime.add("readNullableArrayLength");
      if (nullCond !== "") this.ctx.runtime.add(plainFn);
      const len = nullCond === ""
        ? `readNullableArrayLength(${r}, ${flex})`
        : `(${nullCond} ? readNullableArrayLength(${r}, ${flex}) : ${plain})`;
      c.line(`const ${n} = ${len};`);
      c.line(`let ${v}: ${elemTs(f)}[] | null = null;`);
      c.open(`if (${n} >= 0) {`);
      c.line(`const a: ${elemTs(f)}[] = [];`);
      c.line(`for (let ${i} = 0; ${i} < ${n}; ${i}++) a.push(${this.readValue(el, r, flex, within)});`);
      c.line(`${v} = a;`);
      c.close();
    } else {
      this.ctx.runtime.add(plainFn);
      c.line(`const ${n} = ${plain};`);
      c.line(`const ${v}: ${elemTs(f)}[] = [];`);
      c.line(`for (let ${i} = 0; ${i} < ${n}; ${i}++) ${v}.push(${this.readValue(el, r, flex, within)});`);
    }
    return v;
  }

  /** An expression reading one value (not an array). */
  readValue(f: Field, r: string, flex: string, within: { lo: number; hi: number }, owner?: Struct): string {
    if (f.struct) {
      const read = `decode${f.struct.ts}(${r}, version)`;
      return f.nullable ? `(${r}.int8() < 0 ? null : ${read})` : read;
    }
    const p = f.prim!;
    if (READ[p]) return `${r}.${READ[p]}()`;
    const [compact, classic] = p === "string" ? ["compactString", "string"] : ["compactBytes", "bytes"];
    const [cn, cln] = p === "string"
      ? ["compactNullableString", "nullableString"]
      : ["compactNullableBytes", "nullableBytes"];
    let plain = pick(flex, `${r}.${compact}()`, `${r}.${classic}()`);
    const nullable = pick(flex, `${r}.${cn}()`, `${r}.${cln}()`);
    const field = owner ? `${owner.ts}.${f.spec.name}` : "";
    if (field in NULL_AS_EMPTY) {
      if (owner!.request || p === "string") throw new Error(`NULL_AS_EMPTY: ${field} is not response bytes`);
      NULL_AS_EMPTY_USED.add(field);
      this.ctx.runtime.add("EMPTY_BYTES");
      plain = `(${nullable} ?? EMPTY_BYTES)`;
    }
    if (!f.nullable) return plain;
    const cond = versionCond(f.nullable, within);
    return cond === "" ? nullable : `(${cond} ? ${nullable} : ${plain})`;
  }

  fieldDoc(f: Field): string {
    const s = f.spec;
    const parts = [`${s.name} (${s.type}): versions ${s.versions}`];
    if (f.nullable) parts.push(`nullable ${s.nullableVersions}`);
    if (f.tagged) parts.push(`tag ${f.tag} in ${s.taggedVersions}`);
    if (s.default !== undefined) parts.push(`default ${s.default === "" ? '""' : s.default}`);
    if (s.ignorable) parts.push("ignorable");
    return `/** ${parts.join(", ")}. */`;
  }

  emitType(s: Struct): void {
    const c = this.code;
    const flexible = s.range.hi >= this.flexFrom;
    c.line(
      `/** ${s.spec}, from ${s.file}: versions ${showRange(s.range)}${
        flexible ? `, flexible ${showRange(intersect(s.range, { lo: this.flexFrom, hi: Infinity }))}` : ""
      }. */`,
    );
    c.open(`export interface ${s.ts} {`);
    for (const f of s.fields) {
      c.line(this.fieldDoc(f));
      c.line(`${f.prop}${f.optional ? "?" : ""}: ${fieldTs(f)};`);
    }
    if (flexible) {
      this.ctx.imports.add("TaggedField");
      c.line("/** Tagged fields this version of the schema does not know, kept as raw bytes. */");
      c.line("taggedFields?: TaggedField[];");
    }
    c.close().line();
  }

  /** A field's value in `m`, its default when an optional field is unset (null stays null). */
  value(f: Field, m: string, orDefault = f.optional): string {
    if (!orDefault) return `${m}.${f.prop}`;
    const d = defaultExpr(f, this.ctx);
    if (f.nullable && d !== "null") return `(${m}.${f.prop} === undefined ? ${d} : ${m}.${f.prop})`;
    return `(${m}.${f.prop} ?? ${d})`;
  }

  /** Renames an unused `version` parameter of the function starting at line `at`. */
  unusedVersion(at: number): void {
    const lines = this.code.lines;
    if (lines.slice(at + 1).some((l) => /\bversion\b/.test(l))) return;
    lines[at] = lines[at].replace("version: number", "_version: number");
  }

  emitEncode(s: Struct, isTop: boolean): void {
    const c = this.code;
    const flex = flexOf(s, this.flexFrom);
    const name = `encode${s.ts}`;
    if (isTop) c.line(`/** Writes a ${s.spec} body (${s.file}), versions ${showRange(s.range)}. */`);
    const at = c.lines.length;
    c.open(`${isTop ? "export " : ""}function ${name}(w: Writer, m: ${s.ts}, version: number): void {`);
    if (isTop) {
      this.ctx.runtime.add("badEncodeVersion");
      c.line(
        `if (version < ${s.range.lo} || version > ${s.range.hi}) badEncodeVersion(${
          JSON.stringify(s.spec)
        }, version, ${s.range.lo}, ${s.range.hi});`,
      );
    }
    if (flex === "flex") c.line(`const flex = version >= ${this.flexFrom};`);
    const tagged = s.fields.filter((f) => f.tagged);
    for (const f of s.fields) {
      const v = this.value(f, "m");
      const cond = versionCond(f.versions, s.range);
      if (!f.spec.ignorable && cond !== "") {
        // Unset counts as the default, in responses too (a hand-built fake reply may omit it).
        const set = `m.${f.prop} !== undefined && `;
        this.ctx.runtime.add("absentField");
        c.line(
          `if (!(${cond}) && ${set}${nonDefault(f, `m.${f.prop}`, this.ctx)}) absentField(${
            JSON.stringify(`${s.ts}.${f.prop}`)
          }, version);`,
        );
      }
      if (f.tagged) continue;
      if (cond !== "") c.open(`if (${cond}) {`);
      this.writeField(c, f, v, "w", flex, f.versions);
      if (cond !== "") c.close();
    }
    if (flex !== "false") {
      if (flex === "flex") c.open("if (flex) {");
      this.ctx.runtime.add("writeTags");
      if (tagged.length === 0) {
        c.line("writeTags(w, undefined, m.taggedFields);");
      } else {
        this.ctx.imports.add("TaggedField");
        this.ctx.imports.add("Writer");
        c.line("let tags: TaggedField[] | undefined;");
        for (const f of [...tagged].sort((a, b) => a.tag! - b.tag!)) {
          const cond = versionCond(f.tagged!, s.range);
          const t = this.tmp("t");
          const v = this.tmp("v");
          c.open(cond === "" ? "{" : `if (${cond}) {`);
          // An unset tagged field is at its default, in responses too (a hand-built fake reply).
          c.line(`const ${v} = ${this.value(f, "m", true)};`);
          c.open(`if (${nonDefault(f, v, this.ctx)}) {`);
          c.line(`const ${t} = new Writer(32);`);
          this.writeField(c, f, v, t, "true", f.tagged!);
          c.line(`(tags ??= []).push({ tag: ${f.tag}, data: ${t}.finish() });`);
          c.close();
          c.close();
        }
        c.line("writeTags(w, tags, m.taggedFields);");
      }
      if (flex === "flex") {
        this.ctx.runtime.add("noTags");
        c.close(`} else noTags(m.taggedFields, ${JSON.stringify(s.ts)}, version);`);
      }
    }
    c.close().line();
    this.unusedVersion(at);
  }

  emitDecode(s: Struct, isTop: boolean): void {
    const c = this.code;
    const flex = flexOf(s, this.flexFrom);
    const name = `decode${s.ts}`;
    if (isTop) c.line(`/** Reads a ${s.spec} body (${s.file}), versions ${showRange(s.range)}. */`);
    const at = c.lines.length;
    c.open(`${isTop ? "export " : ""}function ${name}(r: Reader, version: number): ${s.ts} {`);
    if (isTop) {
      this.ctx.runtime.add("badDecodeVersion");
      c.line(
        `if (version < ${s.range.lo} || version > ${s.range.hi}) badDecodeVersion(${
          JSON.stringify(s.spec)
        }, version, ${s.range.lo}, ${s.range.hi});`,
      );
    }
    if (flex === "flex") c.line(`const flex = version >= ${this.flexFrom};`);
    const props: string[] = [];
    for (const f of s.fields) {
      if (f.tagged) {
        props.push(`${f.prop}: ${defaultExpr(f, this.ctx)}`);
        continue;
      }
      const cond = versionCond(f.versions, s.range);
      if (cond === "") {
        props.push(`${f.prop}: ${this.readField(c, f, "r", flex, f.versions, s)}`);
      } else if (!f.array) {
        const v = this.tmp("v");
        c.line(
          `const ${v} = ${cond} ? ${this.readValue(f, "r", flex, f.versions, s)} : ${
            defaultExpr(f, this.ctx)
          };`,
        );
        props.push(`${f.prop}: ${v}`);
      } else {
        const v = this.tmp("v");
        c.line(`let ${v}: ${fieldTs(f)} = ${defaultExpr(f, this.ctx)};`);
        c.open(`if (${cond}) {`);
        const got = this.readField(c, f, "r", flex, f.versions, s);
        c.line(`${v} = ${got};`);
        c.close();
        props.push(`${f.prop}: ${v}`);
      }
    }
    // Fields in schema order: reads that are expressions run in that order inside the literal.
    c.line(`const o: ${s.ts} = { ${props.join(", ")} };`);
    const tagged = s.fields.filter((f) => f.tagged);
    if (flex !== "false") {
      if (flex === "flex") c.open("if (flex) {");
      if (tagged.length === 0) {
        this.ctx.runtime.add("readTags");
        c.line("const tags = readTags(r);");
        c.line("if (tags) o.taggedFields = tags;");
      } else {
        this.ctx.runtime.add("readTagCount");
        this.ctx.imports.add("Reader");
        this.ctx.imports.add("ProtocolError");
        c.line("const n = readTagCount(r);");
        c.line("let last = -1;");
        c.open("for (let i = 0; i < n; i++) {");
        c.line("const tag = r.unsignedVarint();");
        c.line(
          "if (tag <= last) throw new ProtocolError(`Tagged field ${tag} is out of order or repeated`);",
        );
        c.line("last = tag;");
        c.line("const data = r.raw(r.unsignedVarint());");
        let first = true;
        for (const f of [...tagged].sort((a, b) => a.tag! - b.tag!)) {
          const cond = versionCond(f.tagged!, s.range);
          c.open(`${first ? "" : "} else "}if (tag === ${f.tag}${cond ? ` && ${cond}` : ""}) {`);
          first = false;
          c.line("const t = new Reader(data);");
          const got = this.readField(c, f, "t", "true", f.tagged!, s);
          c.line(`o.${f.prop} = ${got};`);
          c.line(`t.done(${JSON.stringify(`tagged field ${f.spec.name} of ${s.ts}`)});`);
          this.code.close("");
          c.lines.pop();
        }
        c.line("} else (o.taggedFields ??= []).push({ tag, data });");
        c.close();
      }
      if (flex === "flex") c.close();
    }
    c.line("return o;");
    c.close().line();
    this.unusedVersion(at);
  }

  emitDefault(s: Struct): void {
    const c = this.code;
    const props = s.fields.map((f) => `${f.prop}: ${defaultExpr(f, this.ctx)}`);
    c.open(`function default${s.ts}(): ${s.ts} {`);
    c.line(`return { ${props.join(", ")} };`);
    c.close().line();
  }

  emitIsDefault(s: Struct): void {
    const c = this.code;
    const conds = s.fields.map((f) => {
      const v = this.value(f, "o");
      return `!(${nonDefault(f, v, this.ctx)})`;
    });
    if (s.range.hi >= this.flexFrom) {
      conds.push("(o.taggedFields === undefined || o.taggedFields.length === 0)");
    }
    c.open(`function isDefault${s.ts}(o: ${s.ts}): boolean {`);
    c.line(`return ${conds.length ? conds.join(" && ") : "true"};`);
    c.close().line();
  }
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2").toLowerCase();
}

/** The codec constant's name ("Produce" -> "produce", "ApiVersions" -> "apiVersions"). */
export function codecName(api: string): string {
  return lowerCamel(api);
}

/** The generated file name of an API ("DescribeGroups" -> "describe_groups.ts"). */
export function fileName(api: string): string {
  return `${snake(api)}.ts`;
}

function generateApi(api: ApiSchemas): string {
  const range = parseRange(api.request.validVersions)!;
  const resRange = parseRange(api.response.validVersions)!;
  if (range.lo !== resRange.lo || range.hi !== resRange.hi) {
    throw new Error(`${api.name}: request and response versions differ`);
  }
  const flexR = parseRange(api.request.flexibleVersions);
  const flexS = parseRange(api.response.flexibleVersions);
  if (showRange(flexR) !== showRange(flexS)) throw new Error(`${api.name}: flexible versions differ`);
  if (flexR && flexR.hi !== Infinity) throw new Error(`${api.name}: flexibleVersions is not "N+"`);
  const flexFrom = flexR ? flexR.lo : Infinity;
  const unstable = api.request.latestVersionUnstable === true;
  const stableMax = unstable ? range.hi - 1 : range.hi;
  const r = range as { lo: number; hi: number };

  const gen = new Gen(api, flexFrom);
  const req = new MessageModel(api.request, r);
  const res = new MessageModel(api.response, r);
  for (const m of [req, res]) {
    for (const s of m.structs) gen.emitType(s);
  }
  gen.ctx.imports.add("Writer");
  gen.ctx.imports.add("Reader");
  for (const m of [req, res]) {
    for (const s of m.structs) {
      gen.emitEncode(s, s === m.top);
      gen.emitDecode(s, s === m.top);
    }
  }
  // Helpers used by the code above (and by each other: a default struct may hold default structs).
  const done = new Set<Struct>();
  const doneIs = new Set<Struct>();
  for (let more = true; more;) {
    more = false;
    for (const s of [...gen.ctx.defaults]) {
      if (done.has(s)) continue;
      done.add(s);
      more = true;
      gen.emitDefault(s);
    }
    for (const s of [...gen.ctx.isDefault]) {
      if (doneIs.has(s)) continue;
      doneIs.add(s);
      more = true;
      gen.emitIsDefault(s);
    }
  }

  const c = gen.code;
  const codec = codecName(api.name);
  c.line(
    `/** ${api.name} (API key ${api.apiKey}): versions ${showRange(r)}${
      unstable ? ` (${r.hi} unstable, never negotiated)` : ""
    }, flexible ${showRange(flexR)}. Spec: ${api.request.file}, ${api.response.file}. */`,
  );
  c.open(`export const ${codec}: GeneratedApi<${api.request.name}, ${api.response.name}> = {`);
  c.line(`apiKey: ${api.apiKey},`);
  c.line(`name: ${JSON.stringify(api.name)},`);
  c.line(`minVersion: ${r.lo},`);
  c.line(`maxVersion: ${stableMax},`);
  c.line(`latestVersion: ${r.hi},`);
  c.line(`latestVersionUnstable: ${unstable},`);
  c.line(`flexibleFrom: ${flexFrom === Infinity ? "Infinity" : flexFrom},`);
  c.line(`requestSpec: ${JSON.stringify(api.request.file)},`);
  c.line(`responseSpec: ${JSON.stringify(api.response.file)},`);
  c.line(`encodeRequest: encode${api.request.name},`);
  c.line(`decodeRequest: decode${api.request.name},`);
  c.line(`encodeResponse: encode${api.response.name},`);
  c.line(`decodeResponse: decode${api.response.name},`);
  c.close("};");

  const head: string[] = [
    `// generated by scripts/gen_protocol.ts from ${api.request.file}, ${api.response.file} (Kafka ${KAFKA_VERSION}); do not edit`,
    "",
    "/**",
    ` * ${api.name} (API key ${api.apiKey}), versions ${showRange(r)}, flexible ${showRange(flexR)}.`,
    ` * Spec: ${api.request.file} and ${api.response.file} (Kafka ${KAFKA_VERSION}).`,
    " *",
    " * @module",
    " */",
    "",
  ];
  const ctx = gen.ctx;
  if (ctx.imports.has("ProtocolError")) head.push(`import { ProtocolError } from "../errors.ts";`);
  const prim = ["Reader", "TaggedField", "Writer", "ZERO_UUID"].filter((n) => ctx.imports.has(n)).map((n) =>
    n === "TaggedField" || (n === "Reader" && !usesValue(c, "Reader")) ||
      (n === "Writer" && !usesValue(c, "Writer"))
      ? `type ${n}`
      : n
  );
  head.push(
    prim.every((n) => n.startsWith("type "))
      ? `import type { ${prim.map((n) => n.slice(5)).join(", ")} } from "../primitives.ts";`
      : `import { ${prim.join(", ")} } from "../primitives.ts";`,
  );
  const rt = [...ctx.runtime].sort();
  head.push(`import { ${["type GeneratedApi", ...rt].join(", ")} } from "./_runtime.ts";`);
  head.push("", "");
  return head.join("\n") + c.toString().replace(/\n+$/, "") + "\n";
}

function usesValue(c: Code, cls: string): boolean {
  return c.lines.some((l) => l.includes(`new ${cls}(`));
}

/** Generates every file: name (in protocol/messages/) to text. */
export function generate(schemas: Schema[] = loadSchemas()): Map<string, string> {
  const { apis, left } = selectApis(schemas);
  const out = new Map<string, string>();
  NULL_AS_EMPTY_USED.clear();
  for (const api of apis) out.set(fileName(api.name), generateApi(api));
  for (const field of Object.keys(NULL_AS_EMPTY)) {
    if (!NULL_AS_EMPTY_USED.has(field)) throw new Error(`NULL_AS_EMPTY: no array ${field} in the schemas`);
  }
  const mod: string[] = [
    `// generated by scripts/gen_protocol.ts from the schemas of Kafka ${KAFKA_VERSION}; do not edit`,
    "",
    "/**",
    ` * Every API a client sends to a broker, generated from Kafka ${KAFKA_VERSION}'s message schemas.`,
    " *",
    " * Left out:",
    ...left.map((l) => ` * - ${l.name}: ${l.why}.`),
    " *",
    " * @module",
    " */",
    "",
    `import type { GeneratedApi } from "./_runtime.ts";`,
    ...apis.map((a) =>
      `import { ${codecName(a.name)} } from "./${fileName(a.name).replace(/\.ts$/, ".ts")}";`
    ),
    "",
    `export * from "./_runtime.ts";`,
    ...apis.map((a) => `export * from "./${fileName(a.name)}";`),
    "",
    "/** Every generated API, in API key order. */",
    "export const GENERATED_APIS: readonly GeneratedApi<unknown, unknown>[] = [",
    ...apis.map((a) => `  ${codecName(a.name)} as GeneratedApi<unknown, unknown>,`),
    "];",
    "",
    "/** The APIs left out of generation, with the reason. */",
    "export const LEFT_OUT: Readonly<Record<string, string>> = {",
    ...left.map((l) => `  ${l.name}: ${JSON.stringify(l.why)},`),
    "};",
    "",
  ];
  out.set("mod.ts", mod.join("\n"));
  return out;
}

if (import.meta.main) {
  const files = generate();
  for (const e of Deno.readDirSync(OUT_DIR)) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_") && !files.has(e.name)) {
      Deno.removeSync(new URL(e.name, OUT_DIR));
    }
  }
  for (const [name, text] of files) Deno.writeTextFileSync(new URL(name, OUT_DIR), text);
  console.log(`gen_protocol: wrote ${files.size} files to ${OUT_DIR.pathname}`);
}
