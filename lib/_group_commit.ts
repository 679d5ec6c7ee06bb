/**
 * Group commit for the SQLite journal, with the fsync off the event loop.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { transaction } from "./_sqlite_transaction.ts";
import { isDiskFull, WalCheckpoints } from "./_wal_checkpoints.ts";
import { type Clock, MAX_TIMER_MS, monotonicClock, systemClock } from "./clock.ts";
import type { Histogram } from "./histogram.ts";

/** One write of a batch, run inside its transaction. */
export type Write = (db: DatabaseSync) => void;

/**
 * What {@linkcode GroupCommit} syncs: the WAL file (`Deno.FsFile`).
 *
 * @example Counting the syncs an enqueue waits for
 * ```ts
 * import { defineTask, SqliteTaskStore, type SyncTarget, TaskGroup } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * let syncs = 0;
 * const wal: SyncTarget = {
 *   syncData: () => (syncs++, Promise.resolve()),
 *   syncDataSync() {},
 *   close() {},
 * };
 * using store = SqliteTaskStore.open(`${await Deno.makeTempDir()}/tasks.db`, { openWal: () => wal });
 * await store.enqueue(new TaskGroup().add(defineTask("send", (to: string) => void to), "ada"));
 * ok(syncs >= 1, "the 202 waits for the WAL's fdatasync");
 * ```
 */
export interface SyncTarget {
  /** Flushes the file's data to disk (fdatasync). */
  syncData(): Promise<void>;
  /** The same, blocking; used only at close. */
  syncDataSync(): void;
  /** Releases the handle. */
  close(): void;
}

/** How long a sync may take, and what times it. */
export interface GroupCommitOptions {
  /**
   * Milliseconds an fdatasync may run before the batches waiting for it fail
   * (a disk that stalls); until it returns, durable batches fail at commit.
   * @default {10000}
   */
  commitTimeoutMs?: number;
  /** Runs that deadline, and paces checkpoints after failures. @default {systemClock} */
  timers?: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  /** Observes each sync's seconds, returned or failed. @default {undefined (none)} */
  syncs?: Histogram;
  /** Times the syncs for `syncs`: steps of the wall clock must not. @default {monotonicClock} */
  monotonic?: Pick<Clock, "now">;
}

/**
 * Collects the writes of one event-loop turn into one transaction. Commits
 * run with `synchronous = NORMAL`, so they write the WAL without waiting for
 * the disk; a batch that must be durable (it holds an enqueue a 202 waits
 * for) resolves only after an fdatasync of the WAL file that began after its
 * commit. The fdatasync runs on Deno's blocking thread pool, so the event
 * loop goes on serving while the disk works, and batches committed during one
 * fsync share the next. Other batches (attempt marks, outcomes) resolve at
 * commit: they need only survive the process dying, and the OS keeps what
 * was written. A sync that has not returned by its deadline fails the
 * batches waiting for it, and every durable batch committed until it
 * returns: a 202 must not hang on a disk that stalls (NFS, a dying disk).
 * Checkpoints are run here too, not by SQLite (see WalCheckpoints): right
 * after a sync that returned in time, once one is due.
 */
export class GroupCommit {
  readonly #db: DatabaseSync;
  readonly #wal: SyncTarget;
  #writes: Write[] = [];
  #batch: PromiseWithResolvers<void> | undefined;
  #durable = false;
  /** Committed batches waiting for an fsync that has not begun yet. */
  #unsynced: PromiseWithResolvers<void>[] = [];
  /** The sync on its way, resolving to whether it succeeded. */
  #syncing: Promise<boolean> | undefined;
  /** Set while a sync runs past its deadline. */
  #stalled: Error | undefined;
  #closed = false;
  #onClosed: (() => void) | undefined;
  #failing = false;
  readonly #timeoutMs: number;
  readonly #timers: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  readonly #checkpoints: WalCheckpoints;
  readonly #syncs: Histogram | undefined;
  readonly #monotonic: Pick<Clock, "now">;

  /**
   * @param db The journal, in WAL mode with `synchronous = NORMAL`.
   * @param wal The journal's WAL file, opened for reading.
   * @param options The sync's deadline.
   * @throws {RangeError} If the deadline is not an integer a timer can keep.
   */
  constructor(db: DatabaseSync, wal: SyncTarget, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#wal = wal;
    const { commitTimeoutMs = 10_000 } = options;
    if (
      !Number.isInteger(commitTimeoutMs) || commitTimeoutMs < 1 || commitTimeoutMs > MAX_TIMER_MS
    ) {
      throw new RangeError(
        `commitTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${commitTimeoutMs}`,
      );
    }
    this.#timeoutMs = commitTimeoutMs;
    this.#timers = options.timers ?? systemClock;
    this.#syncs = options.syncs;
    this.#monotonic = options.monotonic ?? monotonicClock;
    this.#checkpoints = new WalCheckpoints(db, this.#timers);
  }

  /** Whether the last transaction or sync failed, until a durable commit succeeds. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Why durable commits fail now: a sync runs past its deadline. */
  get stalled(): Error | undefined {
    return this.#stalled;
  }

  /**
   * The sync on its way, if one is: resolves once it returns, to whether it
   * succeeded. A disk that stalls keeps it waiting; health times the wait.
   */
  get syncing(): Promise<boolean> | undefined {
    return this.#syncing;
  }

