// Which failed groups the journal still keeps: deleting the ones beyond the
// retention bounds, at most once an interval. Internal to SqliteTaskStore.
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Clock } from "./clock.ts";
import { IntervalGate } from "./_interval_gate.ts";

/** The bounds; see {@linkcode SqliteTaskStoreOptions}. */
export interface RetentionOptions {
  retentionMs: number;
  retentionCount: number;
  pruneIntervalMs: number;
  clock: Pick<Clock, "now">;
}

/** Prunes the failed groups of one journal. */
export class JournalRetention {
  #pruneOld: StatementSync;
  #pruneMany: StatementSync;
  #options: RetentionOptions;
  #gate: IntervalGate;

  constructor(db: DatabaseSync, options: RetentionOptions) {
    this.#options = options;
    this.#gate = new IntervalGate(options.pruneIntervalMs, options.clock);
    // Whole finished groups whose failures are too old or too many; both
    // walk the partial index of failed rows. A group still running stays.
    const pruneGroups = (failedWhere: string) =>
      db.prepare(`
        DELETE FROM tasks WHERE group_id IN (
          SELECT f.group_id FROM tasks AS f WHERE f.state = 'failed' AND ${failedWhere}
          AND NOT EXISTS (
            SELECT 1 FROM tasks AS o
            WHERE o.group_id = f.group_id AND o.state NOT IN ('done', 'failed')
          )
        )`);
    this.#pruneOld = pruneGroups("f.updated_at < ?");
    // Failures of one millisecond are told apart by group and index, so that
    // exactly the newest `retentionCount` stay (a tie had pruned them all).
    this.#pruneMany = pruneGroups(`(f.updated_at, f.group_id, f.idx) <= (
      SELECT updated_at, group_id, idx FROM tasks WHERE state = 'failed'
      ORDER BY updated_at DESC, group_id DESC, idx DESC LIMIT 1 OFFSET ?
    )`);
  }

  /** Whether a prune is due (one an interval); a `true` counts as the interval's prune. */
  due(): boolean {
    return this.#gate.due();
  }

  /** Deletes the finished groups whose failures are beyond the bounds, now. */
  prune(): void {
    const { clock, retentionMs, retentionCount } = this.#options;
    this.#pruneOld.run(clock.now() - retentionMs);
    this.#pruneMany.run(retentionCount);
  }
}
