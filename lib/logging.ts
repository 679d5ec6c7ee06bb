/**
 * The server's own logs, through LogTape.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import { escapeJsonLine, escapeLine } from "./escape_line.ts";
import { NonBlockingLines } from "./non_blocking_lines.ts";

/**
 * The levels of the server's own logs, lowest first.
 *
 * @example Checking a level from outside
 * ```ts
 * import type { LogLevel } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];
 * const isLevel = (text: string): text is LogLevel => (LEVELS as readonly string[]).includes(text);
 * ok(isLevel("warning") && !isLevel("warn"));
 * ```
 */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/**
 * What posthaste logs through: messages with `{placeholders}` filled from
 * structured properties. A LogTape `Logger` fits; tests can inject their own.
 *
 * @example A logger that keeps messages for a test
 * ```ts
 * import { catchStrayErrors, type StructuredLogger } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const messages: string[] = [];
 * const keep = (message: string) => void messages.push(message);
 * const logger: StructuredLogger = { info: keep, warn: keep, error: keep };
 * const target = new EventTarget();
 * using _strays = catchStrayErrors({ logger, target });
 * target.dispatchEvent(new ErrorEvent("error", { error: new Error("boom"), cancelable: true }));
 * deepEqual(messages, ["Uncaught exception; the server goes on: {error}"]);
 * ```
 */
export interface StructuredLogger {
  /** Logs at debug level; without it, nothing is logged at that level. */
  debug?(message: string, properties: Record<string, unknown>): void;
  /**
   * Whether a record of `level` would be kept. Where a record per task would
   * cost (the runner), it is asked once, when the runner is made.
   */
  isEnabledFor?(level: LogLevel): boolean;
  /** Logs at info level. */
  info(message: string, properties: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties: Record<string, unknown>): void;
}

/**
 * Options for {@linkcode configureLogging}.
 *
 * @example Warnings and worse, as text
 * ```ts
 * import { configureLogging } from "./mod.ts";
 * import { getLogger, reset } from "@logtape/logtape";
 * import { equal, match } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * await configureLogging({ level: "warning", format: "pretty", write: (line) => void lines.push(line) });
 * getLogger(["posthaste"]).info("not shown");
 * getLogger(["posthaste"]).warn("disk {percent}% full", { percent: 91 });
 * equal(lines.length, 1);
 * match(lines[0] ?? "", /disk 91% full/);
 * await reset();
 * ```
 */
export interface LoggingOptions {
  /** Lowest level written. @default {"info"} */
  level?: LogLevel;
  /** `json`: one JSON object per line; `pretty`: human-readable text. @default {"json"} */
  format?: "json" | "pretty";
  /**
   * Where formatted lines go, synchronously.
   * @default {stderr through a {@linkcode NonBlockingLines}: never waits for it; LogTape's `drain()` waits for its lines}
   */
  write?: (line: string) => void;
}

// One for the process, shared by every configuration, so lines keep their
// order across the reconfiguration once the log level is known. Not
// `writeSync`: a pipe nobody reads (a stuck log collector) froze the server,
// `/healthz` too, once 64 KiB of records filled it. Nor LogTape's own
// `nonBlocking` stream sink: it drops records on a healthy stderr (5,000
// warnings in one burst to a file: 4,700 lost at its default size).
let stderrLines: NonBlockingLines | undefined;

function stderrSink(formatter: (record: LogRecord) => string): Sink {
  const lines = stderrLines ??= new NonBlockingLines((bytes) => Deno.stderr.write(bytes), {
    onDropped: (count) =>
      getLogger(["posthaste", "logging"]).warn(
        "Cannot write {count} log records: stderr took none for a while",
        { count },
      ),
  });
  // LogTape's drain() waits for what its sinks' drain() waits for.
  return Object.assign((record: LogRecord) => lines.write(formatter(record)), {
    drain: () => lines.drain(),
  });
}

// LogTape quotes a string value in a message, which a JSON line then escapes
// again (`Start-up failed: \"Cannot read configuration: PORT (\\\"abc\\\")…`),
// and writes an Error as "{}". A message reads as a sentence: strings and
// errors as their text, other values as LogTape renders them; the properties
// beside it keep each value whole (an error's name, message and stack).
function readableMessage(record: LogRecord): LogRecord {
  const parts = record.message;
  if (!parts.some((part, i) => i % 2 === 1 && isText(part))) return record;
  // Text values join the template around them; other values stay at odd places.
  const message: unknown[] = [];
  let text = parts[0] as string;
  for (let i = 1; i < parts.length; i += 2) {
    const value = parts[i], after = parts[i + 1] as string;
    if (isText(value)) text += textOf(value) + after;
    else {
      message.push(text, value);
      text = after;
    }
  }
  message.push(text);
  return { ...record, message };
}

const isText = (value: unknown): value is string | Error =>
  typeof value === "string" || value instanceof Error;

const textOf = (value: string | Error): string =>
  typeof value === "string"
    ? value
    : value.name === "Error"
    ? value.message
    : `${value.name}: ${value.message}`;

// Each record is exactly one line: JSON escapes control characters itself
// (U+2028/U+2029 and bidi controls too, here); the pretty format goes
// through escapeLine.
function lineFormatter(format: "json" | "pretty"): (record: LogRecord) => string {
  if (format === "json") {
    const json = getJsonLinesFormatter({ properties: "flatten" });
    return (record) => escapeJsonLine(json(readableMessage(record)).replace(/\n$/, "")) + "\n";
  }
  const text = getTextFormatter();
  return (record) => escapeLine(text(readableMessage(record)).replace(/\n$/, "")) + "\n";
}

/**
 * Configures LogTape for the server: every category at `level` (the
 * `posthaste` ones, and your service's own, e.g. `getLogger(["myapp"])`),
 * written by one sink in `format`. By default the lines go to stderr without
 * ever waiting for it; before `Deno.exit`, await LogTape's `drain()` (with a
 * deadline: a stderr nobody reads never takes them).
 *
 * @param options Level, format and destination.
 * @returns A promise that resolves once LogTape is configured.
 *
 * @example JSON lines to a sink
 * ```ts
 * import { configureLogging } from "./mod.ts";
 * import { getLogger, reset } from "@logtape/logtape";
 * import { match } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * await configureLogging({ write: (line) => void lines.push(line) });
 * getLogger(["posthaste"]).info("hello {who}", { who: "ada" });
 * match(lines[0] ?? "", /"message":"hello ada"/);
 * await reset();
 * ```
 */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const { level = "info", format = "json", write } = options;
  const formatter = lineFormatter(format);
  const sink: Sink = write === undefined
    ? stderrSink(formatter)
    : (record) => write(formatter(record));
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: [], lowestLevel: level, sinks: ["main"] },
      // LogTape's own records: its problems only, and once (not again through the root).
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["main"],
        parentSinks: "override",
      },
    ],
  });
}
