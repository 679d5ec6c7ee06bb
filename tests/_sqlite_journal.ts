// A SQLite journal for the recovery tests: filled with unfinished groups, and
// read back once its outcomes are committed. A bare WAL database for the
// checkpoint tests.
import { DatabaseSync } from "node:sqlite";
import { defineTask, SqliteTaskStore, TaskGroup } from "../lib/mod.ts";

const send = defineTask("send", (to: string) => void to);

/** A journal holding `sizes.length` unfinished groups `g0`, `g1`, … of the given sizes. */
export async function journalWith(path: string, sizes: number[]): Promise<void> {
  using store = SqliteTaskStore.open(path);
  for (const [i, size] of sizes.entries()) {
    const group = new TaskGroup({ id: `g${i}` });
    for (let t = 0; t < size; t++) group.add(send, `to ${t}`);
    await store.enqueue(group);
  }
}

/** What is left unfinished in the journal once its outcomes are committed (on close). */
export function unfinished(store: SqliteTaskStore): string[] {
  store.close();
  using reopened = SqliteTaskStore.open(store.path);
  return reopened.list("", 100).map((task) => task.id);
}

/** A database in WAL mode as the journal opens it, with a table `t (v)`, and its WAL's state. */
export function walDatabase(path: string): {
  db: DatabaseSync;
  /** Adds a row of about a page: one more WAL frame. */
  addPage: (db: DatabaseSync) => void;
  /** Frames in the WAL, and how many of them are copied into the database. */
  wal: () => { log: number; checkpointed: number };
} {
  const db = new DatabaseSync(path);
  db.exec(
    "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (v TEXT)",
  );
  const page = "x".repeat(4_000);
  return {
    db,
    addPage: (d) => void d.prepare("INSERT INTO t VALUES (?)").run(page),
    wal: () =>
      db.prepare("PRAGMA wal_checkpoint(NOOP)").get() as { log: number; checkpointed: number },
  };
}
