// One SQLite transaction, rolled back on error without hiding the error.
// Internal to the SQLite journal.
import type { DatabaseSync } from "node:sqlite";

/**
 * Runs `body` between `begin` and COMMIT; if either throws, rolls back and
 * rethrows that error. On some errors (a full disk, an I/O error) SQLite has
 * rolled back already: a ROLLBACK then throws "no transaction is active",
 * which would replace the cause ("database or disk is full") in every log.
 */
export function transaction<T>(
  db: DatabaseSync,
  begin: "BEGIN" | "BEGIN IMMEDIATE",
  body: () => T,
): T {
  db.exec(begin);
  try {
    const result = body();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
