/**
 * The task journal's SQLite schema: creating it, checking a file holds it,
 * and upgrading journals written by earlier versions.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { KEPT_ID_SQL, keptWhenDone } from "./_given_ids.ts";
import { cannot } from "./_journal_rows.ts";
import type { SyncTarget } from "./_group_commit.ts";
import { transaction } from "./_sqlite_transaction.ts";

/** The schema this build writes (`PRAGMA user_version`). */
const SCHEMA_VERSION = 3;

// Keyed by (group id, index): group ids are time-ordered, so inserts append
// at the end of the one b-tree instead of touching random pages of three
// (version 1 had a text id, a rowid and a group index: 2x the commit cost).
const TASKS_TABLE = `
  CREATE TABLE tasks (
    group_id TEXT NOT NULL, idx INTEGER NOT NULL,
    name TEXT NOT NULL, args TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0, error TEXT, duration_ms INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL, fingerprint TEXT, key_id TEXT, created_at INTEGER,
    PRIMARY KEY (group_id, idx)
  ) STRICT, WITHOUT ROWID`;
// Version 3 deletes groups as they succeed, so the table holds open work and
// failed groups within their retention: recovery scans it whole (version 2's
// index of open rows is gone), and pruning finds old failures by this index.
const FAILED_INDEX = `CREATE INDEX tasks_failed ON tasks (updated_at) WHERE state = 'failed'`;
// Done rows are those of groups still running and of keyed groups kept after
// they succeeded (see keptWhenDone): pruning finds old ones by this index.
// Added to version 3 journals as they are opened: readers of version 3 need
// nothing of it.
const DONE_INDEX =
  `CREATE INDEX IF NOT EXISTS tasks_done ON tasks (updated_at) WHERE state = 'done'`;
// A kept group's rows by its id: a hash, so entries land on random pages of
// this small index, where its rows append to the table in time order (a
// keyed group's three writes had each dirtied a random page of the table).
const KEY_INDEX =
  `CREATE UNIQUE INDEX IF NOT EXISTS tasks_keys ON tasks (key_id, idx) WHERE key_id IS NOT NULL`;
const COLUMNS =
  "group_id, idx, name, args, state, attempts, next_at, crashes, error, duration_ms, updated_at";

/**
 * Opens `path` in WAL mode with `synchronous = NORMAL` (the caller makes
 * commits durable by syncing the WAL) and an exclusive lock held until it is
 * closed, checks it, and creates or upgrades the schema.
 *
 * @param path The database file.
 * @returns The open database.
 * @throws {Error} "Cannot open task journal "<path>": …" if the file is
 * damaged, foreign, from a newer version, or open in another process.
 */
export function openJournal(path: string): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    createPrivate(path);
    db = new DatabaseSync(path);
    // One process per journal: a second server on the same file would run
    // the first one's tasks again and count them as crashes. The lock is
    // taken here and held until close (the kernel drops it if we die), and a
    // process that finds it taken fails now instead of waiting.
    db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA busy_timeout = 0;");
    try {
      db.exec("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; COMMIT;");
    } catch (error) {
      // SQLITE_BUSY; Deno's node:sqlite errors carry no `errcode`, only this text.
      if (!(error instanceof Error && error.message.includes("database is locked"))) throw error;
      throw new Error("another process or connection has it open (one server per journal)", {
        cause: error,
      });
    }
    db.exec("PRAGMA synchronous = NORMAL;");
    const check = db.prepare("PRAGMA quick_check").get() as { quick_check: string } | undefined;
    if (check?.quick_check !== "ok") throw new Error(`integrity check says ${check?.quick_check}`);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((row) => (row as { name: string }).name);
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    if (tables.length === 0) {
      db.exec(
        `${TASKS_TABLE}; ${FAILED_INDEX}; ${DONE_INDEX}; ${KEY_INDEX}; PRAGMA user_version = ${SCHEMA_VERSION};`,
      );
    } else if (tables.includes("tasks") && (version === 1 || version === 2)) {
      upgrade(db, version);
      addKeyColumns(db);
    } else if (tables.includes("tasks") && version === SCHEMA_VERSION) {
      db.exec(DONE_INDEX);
      addKeyColumns(db);
    } else if (!tables.includes("tasks") || version !== SCHEMA_VERSION) {
      throw new Error(
        `it is not a posthaste journal this version reads (schema ${version}, expected ${SCHEMA_VERSION}; tables ${
          tables.join(", ")
        })`,
      );
    }
    return db;
  } catch (error) {
    db?.close();
    throw cannot(`open task journal "${path}"`, error);
  }
}

// A new journal is made readable by its owner only, and SQLite gives its WAL
// the same mode: rows hold the tasks' arguments. An existing file keeps its own.
function createPrivate(path: string): void {
  if (path === "" || path === ":memory:" || path.startsWith("file:")) return;
  try {
    Deno.openSync(path, { createNew: true, write: true, mode: 0o600 }).close();
  } catch {
    // It exists, or cannot be made: SQLite's own open then says why.
  }
}

