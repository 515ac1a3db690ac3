/**
 * A small interpreter of Kafka's message schemas, for tests: default values,
 * populated instances (every field present at a version set to a non-default
 * value) and a reference encoder that the generated straight-line codecs are
 * compared with.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type TaggedField, Writer, ZERO_UUID } from "../../protocol/primitives.ts";
import { parseRange, type Range, type Schema, type SchemaField } from "../../scripts/gen_protocol.ts";
import { HAVE_SHARED, SHARED_DIR } from "../_shared.ts";

/** The Kafka 4.3.1 schema folder. */
export const SCHEMAS: URL = new URL("kafka-protocol/4.3.1/messages/", SHARED_DIR);

/** Whether the schema folder is present. */
export const HAVE_SCHEMAS: boolean = HAVE_SHARED && (() => {
  try {
    return Deno.statSync(SCHEMAS).isDirectory;
  } catch {
    return false;
  }
})();

function inRange(r: Range, v: number): boolean {
  return r !== null && v >= r.lo && v <= r.hi;
}

function lowerCamel(s: string): string {
  return s[0].toLowerCase() + s.slice(1);
}

// ---------------------------------------------------------------------------------------------
// A small schema interpreter: the reference the generated straight-line code is compared with.

export type Obj = Record<string, unknown>;
export type Fill = "value" | "null";

export class Model {
  readonly common = new Map<string, SchemaField[]>();
  constructor(
    readonly schema: Schema,
    readonly range: { lo: number; hi: number },
    readonly flexFrom: number,
  ) {
    for (const c of schema.commonStructs ?? []) this.common.set(c.name, c.fields);
  }

  fieldsOf(f: SchemaField): SchemaField[] {
    const t = f.type.replace(/^\[\]/, "");
    const fields = f.fields ?? this.common.get(t);
    assert.ok(fields, `${this.schema.file}: no struct ${t}`);
    return fields;
  }

  isStruct(f: SchemaField): boolean {
    return f.fields !== undefined || this.common.has(f.type.replace(/^\[\]/, ""));
  }

  /** The fields of a struct that exist in some version we generate. */
  live(fields: SchemaField[]): SchemaField[] {
    return fields.filter((f) => {
      const r = parseRange(f.versions);
      return r !== null && r.lo <= this.range.hi && r.hi >= this.range.lo;
    });
  }

  defaultOf(f: SchemaField): unknown {
    const d = f.default;
    if (f.type.startsWith("[]")) return d === "null" ? null : [];
    if (this.isStruct(f)) return d === "null" ? null : this.defaults(this.fieldsOf(f));
    switch (f.type) {
      case "bool":
        return d === true || d === "true";
      case "int64":
        return d === undefined || d === "" ? 0n : BigInt(d as string);
      case "string":
        return d === "null" || (d === undefined && f.nullableVersions) ? null : String(d ?? "");
      case "uuid":
        return ZERO_UUID;
      case "bytes":
        return d === "null" || (d === undefined && f.nullableVersions) ? null : new Uint8Array(0);
      case "records":
        return f.nullableVersions ? null : new Uint8Array(0);
      default:
        return d === undefined || d === "" ? 0 : Number(d);
    }
  }

  defaults(fields: SchemaField[]): Obj {
    const o: Obj = {};
    for (const f of this.live(fields)) o[lowerCamel(f.name)] = this.defaultOf(f);
    return o;
  }

  /** A value different from the default for every field present at `v`. */
  populate(fields: SchemaField[], v: number, fill: Fill, depth: number, unknownTags: boolean): Obj {
    const o: Obj = {};
    let i = 0;
    for (const f of this.live(fields)) {
      i++;
      const prop = lowerCamel(f.name);
      if (!inRange(parseRange(f.versions), v)) {
        o[prop] = this.defaultOf(f);
        continue;
      }
      if (fill === "null" && inRange(parseRange(f.nullableVersions), v)) {
        o[prop] = null;
        continue;
      }
      o[prop] = this.sample(f, v, fill, depth, i, unknownTags);
    }
    if (unknownTags && v >= this.flexFrom) {
      o.taggedFields = [{ tag: 90 + depth, data: new Uint8Array([1, 2, 3]) }, {
        tag: 200,
        data: new Uint8Array(0),
      }];
    }
    return o;
  }

  sample(f: SchemaField, v: number, fill: Fill, depth: number, i: number, unknownTags: boolean): unknown {
    const one = (k: number): unknown => {
      if (this.isStruct(f)) return this.populate(this.fieldsOf(f), v, fill, depth + 1, unknownTags);
      switch (f.type.replace(/^\[\]/, "")) {
        case "bool":
          return !(f.default === true || f.default === "true");
        case "int8":
          return 7 + k;
        case "int16":
          return 300 + i + k;
        case "uint16":
          return 60000 + i + k;
        case "int32":
          return 70000 + i + k;
        case "int64":
          return (1n << 40n) + BigInt(i + k);
        case "float64":
          return 1.5 + k;
        case "string":
          return `${f.name}-${k}-é`;
        case "uuid":
          return k === 0 ? "AAAAAAAAAAAAAAAAAAAAAQ" : "_____________________w";
        default: // bytes, records
          return new Uint8Array([i, k, 255]);
      }
    };
    return f.type.startsWith("[]") ? [one(0), one(1)] : one(0);
  }

