/**
 * Helpers for fields whose wire type depends on whether the version is
 * flexible (compact lengths) or not (classic int16/int32 lengths). They keep
 * each codec a single straight list of fields instead of two copies.
 *
 * @module
 */

import type { Reader, TaggedField, Writer } from "../primitives.ts";

/** Writes a string: compact when flexible. */
export function wString(w: Writer, flex: boolean, v: string): void {
  if (flex) w.compactString(v);
  else w.string(v);
}

/** Writes a nullable string: compact when flexible. */
export function wNullableString(w: Writer, flex: boolean, v: string | null | undefined): void {
  if (flex) w.compactNullableString(v);
  else w.nullableString(v);
}

/** Writes bytes: compact when flexible. */
export function wBytes(w: Writer, flex: boolean, v: Uint8Array): void {
  if (flex) w.compactBytes(v);
  else w.bytes(v);
}

/** Writes nullable bytes: compact when flexible. */
export function wNullableBytes(w: Writer, flex: boolean, v: Uint8Array | null | undefined): void {
  if (flex) w.compactNullableBytes(v);
  else w.nullableBytes(v);
}

/** Writes an array: compact when flexible. */
export function wArray<T>(
  w: Writer,
  flex: boolean,
  items: readonly T[],
  write: (w: Writer, item: T) => void,
): void {
  if (flex) w.compactArray(items, write);
  else w.array(items, write);
}

/** Writes a nullable array: compact when flexible. */
export function wNullableArray<T>(
  w: Writer,
  flex: boolean,
  items: readonly T[] | null | undefined,
  write: (w: Writer, item: T) => void,
): void {
  if (flex) w.compactNullableArray(items, write);
  else w.nullableArray(items, write);
}

/** Writes the tagged-field section, only in flexible versions. */
export function wTags(w: Writer, flex: boolean, fields?: readonly TaggedField[]): void {
  if (flex) w.taggedFields(fields);
}

/** Reads a string: compact when flexible. */
export function rString(r: Reader, flex: boolean): string {
  return flex ? r.compactString() : r.string();
}

/** Reads a nullable string: compact when flexible. */
export function rNullableString(r: Reader, flex: boolean): string | null {
  return flex ? r.compactNullableString() : r.nullableString();
}

/** Reads bytes: compact when flexible. */
export function rBytes(r: Reader, flex: boolean): Uint8Array {
  return flex ? r.compactBytes() : r.bytes();
}

/** Reads nullable bytes: compact when flexible. */
export function rNullableBytes(r: Reader, flex: boolean): Uint8Array | null {
  return flex ? r.compactNullableBytes() : r.nullableBytes();
}

/** Reads an array: compact when flexible. */
export function rArray<T>(r: Reader, flex: boolean, read: (r: Reader) => T): T[] {
  return flex ? r.compactArray(read) : r.array(read);
}

/** Reads a nullable array: compact when flexible. */
export function rNullableArray<T>(r: Reader, flex: boolean, read: (r: Reader) => T): T[] | null {
  return flex ? r.compactNullableArray(read) : r.nullableArray(read);
}

/**
 * Reads the tagged-field section in flexible versions; unknown fields are
 * returned so they can be kept, known ones are handed to `known`.
 */
export function rTags(
  r: Reader,
  flex: boolean,
  known?: (tag: number, r: Reader) => boolean,
): TaggedField[] | undefined {
  return flex ? r.taggedFields(known) : undefined;
}
