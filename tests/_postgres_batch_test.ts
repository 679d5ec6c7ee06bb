import { deepEqual, equal, ok } from "node:assert/strict";
import type { Sql } from "postgres";
import { type Batch, batchStatements, newBatch } from "../lib/_postgres_batch.ts";
import { discardedByJoins, explaining, type PlanNode, rowsRead } from "./_plans.ts";
import { journalTable, postgresTest, savedRow, type TestSchema } from "./_postgres.ts";

type Journal = Awaited<ReturnType<typeof journalTable>>;

/** The plans of a batch's statements, run as {@linkcode batchStatements} runs them. */
async function explainedBatch(sql: Sql, batch: Batch, owner: string): Promise<PlanNode[]> {
  const plans: PlanNode[] = [];
  await Promise.all(batchStatements(explaining(sql, plans), batch, owner, 1));
  return plans;
}

postgresTest(
  "batchStatements: a finished group's rows are deleted, with no version written for them first, in the statement that saves the outcomes of a group kept for a failed task",
  async (db) => {
    await using opened = await journalTable(db);
    const { sql, table } = opened;
    await db.admin`
      INSERT INTO ${table} (group_id, idx, name, args, state, updated_at, owner) VALUES
        ('done-group', 0, 'send', '[]', 'running', 0, 'me'),
        ('done-group', 1, 'send', '[]', 'running', 0, 'me'),
        ('kept-group', 0, 'send', '[]', 'running', 0, 'me'),
        ('kept-group', 1, 'send', '[]', 'failed', 0, 'me')
    `;
    const batch = newBatch();
    for (
      const [groupId, index] of [["done-group", 0], ["done-group", 1], ["kept-group", 0]] as const
    ) {
      batch.saves.set(`${groupId}/${index}`, savedRow(groupId, index, "done"));
      batch.finished.add(groupId);
    }
    const [update, ...others] = await explainedBatch(sql, batch, "me");
    equal(others.length, 0, "one statement: the deletes with the outcomes");
    equal(update?.Operation, "Update");
    // The rows it updated: the kept group's one, none of the finished group's.
    const updated = update?.Plans?.find((plan) => plan["Parent Relationship"] === "Outer");
    equal(updated?.["Actual Rows"], 1);
    const rows = await db.admin`SELECT group_id, idx, state FROM ${table} ORDER BY group_id, idx`;
    deepEqual(rows.map((row) => `${row.group_id}/${row.idx} ${row.state}`), [
      "kept-group/0 done",
      "kept-group/1 failed",
    ]);
  },
);

/** Statistics taken while an earlier process's 5,000 rows were there, those rows gone since. */
async function earlierOwnersStatistics(db: TestSchema, { fill, table }: Journal): Promise<void> {
  await fill("earlier", 5_000);
  await db.admin`ANALYZE ${table}`;
  await db.admin`DELETE FROM ${table}`;
}

/**
 * A batch of 256 saves, half of them finishing their groups, explained
 * against a backlog of 5,000 rows, after `stale` gave the table statistics
 * that say otherwise; and the rows running and left after it.
 */
async function batchOnStaleStatistics(
  db: TestSchema,
  stale: (journal: Journal) => Promise<void>,
) {
  await using opened = await journalTable(db);
  const { sql, table, fill } = opened;
  // No analyze but the test's, whenever autovacuum would look.
  await db.admin`ALTER TABLE ${table} SET (autovacuum_enabled = false)`;
  await stale(opened);
  await fill("me", 5_000);
  const ids = await db.admin`SELECT group_id FROM ${table} LIMIT 256`;
  const batch = newBatch();
  // Half of them finish their groups, to be deleted; half are attempt marks.
  for (const [i, { group_id: groupId }] of ids.entries()) {
    if (i % 2 === 0) {
      batch.saves.set(`${groupId}/0`, savedRow(groupId, 0, "done"));
      batch.finished.add(groupId);
    } else {
      batch.saves.set(`${groupId}/0`, { ...savedRow(groupId, 0, "running"), keep: true });
    }
  }
  const [plan] = await explainedBatch(sql, batch, "me");
  if (plan === undefined) throw new Error("Cannot explain the batch: no statement");
  const [counted] = await db.admin`
    SELECT count(*) FILTER (WHERE state = 'running')::int AS running, count(*)::int AS left
    FROM ${table}
  `;
  return { plan, counted: { ...counted } };
}

