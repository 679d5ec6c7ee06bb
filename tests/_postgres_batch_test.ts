import { deepEqual, equal, ok } from "node:assert/strict";
import type { Sql } from "postgres";
import { type Batch, batchStatements, newBatch, type SaveRow } from "../lib/_postgres_batch.ts";
import { explaining, journalTable, type PlanNode, postgresTest } from "./_postgres.ts";

/** Rows a plan's joins compared and threw away, over all its nodes. */
function discardedByJoins(node: PlanNode): number {
  return (node["Rows Removed by Join Filter"] ?? 0) +
    (node.Plans ?? []).reduce((sum, child) => sum + discardedByJoins(child), 0);
}

/** The plans of a batch's statements, run as {@linkcode batchStatements} runs them. */
async function explainedBatch(sql: Sql, batch: Batch, owner: string): Promise<PlanNode[]> {
  const plans: PlanNode[] = [];
  await Promise.all(batchStatements(explaining(sql, plans), batch, owner, 1));
  return plans;
}

/** A save of task `index` of `groupId` as `state`, at the commit's time. */
const saved = (groupId: string, index: number, state: string): SaveRow => ({
  groupId,
  index,
  state,
  attempts: 1,
  nextAt: 0,
  error: null,
  durationMs: 0,
  at: -1,
  keep: false,
});

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
      batch.saves.set(`${groupId}/${index}`, saved(groupId, index, "done"));
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

postgresTest(
  "batchStatements: a batch's saves each find their own row, whatever the statistics say of the owner (a new process's owner is in none of them), and are not compared with each finished group",
  async (db) => {
    await using opened = await journalTable(db);
    const { sql, table } = opened;
    // No analyze but the one below, whenever autovacuum would look.
    await db.admin`ALTER TABLE ${table} SET (autovacuum_enabled = false)`;
    const fill = (owner: string, count: number) =>
      db.admin`
        INSERT INTO ${table} (group_id, idx, name, args, state, updated_at, owner)
        SELECT gen_random_uuid()::text, 0, 'send', '[]', 'queued', 0, ${owner}
        FROM generate_series(1, ${count})
      `;
    // The statistics were taken while an earlier process's rows were there;
    // then this one's backlog grew (a burst after a restart).
    await fill("earlier", 5_000);
    await db.admin`ANALYZE ${table}`;
    await db.admin`DELETE FROM ${table}`;
    await fill("me", 5_000);
    const ids = await db.admin`SELECT group_id FROM ${table} LIMIT 256`;
    const batch = newBatch();
    // Half of them finish their groups, to be deleted; half are attempt marks.
    for (const [i, { group_id: groupId }] of ids.entries()) {
      if (i % 2 === 0) {
        batch.saves.set(`${groupId}/0`, saved(groupId, 0, "done"));
        batch.finished.add(groupId);
      } else {
        batch.saves.set(`${groupId}/0`, { ...saved(groupId, 0, "running"), keep: true });
      }
    }
    const [plan] = await explainedBatch(sql, batch, "me");
    if (plan === undefined) throw new Error("Cannot explain the batch: no statement");
    // Joined by a scan of the table per saved row, 256 x 5,000 rows were
    // compared; and each saved row with each finished group, 256 x 128.
    ok(
      discardedByJoins(plan) <= 256,
      `the rows joined were compared with ${discardedByJoins(plan)} others`,
    );
    const [counted] = await db.admin`
      SELECT count(*) FILTER (WHERE state = 'running')::int AS running, count(*)::int AS left
      FROM ${table}
    `;
    deepEqual({ ...counted }, { running: 128, left: 5_000 - 128 });
  },
);
