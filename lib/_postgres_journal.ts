// The PostgreSQL journal: its table's name, and the statements that read and
// adopt it (the table itself: _postgres_schema.ts). Internal to PostgresTaskStore.
import type { Sql, TransactionSql } from "postgres";
import { abortable } from "./abortable.ts";
import type { StatusRow } from "./_journal_recovery.ts";
import { PROBE_PREFIX, STOPPING_ID, storedTask } from "./_journal_rows.ts";
import { KEPT_ID_SQL } from "./_given_ids.ts";
import { goneOwners } from "./_postgres_claim_sql.ts";
import type { StoredTask } from "./task_store.ts";
import type { TaskRow } from "./_postgres_schema.ts";

/** The table's name; one table holds the tasks of every server sharing the database. */
export const TABLE = "posthaste_tasks";

/** How long past the retention a stop row stays (see pruneFinished). */
const DAY_MS = 86_400_000;

/** How a health probe's group id starts (`~probe-<owner>`); not a task to adopt. */
export const PROBE = `${PROBE_PREFIX}-`;

/** The group id of the row that says `owner` began to stop (see _postgres_stop_mark.ts). */
export const stoppingId = (owner: string): string => `${STOPPING_ID}-${owner}`;

/** The fingerprint journaled with a group (a string if it is there and has one). */
export async function readFingerprint(sql: Sql, groupId: string): Promise<unknown> {
  const [row] = await sql`
    SELECT fingerprint FROM ${sql(TABLE)} WHERE group_id = ${groupId} LIMIT 1
  `;
  return row?.fingerprint;
}

/** Tasks of gone owners left in the journal, by name: no definition here runs them. */
export type LeftBehind = { name: string; tasks: number }[];

/**
 * Takes over the unfinished tasks of every owner that is gone, that is whose
 * session lock is free: its process ended or lost its connection. Tasks
 * found running crashed their process: their crash count grows (unless the
 * owner had begun to stop: see `markStopping`), and at
 * `crashLimit` they are returned quarantined, still queued (failed once
 * their dead letters are written). Two servers adopting at once
 * skip each other's owners (a try-lock, the owner-level `SKIP LOCKED`).
 * Given `names`, only groups whose unfinished tasks all have one of them.
 * Nothing while `owner`'s own claim is free.
 *
 * @returns The adopted tasks in group order, and, given `names`, how many
 * tasks of gone owners are left, by name; `unclaimed` if `owner`'s claim was
 * free, and nothing was adopted for it.
 */
export async function adoptOrphans(
  tx: TransactionSql,
  owner: string,
  crashLimit: number,
  now: number,
  names?: readonly string[],
): Promise<{ adopted: StoredTask[]; left: LeftBehind; unclaimed?: true }> {
  // An adopter whose own claim is free (its claim's connection lost, not yet
  // taken again) adopts nothing: else two servers cut off from the database
  // together (a failover) adopt each other's work back and forth, each time
  // running it again (seen: 300 requests, 7,536 lines).
  const [self] = await tx`SELECT pg_try_advisory_xact_lock(hashtextextended(${owner}, 0)) AS free`;
  if (self?.free) return { adopted: [], left: [], unclaimed: true };
  // Their claims held until this transaction ends.
  const gone = await goneOwners(tx, TABLE, owner);
  if (gone.length === 0) return { adopted: [], left: [] };
  // Owners that had begun to stop: killed at the end of their drain, not
  // by a task (read before the delete below takes their rows).
  const stopped = (await tx`
    SELECT owner FROM ${tx(TABLE)} WHERE group_id = ANY(${gone.map(stoppingId)}::text[])
  `).map((row) => String(row.owner));
  // Groups whose last outcome was written but not their deletion (the owner
  // died between the two statements), and rows a health probe left (a stop's
  // row too, read above): nothing is left to run or report. Keyed groups that succeeded are kept on purpose.
  await tx`
    DELETE FROM ${tx(TABLE)} WHERE owner = ANY(${gone}::text[]) AND (
      group_id LIKE ${PROBE + "%"} OR group_id IN (
        SELECT group_id FROM ${tx(TABLE)} WHERE owner = ANY(${gone}::text[])
        AND NOT ${tx.unsafe(KEPT_ID_SQL)}
        GROUP BY group_id HAVING bool_and(state = 'done')
      )
    )
  `;
  const rows = await tx`
    UPDATE ${tx(TABLE)} SET
      owner = ${owner},
      crashes = crashes + (state = 'running' AND owner <> ALL(${stopped}::text[]))::int,
      -- At crashLimit, quarantined still queued: failed once its dead letter is written.
      state = CASE WHEN state = 'running' THEN 'queued' ELSE state END,
      -- A retry's keeps its writer's time: with next_at, the wait it was given, by one clock.
      updated_at = CASE WHEN state = 'running' THEN ${now} ELSE updated_at END
    WHERE owner = ANY(${gone}::text[]) AND state NOT IN ('done', 'failed')
    ${
    names === undefined ? tx`` : tx`AND group_id NOT IN (
      SELECT group_id FROM ${tx(TABLE)} WHERE owner = ANY(${gone}::text[])
      AND state NOT IN ('done', 'failed') AND NOT (name = ANY(${names as string[]}::text[]))
    )`
  }
    RETURNING *
  `;
  // Oldest first, as the dead owner accepted them: an id chosen for a key
  // (a hash) sorts anywhere, and would wait behind newer groups each restart.
  const adopted = rows.map((row) => readRow(row, crashLimit)).sort(byAcceptance);
  if (names === undefined) return { adopted, left: [] };
  // A group holding a task this server does not define stays with its gone
  // owner for one that does (a rolling deploy: an older server must not
  // dead-letter a newer one's work). Said, so that one no server defines shows.
  const left = await tx`
    SELECT name, count(*)::int AS tasks FROM ${tx(TABLE)}
    WHERE owner = ANY(${gone}::text[]) AND state NOT IN ('done', 'failed')
    GROUP BY name ORDER BY name
  `;
  return {
    adopted,
    left: left.map((row) => ({ name: String(row.name), tasks: Number(row.tasks) })),
  };
}

