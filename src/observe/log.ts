/**
 * Logging: the `logger` and `logLevel` options. A logger is any object with
 * `debug`, `info`, `warn` and `error` methods taking a message and an optional
 * object of fields (`console`, winston, a pino child wrapped to take the
 * message first). Silent by default except warnings and errors, which go to
 * `console`. Nothing here ever logs options: credentials live only in the
 * connection code and are never put in a message or a field.
 *
 * @module
 */

/**
 * What the `logger` option takes: `console` fits, and so does any logger whose
 * methods take `(message, fields?)` (winston; pino with `(fields, message)`
 * needs a two-line wrapper).
 *
 * @example
 * ```ts
 * import type { Logger } from "../../mod.ts";
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: (msg) => lines.push(`debug ${msg}`),
 *   info: (msg) => lines.push(`info ${msg}`),
 *   warn: (msg) => lines.push(`warn ${msg}`),
 *   error: (msg) => lines.push(`error ${msg}`),
 * };
 * ```
 */
export interface Logger {
  /** Detail for troubleshooting: connections, metadata refreshes, retries. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** State changes: group membership and assignments, producer ids, offset resets. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something went wrong and the client recovers, but someone should know. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A failure nobody else reports (a background commit that failed, a listener that threw). */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The least severe level logged: "debug" logs everything, "silent" nothing.
 * Default "warn".
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** The default logger: warnings and errors to `console`, with the fields when there are some. */
const CONSOLE_LOGGER: Logger = {
  debug: (m, f) => f === undefined ? console.debug(m) : console.debug(m, f),
  info: (m, f) => f === undefined ? console.info(m) : console.info(m, f),
  warn: (m, f) => f === undefined ? console.warn(m) : console.warn(m, f),
  error: (m, f) => f === undefined ? console.error(m) : console.error(m, f),
};

/**
 * Checks a `logger` option and a `logLevel` option.
 *
 * @throws {TypeError} When the logger lacks a method or the level is unknown.
 */
export function checkLogOptions(logger: unknown, level: unknown): void {
  if (logger !== undefined) {
    if (logger === null || typeof logger !== "object" && typeof logger !== "function") {
      throw new TypeError(`Invalid logger: expected an object with debug, info, warn and error methods`);
    }
    for (const m of ["debug", "info", "warn", "error"] as const) {
      if (typeof (logger as Record<string, unknown>)[m] !== "function") {
        throw new TypeError(
          `Invalid logger: it has no ${m}() method (debug, info, warn and error are needed)`,
        );
      }
    }
  }
  if (level !== undefined && !(typeof level === "string" && level in RANK)) {
    throw new TypeError(
      `Invalid logLevel ${JSON.stringify(level)}: use "debug", "info", "warn", "error" or "silent"`,
    );
  }
}

/**
 * @internal A logger with its level applied. The `*On` flags let a call site skip
 * building a message nobody will see.
 */
export class Log {
  /** The logger lines go to. */
  readonly logger: Logger;
  /** The level in effect. */
  readonly level: LogLevel;
  /** Whether debug lines are logged. */
  readonly debugOn: boolean;
  /** Whether info lines are logged. */
  readonly infoOn: boolean;
  /** Whether warnings are logged. */
  readonly warnOn: boolean;
  /** Whether errors are logged. */
  readonly errorOn: boolean;

  /**
   * @param logger Where lines go; `console` when omitted.
   * @param level The least severe level logged. Default "warn".
   */
  constructor(logger?: Logger, level?: LogLevel) {
    checkLogOptions(logger, level);
    this.logger = logger ?? CONSOLE_LOGGER;
    this.level = level ?? "warn";
    const rank = RANK[this.level];
    this.debugOn = rank <= 0;
    this.infoOn = rank <= 1;
    this.warnOn = rank <= 2;
    this.errorOn = rank <= 3;
  }

  /** A log for a producer or consumer: its own logger or level where given, else this one's. */
  derive(logger?: Logger, level?: LogLevel): Log {
    if (logger === undefined && level === undefined) return this;
    return new Log(logger ?? this.logger, level ?? this.level);
  }

  /** Logs at debug level. */
  debug(message: string, fields?: Record<string, unknown>): void {
    if (this.debugOn) this.#call("debug", message, fields);
  }

  /** Logs at info level. */
  info(message: string, fields?: Record<string, unknown>): void {
    if (this.infoOn) this.#call("info", message, fields);
  }

  /** Logs a warning. */
  warn(message: string, fields?: Record<string, unknown>): void {
    if (this.warnOn) this.#call("warn", message, fields);
  }

  /** Logs an error. */
  error(message: string, fields?: Record<string, unknown>): void {
    if (this.errorOn) this.#call("error", message, fields);
  }

  #call(level: "debug" | "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void {
    try {
      if (fields === undefined) this.logger[level](message);
      else this.logger[level](message, fields);
    } catch {
      // A logger that throws must not break the client; there is nowhere left to report it.
    }
  }
}
