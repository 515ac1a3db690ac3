/**
 * Output for the CLI: aligned tables for people, JSON for scripts.
 *
 * @module
 */

/** A cell: anything printable. */
export type Cell = string | number | bigint | boolean | null | undefined;

/** Renders rows under headers as left-aligned columns separated by two spaces. */
export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
  return [line(headers), ...text.map(line)].join("\n");
}

/** JSON with bigints as numbers when exact, else as strings; Uint8Array as UTF-8 text; errors as messages. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") {
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : String(v);
    }
    if (v instanceof Uint8Array) return new TextDecoder().decode(v);
    if (v instanceof Error) return { type: (v as { type?: string }).type ?? v.name, message: v.message };
    return v;
  });
}

/** A bad command line (exit code 2, with the usage). */
export class UsageError extends Error {}