  /** Writes a struct the way the schema says. */
  write(w: Writer, fields: SchemaField[], o: Obj, v: number): void {
    const flex = v >= this.flexFrom;
    const tags: TaggedField[] = [];
    for (const f of this.live(fields)) {
      if (!inRange(parseRange(f.versions), v)) continue;
      const value = o[lowerCamel(f.name)];
      if (f.tag !== undefined && inRange(parseRange(f.taggedVersions), v)) {
        if (this.isDefault(f, value)) continue;
        const t = new Writer(32);
        this.writeField(t, f, value, v, true);
        tags.push({ tag: f.tag, data: t.finish() });
        continue;
      }
      this.writeField(w, f, value, v, flex);
    }
    if (flex) w.taggedFields([...((o.taggedFields as TaggedField[] | undefined) ?? []), ...tags]);
  }

  isDefault(f: SchemaField, value: unknown): boolean {
    const d = this.defaultOf(f);
    if (value === null || d === null) return value === d;
    if (Array.isArray(value) || value instanceof Uint8Array) return (value as unknown[]).length === 0;
    if (typeof value === "object") {
      const o = value as Obj;
      if (o.taggedFields && (o.taggedFields as unknown[]).length) return false;
      return this.live(this.fieldsOf(f)).every((g) => this.isDefault(g, o[lowerCamel(g.name)]));
    }
    return value === d;
  }

  writeField(w: Writer, f: SchemaField, value: unknown, v: number, flex: boolean): void {
    const nullable = inRange(parseRange(f.nullableVersions), v);
    if (f.type.startsWith("[]")) {
      const a = value as unknown[] | null;
      if (a === null) {
        assert.ok(nullable);
        if (flex) w.unsignedVarint(0);
        else w.int32(-1);
        return;
      }
      if (flex) w.unsignedVarint(a.length + 1);
      else w.int32(a.length);
      for (const x of a) this.writeOne(w, f, x, v, flex, false);
      return;
    }
    this.writeOne(w, f, value, v, flex, nullable);
  }

  writeOne(w: Writer, f: SchemaField, x: unknown, v: number, flex: boolean, nullable: boolean): void {
    if (this.isStruct(f)) {
      if (nullable) {
        if (x === null) return void w.int8(-1);
        w.int8(1);
      }
      this.write(w, this.fieldsOf(f), x as Obj, v);
      return;
    }
    switch (f.type.replace(/^\[\]/, "")) {
      case "bool":
        return void w.boolean(x as boolean);
      case "int8":
        return void w.int8(x as number);
      case "int16":
        return void w.int16(x as number);
      case "uint16":
        return void w.uint16(x as number);
      case "int32":
        return void w.int32(x as number);
      case "int64":
        return void w.int64(x as bigint);
      case "float64":
        return void w.float64(x as number);
      case "uuid":
        return void w.uuid(x as string);
      case "string":
        if (nullable) {
          return void (flex ? w.compactNullableString(x as string) : w.nullableString(x as string));
        }
        return void (flex ? w.compactString(x as string) : w.string(x as string));
      default:
        if (nullable) {
          return void (flex ? w.compactNullableBytes(x as Uint8Array) : w.nullableBytes(x as Uint8Array));
        }
        return void (flex ? w.compactBytes(x as Uint8Array) : w.bytes(x as Uint8Array));
    }
  }

  /** Checks that a decoded object has exactly the schema's fields (recursively). */
  checkKeys(fields: SchemaField[], o: Obj, where: string, v: number): void {
    const want = this.live(fields).map((f) => lowerCamel(f.name));
    const have = Object.keys(o).filter((k) => k !== "taggedFields");
    assert.deepStrictEqual(have.sort(), [...want].sort(), `${where}: fields`);
    if (v < this.flexFrom) assert.equal(o.taggedFields, undefined, `${where}: tagged fields below flexible`);
    for (const f of this.live(fields)) {
      if (!this.isStruct(f)) continue;
      const x = o[lowerCamel(f.name)];
      if (x === null) continue;
      const items = Array.isArray(x) ? x : [x];
      for (const item of items) this.checkKeys(this.fieldsOf(f), item as Obj, `${where}.${f.name}`, v);
    }
  }
}

/** The first flexible version of a schema (Infinity when none). */
export function flexFromOf(s: Schema): number {
  const r = parseRange(s.flexibleVersions);
  return r === null ? Infinity : r.lo;
}