// Added to version 3 journals as they are opened: nullable columns, which
// readers of version 3 never name. `fingerprint`: a keyed group's request
// fingerprint (see DuplicateGroupError.fingerprint). `key_id`: the id of a
// group kept for its Idempotency-Key (see keptWhenDone), whose rows are
// keyed by a generated, time-ordered `group_id`; its rows written before
// (under the id itself) are given theirs. `created_at`: when the group was
// accepted (see TaskGroup.acceptedAt), NULL in rows written before.
function addKeyColumns(db: DatabaseSync): void {
  const columns = db.prepare("PRAGMA table_info(tasks)").all();
  if (!columns.some((column) => column.name === "fingerprint")) {
    db.exec("ALTER TABLE tasks ADD COLUMN fingerprint TEXT");
  }
  if (!columns.some((column) => column.name === "key_id")) {
    transaction(db, "BEGIN IMMEDIATE", () => {
      db.exec("ALTER TABLE tasks ADD COLUMN key_id TEXT");
      db.exec(`UPDATE tasks SET key_id = group_id WHERE ${KEPT_ID_SQL}`);
    });
  }
  if (!columns.some((column) => column.name === "created_at")) {
    db.exec("ALTER TABLE tasks ADD COLUMN created_at INTEGER");
  }
  db.exec(KEY_INDEX);
}

/** Brings a version 1 or 2 journal to this version, in one transaction. */
function upgrade(db: DatabaseSync, from: 1 | 2): void {
  transaction(db, "BEGIN IMMEDIATE", () => {
    // Version 1 differed in its keys: its rows are copied into the new table.
    if (from === 1) {
      db.exec(`
        ALTER TABLE tasks RENAME TO tasks_v1;
        ${TASKS_TABLE};
        INSERT INTO tasks (${COLUMNS}) SELECT ${COLUMNS} FROM tasks_v1;
        DROP TABLE tasks_v1;
      `);
    }
    // Earlier versions kept every group that succeeded: this one keeps work.
    db.exec(`
      DROP INDEX IF EXISTS tasks_open;
      DELETE FROM tasks WHERE group_id IN (
        SELECT group_id FROM tasks GROUP BY group_id HAVING SUM(state <> 'done') = 0
      );
      ${FAILED_INDEX};
      ${DONE_INDEX};
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  });
}

/**
 * {@linkcode openJournal}, then its WAL file, whose fdatasync makes commits durable.
 *
 * @param path The database file.
 * @param openWal Opens the WAL file (tests inject failing syncs).
 * @returns The open database and WAL file.
 * @throws {Error} "Cannot open task journal "<path>": …", as openJournal, or
 * if the WAL file cannot be opened (the database is closed again).
 */
export function openJournalFiles(
  path: string,
  openWal: (file: string) => SyncTarget = (file) => Deno.openSync(file, { read: true }),
): { db: DatabaseSync; wal: SyncTarget } {
  const db = openJournal(path);
  try {
    // Opened once WAL mode has made the file.
    return { db, wal: openWal(`${path}-wal`) };
  } catch (error) {
    db.close();
    throw new Error(`Cannot open task journal "${path}": cannot open its WAL file: ${error}`, {
      cause: error,
    });
  }
}

/** The statements the store runs by the row, prepared once (the batched writes are JournalWriter's). */
export interface JournalStatements {
  /** A group's rows for its status: (group id). */
  groupRows: StatementSync;
  /** Whether a group id is taken, and its fingerprint: (group id). */
  hasGroup: StatementSync;
  /** A task queued again, at shutdown: (attempts, now, group id, index). */
  requeue: StatementSync;
  /** A group deleted unless one of its tasks failed: (group id). */
  forgetDone: StatementSync;
  /** A task's progress: (state, attempts, next at, error, duration, now, group id, index). */
  update: StatementSync;
  /** A task failed without running (quarantined, unreadable): (error, now, group id, index). */
  fail: StatementSync;
}

/**
 * Prepares the {@linkcode JournalStatements} on an open journal.
 *
 * @returns The statements that find a group's rows: by `group_id`, or for
 * a group kept for its Idempotency-Key (see `keptWhenDone`) by `key_id`.
 */
export function prepareStatements(db: DatabaseSync): (groupId: string) => JournalStatements {
  const byGroup = statements(db, "group_id");
  const byKey = statements(db, "key_id");
  return (groupId) => keptWhenDone(groupId) ? byKey : byGroup;
}

function statements(db: DatabaseSync, by: "group_id" | "key_id"): JournalStatements {
  const where = `WHERE ${by} = ? AND idx = ?`;
  return {
    groupRows: db.prepare(
      `SELECT name, state, attempts, duration_ms, error, next_at, updated_at, created_at FROM tasks WHERE ${by} = ? ORDER BY idx`,
    ),
    hasGroup: db.prepare(`SELECT fingerprint FROM tasks WHERE ${by} = ? LIMIT 1`),
    requeue: db.prepare(`UPDATE tasks SET state = 'queued', attempts = ?, updated_at = ? ${where}`),
    forgetDone: db.prepare(
      `DELETE FROM tasks WHERE ${by} = ?1 AND NOT EXISTS (SELECT 1 FROM tasks WHERE ${by} = ?1 AND state = 'failed')`,
    ),
    update: db.prepare(
      `UPDATE tasks SET state = ?, attempts = ?, next_at = ?, error = ?, duration_ms = ?, updated_at = ? ${where}`,
    ),
    fail: db.prepare(`UPDATE tasks SET state = 'failed', error = ?, updated_at = ? ${where}`),
  };
}