/** Marks one of `owner`'s tasks failed (quarantined at start-up, or unreadable). */
export async function failOwned(
  sql: Sql,
  owner: string,
  task: Pick<StoredTask, "groupId" | "index">,
  error: string,
  now: number,
): Promise<void> {
  await sql`
    UPDATE ${sql(TABLE)} SET state = 'failed', error = ${error}, updated_at = ${now}
    WHERE group_id = ${task.groupId} AND idx = ${task.index} AND owner = ${owner}
  `;
}

/**
 * A group's rows for its status; at `signal` the query is cancelled, so that
 * the pooled connection is freed at once, not when the query would end.
 */
export async function readGroup(
  sql: Sql,
  groupId: string,
  signal?: AbortSignal,
): Promise<StatusRow[]> {
  signal?.throwIfAborted();
  const query = sql`
    SELECT name, state, attempts, duration_ms, error, next_at, updated_at, created_at FROM ${
    sql(TABLE)
  }
    WHERE group_id = ${groupId} ORDER BY idx
  `;
  const cancel = () => void query.cancel();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    return await abortable(query, signal) as unknown as StatusRow[];
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}

/**
 * Deletes whole finished groups whose failures (or, for a keyed group kept
 * after it succeeded, its successes) are older than `cutoff` or beyond the
 * newest `count` failed (or done) tasks (ties in time broken by group and
 * index). A group still running stays. A server's row saying it stops (see
 * _postgres_stop_mark.ts) stays a day past `cutoff`, whatever the bounds:
 * its drain may still run (an adopter deletes it sooner).
 */
export async function pruneFinished(sql: Sql, cutoff: number, count: number): Promise<void> {
  for (const name of ["failed", "done"]) {
    // A literal, not a parameter: the planner must see it to use the partial index.
    const state = sql.unsafe(`'${name}'`);
    await sql`
      DELETE FROM ${sql(TABLE)} WHERE group_id IN (
        SELECT f.group_id FROM ${sql(TABLE)} AS f WHERE f.state = ${state} AND (
          f.updated_at < ${cutoff} OR (f.updated_at, f.group_id, f.idx) <= (
            SELECT updated_at, group_id, idx FROM ${sql(TABLE)} WHERE state = ${state}
            ORDER BY updated_at DESC, group_id DESC, idx DESC LIMIT 1 OFFSET ${count}
          )
        )
        AND (f.group_id NOT LIKE ${`${STOPPING_ID}-%`} OR f.updated_at < ${cutoff - DAY_MS})
        AND NOT EXISTS (
          SELECT 1 FROM ${sql(TABLE)} AS o
          WHERE o.group_id = f.group_id AND o.state NOT IN ('done', ${state})
        )
      )
    `;
  }
}

/** A row as a task; quarantined at `crashLimit` crashes. */
export function readRow(row: TaskRow, crashLimit: number): StoredTask {
  return storedTask(row, Number(row.crashes), crashLimit);
}

/** By acceptance (unknown for rows older than the column: first), then group and index. */
function byAcceptance(a: StoredTask, b: StoredTask): number {
  const [at, bt] = [a.acceptedAt ?? 0, b.acceptedAt ?? 0];
  if (at !== bt) return at - bt;
  return a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : a.index - b.index;
}
