/**
 * Strict option objects: an unknown key is a mistake (`lingerMS` for
 * `lingerMs`), never silently ignored.
 *
 * @module
 */

/** Edit distance, bounded by the short option names it compares. */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(up + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The known key closest to `key`, when one is close enough to be the intended one. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : distance(lower, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/**
 * Throws a `TypeError` when `opts` is not a plain object or has a key that is
 * not in `known`, naming the key and the close match.
 *
 * @param opts The options the caller passed (undefined is allowed).
 * @param known Every key the options type has.
 * @param what The options' name in the message, e.g. "producer options".
 */
export function checkOptions(opts: unknown, known: readonly string[], what: string): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`The ${what} must be an object, got ${opts === null ? "null" : typeof opts}`);
  }
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    throw new TypeError(
      `Unknown ${what} key "${key}"${near ? ` (did you mean "${near}"?)` : ""}; known keys: ${
        known.join(", ")
      }`,
    );
  }
}
