// A PostgresTaskStore's two commit streams: new tasks, what a 202 waits for,
// and progress, committed beside them. Internal to PostgresTaskStore.
import { type Clock, MAX_TIMER_MS } from "./clock.ts";
import type { Histogram } from "./histogram.ts";
import type { StructuredLogger } from "./logging.ts";
import { PostgresCommit } from "./_postgres_commit.ts";
import type { Sql } from "postgres";
import { askWithin, connect } from "./_postgres_pool.ts";
import { type SessionSeen, WATCH_LOOK_MS, watchSession } from "./_session_watch.ts";

/** How long the database gives a commit's statement, by default. */
export const COMMIT_TIMEOUT_MS = 10_000;
/**
 * How long a given-up connection's session is given to be ended (a second
 * to connect and ask, one for it to go); a store's close waits for it.
 */
const END_SESSION_MS = 2_000;
// A batch has four statements at most, each given the timeout, then a second.
const MAX_COMMIT_MS = Math.floor((MAX_TIMER_MS - 1_000) / 4);

/** Throws a RangeError unless `ms` is a commit timeout whose deadline a timer can keep. */
export function checkCommitTimeout(ms: number): void {
  if (Number.isInteger(ms) && ms > 0 && ms <= MAX_COMMIT_MS) return;
  throw new RangeError(
    `Cannot open task store: commitTimeoutMs must be an integer from 1 to ${MAX_COMMIT_MS}, got ${ms}`,
  );
}

/** What the two streams share, and what only the intake has. */
export interface StreamsOptions {
  url: string;
  owner: string;
  /** Wall-clock `updated_at`s, and the batches' deadlines. */
  clock: Clock;
  /** Each statement's `statement_timeout`. */
  timeoutMs: number;
  /** The intake's batches' seconds (what a 202 waits for). */
  batches: Histogram;
  /** Times the intake's batches. */
  monotonic: Pick<Clock, "now">;
  /** Told of a given-up session that could not be ended. */
  logger: StructuredLogger;
  /** Told the groups of a failed insert that the database may have applied, and when to delete them. */
  onUnsure: (groupIds: string[], ended: Promise<unknown>) => void;
}

/**
 * The intake and progress streams, each on a connection of its own (which
 * runs its statements in the order sent), named `posthaste intake <id>` and
 * `posthaste progress <id>` for the database's views and `watchSession`. A
 * failed enqueue was answered 503 and is dropped; failed outcomes are tried
 * again for a minute.
 */
export function commitStreams(
  options: StreamsOptions,
): { intake: PostgresCommit; progress: PostgresCommit } {
  const { url, owner, clock, timeoutMs } = options;
  // Each connection a name of its own, so that the database can say what
  // became of its session, once one of its batches has no answer.
  const names = new WeakMap<Sql, string>();
  const connectAs = (stream: string) => () => {
    const name = `posthaste ${stream} ${crypto.randomUUID().slice(0, 8)}`;
    const sql = connect(url, 1, { statement_timeout: timeoutMs, application_name: name });
    names.set(sql, name);
    return sql;
  };
  const watch = (sql: Sql, giveUp: (why: string) => void) =>
    watchSession(() => lookAt(url, names.get(sql) ?? "", clock), giveUp, clock);
  const endSession = async (sql: Sql) => {
    // Filled from the first connection's start-up, which the driver awaits before
    // sending a statement: empty, none was made (a cut came first), nothing was sent.
    if (Object.keys(sql.parameters).length === 0) return;
    const name = names.get(sql) ?? "";
    const left = await endNamed(url, name, clock).then(
      (ended) => ended ? undefined : `it was still there after ${END_SESSION_MS - 1_000} ms`,
      (error) => error instanceof Error ? error.message : String(error),
    );
    if (left === undefined) return;
    // The window in which what it was sent may still run: say so.
    options.logger.warn(
      "Cannot end the database session {name} of a commit connection given up on: {why}; it lasts until the database's keepalive gives up on it (90 s)",
      { name, why: left },
    );
  };
  const shared = { owner, now: () => clock.now(), timeoutMs, timers: clock, watch, endSession };
  return {
    intake: new PostgresCommit({
      ...shared,
      connect: connectAs("intake"),
      batches: options.batches,
      monotonic: options.monotonic,
      retryForMs: 0,
      onUnsure: options.onUnsure,
    }),
    progress: new PostgresCommit({ ...shared, connect: connectAs("progress"), retryForMs: 60_000 }),
  };
}

/**
 * Ends the session `name`, waiting for it to go: whether it went (or was
 * gone); given up after `END_SESSION_MS`. PostgreSQL 14 or later; on earlier
 * ones the call fails, and the session lasts until the database's keepalive
 * gives up on it.
 */
async function endNamed(
  url: string,
  name: string,
  timers: Pick<Clock, "setTimeout" | "clearTimeout">,
): Promise<boolean> {
  const rows = await askWithin(
    url,
    (sql) =>
      sql<{ ended: boolean }[]>`SELECT pg_terminate_backend(pid, ${END_SESSION_MS - 1_000}) AS ended
        FROM pg_stat_activity WHERE application_name = ${name}`,
    END_SESSION_MS,
    timers,
  );
  return rows.every((row) => row.ended);
}

/** What `pg_stat_activity` shows of the session `name`; undefined without an answer in `WATCH_LOOK_MS`. */
async function lookAt(
  url: string,
  name: string,
  timers: Pick<Clock, "setTimeout" | "clearTimeout">,
): Promise<SessionSeen> {
  try {
    const [row] = await askWithin(
      url,
      (sql) =>
        sql`SELECT state, state_change::text AS since FROM pg_stat_activity WHERE application_name = ${name}`,
      WATCH_LOOK_MS,
      timers,
    );
    return row === undefined ? null : { state: String(row.state), since: String(row.since) };
  } catch {
    return undefined;
  }
}
