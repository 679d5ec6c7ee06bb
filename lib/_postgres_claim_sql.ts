// What the database is told and asked of a claim's sessions: a session-level
// advisory lock on the owner id (see _postgres_claim.ts); and which owners'
// claims are free, their owners gone. Internal to PostgresTaskStore.
import type { Sql, TransactionSql } from "postgres";
import { failedOnTheWay } from "./_postgres_pool.ts";

/** How the claim's sessions are named, for the database's views and the claim's own ends. */
export const CLAIM_APPLICATION_NAME = "posthaste claim";

/**
 * The condition on `pg_locks l` of the sessions holding `owner`'s claim: a
 * 64-bit advisory key shows there as two 32-bit halves.
 */
const holding = (sql: Sql, owner: string) =>
  sql`l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
    AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(${owner}, 0)`;

/** Takes `owner`'s claim for `sql`'s session, waiting while another holds it. */
export async function lockClaim(sql: Sql, owner: string): Promise<void> {
  await sql`SELECT pg_advisory_lock(hashtextextended(${owner}, 0))`;
}

/**
 * The sessions holding `owner`'s claim, each `idle` if it is one of a claim's
 * and runs nothing.
 */
export function claimHolders(sql: Sql, owner: string): Promise<{ idle: boolean }[]> {
  return sql<{ idle: boolean }[]>`
    SELECT a.application_name = ${CLAIM_APPLICATION_NAME} AND a.state = 'idle' AS idle
    FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE ${holding(sql, owner)}`;
}

/**
 * Ends the sessions of a claim's former connections that hold `owner`'s
 * claim (only those: never a peer's look holding it for a moment), each
 * waited for until it is gone, its places with it. PostgreSQL 14 or later;
 * on earlier ones the call fails.
 */
async function endFormerClaims(sql: Sql, owner: string): Promise<void> {
  await sql`
    SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
    WHERE ${holding(sql, owner)}
    AND a.application_name = ${CLAIM_APPLICATION_NAME} AND l.pid <> pg_backend_pid()
  `;
}

/**
 * Takes `owner`'s claim again for `sql`'s session, once the former claim
 * sessions are ended ({@linkcode endFormerClaims}; if the database refuses
 * that, the lock waits for them). The lock is sent only once the end is
 * answered: the driver fails only the first query waiting for a connection
 * that cannot be made, and sends the others on the next, so a lock queued
 * behind an end that failed so would go out alone after a network cut, and
 * wait for the keepalive to end the former session. Fails with such an error.
 */
export async function retakeClaim(sql: Sql, owner: string): Promise<void> {
  try {
    await endFormerClaims(sql, owner);
  } catch (error) {
    if (failedOnTheWay(error)) throw error; // no answer: tried again
  }
  await lockClaim(sql, owner);
}

/**
 * Fails if `sql`'s session holds `owner`'s claim, and lets it go: a
 * connection not the claim's holds it only if a pooler hands sessions from
 * connection to connection (transaction or statement mode), where the lock
 * would stay with a session serving others, and outlive the process.
 */
export async function checkUnshared(sql: Sql, owner: string): Promise<void> {
  const released =
    await sql`SELECT pg_advisory_unlock(hashtextextended(${owner}, 0)) FROM pg_locks l
    WHERE ${holding(sql, owner)} AND l.pid = pg_backend_pid()`;
  if (released.length === 0) return;
  throw new Error(
    "its sessions are handed from connection to connection (a pooler in transaction or statement mode), so the claim, a session lock, would not stay with this server; connect directly, or through a pooler in session mode",
  );
}

/**
 * The owners other than `owner` with unfinished tasks in `table` whose claim
 * is free: gone. Each one's claim is taken until `tx` ends (a live owner
 * holds its own for its session).
 */
export async function goneOwners(
  tx: TransactionSql,
  table: string,
  owner: string,
): Promise<string[]> {
  // One round trip: the try-lock runs once per distinct owner (the CTE is
  // materialised before it). The owners are found by jumping from one to the
  // next in the open rows' index: a DISTINCT read every open row, a scan of
  // the backlog at each look (14 ms for 100,000; 90-180 ms on a table that
  // vacuum had not caught up with).
  const rows = await tx`
    WITH RECURSIVE owners(owner) AS (
      (SELECT owner FROM ${tx(table)} WHERE state NOT IN ('done', 'failed') ORDER BY owner LIMIT 1)
      UNION ALL
      SELECT (
        SELECT n.owner FROM ${tx(table)} AS n
        WHERE n.state NOT IN ('done', 'failed') AND n.owner > o.owner ORDER BY n.owner LIMIT 1
      ) FROM owners AS o WHERE o.owner IS NOT NULL
    ), others AS MATERIALIZED (
      SELECT owner FROM owners WHERE owner IS NOT NULL AND owner <> ${owner}
    )
    SELECT owner FROM others WHERE pg_try_advisory_xact_lock(hashtextextended(owner, 0))
  `;
  return rows.map((row) => String(row.owner));
}
