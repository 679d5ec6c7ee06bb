// A PostgreSQL commit's batch: the writes it gathers and the statements that
// send them, four at most however many requests they came from. Internal to
// PostgresTaskStore.
import type { Sql } from "postgres";
import { journalError, type NewRow, outcomeAt } from "./_journal_rows.ts";
import { TABLE } from "./_postgres_journal.ts";
import type { TaskEntry } from "./task_entry.ts";

/** A task's progress; `keep` leaves its retry time, error and duration as they are. */
export interface SaveRow {
  groupId: string;
  index: number;
  state: string;
  attempts: number;
  nextAt: number;
  error: string | null;
  durationMs: number;
  /** When it ended (`updated_at`), or -1 if it has not: the commit's time then. */
  at: number;
  keep: boolean;
}

/** The writes of one commit. */
export interface Batch {
  inserts: NewRow[];
  /** Rows of groups with a chosen id: inserted only if no row has that id yet. */
  checked: NewRow[];
  /** The groups of `checked` whose id was taken, once committed. */
  refused: Set<string>;
  /** The last save of each task wins (one that keeps takes the earlier one's values). */
  saves: Map<string, SaveRow>;
  /** Groups whose last task succeeded: deleted unless a task failed or another owner's is open. */
  finished: Set<string>;
  /**
   * Groups whose insert was sent in a batch that failed: the database may
   * have applied it all the same. Deleted if still this owner's and never run.
   */
  withdrawn: Set<string>;
  /** When a commit of outcomes carried over into this batch first failed (`now`). */
  failedSince: number | undefined;
  /** This batch's commit. */
  done: PromiseWithResolvers<void>;
  /**
   * Its outcomes' commit: this batch's, or a later one's they were carried
   * over to; rejected once they are given up.
   */
  outcomes: PromiseWithResolvers<void>;
}

/** An empty batch. */
export function newBatch(): Batch {
  const [done, outcomes] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  // Callers handle their own failures; a batch of carried-over outcomes may have none.
  done.promise.catch(() => {});
  outcomes.promise.catch(() => {});
  return {
    inserts: [],
    checked: [],
    refused: new Set(),
    saves: new Map(),
    finished: new Set(),
    withdrawn: new Set(),
    failedSince: undefined,
    done,
    outcomes,
  };
}

/**
 * The batch's statements, sent at once on one connection, which runs them in
 * order.
 */
