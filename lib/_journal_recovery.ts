// What a restart finds in the journal: the unfinished tasks, with the
// attempts during which the process died counted (the crash-loop guard), and
// the status of the groups the runner no longer has. Internal to SqliteTaskStore.
import type { DatabaseSync } from "node:sqlite";
import { keptWhenDone } from "./_given_ids.ts";
import { STOPPING_ID, storedTask } from "./_journal_rows.ts";
import { isFinal, isoOrNull } from "./_status_times.ts";
import { transaction } from "./_sqlite_transaction.ts";
import { groupStateOf, type GroupStatus, type TaskState } from "./task_status.ts";
import type { StoredTask } from "./task_store.ts";

const UNFINISHED = "state NOT IN ('done', 'failed')";

/**
 * Whether the journal's last process had begun to stop on request (its row
 * at {@linkcode STOPPING_ID}, see `markStopping`), as the journal opens; the
 * row is deleted, so that a crash of this process counts again.
 */
export function takeStoppingMark(db: DatabaseSync): boolean {
  const { changes } = db.prepare("DELETE FROM tasks WHERE group_id = ?").run(STOPPING_ID);
  return changes > 0;
}

/**
 * Returns the unfinished tasks in group order. A task found `running` was
 * running when the process died: its crash count grows (one transaction for
 * all) unless the process had begun to stop (`stopping`: a kill at the end
 * of the drain, not the task's crash), and at `crashLimit` it is returned
 * quarantined, still queued: the caller fails it once its dead letter is
 * written, so that a crash before then finds it quarantined again.
 */
export function findUnfinished(
  db: DatabaseSync,
  crashLimit: number,
  now: number,
  stopping = false,
): StoredTask[] {
  const rows = db.prepare(
    `SELECT * FROM tasks WHERE ${UNFINISHED} ORDER BY group_id, idx`,
  ).all() as Record<string, unknown>[];
  const tasks: StoredTask[] = [];
  const crashUpdate = db.prepare(
    "UPDATE tasks SET crashes = ?, state = 'queued', error = NULL, updated_at = ? WHERE group_id = ? AND idx = ?",
  );
  transaction(db, "BEGIN", () => {
    for (const row of rows) {
      // Found running: the process died during the attempt.
      const crashed = row.state === "running";
      const crashes = Number(row.crashes) + (crashed && !stopping ? 1 : 0);
      if (crashed) crashUpdate.run(crashes, now, String(row.group_id), Number(row.idx));
      tasks.push(storedTask(row, crashes, crashLimit));
    }
  });
  return tasks;
}

/**
 * Returns the unfinished tasks of the first `groups` groups after the group
 * `after`, in the journal's order; changes nothing (crashes were counted at
 * start-up). A group kept for its Idempotency-Key is in the journal under a
 * generated id (see tasks_keys): `pages` holds those of the last page
 * returned, by their own id, so that the next page starts after one of them
 * even once it is gone; it is filled with this page's. A task with
 * `crashLimit` crashes is quarantined (a start that died before failing it).
 */
export function findQueued(
  db: DatabaseSync,
  after: string,
  groups: number,
  pages: Map<string, string>,
  crashLimit: number,
): StoredTask[] {
  let from = pages.get(after);
  // A kept group not on the last page: its journal id, if its rows are there.
  if (from === undefined && keptWhenDone(after)) {
    const row = db.prepare("SELECT group_id FROM tasks WHERE key_id = ? LIMIT 1").get(after);
    if (row !== undefined) from = String(row.group_id);
  }
  const rows = db.prepare(
    `SELECT * FROM tasks WHERE ${UNFINISHED} AND group_id IN (SELECT DISTINCT group_id FROM tasks WHERE ${UNFINISHED} AND group_id > ? ORDER BY group_id LIMIT ?) ORDER BY group_id, idx`,
  ).all(from ?? after, groups) as Record<string, unknown>[];
  pages.clear();
  for (const row of rows) {
    if (typeof row.key_id === "string") pages.set(row.key_id, String(row.group_id));
  }
  return rows.map((row) => storedTask(row, Number(row.crashes), crashLimit));
}

/** A task's row as `GET /tasks/{id}` shows it. */
export type StatusRow = {
  name: string;
  state: TaskState;
  attempts: number;
  duration_ms: number;
  error: string | null;
  next_at: number | string; // PostgreSQL sends its bigint as text
  updated_at: number | string; // a final row's: when its task ended
  created_at: number | string | null; // null in rows journaled before the column was
};

/**
 * When a row's first attempt began, where the row says: a final one ended its
 * duration after it; a first attempt's mark is its start. Else -1.
 */
function startedAt(row: StatusRow): number {
  // A task abandoned before its first attempt ended with no duration and no start.
  if (isFinal(row.state)) return row.attempts > 0 ? Number(row.updated_at) - row.duration_ms : -1;
  return row.state === "running" && row.attempts === 1 ? Number(row.updated_at) : -1;
}

/** A group's status from its rows (in index order), or undefined without any. */
export function groupStatus(id: string, rows: StatusRow[]): GroupStatus | undefined {
  if (rows.length === 0) return undefined;
  const accepted = rows[0]?.created_at ?? null;
  return {
    id,
    state: groupStateOf(rows.map((row) => row.state)),
    acceptedAt: isoOrNull(accepted === null ? -1 : Number(accepted)),
    tasks: rows.map((row) => ({
      name: row.name,
      state: row.state,
      attempts: row.attempts,
      startedAt: isoOrNull(startedAt(row)),
      durationMs: row.duration_ms,
      finishedAt: isoOrNull(isFinal(row.state) ? Number(row.updated_at) : -1),
      error: row.error,
      // A task stopped at shutdown in its backoff is journaled queued, with its retry time.
      retryAt: (row.state === "retrying" || row.state === "queued") && Number(row.next_at) > 0
        ? new Date(Number(row.next_at)).toISOString()
        : null,
    })),
  };
}
