/**
 * Configuration from environment variables, validated with zod.
 *
 * @module
 */
import { z } from "zod";
import type { LogLevel } from "./logging.ts";
import { withoutPassword } from "./_without_password.ts";
import { MAX_TIMER_MS } from "./clock.ts";

// A variable: unset or empty is the default; text is read by `read`.
const variable = <S extends z.ZodType>(
  schema: S,
  fallback: z.infer<S>,
  read: (text: string) => unknown,
) =>
  z.preprocess(
    (value) =>
      value === undefined || value === ""
        ? fallback
        : typeof value === "string"
        ? read(value)
        : value,
    schema,
  );

// Decimal digits only: Number() would read " " as 0 (a SHUTDOWN_TIMEOUT_MS
// that abandons every task), and "0x10" or "1e3" as numbers nobody wrote.
const DECIMAL = /^-?\d+$/;
const notDecimal = (issue: { code: string }) =>
  issue.code === "invalid_type" ? "must be a whole number in decimal digits" : undefined;
const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  variable(
    z.number({ error: notDecimal }).int().min(min).max(max),
    fallback,
    (text) => DECIMAL.test(text) ? Number(text) : text,
  );

// Any case, and "warn" for "warning": LOG_LEVEL=WARN is how other servers
// (and Python's logging) spell it, and a start that fails on it helps nobody.
const words = <T extends z.ZodEnum>(schema: T, fallback: z.infer<T>) =>
  variable(schema, fallback, (text) => text.toLowerCase().replace(/^warn$/, "warning"));

// Waits are capped at what a timer keeps (MAX_TIMER_MS): a longer one would fire at once.
const SCHEMA = z.object({
  PORT: int(8000, 0, 65_535),
  // Not HOSTNAME: Docker and Kubernetes set that to the container's name.
  LISTEN_HOSTNAME: z.string().min(1).default("127.0.0.1"),
  LOG_FILE: z.string().min(1).default("log.txt"),
  DEAD_LETTER_FILE: z.string().min(1).default("dead-letter.jsonl"),
  SEND_DELAY_MS: int(0, 0, MAX_TIMER_MS),
  MAX_CONCURRENCY: int(256, 1),
  MAX_PENDING: int(100_000, 1),
  TASK_TIMEOUT_MS: int(30_000, 1, MAX_TIMER_MS),
  TASK_RETRIES: int(2, 0, 100),
  SHUTDOWN_TIMEOUT_MS: int(30_000, 0, MAX_TIMER_MS),
  BODY_TIMEOUT_MS: int(10_000, 1, MAX_TIMER_MS),
  STATUS_RETENTION_MS: int(600_000, 0),
  STATUS_RETENTION_COUNT: int(10_000, 0),
  TASK_STORE: z.string().regex(
    /^(memory|sqlite:.+|postgres(ql)?:\/\/.*)$/,
    "must be memory, sqlite:<file> or postgres://<url>",
  ).refine(
    // SQLite's name for a database in memory, which keeps nothing through a restart.
    (value) => value !== "sqlite::memory:",
    "an in-memory SQLite database keeps nothing through a restart: give durable mode a file (sqlite:tasks.db), or use memory",
  ).default("memory"),
  TAKEOVER_INTERVAL_MS: int(5_000, 0, MAX_TIMER_MS),
  WORKERS: int(Math.max(1, navigator.hardwareConcurrency - 1), 0, 1_024),
  REPORT_WORK_MS: int(50, 0),
  LOG_LEVEL: words(z.enum(["trace", "debug", "info", "warning", "error", "fatal"]), "info"),
  LOG_FORMAT: words(z.enum(["json", "pretty"]), "json"),
});

/**
 * The environment variables posthaste reads (the `server` permission set in
 * `deno.json` grants exactly these).
 *
 * @example The variables the server reads
 * ```ts
 * import { CONFIG_VARIABLES } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(CONFIG_VARIABLES.includes("TASK_STORE"));
 * ```
 */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(SCHEMA.shape);

/**
 * Where durable mode journals tasks.
 *
 * @example Durable mode in a SQLite file
 * ```ts
 * import { readConfig } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const config = readConfig((name) => name === "TASK_STORE" ? "sqlite:tasks.db" : undefined);
 * deepEqual(config.taskStore, { kind: "sqlite", file: "tasks.db" });
 * ```
 */
export type TaskStoreConfig =
  | { readonly kind: "sqlite"; readonly file: string }
  | { readonly kind: "postgres"; readonly url: string };

function taskStore(value: string): TaskStoreConfig | undefined {
  if (value === "memory") return undefined;
  if (value.startsWith("sqlite:")) return { kind: "sqlite", file: value.slice("sqlite:".length) };
  return { kind: "postgres", url: value };
}

