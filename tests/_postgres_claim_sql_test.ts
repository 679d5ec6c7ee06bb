import { deepEqual, ok } from "node:assert/strict";
import postgres from "postgres";
import { goneOwners } from "../lib/_postgres_claim_sql.ts";
import { TABLE } from "../lib/_postgres_journal.ts";
import { explaining, type PlanNode, rowsRead } from "./_plans.ts";
import { journalTable, postgresTest } from "./_postgres.ts";

postgresTest(
  "goneOwners: the owners with open tasks whose claim is free, found by one look per owner, not by reading each open row",
  async (db) => {
    await using opened = await journalTable(db);
    const { sql, table, fill } = opened;
    await fill("me", 5_000); // this server's backlog
    await fill("gone-a", 3);
    await fill("gone-b", 2);
    await fill("finished", 4, "done");
    await fill("live", 1);
    await db.admin`ANALYZE ${table}`;
    // A live owner holds its claim for its session.
    const live = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await live`SELECT pg_advisory_lock(hashtextextended('live', 0))`;
      const gone = await sql.begin((tx) => goneOwners(tx, TABLE, "me"));
      deepEqual(gone.toSorted(), ["gone-a", "gone-b"]);
      const plans: PlanNode[] = [];
      await sql.begin((tx) => goneOwners(explaining(tx, plans), TABLE, "me"));
      const [plan] = plans;
      if (plan === undefined) throw new Error("Cannot explain the look: no statement");
      // One index probe per owner, and one past the last; a DISTINCT read 5,000 rows or more.
      ok(rowsRead(plan) <= 10, `the look read ${rowsRead(plan)} rows`);
    } finally {
      await live.end();
    }
  },
);
