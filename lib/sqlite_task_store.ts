/**
 * The durable journal: tasks in SQLite (`node:sqlite`, WAL), every write of
 * one event-loop turn committed in one transaction, enqueues made durable by
 * an fdatasync of the WAL off the event loop.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { GroupCommit, type SyncTarget, type Write } from "./_group_commit.ts";
import { openJournal } from "./_journal_schema.ts";
import {
  groupStateOf,
  type GroupStatus,
  type TaskEntry,
  type TaskGroup,
  taskId,
  type TaskState,
} from "./task_group.ts";
import type { StoredTask, TaskStore } from "./task_store.ts";

export type { SyncTarget };

/** Options for {@linkcode SqliteTaskStore.open}. */
export interface SqliteTaskStoreOptions {
  /**
   * Opens the journal's WAL file, whose `syncData()` makes commits durable.
   * @default {Deno.openSync(file, { read: true })}
   */
  openWal?: (file: string) => SyncTarget;
}

/**
 * A {@linkcode TaskStore} in one SQLite file. Writes queue up and are
 * committed together on the next macrotask (group commit); the fsync that
 * makes an enqueue durable runs on a blocking thread while the server goes
 * on, and commits made during it share the next, so a burst of requests
 * costs one fsync, not one each. An enqueue resolves once its transaction is
 * on disk.
 *
 * @example
 * ```ts
 * import { SqliteTaskStore, TaskGroup, defineTask } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const send = defineTask("send", (to: string) => void to);
 * {
 *   using store = SqliteTaskStore.open(`${dir}/tasks.db`);
 *   await store.enqueue(new TaskGroup({ id: "g" }).add(send, "ada@example.com"));
 * }
 * using store = SqliteTaskStore.open(`${dir}/tasks.db`);
 * equal(store.recover()[0]?.name, "send");
 * ```
 */
export class SqliteTaskStore implements TaskStore, Disposable {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #commits: GroupCommit;
  #insert: StatementSync;
  #update: StatementSync;
  #requeue: StatementSync;
  #groupRows: StatementSync;
  #forget: StatementSync;

  /**
   * Opens (or creates) the journal at `path`.
   *
   * @param path The database file.
   * @param options How the WAL file is opened (tests inject failing syncs).
   * @returns The store.
   * @throws {Error} Naming the file, if it is not a posthaste journal or is damaged.
   */
  static open(path: string, options: SqliteTaskStoreOptions = {}): SqliteTaskStore {
    const { openWal = (file: string) => Deno.openSync(file, { read: true }) } = options;
    const db = openJournal(path);
    let wal: SyncTarget;
    try {
      // Opened once WAL mode has made the file; syncing it makes commits durable.
      wal = openWal(`${path}-wal`);
    } catch (error) {
      db.close();
      throw new Error(`Cannot open task journal "${path}": cannot open its WAL file: ${error}`, {
        cause: error,
      });
    }
    return new SqliteTaskStore(db, path, wal);
  }

