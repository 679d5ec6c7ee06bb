/**
 * The durable journal: tasks in SQLite (`node:sqlite`, WAL), every write of
 * one event-loop turn committed in one transaction, enqueues made durable by
 * an fdatasync of the WAL off the event loop.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { DatabaseSync } from "node:sqlite";
import { GroupCommit, type SyncTarget } from "./_group_commit.ts";
import type { SqliteTaskStoreOptions } from "./sqlite_task_store_options.ts";
import { Histogram, LATENCY_BUCKETS } from "./histogram.ts";
import { JournalHealth } from "./_journal_health.ts";
import type { WatchFileOptions } from "./file_watch.ts";
import { JournalFiles } from "./_journal_files.ts";
import { JournalWriter } from "./_journal_batch.ts";
import { type Clock, monotonicClock, systemClock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";
import {
  findQueued,
  findUnfinished,
  groupStatus,
  type StatusRow,
  takeStoppingMark,
} from "./_journal_recovery.ts";
import { JournalRetention } from "./_journal_retention.ts";
import { cannot, duplicateGroup, journalRows, STOPPING_ID } from "./_journal_rows.ts";
import { givenIds, keptWhenDone, PendingIds } from "./_given_ids.ts";
import { type JournalStatements, openJournalFiles, prepareStatements } from "./_journal_schema.ts";
import { SqliteOutcomes } from "./_sqlite_outcomes.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
import { timeOrderedId } from "./time_ordered_id.ts";
import { type GroupStatus, taskId } from "./task_status.ts";
import type { StoredTask, TaskStore } from "./task_store.ts";

/**
 * A {@linkcode TaskStore} in one SQLite file. Writes queue up and are
 * committed together on the next macrotask (group commit); the fsync that
 * makes an enqueue durable runs on a blocking thread while the server goes
 * on, and commits made during it share the next, so a burst of requests
 * costs one fsync, not one each. An enqueue resolves once its transaction is
 * on disk. The journal holds work, not history: a group is deleted once all
 * its tasks succeeded, and one with failures (or named by an Idempotency-Key)
 * once it is older than `retentionMs` or beyond `retentionCount`, so the
 * file's size follows the work in flight. The file is locked while the store is open: a second
 * store on it, in this process or another, fails to open.
 *
 * @example Journaling a group and recovering it
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
  /** Seconds each WAL sync took (what a 202 waits for); see `Metrics.journalSyncs`. */
  readonly journalSyncs: Histogram = new Histogram(LATENCY_BUCKETS);
  // A group's row statements, by its id.
  readonly #sql: (groupId: string) => JournalStatements;
  // Chosen group ids whose commit has not settled (see enqueue).
  #givenPending = new PendingIds();
  #closing = false;
  #logger: StructuredLogger;
  #clock: Clock;
  #health: JournalHealth;
  #files: JournalFiles;
  #writer: JournalWriter;
  // Where list() left off (see findQueued).
  #listed = new Map<string, string>();
  // recover()'s: a task listed at it was quarantined by a start that died before failing it.
  #crashLimit = 3;
  #outcomes: SqliteOutcomes;
  // Whether the last process to have the journal had begun to stop (see markStopping).
  #stopped: boolean;

  /**
   * Opens (or creates) the journal at `path`.
   *
   * @param path The database file.
   * @param options How the WAL file is opened (tests inject failing syncs).
   * @returns The store.
   * @throws {Error} Naming the file, if it is not a posthaste journal or is damaged.
   */
  static open(path: string, options: SqliteTaskStoreOptions = {}): SqliteTaskStore {
    const { db, wal } = openJournalFiles(path, options.openWal);
    try {
      return new SqliteTaskStore(db, path, wal, options);
    } catch (error) {
      wal.close();
      db.close();
      throw new Error(`Cannot open task journal "${path}": ${error}`, { cause: error });
    }
  }

  private constructor(
    db: DatabaseSync,
    path: string,
    wal: SyncTarget,
    options: SqliteTaskStoreOptions,
  ) {
    const {
      retentionMs = 600_000,
      retentionCount = 10_000,
      pruneIntervalMs = 1_000,
      clock = systemClock,
      commitTimeoutMs = 10_000,
    } = options;
    this.#db = db;
    this.#path = path;
    this.#clock = clock;
    this.#logger = options.logger ?? getLogger(["posthaste", "journal"]);
    this.#files = new JournalFiles(path, this.#logger);
    const commits = this.#commits = new GroupCommit(db, wal, {
      commitTimeoutMs,
      timers: clock,
      syncs: this.journalSyncs,
      monotonic: options.clock ?? monotonicClock,
    });
    const writer = this.#writer = new JournalWriter(commits, db);
    this.#health = new JournalHealth({
      failing: () => commits.failing || this.#files.lost !== undefined,
      inFlight: () => commits.syncing,
      probe: () => this.#files.lost ? Promise.reject(this.#files.lost) : writer.probe(clock.now()),
    }, clock);
    const sql = this.#sql = prepareStatements(db);
    this.#stopped = takeStoppingMark(db);
    const retention = new JournalRetention(db, {
      retentionMs,
      retentionCount,
      pruneIntervalMs,
      clock,
    });
    retention.prune();
    this.#outcomes = new SqliteOutcomes({ writer, sql, retention, clock, logger: this.#logger });
  }

  /** The journal's file. */
  get path(): string {
    return this.#path;
  }

  /**
   * Whether the journal takes durable commits. While none failed, the WAL
   * sync on its way (if any) answers: a stalled disk gives none, and health's
   * one-second deadline sees it long before the requests fail at
   * `commitTimeoutMs`. With none on its way, or after a failure, a probe
   * write answers, at most once a second: an idle server on a stalled disk
   * shows it too, and health recovers without client traffic.
   *
   * @returns True if the sync on its way, else a probe (or the last durable
   * commit), succeeded.
   */
  health(): Promise<boolean> {
    return this.#health.check();
  }

  /**
   * Looks at the journal's file and its WAL every `intervalMs` (see
   * {@linkcode watchFile}). Once either was deleted or replaced while open (a
   * cleanup script, a volume swapped), SQLite goes on writing to a file no
   * path names, which a crash would lose: from then on every enqueue is
   * refused and health is false, until a restart opens the journal afresh
   * (a drain first runs what was accepted). Logged once.
   *
   * @param options The interval, the clock, and how a file is looked at.
   * @returns What stops watching (`await using`).
   */
  watchFiles(options: WatchFileOptions = {}): Promise<AsyncDisposable> {
    return this.#files.watch(options);
  }

  enqueue(group: TaskGroup): Promise<void> {
    // Refused unwritten: no sync can make the rows durable now (a stall, or
    // a file deleted), and rows written only to be undone would grow the WAL.
    const refused = this.#files.lost ?? this.#commits.stalled;
    if (refused !== undefined) return Promise.reject(refused);
    const now = this.#clock.now();
    const rows = journalRows(group);
    // A chosen id may be taken: refused alone, before its rows would fail
    // the whole commit. Generated ids (UUIDv7) cannot be, and skip the look.
    const given = givenIds.has(group);
    const { id } = group;
    if (given) {
      const taken = this.#givenPending.taken(id) ?? this.#sql(id).hasGroup.get(id);
      if (taken !== undefined) return Promise.reject(duplicateGroup(id, taken.fingerprint));
    }
    // A kept group's id is a hash: its rows go under a time-ordered id, so
    // that they append as other groups' do (see tasks_keys).
    const rowKey = keptWhenDone(id) ? timeOrderedId(now) : id;
    const { pending, batch: enqueued } = this.#writer.rows(true);
    for (const { groupId, index, name, args, fingerprint, acceptedAt } of rows) {
      pending.insert(groupId, index, name, args, now, acceptedAt, fingerprint, rowKey);
    }
    // Committed but not synced: the client hears 503, so the rows must not
    // run after a restart either. Best effort; the disk is failing.
    enqueued.catch(() => {
      const { pending, batch } = this.#writer.rows(false);
      pending.forget(id);
      batch.catch(() => {});
    });
    // Once settled, the rows are committed (or being forgotten): the journal itself answers.
    return given ? this.#givenPending.hold(group, enqueued) : enqueued;
  }

  attempt(entry: TaskEntry): Promise<void> {
    const { pending, batch } = this.#writer.rows(false);
    this.#outcomes.supersede(taskId(entry.group.id, entry.index));
    pending.mark("running", entry, this.#clock.now());
    return batch;
  }

  record(entry: TaskEntry, nextAt = 0): void {
    this.#outcomes.record(entry, nextAt);
  }

  recover(crashLimit = 3): StoredTask[] {
    this.#crashLimit = crashLimit;
    try {
      return findUnfinished(this.#db, crashLimit, this.#clock.now(), this.#stopped);
    } catch (error) {
      // At start-up: the server stops with this, so name the file and the step.
      throw cannot(`recover task journal "${this.#path}"`, error);
    }
  }

  /** Journals that this process stops (the next open reads it): see `DurableTaskStore.markStopping`. */
  markStopping(): Promise<void> {
    const now = this.#clock.now();
    return this.#writer.write(() => {
      this.#db.prepare(
        "INSERT OR REPLACE INTO tasks (group_id, idx, name, args, state, updated_at) VALUES (?, 0, 'stopping', '[]', 'done', ?)",
      ).run(STOPPING_ID, now);
    }, true);
  }

  list(after: string, groups: number): StoredTask[] {
    return findQueued(this.#db, after, groups, this.#listed, this.#crashLimit);
  }

  fail(task: Pick<StoredTask, "groupId" | "index">, error: string): void {
    this.#sql(task.groupId).fail.run(error, this.#clock.now(), task.groupId, task.index);
  }

  status(groupId: string): GroupStatus | undefined {
    return groupStatus(groupId, this.#sql(groupId).groupRows.all(groupId) as StatusRow[]);
  }

  /**
   * Commits what is queued, then closes the database; while a sync runs past
   * `commitTimeoutMs` (a disk that stalls), once it returns. Closing again
   * does nothing.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#outcomes.flush();
    if (this.#commits.stalled === undefined) {
      this.#commits.close();
      return this.#db.close();
    }
    // SQLite's close checkpoints, which waits for the stalled disk and would
    // hold the exit: the database closes when the sync returns (or the
    // process exits; the next open recovers from the WAL).
    this.#commits.close(() => this.#db.close());
  }

  /** Same as {@linkcode SqliteTaskStore.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
