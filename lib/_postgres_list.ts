// How PostgreSQL's journal is read a page at a time, in the order recover()
// returns (by acceptance): the walk of work deferred at start-up or adoption.
// Internal to PostgresTaskStore.
import type { Sql } from "postgres";
import { readRow, TABLE } from "./_postgres_journal.ts";
import type { StoredTask } from "./task_store.ts";

/**
 * Where each group of the last page sorts (its acceptance, 0 if the journal
 * has none), by group id: a walk goes on from one of them.
 */
export type ListedPage = Map<string, number>;

/**
 * The unfinished tasks of `owner`'s first `groups` groups after the group
 * `after`, by acceptance, then group id (as `byAcceptance` sorts what is
 * adopted); quarantined at `crashLimit` crashes. Group ids alone are no such
 * order: an `Idempotency-Key`'s is a hash, and its group would wait behind
 * every newer one. `after` is found on `page` (the last one listed, which
 * this replaces) or in the table; a group neither holds any more is
 * listed from the first, which a walk skipping the groups it has passes by.
 */
export async function listOwned(
  sql: Sql,
  owner: string,
  after: string,
  groups: number,
  crashLimit: number,
  page: ListedPage,
): Promise<StoredTask[]> {
  const at = after === "" ? undefined : page.get(after) ?? await acceptance(sql, after);
  // The same expression as the index (see _postgres_schema.ts), so that it serves the walk.
  const rows = await sql`
    SELECT * FROM ${sql(TABLE)} WHERE owner = ${owner} AND state NOT IN ('done', 'failed')
    AND group_id IN (
      SELECT group_id FROM ${sql(TABLE)}
      WHERE owner = ${owner} AND state NOT IN ('done', 'failed') ${
    at === undefined
      ? sql``
      : sql`AND (coalesce(created_at, 0), group_id) > (${at}::bigint, ${after})`
  }
      GROUP BY coalesce(created_at, 0), group_id
      ORDER BY coalesce(created_at, 0), group_id LIMIT ${groups}
    )
    ORDER BY coalesce(created_at, 0), group_id, idx
  `;
  const tasks = rows.map((row) => readRow(row, crashLimit));
  page.clear();
  for (const task of tasks) page.set(task.groupId, task.acceptedAt ?? 0);
  return tasks;
}

/** Where a group the last page did not hold sorts, if the journal still has it. */
async function acceptance(sql: Sql, groupId: string): Promise<number | undefined> {
  const [row] = await sql`
    SELECT coalesce(created_at, 0) AS at FROM ${sql(TABLE)} WHERE group_id = ${groupId} LIMIT 1
  `;
  return row === undefined ? undefined : Number(row.at);
}