/**
 * What a batch on stale statistics must still do: read the table at most
 * once a statement, not once a saved row, and compare each saved row with
 * at most `compared` others in all.
 */
function checkBatch(
  { plan, counted }: Awaited<ReturnType<typeof batchOnStaleStatistics>>,
  compared: number,
): void {
  ok(
    discardedByJoins(plan) <= compared,
    `rows joined were compared ${discardedByJoins(plan)} times`,
  );
  ok(rowsRead(plan) <= 3 * 5_000 + 4 * 256, `the batch read ${rowsRead(plan)} rows of the table`);
  deepEqual(counted, { running: 128, left: 5_000 - 128 });
}

postgresTest(
  "batchStatements: a batch's saves each find their own row, whatever the statistics say of the owner (a new process's owner is in none of them), and are not compared with each finished group",
  async (db) => {
    // Taken while an earlier process's rows were there; then this one's
    // backlog grew (a burst after a restart). A scan of the table per saved
    // row compared 256 x 5,000 rows; a loop over the finished groups per
    // saved row, 256 x 128.
    const batch = await batchOnStaleStatistics(
      db,
      (journal) => earlierOwnersStatistics(db, journal),
    );
    checkBatch(batch, 256);
  },
);

postgresTest(
  "batchStatements: a batch's saves each find their own row when the statistics were taken while the queue was empty",
  async (db) => {
    // The planner then takes the table for one row, however large it grew,
    // and loops over it for each saved row: 650,000 rows read. Only the
    // batch's own rows may meet the batch (256 x 256 at most).
    const batch = await batchOnStaleStatistics(db, async ({ fill, table }) => {
      await fill("me", 5_000);
      await db.admin`DELETE FROM ${table}`;
      await db.admin`ANALYZE ${table}`;
    });
    checkBatch(batch, 256 * 256);
  },
);

postgresTest(
  "batchStatements: a withdrawn group's rows are found by its ids, not by a scan of the owner's backlog, whatever the statistics say of the owner",
  async (db) => {
    // Statistics from an earlier process's rows: the planner took this
    // owner's for one row and read all of them through the open index,
    // 50,000 rows to delete 256. (At 20,000 it scans the table, rightly.)
    await using opened = await journalTable(db);
    const { sql, table, fill } = opened;
    await db.admin`ALTER TABLE ${table} SET (autovacuum_enabled = false)`;
    await earlierOwnersStatistics(db, opened);
    await fill("me", 50_000);
    await db.admin`
      INSERT INTO ${table} (group_id, idx, name, args, state, updated_at, owner, attempts) VALUES
        ('adopted', 0, 'send', '[]', 'queued', 0, 'other', 0),
        ('started', 0, 'send', '[]', 'queued', 0, 'me', 1)
    `;
    const batch = newBatch();
    const ids = await db.admin`SELECT group_id FROM ${table} WHERE owner = 'me' LIMIT 256`;
    for (const { group_id: groupId } of ids) batch.withdrawn.add(groupId);
    batch.withdrawn.add("adopted").add("started");
    const [plan, ...others] = await explainedBatch(sql, batch, "me");
    equal(others.length, 0);
    if (plan === undefined) throw new Error("Cannot explain the withdrawal: no statement");
    ok(rowsRead(plan) <= 4 * 258, `the withdrawal read ${rowsRead(plan)} rows of the table`);
    const [left] = await db.admin`SELECT count(*)::int AS n FROM ${table}`;
    const kept = await db.admin`
      SELECT group_id FROM ${table} WHERE group_id IN ('adopted', 'started') ORDER BY group_id
    `;
    deepEqual({ left: left?.n, kept: kept.map((row) => row.group_id) }, {
      left: 50_002 - ids.length,
      kept: ["adopted", "started"],
    });
  },
);