export function batchStatements(
  sql: Sql,
  { inserts, checked, refused, saves, finished, withdrawn }: Batch,
  owner: string,
  now: number,
): Promise<unknown>[] {
  // No BEGIN and COMMIT round trips: the statements are sent at once on
  // this commit's own connection, which runs them in order, each its own
  // transaction. An enqueue is one statement, so it is atomic; so are the
  // outcomes with the deletes of the groups they finish.
  const statements = [];
  // New rows as one INSERT; the checked ones add their conditions to it.
  // When each group was accepted; the commit's time for rows no runner took.
  const accepted = (rows: NewRow[]) => rows.map((row) => row.acceptedAt < 0 ? now : row.acceptedAt);
  const insertRows = (rows: NewRow[]) =>
    sql`
      INSERT INTO ${sql(TABLE)} (group_id, idx, name, args, state, updated_at, owner, created_at)
      SELECT g, i, n, a, 'queued', ${now}, ${owner}, c
      FROM unnest(${column(rows, "groupId")}::text[], ${column(rows, "index")}::int[], ${
      column(rows, "name")
    }::text[], ${column(rows, "args")}::text[], ${accepted(rows)}::bigint[]) AS u(g, i, n, a, c)
    `;
  if (inserts.length > 0) statements.push(insertRows(inserts));
  if (checked.length > 0) {
    // A group's rows see the table as it was before the statement, not
    // each other: all of a group go in, or none. Chosen ids only: with
    // their request fingerprints (keyed groups').
    statements.push(
      sql`
        INSERT INTO ${
        sql(TABLE)
      } (group_id, idx, name, args, state, updated_at, owner, fingerprint, created_at)
        SELECT g, i, n, a, 'queued', ${now}, ${owner}, f, c
        FROM unnest(${column(checked, "groupId")}::text[], ${column(checked, "index")}::int[], ${
        column(checked, "name")
      }::text[], ${column(checked, "args")}::text[], ${column(checked, "fingerprint")}::text[], ${
        accepted(checked)
      }::bigint[]) AS u(g, i, n, a, f, c)
        WHERE NOT EXISTS (SELECT 1 FROM ${sql(TABLE)} AS e WHERE e.group_id = u.g)
        ON CONFLICT DO NOTHING
        RETURNING group_id
      `.then((rows) => {
        const inserted = new Set(rows.map((row) => String(row.group_id)));
        for (const row of checked) if (!inserted.has(row.groupId)) refused.add(row.groupId);
      }),
    );
  }
  if (saves.size > 0 || finished.size > 0) {
    const rows = [...saves.values()];
    const [ids, done] = [column(rows, "groupId"), [...finished]];
    // One statement: the groups whose last task succeeded are deleted, and
    // the outcomes of all other rows saved. A finished group's rows get no
    // version only to be deleted (fewer dead rows for vacuum), and a crash
    // leaves both or neither. A group is kept if a task failed, or if another
    // server adopted one (this one's claim lapsed) and has not finished it:
    // that one runs it again, and reports it. The owner is compared as a
    // column of the batch, not as a value: a new process's owner is in none
    // of the table's statistics, so the planner took its rows for one, and
    // joined the batch to a scan of the whole table per row (256 rows
    // against a backlog of 20,000: 0.8 s a batch). Statistics taken while
    // the queue was empty make it take the whole table for one row, and
    // loop over it per row: so each reference to the table is bounded by
    // the batch's own ids (= ANY), and the groups to keep or to leave out
    // are hashed NOT IN lists (ids are never null), each read once.
    statements.push(sql`
        WITH finished AS (
          DELETE FROM ${sql(TABLE)} AS t WHERE t.group_id = ANY(${done}::text[])
          AND t.group_id NOT IN (
            SELECT f.group_id FROM ${sql(TABLE)} AS f WHERE f.group_id = ANY(${done}::text[])
            AND (f.state = 'failed' OR (f.owner <> ${owner} AND f.state <> 'done'))
          )
          RETURNING t.group_id
        )
        UPDATE ${sql(TABLE)} AS t SET
          state = u.s, attempts = u.n,
          next_at = CASE WHEN u.k = 1 THEN t.next_at ELSE u.x END,
          error = CASE WHEN u.k = 1 THEN t.error ELSE u.e END,
          duration_ms = CASE WHEN u.k = 1 THEN t.duration_ms ELSE u.d END,
          updated_at = CASE WHEN u.t < 0 THEN ${now} ELSE u.t END
        FROM unnest(${ids}::text[], ${column(rows, "index")}::int[], ${
      column(rows, "state")
    }::text[], ${column(rows, "attempts")}::int[], ${column(rows, "nextAt")}::bigint[], ${
      column(rows, "error")
    }::text[], ${column(rows, "durationMs")}::int[], ${column(rows, "at")}::bigint[], ${
      // The driver sends a boolean array as one boolean.
      rows.map((row) =>
        row.keep ? 1 : 0
      )}::int[], array_fill(${owner}::text, ARRAY[${rows.length}::int]))
          AS u(g, i, s, n, x, e, d, t, k, o)
        WHERE t.group_id = ANY(${ids}::text[])
        AND t.group_id = u.g AND t.idx = u.i AND t.owner = u.o
        AND u.g NOT IN (SELECT group_id FROM finished)
      `);
  }
  if (withdrawn.size > 0) {
    // Its client was answered 503 and nothing here ran it: never to run.
    // The owner is a column again (see above): as a value, the planner
    // read every row of this owner's through the open index (50,000 to delete 256).
    const ids = [...withdrawn];
    statements.push(sql`
        DELETE FROM ${sql(TABLE)} AS t
        USING unnest(${ids}::text[], array_fill(${owner}::text, ARRAY[${ids.length}::int])) AS u(g, o)
        WHERE t.group_id = ANY(${ids}::text[]) AND t.group_id = u.g AND t.owner = u.o
        AND t.state = 'queued' AND t.attempts = 0
      `);
  }
  return statements;
}

/** One field of every row, as the array that one `unnest` argument takes. */
function column<R, K extends keyof R>(rows: readonly R[], key: K): R[K][] {
  return rows.map((row) => row[key]);
}

const INT_MAX = 2 ** 31 - 1;

/** A task's progress as the commit saves it. */
export function saveRow(entry: TaskEntry, state: string, nextAt: number): SaveRow {
  return {
    groupId: entry.group.id,
    index: entry.index,
    state,
    attempts: entry.attempts,
    nextAt: Math.ceil(nextAt),
    error: journalError(entry.error),
    // The column is an integer: a task that took over 24.8 days (with its
    // retries) must not fail the commit that other tasks' writes share.
    durationMs: Math.min(Math.round(entry.durationMs), INT_MAX),
    at: outcomeAt(entry) ?? -1,
    keep: false,
  };
}

/** Whether a batch holds progress (outcomes, deletes), which is never refused, only carried over. */
export function hasProgress(batch: Batch): boolean {
  return batch.saves.size > 0 || batch.finished.size > 0 || batch.withdrawn.size > 0;
}
