/**
 * Cancellation helpers shared by every call that takes an `AbortSignal`.
 * Semantics follow the web platform: an aborted call rejects with
 * `signal.reason` (an `AbortError` `DOMException` unless the caller chose
 * another reason, a `TimeoutError` one for `AbortSignal.timeout()`); an
 * already-aborted signal rejects at once, before any side effect; and the
 * listener a call adds is removed when the call settles, so one long-lived
 * signal can serve any number of calls.
 *
 * @module
 */

import { checkOptions } from "./options.ts";

/** Options of a call that can be cancelled. */
export interface AbortOptions {
  /** Cancels the call: it rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Throws a `TypeError` when `signal` is neither undefined nor an AbortSignal,
 * and the signal's reason when it is already aborted.
 *
 * @param signal What the caller passed as `signal`.
 * @param what The call, for the message.
 */
export function checkSignal(signal: unknown, what: string): asserts signal is AbortSignal | undefined {
  if (signal === undefined) return;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}: signal must be an AbortSignal (e.g. AbortSignal.timeout(5000)), got ${
        signal === null ? "null" : typeof signal
      }`,
    );
  }
  if (signal.aborted) throw signal.reason;
}

/**
 * The `signal` of a `close()` options object, checked: unknown keys and a
 * signal that is not an AbortSignal throw a `TypeError`. An aborted signal is
 * returned (for `close()`, it means: close hard at once).
 *
 * @param opts The options passed.
 * @param known Every key the options type has.
 * @param what The call, for the message.
 */
export function closeSignal(opts: unknown, known: readonly string[], what: string): AbortSignal | undefined {
  checkOptions(opts, known, `${what} options`);
  const signal = (opts as { signal?: unknown } | undefined)?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}: signal must be an AbortSignal, got ${signal === null ? "null" : typeof signal}`,
    );
  }
  return signal;
}

/**
 * The shared shape of `close({ signal })`: checks the options ({@linkcode closeSignal};
 * a bad one is a rejection), links the signal to `hard` (its abort turns the close
 * hard), starts the close with `start` (which returns the close, made once by the
 * caller) and returns it. With a signal, the result rejects with `signal.reason`
 * once the close settled if the signal aborted; and when the close failed, with
 * the reason instead of the failure if `reasonOverFailure`.
 *
 * @param opts The options passed.
 * @param known Every key the options type has.
 * @param hard The signal that makes the close hard.
 * @param start Starts the close (once) and returns it; given the checked signal.
 * @param reasonOverFailure Whether an aborted signal's reason replaces the close's failure.
 */
export function closeWith(
  opts: unknown,
  known: readonly string[],
  hard: Linked,
  start: (signal: AbortSignal | undefined) => Promise<void>,
  reasonOverFailure: boolean,
): Promise<void> {
  let signal: AbortSignal | undefined;
  try {
    signal = closeSignal(opts, known, "close()");
  } catch (err) {
    return Promise.reject(err);
  }
  hard.link(signal);
  const closing = start(signal);
  if (signal === undefined) return closing;
  const aborted = () => {
    if (signal.aborted) throw signal.reason;
  };
  if (!reasonOverFailure) return closing.then(aborted);
  return closing.then(aborted, (err) => {
    throw signal.aborted ? signal.reason : err;
  });
}

/**
 * Calls `fn` once when `signal` aborts; returns the function that removes the
 * listener (call it when the operation settles). Nothing is added when the
 * signal is undefined; `fn` runs at once when it is already aborted.
 *
 * @param signal The signal, if any.
 * @param fn What to do on abort.
 */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (signal === undefined) return noop;
  if (signal.aborted) {
    fn();
    return noop;
  }
  signal.addEventListener("abort", fn, { once: true });
  return () => signal.removeEventListener("abort", fn);
}

function noop(): void {}

/**
 * Settles with `promise`, or rejects with `signal.reason` as soon as the
 * signal aborts, whichever comes first. The listener is removed when either
 * happens, and a later rejection of `promise` is handled (never unhandled).
 * Without a signal, `promise` itself is returned: no cost.
 *
 * @param promise The operation.
 * @param signal The signal, if any.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(noop);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}

/**
 * Sleeps `ms` milliseconds, ending early (resolving, not rejecting) when the
 * signal aborts, so that the caller's next check of the signal throws.
 *
 * @param ms How long.
 * @param signal The signal, if any.
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise((r) => setTimeout(r, ms));
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * A controller that aborts when any of the linked signals does (each link is
 * removed by {@linkcode Linked.dispose}). Used where several callers may cut
 * one shared operation short, e.g. a `close()` called twice.
 */
export class Linked {
  /** Aborts when a linked signal aborts (or {@linkcode Linked.abort} is called). */
  readonly controller: AbortController = new AbortController();
  readonly #unlinks: (() => void)[] = [];

  /** The combined signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Aborts the combined signal when `signal` aborts.
   *
   * @param signal The signal, if any.
   */
  link(signal: AbortSignal | undefined): void {
    if (signal === undefined || this.controller.signal.aborted) return;
    this.#unlinks.push(onAbort(signal, () => this.controller.abort(signal.reason)));
  }

  /** Removes every link's listener. */
  dispose(): void {
    for (const u of this.#unlinks.splice(0)) u();
  }
}
