// Which finished groups the journal still keeps (failed ones, and keyed ones
// that succeeded): deleting the ones beyond the retention bounds, at most
// once an interval. Internal to SqliteTaskStore.
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Clock } from "./clock.ts";
import { IntervalGate } from "./_interval_gate.ts";
import { STOPPING_ID } from "./_journal_rows.ts";

/** The bounds; see {@linkcode SqliteTaskStoreOptions}. */
export interface RetentionOptions {
  retentionMs: number;
  retentionCount: number;
  pruneIntervalMs: number;
  clock: Pick<Clock, "now">;
}

/** Prunes the failed groups of one journal, and the keyed groups kept after they succeeded. */
export class JournalRetention {
  #prunes: [old: StatementSync, many: StatementSync][];
  #options: RetentionOptions;
  #gate: IntervalGate;

  constructor(db: DatabaseSync, options: RetentionOptions) {
    this.#options = options;
    this.#gate = new IntervalGate(options.pruneIntervalMs, options.clock);
    // Whole finished groups whose failures (or, for a group with none, its
    // successes) are too old or too many; each walks the partial index of
    // its state's rows. A group still running stays, and so does the row
    // saying the process stops (the next open deletes it), whatever the bounds.
    const pruneGroups = (state: "failed" | "done", where: string) =>
      db.prepare(`
        DELETE FROM tasks WHERE group_id IN (
          SELECT f.group_id FROM tasks AS f WHERE f.state = '${state}' AND ${where}
          AND f.group_id <> '${STOPPING_ID}'
          AND NOT EXISTS (
            SELECT 1 FROM tasks AS o
            WHERE o.group_id = f.group_id AND o.state NOT IN ('done', '${state}')
          )
        )`);
    // Rows of one millisecond are told apart by group and index, so that
    // exactly the newest `retentionCount` stay (a tie had pruned them all).
    const newest = (state: string) =>
      `(f.updated_at, f.group_id, f.idx) <= (
      SELECT updated_at, group_id, idx FROM tasks WHERE state = '${state}'
      ORDER BY updated_at DESC, group_id DESC, idx DESC LIMIT 1 OFFSET ?
    )`;
    this.#prunes = (["failed", "done"] as const).map((state) => [
      pruneGroups(state, "f.updated_at < ?"),
      pruneGroups(state, newest(state)),
    ]);
  }

  /** Whether a prune is due (one an interval); a `true` counts as the interval's prune. */
  due(): boolean {
    return this.#gate.due();
  }

  /** Deletes the finished groups beyond the bounds, now. */
  prune(): void {
    const { clock, retentionMs, retentionCount } = this.#options;
    for (const [old, many] of this.#prunes) {
      old.run(clock.now() - retentionMs);
      many.run(retentionCount);
    }
  }
}