  /** The promise of the transaction that writes queue into now, if one is open. */
  get pending(): Promise<void> | undefined {
    return this.#batch?.promise;
  }

  /**
   * Queues a write for this turn's transaction.
   *
   * @param write Runs inside the transaction.
   * @param durable Whether to resolve only once the commit is on disk.
   * @returns Resolves once committed (and synced, if `durable`); rejects if
   * the transaction or the sync failed.
   */
  write(write: Write, durable: boolean): Promise<void> {
    this.#writes.push(write);
    this.#durable ||= durable;
    if (this.#batch === undefined) {
      this.#batch = Promise.withResolvers<void>();
      // End of this event-loop turn: every write of the turn joins one
      // transaction. Not setTimeout(0): chained timers are clamped to 4 ms
      // (measured 2.2 ms a hop against 19 us), and a 202 waits for this.
      setImmediate(() => this.commit());
    }
    return this.#batch.promise;
  }

  /** Commits what is queued now (the next turn's commit then finds nothing). */
  commit(): void {
    const batch = this.#batch;
    const writes = this.#writes;
    const durable = this.#durable;
    this.#batch = undefined;
    this.#writes = [];
    this.#durable = false;
    if (batch === undefined) return;
    const db = this.#db;
    try {
      transaction(db, "BEGIN IMMEDIATE", () => {
        for (const write of writes) write(db);
      });
    } catch (error) {
      this.#failing = true;
      batch.reject(error);
      // A WAL that cannot grow may start over in the file it has.
      if (isDiskFull(error) && this.#checkpoints.full()) this.#sync();
      return;
    }
    if (!durable) {
      batch.resolve();
      // Without enqueues no sync runs: one is started if a checkpoint is due.
      return this.#sync();
    }
    // Its rows are in, but no sync can make them durable soon: the caller undoes them.
    if (this.#stalled !== undefined) return batch.reject(this.#stalled);
    this.#unsynced.push(batch);
    this.#sync();
  }

  /**
   * Commits and syncs what is queued, blocking; the WAL handle closes once no
   * sync is running.
   *
   * @param onClosed Runs once the WAL handle is closed: now, or when the
   * running sync returns.
   */
  close(onClosed?: () => void): void {
    this.#onClosed = onClosed;
    this.#closed = true;
    this.commit();
    if (this.#unsynced.length > 0) {
      const waiting = this.#unsynced;
      this.#unsynced = [];
      try {
        this.#wal.syncDataSync();
        settle(waiting);
      } catch (error) {
        settle(waiting, error);
      }
    }
    if (this.#syncing === undefined) this.#closeWal();
  }

  #closeWal(): void {
    this.#wal.close();
    this.#onClosed?.();
  }

  /**
   * Starts a sync for the committed batches, or for a checkpoint that is due.
   *
   * @param forCheckpoint Whether a due checkpoint is reason enough: not right
   * after a failed sync or checkpoint, which would try again at once, for ever.
   */
  #sync(forCheckpoint = true): void {
    if (this.#closed || this.#syncing !== undefined) return;
    if (this.#unsynced.length === 0 && !(forCheckpoint && this.#checkpoints.due())) return;
    const waiting = this.#unsynced;
    this.#unsynced = [];
    let synced = false;
    let inTime = false;
    const started = this.#monotonic.now();
    const deadline = this.#timers.setTimeout(() => this.#stall(waiting), this.#timeoutMs);
    this.#syncing = this.#wal.syncData().then(
      () => {
        synced = true;
        inTime = this.#stalled === undefined;
        this.#failing = false;
        settle(waiting);
        return true;
      },
      (error) => {
        this.#failing = true;
        settle(waiting, error);
        return false;
      },
    );
    this.#syncing.finally(
      () => {
        this.#timers.clearTimeout(deadline);
        this.#syncs?.observe((this.#monotonic.now() - started) / 1_000);
        this.#stalled = undefined;
        this.#syncing = undefined;
        if (this.#closed) return this.#closeWal();
        // The disk has just answered in time, and the WAL is synced: the
        // checkpoint's own fsyncs are as short as they can be now. After a
        // stall, one more sync must come back in time first.
        const checkpointed = !(inTime && this.#checkpoints.due()) || this.#checkpoint();
        this.#sync(synced && checkpointed);
      },
    );
  }

  #checkpoint(): boolean {
    if (this.#checkpoints.run()) return true;
    // The disk fails: health probes it, and the next commit tries again.
    this.#failing = true;
    return false;
  }

  /** The running sync passed its deadline: what waits for it, or would, fails. */
  #stall(waiting: PromiseWithResolvers<void>[]): void {
    this.#stalled = new Error(
      `Cannot commit: the journal's fdatasync has not returned in ${this.#timeoutMs} ms (a stalled disk)`,
    );
    this.#failing = true;
    const queued = this.#unsynced;
    this.#unsynced = [];
    settle(waiting, this.#stalled);
    settle(queued, this.#stalled);
  }
}

/** Resolves the batches, or rejects them all with `error`. */
function settle(batches: PromiseWithResolvers<void>[], error?: unknown): void {
  for (const batch of batches) error === undefined ? batch.resolve() : batch.reject(error);
}