  private constructor(db: DatabaseSync, path: string, wal: SyncTarget) {
    this.#db = db;
    this.#path = path;
    this.#commits = new GroupCommit(db, wal);
    this.#insert = db.prepare(
      "INSERT INTO tasks (group_id, idx, name, args, state, updated_at) VALUES (?, ?, ?, ?, 'queued', ?)",
    );
    this.#groupRows = db.prepare(
      "SELECT name, state, attempts, duration_ms, error FROM tasks WHERE group_id = ? ORDER BY idx",
    );
    this.#requeue = db.prepare(
      "UPDATE tasks SET state = 'queued', attempts = ?, updated_at = ? WHERE group_id = ? AND idx = ?",
    );
    this.#forget = db.prepare("DELETE FROM tasks WHERE group_id = ?");
    this.#update = db.prepare(
      "UPDATE tasks SET state = ?, attempts = ?, next_at = ?, error = ?, duration_ms = ?, updated_at = ? WHERE group_id = ? AND idx = ?",
    );
  }

  /** The journal's file. */
  get path(): string {
    return this.#path;
  }

  enqueue(group: TaskGroup): Promise<void> {
    const now = Date.now();
    const rows = (group.tasks as readonly TaskEntry[]).map((task, index) => {
      // Only a defineTask definition (it always has options) can be found by name again.
      if (task.options === undefined) {
        throw new TypeError(
          `Cannot journal task "${task.name}": durable tasks must be made with defineTask`,
        );
      }
      return [group.id, index, task.name, JSON.stringify(task.args), now];
    });
    const enqueued = this.#write(() => {
      for (const row of rows) {
        this.#insert.run(...(row as [string, number, string, string, number]));
      }
    }, true);
    // Committed but not synced: the client hears 503, so the rows must not
    // run after a restart either. Best effort; the disk is failing.
    enqueued.catch(() => this.#write(() => void this.#forget.run(group.id)).catch(() => {}));
    return enqueued;
  }

  attempt(entry: TaskEntry): Promise<void> {
    return this.#write(() => this.#save(entry, "running", 0));
  }

  record(entry: TaskEntry, nextAt = 0): void {
    // Abandoned at shutdown: queued again, to run after the restart, keeping
    // its retry time if it was waiting out a backoff.
    const write = entry.state === "abandoned"
      ? () => this.#requeue.run(entry.attempts, Date.now(), entry.group.id, entry.index)
      : () => this.#save(entry, entry.state, nextAt);
    this.#write(write).catch((error) => {
      // Not awaited by anyone: say so. At worst the task runs again after a restart.
      getLogger(["posthaste", "journal"]).error("Cannot journal task {taskId}: {error}", {
        taskId: taskId(entry.group.id, entry.index),
        error,
      });
    });
  }

  recover(crashLimit = 3): StoredTask[] {
    const rows = this.#db.prepare(
      "SELECT * FROM tasks WHERE state NOT IN ('done', 'failed') ORDER BY group_id, idx",
    ).all() as Record<string, unknown>[];
    const tasks: StoredTask[] = [];
    const crashUpdate = this.#db.prepare(
      "UPDATE tasks SET crashes = ?, state = ?, error = ? WHERE group_id = ? AND idx = ?",
    );
    this.#db.exec("BEGIN");
    try {
      for (const row of rows) {
        // Found running: the process died during the attempt.
        const crashed = row.state === "running";
        const crashes = Number(row.crashes) + (crashed ? 1 : 0);
        const quarantined = crashes >= crashLimit;
        if (crashed) {
          crashUpdate.run(
            crashes,
            quarantined ? "failed" : "queued",
            quarantined ? `quarantined: the process crashed during ${crashes} attempts` : null,
            String(row.group_id),
            Number(row.idx),
          );
        }
        tasks.push({
          id: taskId(String(row.group_id), Number(row.idx)),
          groupId: String(row.group_id),
          index: Number(row.idx),
          name: String(row.name),
          args: JSON.parse(String(row.args)),
          attempts: Number(row.attempts),
          nextAt: Number(row.next_at),
          crashes,
          quarantined,
        });
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
    return tasks;
  }

  fail(task: Pick<StoredTask, "groupId" | "index">, error: string): void {
    this.#db.prepare(
      "UPDATE tasks SET state = 'failed', error = ?, updated_at = ? WHERE group_id = ? AND idx = ?",
    ).run(error, Date.now(), task.groupId, task.index);
  }

  status(groupId: string): GroupStatus | undefined {
    const rows = this.#groupRows.all(groupId) as {
      name: string;
      state: TaskState;
      attempts: number;
      duration_ms: number;
      error: string | null;
    }[];
    if (rows.length === 0) return undefined;
    return {
      id: groupId,
      state: groupStateOf(rows.map((r) => r.state)),
      tasks: rows.map((r) => ({
        name: r.name,
        state: r.state,
        attempts: r.attempts,
        durationMs: r.duration_ms,
        error: r.error,
      })),
    };
  }

  /** Commits what is queued, then closes the database. */
  close(): void {
    this.#commits.close();
    this.#db.close();
  }

  /** Same as {@linkcode SqliteTaskStore.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #save(entry: TaskEntry, state: TaskState, nextAt: number): void {
    this.#update.run(
      state,
      entry.attempts,
      Math.ceil(nextAt),
      entry.error ?? null,
      Math.round(entry.durationMs),
      Date.now(),
      entry.group.id,
      entry.index,
    );
  }

  #write(write: Write, durable = false): Promise<void> {
    return this.#commits.write(write, durable);
  }
}
