/**
 * Access to ../shared (Kafka's own schemas, error table and test vectors) for
 * tests. The project must work without it: tests that need it call
 * {@linkcode sharedFile} and skip, saying why, when it is absent. CI always has it.
 *
 * @module
 */

/** The shared folder beside the repository. */
export const SHARED_DIR = new URL("../../shared/", import.meta.url);

/** Whether ../shared is present. */
export const HAVE_SHARED: boolean = (() => {
  try {
    return Deno.statSync(new URL("kafka-protocol/", SHARED_DIR)).isDirectory;
  } catch {
    return false;
  }
})();

if (!HAVE_SHARED) {
  console.log(
    `note: ${SHARED_DIR.pathname} is absent, so the tests that compare against Kafka's own schemas, ` +
      `error table and vectors are skipped (CI always has it)`,
  );
}

/** Reads a file under ../shared as text. */
export function sharedText(path: string): string {
  return Deno.readTextFileSync(new URL(path, SHARED_DIR));
}

/** Parses a JSON-with-`//`-comments schema file from ../shared/kafka-protocol/messages. */
export function sharedSchema(name: string): Record<string, unknown> {
  const text = sharedText(`kafka-protocol/messages/${name}`);
  return JSON.parse(text.split("\n").filter((l) => !l.trimStart().startsWith("//")).join("\n"));
}

/** Hex string ("0a ff 01" or "0aff01") to bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes to a lowercase hex string with spaces. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}
