import { equal, ok } from "node:assert/strict";
import type { Sql } from "postgres";
import { batchStatements, newBatch, type SaveRow } from "../lib/_postgres_batch.ts";
import { ensureTable } from "../lib/_postgres_journal.ts";
import { connect } from "../lib/_postgres_pool.ts";
import { postgresTest } from "./_postgres.ts";

/** `sql`, with each statement it runs explained as it runs (`EXPLAIN ANALYZE`, JSON). */
function explaining(sql: Sql): Sql {
  return new Proxy(sql, {
    apply(target, self, [strings, ...values]) {
      if (!Array.isArray(strings?.raw)) return Reflect.apply(target, self, [strings, ...values]);
      const explained = [`EXPLAIN (ANALYZE, FORMAT JSON) ${strings[0]}`, ...strings.slice(1)];
      return Reflect.apply(target, self, [Object.assign(explained, { raw: explained }), ...values]);
    },
  });
}

interface PlanNode {
  "Node Type": string;
  "Rows Removed by Join Filter"?: number;
  Plans?: PlanNode[];
}

/** Rows a plan's joins compared and threw away, over all its nodes. */
function discardedByJoins(node: PlanNode): number {
  return (node["Rows Removed by Join Filter"] ?? 0) +
    (node.Plans ?? []).reduce((sum, child) => sum + discardedByJoins(child), 0);
}

postgresTest(
  "batchStatements: a batch's saves each find their own row, whatever the statistics say of the owner (a new process's owner is in none of them)",
  async (db) => {
    const sql = connect(db.url, 1);
    try {
      await ensureTable(sql);
      const table = db.admin(`${db.name}.posthaste_tasks`);
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
      for (const { group_id: groupId } of ids) {
        const row: SaveRow = {
          groupId,
          index: 0,
          state: "running",
          attempts: 1,
          nextAt: 0,
          error: null,
          durationMs: 0,
          at: -1,
          keep: true,
        };
        batch.saves.set(`${groupId}/0`, row);
      }
      const [update] = batchStatements(explaining(sql), batch, "me", 1);
      const [{ "QUERY PLAN": [{ Plan: plan }] }] = await update as [
        { "QUERY PLAN": [{ Plan: PlanNode }] },
      ];
      // Joined by a scan of the table per saved row, 256 x 5,000 rows were compared.
      ok(
        discardedByJoins(plan) <= 256,
        `the rows joined were compared with ${discardedByJoins(plan)} others`,
      );
      const [counted] = await db.admin`
        SELECT count(*)::int AS running FROM ${table} WHERE state = 'running'
      `;
      equal(counted?.running, 256);
    } finally {
      await sql.end();
    }
  },
);
