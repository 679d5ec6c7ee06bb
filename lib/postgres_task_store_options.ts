/**
 * Options for the PostgreSQL journal, {@linkcode PostgresTaskStore.open}.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * Options for {@linkcode PostgresTaskStore.open}.
 *
 * @example Giving up before connecting
 * ```ts
 * import { PostgresTaskStore } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * const signal = AbortSignal.abort(new Error("no database today"));
 * await rejects(PostgresTaskStore.open("postgres://nobody@127.0.0.1:1/none", { signal }), /no database today/);
 * ```
 */
export interface PostgresTaskStoreOptions {
  /**
   * Connections for reads (status, listing, adoption); the two commit
   * streams and the claim have one each besides.
   * @default {4}
   */
  connections?: number;
  /** Milliseconds a failed group, or a kept keyed one, stays after it finished (as in SQLite). @default {600000} */
  retentionMs?: number;
  /** Failed tasks kept at most, and apart from them kept done tasks; the oldest groups go first. @default {10000} */
  retentionCount?: number;
  /** Milliseconds between two prunes of failed (and kept) groups, at least. @default {1000} */
  pruneIntervalMs?: number;
  /**
   * Time source for `updated_at` and retention (wall-clock milliseconds), and
   * the timers of commit deadlines. A finished task's row takes the time its
   * runner saw it end (its first attempt's start and its duration): give the runner this clock.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * The database cancels a commit's statement after this many milliseconds
   * (`statement_timeout` of the commit connections), failing the commit; a
   * commit that gets no answer at all (a connection that is stuck) fails a
   * second after the server would have cancelled it, on a new connection.
   * @default {10000}
   */
  commitTimeoutMs?: number;
  /**
   * Where failures to journal (an outcome given up on, a prune) and the
   * claim's losses are logged.
   * @default {getLogger(["posthaste", "journal"])}
   */
  logger?: StructuredLogger;
  /** Gives up opening: `open` rejects with its reason and closes what it opened. */
  signal?: AbortSignal;
}
