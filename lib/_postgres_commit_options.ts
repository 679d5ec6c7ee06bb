// How a PostgresCommit stream connects, waits, and tells of what failed.
// Internal to PostgresTaskStore.
import type { Sql } from "postgres";
import type { Clock } from "./clock.ts";
import type { Histogram } from "./histogram.ts";

/** How a stream connects, and how long it waits for an answer. */
export interface CommitOptions {
  /** A new connection (one): at the start, and in place of a stuck one. */
  connect: () => Sql;
  /** The rows' owner. */
  owner: string;
  /** Wall-clock milliseconds, for `updated_at`. */
  now: () => number;
  /** The server cancels a statement after this (`statement_timeout`); a batch has at most four. */
  timeoutMs: number;
  /** Runs the deadline of a batch that gets no answer, and the pause before a retry. */
  timers: Pick<Clock, "setTimeout" | "clearTimeout">;
  /**
   * Milliseconds to keep committing the outcomes of a failed commit again,
   * each time with the next batch, at least a second apart; 0 never does.
   */
  retryForMs: number;
  /**
   * Told the groups of inserts whose batch was sent and failed: the database
   * may have applied it (it got the statement, then froze or lost the
   * connection), so that they can be withdrawn once `ended` resolves (after
   * `endSession`, if the batch was given up on).
   */
  onUnsure?: (groupIds: string[], ended: Promise<unknown>) => void;
  /**
   * Ends a given-up connection's session in the database, from another
   * connection: a session kept (a network cut) could still get and run the
   * statements, which the client's kernel resends once the cut heals.
   */
  endSession?: (sql: Sql) => Promise<void>;
  /**
   * Watches a batch's connection while it has no answer, calling `giveUp` to
   * fail the batch before its deadline; returns what stops the watch.
   */
  watch?: (sql: Sql, giveUp: (why: string) => void) => () => void;
  /** Observes each batch's seconds to its answer, or to its failure. */
  batches?: Histogram;
  /** Times the batches for `batches`: steps of the wall clock must not. @default {monotonicClock} */
  monotonic?: Pick<Clock, "now">;
}
