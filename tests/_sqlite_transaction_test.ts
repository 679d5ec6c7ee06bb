import { deepEqual, equal, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { transaction } from "../lib/_sqlite_transaction.ts";

/** A journal-like file whose disk is full after a few pages. */
function smallDb(): DatabaseSync {
  const db = new DatabaseSync(`${Deno.makeTempDirSync()}/t.db`);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); PRAGMA max_page_count = 8");
  return db;
}

const rows = (db: DatabaseSync): string[] =>
  db.prepare("SELECT v FROM t ORDER BY rowid").all().map((row) => String(row.v));
const insert = (db: DatabaseSync, v: string) => db.prepare("INSERT INTO t VALUES (?)").run(v);

Deno.test("transaction: commits what the body wrote and returns its result", () => {
  using db = smallDb();
  equal(transaction(db, "BEGIN IMMEDIATE", () => (insert(db, "a"), 1)), 1);
  deepEqual(rows(db), ["a"]);
  equal(db.isTransaction, false);
});

Deno.test("transaction: a body that throws is rolled back, and its error comes out", () => {
  using db = smallDb();
  const boom = new Error("boom");
  throws(() =>
    transaction(db, "BEGIN", () => {
      insert(db, "a");
      throw boom;
    }), boom);
  deepEqual(rows(db), []);
  equal(db.isTransaction, false);
});

Deno.test("transaction: a full disk is reported as such, not as a failed rollback", () => {
  using db = smallDb();
  // SQLite rolls back by itself on SQLITE_FULL; a ROLLBACK after it would
  // throw "cannot rollback - no transaction is active" instead.
  throws(
    () => transaction(db, "BEGIN IMMEDIATE", () => insert(db, "x".repeat(100_000))),
    /database or disk is full/,
  );
  equal(db.isTransaction, false);
  transaction(db, "BEGIN IMMEDIATE", () => insert(db, "small"));
  deepEqual(rows(db), ["small"], "the next transaction commits");
});
