/**
 * The SQLite journal's writes: the common ones (a new task, an attempt mark,
 * the delete of a group that succeeded, or the last outcome of one kept for
 * its Idempotency-Key) gathered per transaction and
 * written with multi-row statements, which cost SQLite about half as much as
 * one statement per row (`bench/journal_statements_bench.ts`); any other
 * write as a function, in order with them.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { GroupCommit, Write } from "./_group_commit.ts";
import { keptWhenDone } from "./_given_ids.ts";
import { journalError, PROBE_PREFIX } from "./_journal_rows.ts";
import type { TaskEntry } from "./task_entry.ts";

// New tasks, with when their group was accepted; with the request
// fingerprint and the key id (see keptWhenDone) of a keyed group, each NULL
// where it has none.
const insert = (keyed: boolean) => (rows: number) =>
  `INSERT INTO tasks (group_id, idx, name, args, state, updated_at, created_at${
    keyed ? ", fingerprint, key_id" : ""
  }) VALUES ${repeat(`(?, ?, ?, ?, 'queued', ?, ?${keyed ? ", ?, ?" : ""})`, rows)}`;

// A task's attempt has begun (running), or a kept group's last task
// succeeded (done; see keptWhenDone). UPDATE … FROM (SQLite 3.33): each row
// of the VALUES list finds its task by key: its group id, or a kept group's
// key id (whose rows are under a generated group id).
const mark = (state: "running" | "done", by: "group_id" | "key_id") => (rows: number) =>
  `UPDATE tasks SET state = '${state}', attempts = v.column3, next_at = 0, error = v.column4, duration_ms = v.column5, updated_at = v.column6 FROM (VALUES ${
    repeat("(?, ?, ?, ?, ?, ?)", rows)
  }) AS v WHERE tasks.${by} = v.column1 AND tasks.idx = v.column2`;

const forget = (by: "group_id" | "key_id") => (rows: number) =>
  `DELETE FROM tasks WHERE ${by} IN (${repeat("?", rows)})`;

const KINDS = {
  insert: insert(false),
  keyed: insert(true),
  running: mark("running", "group_id"),
  keptRunning: mark("running", "key_id"),
  done: mark("done", "group_id"),
  keptDone: mark("done", "key_id"),
  forget: forget("group_id"),
  keptForget: forget("key_id"),
} as const;

type Kind = keyof typeof KINDS;

/** Parameters per row of each kind. */
const WIDTH: Record<Kind, number> = {
  insert: 6,
  keyed: 8,
  running: 6,
  keptRunning: 6,
  done: 6,
  keptDone: 6,
  forget: 1,
  keptForget: 1,
};

// Inserts, then attempt marks, then kept groups' last outcomes, then deletes.
const ORDER = Object.keys(KINDS) as Kind[];

/** Rows per statement at most; a batch is written in power-of-two chunks up to this. */
const MAX_ROWS = 64;

function repeat(row: string, rows: number): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

/**
 * Prepared multi-row statements, one per kind and power-of-two row count
 * (1, 2, 4 … 64), so that any number of rows takes a few statements from a
 * small cache.
 */
class RowStatements {
  readonly #db: DatabaseSync;
  readonly #prepared = new Map<string, StatementSync>();

  /** @param db The journal. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Writes `params` (rows of the kind's width, flattened).
   *
   * @param kind Which statement.
   * @param params The rows' parameters, in row order.
   */
  run(kind: Kind, params: SQLInputValue[]): void {
    const width = WIDTH[kind];
    let rows = params.length / width;
    let start = 0;
    while (rows > 0) {
      let chunk = MAX_ROWS;
      while (chunk > rows) chunk >>= 1;
      const statement = this.#statement(kind, chunk);
      const end = start + chunk * width;
      statement.run(...(start === 0 && end === params.length ? params : params.slice(start, end)));
      start = end;
      rows -= chunk;
    }
  }

  #statement(kind: Kind, rows: number): StatementSync {
    const key = `${kind}${rows}`;
    let statement = this.#prepared.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(KINDS[kind](rows));
      this.#prepared.set(key, statement);
    }
    return statement;
  }
}

/**
 * Rows gathered for one transaction, written when it commits: inserts, then
 * attempt marks, then kept groups' last outcomes, then deletes. A task's own rows never share a transaction
 * (its attempt mark waits for its insert's commit, and its group's delete for
 * the attempt); only the journal's health probe inserts a row and deletes it
 * in one, which that order allows.
 */
