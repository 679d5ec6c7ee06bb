// What the PostgreSQL journal writes as a task's attempt ends: its outcome
// (on the progress stream, which tries a failed one again for a minute), and,
// once a second, the pruning of old failed and kept groups. Internal to
// PostgresTaskStore.
import { IntervalGate } from "./_interval_gate.ts";
import { keptWhenDone } from "./_given_ids.ts";
import { saveRow } from "./_postgres_batch.ts";
import type { PostgresCommit } from "./_postgres_commit.ts";
import { pruneFinished } from "./_postgres_journal.ts";
import type { PostgresPool } from "./_postgres_pool.ts";
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId } from "./task_status.ts";

/** What {@linkcode PostgresOutcomes} writes with, and how long finished groups stay. */
export interface PostgresOutcomesDeps {
  pool: PostgresPool;
  progress: PostgresCommit;
  clock: Clock;
  logger: StructuredLogger;
  retentionMs: number;
  retentionCount: number;
  pruneIntervalMs: number;
  /** Whether the store is closing: a prune it cuts short is no failure. */
  closing: () => boolean;
}

/** Writes attempts' outcomes to one PostgreSQL journal. */
export class PostgresOutcomes {
  readonly #deps: PostgresOutcomesDeps;
  readonly #prunes: IntervalGate;
  /** Outcomes given up on by the thousand (a database that is away): a line a second. */
  readonly #giveUps: IntervalGate;

  constructor(deps: PostgresOutcomesDeps) {
    this.#deps = deps;
    this.#prunes = new IntervalGate(deps.pruneIntervalMs, deps.clock);
    this.#giveUps = new IntervalGate(1_000, deps.clock);
  }

  /** See `TaskStore.record`. */
  record(entry: TaskEntry, nextAt: number): void {
    const { pool, progress, clock, logger, retentionMs, retentionCount } = this.#deps;
    const { group, state } = entry;
    // A keyed group that succeeded is saved as done, not deleted: a repeat of its key is known.
    const finished = state === "done" && group.tasks.every((task) => task.state === "done") &&
      !keptWhenDone(group.id);
    const row = state === "abandoned"
      // Queued again for the restart, keeping a backoff's retry time.
      ? { ...saveRow(entry, "queued", 0), keep: true }
      : saveRow(entry, state, nextAt);
    // Settles with the last try: a commit that failed is tried again with the next.
    progress.saveOutcome(row, finished).catch((error) => {
      this.#giveUps.each((unlogged) =>
        logger.error(
          "Cannot journal task {taskId} (given up after a minute of tries, or at close): {error} ({unlogged} more given up since the last such line)",
          { taskId: taskId(group.id, entry.index), error, unlogged },
        )
      );
    });
    if ((state === "done" || state === "failed") && this.#prunes.due()) {
      const cutoff = clock.now() - retentionMs;
      pool.run((sql) => pruneFinished(sql, cutoff, retentionCount)).catch((error) => {
        if (!this.#deps.closing()) logger.error("Cannot prune failed tasks: {error}", { error });
      });
    }
  }
}