/**
 * The server's configuration.
 *
 * @example Reading the environment
 * ```ts
 * import { type Config, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const env: Record<string, string> = { MAX_CONCURRENCY: "64", LOG_LEVEL: "debug" };
 * const config: Config = readConfig((name) => env[name]);
 * equal(config.maxConcurrency, 64);
 * equal(config.logLevel, "debug");
 * equal(config.taskStore, undefined, "memory mode");
 * ```
 */
export interface Config {
  /** Listening port; 0 picks a free one. */
  readonly port: number;
  /** Listening address (`LISTEN_HOSTNAME`; `HOSTNAME` is the container's name, not read). */
  readonly hostname: string;
  /** Where notification lines are appended. */
  readonly logFile: string;
  /** Where dead letters are appended as JSON lines. */
  readonly deadLetterFile: string;
  /** Simulated mail-server latency inside the task. */
  readonly sendDelayMs: number;
  /** Tasks running at once across all groups. */
  readonly maxConcurrency: number;
  /** Tasks accepted but not finished before new work is refused. */
  readonly maxPending: number;
  /** Default per-task timeout. */
  readonly taskTimeoutMs: number;
  /** Default retries after the first attempt. */
  readonly taskRetries: number;
  /** How long SIGTERM, SIGINT or SIGHUP waits for tasks. */
  readonly shutdownTimeoutMs: number;
  /** How long a request body may take to arrive. */
  readonly bodyTimeoutMs: number;
  /** How long a finished group's status stays visible. */
  readonly statusRetentionMs: number;
  /** How many finished groups' statuses stay visible at most. */
  readonly statusRetentionCount: number;
  /**
   * Durable mode's journal: a SQLite file (`TASK_STORE=sqlite:<file>`) or a
   * PostgreSQL database (`TASK_STORE=postgres://…`); undefined in memory mode.
   */
  readonly taskStore: TaskStoreConfig | undefined;
  /**
   * With a PostgreSQL journal, milliseconds between two looks for the
   * unfinished work of servers that died; 0 looks at start-up only.
   */
  readonly takeoverIntervalMs: number;
  /** Worker threads for CPU-bound tasks; 0 runs them on the event loop. */
  readonly workers: number;
  /** Milliseconds of CPU work per `/reports` task. */
  readonly reportWorkMs: number;
  /** Lowest level of the server's own logs. */
  readonly logLevel: LogLevel;
  /** Format of the server's own logs. */
  readonly logFormat: "json" | "pretty";
}

/**
 * Reads and validates the configuration.
 *
 * @param get Looks up one variable, e.g. `(name) => Deno.env.get(name)`.
 * @returns The configuration, defaults filled in.
 * @throws {RangeError} Naming every variable that is invalid.
 *
 * @example Defaults and a bad value
 * ```ts
 * import { readConfig } from "./mod.ts";
 * import { equal, throws } from "node:assert/strict";
 *
 * equal(readConfig(() => undefined).port, 8000);
 * equal(readConfig((name) => name === "PORT" ? "0" : undefined).port, 0);
 * throws(() => readConfig((name) => name === "PORT" ? "http" : undefined), /PORT/);
 * ```
 */
export function readConfig(get: (name: string) => string | undefined): Config {
  const env = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, get(name)]));
  const result = SCHEMA.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const value = env[String(issue.path[0])];
      const shown = JSON.stringify(value === undefined ? value : withoutPassword(value));
      return `${issue.path.join(".")} (${shown}): ${issue.message}`;
    });
    throw new RangeError(`Cannot read configuration: ${problems.join("; ")}`);
  }
  const c = result.data;
  return {
    port: c.PORT,
    hostname: c.LISTEN_HOSTNAME,
    logFile: c.LOG_FILE,
    deadLetterFile: c.DEAD_LETTER_FILE,
    sendDelayMs: c.SEND_DELAY_MS,
    maxConcurrency: c.MAX_CONCURRENCY,
    maxPending: c.MAX_PENDING,
    taskTimeoutMs: c.TASK_TIMEOUT_MS,
    taskRetries: c.TASK_RETRIES,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    bodyTimeoutMs: c.BODY_TIMEOUT_MS,
    statusRetentionMs: c.STATUS_RETENTION_MS,
    statusRetentionCount: c.STATUS_RETENTION_COUNT,
    taskStore: taskStore(c.TASK_STORE),
    takeoverIntervalMs: c.TAKEOVER_INTERVAL_MS,
    workers: c.WORKERS,
    reportWorkMs: c.REPORT_WORK_MS,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
  };
}