export class PendingRows {
  readonly #statements: RowStatements;
  readonly #rows: Record<Kind, SQLInputValue[]> = {
    insert: [],
    keyed: [],
    running: [],
    keptRunning: [],
    done: [],
    keptDone: [],
    forget: [],
    keptForget: [],
  };

  /** @param statements Where the statements come from. */
  constructor(statements: RowStatements) {
    this.#statements = statements;
  }

  /**
   * A new task, queued, its group accepted at `acceptedAt` (`now` if -1). A
   * group kept for its Idempotency-Key (see `keptWhenDone`) is written under
   * `rowKey`, a generated, time-ordered id, and found by its own id
   * (`key_id`); a group with a request fingerprint keeps it.
   */
  insert(
    groupId: string,
    index: number,
    name: string,
    args: string,
    now: number,
    acceptedAt = -1,
    fingerprint: string | null = null,
    rowKey: string = groupId,
  ): void {
    const kept = keptWhenDone(groupId);
    const at = acceptedAt < 0 ? now : acceptedAt;
    if (fingerprint === null && !kept) this.#rows.insert.push(groupId, index, name, args, now, at);
    else {
      const key = kept ? groupId : null;
      this.#rows.keyed.push(rowKey, index, name, args, now, at, fingerprint, key);
    }
  }

  /**
   * A task's attempt has begun (`running`), or it succeeded, the last of a
   * group that is kept (`done`): its attempts, error and duration as of now.
   */
  mark(state: "running" | "done", entry: TaskEntry, now: number): void {
    const { group, index, attempts, error, durationMs } = entry;
    const kept = keptWhenDone(group.id);
    const kind = state === "running"
      ? (kept ? "keptRunning" : "running")
      : (kept ? "keptDone" : "done");
    this.#rows[kind].push(
      group.id,
      index,
      attempts,
      journalError(error),
      Math.round(durationMs),
      now,
    );
  }

  /** Every row of a group. */
  forget(groupId: string): void {
    this.#rows[keptWhenDone(groupId) ? "keptForget" : "forget"].push(groupId);
  }

  /** Writes the rows, kind by kind in {@linkcode KINDS}' order; called inside the transaction. */
  write(): void {
    for (const kind of ORDER) {
      const rows = this.#rows[kind];
      if (rows.length > 0) this.#statements.run(kind, rows);
    }
  }
}

/** The rows gathered for the open transaction, and its promise. */
export interface Rows {
  /** Where to add rows. */
  readonly pending: PendingRows;
  /** Settles as the transaction's writes do (see {@linkcode GroupCommit.write}). */
  readonly batch: Promise<void>;
}

// Joins a transaction only to make it durable.
const NOTHING: Write = () => {};

/**
 * Queues the journal's writes on a {@linkcode GroupCommit}: gathered rows
 * are written where the first of them was queued, and a write function
 * queued after them closes the gathering, so that rows added later are
 * written after it.
 */
export class JournalWriter {
  readonly #commits: GroupCommit;
  readonly #statements: RowStatements;
  #rows: Rows | undefined;

  /**
   * @param commits The journal's group commit.
   * @param db The journal.
   */
  constructor(commits: GroupCommit, db: DatabaseSync) {
    this.#commits = commits;
    this.#statements = new RowStatements(db);
  }

  /**
   * Queues a write function for the open transaction.
   *
   * @param write Runs inside the transaction.
   * @param durable Whether the transaction must be synced before it resolves.
   * @returns The transaction's promise.
   */
  write(write: Write, durable = false): Promise<void> {
    this.#rows = undefined;
    return this.#commits.write(write, durable);
  }

  /**
   * The open transaction's gathered rows, to add to.
   *
   * @param durable Whether the transaction must be synced before it resolves.
   * @returns Where to add rows, and the transaction's promise.
   */
  rows(durable: boolean): Rows {
    const rows = this.#rows;
    if (rows !== undefined && rows.batch === this.#commits.pending) {
      if (durable) this.#commits.write(NOTHING, true);
      return rows;
    }
    const pending = new PendingRows(this.#statements);
    const batch = this.#commits.write(() => pending.write(), durable);
    return this.#rows = { pending, batch };
  }

  /**
   * A durable write of its own, for health: a row in and out, which dirties
   * a page, so the WAL is written and synced.
   *
   * @param now Wall-clock milliseconds, the row's `updated_at`.
   * @returns The transaction's promise.
   */
  probe(now: number): Promise<void> {
    const { pending, batch } = this.rows(true);
    pending.insert(PROBE_PREFIX, 0, "probe", "[]", now);
    pending.forget(PROBE_PREFIX);
    return batch;
  }
}
