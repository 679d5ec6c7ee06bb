// Group commit for PostgreSQL: the writes queued while one batch is on its
// way are sent together as the next, on the stream's own connection; a batch
// has a deadline, and failed outcomes go again. Internal to PostgresTaskStore.
import { setImmediate } from "node:timers";
import type { Sql } from "postgres";
import { monotonicClock } from "./clock.ts";
import type { NewRow } from "./_journal_rows.ts";
import {
  type Batch,
  batchStatements,
  hasProgress,
  newBatch,
  type SaveRow,
} from "./_postgres_batch.ts";
import { END_S, failedOnTheWay } from "./_postgres_pool.ts";
import type { CommitOptions } from "./_postgres_commit_options.ts";

const RETRY_PAUSE_MS = 1_000;

/** Batches writes; one batch at a time is on its way. */
export class PostgresCommit {
  readonly #options: CommitOptions;
  #sql: Sql;
  #next: Batch | undefined;
  #inFlight: Promise<void> | undefined;
  #failing = false;
  /** Why the last batch failed, if it got no answer by its deadline. */
  #stuck: Error | undefined;
  /** A failed batch's outcomes wait in `#next` for the pause before a retry. */
  #pause: unknown;
  #closing = false;
  /** Connections that answered a batch. */
  readonly #proven = new WeakSet<Sql>();
  /** The database's end of the connection last given up on. */
  #sessionEnded: Promise<unknown> = Promise.resolve();
  /** Stuck connections being ended. */
  readonly #ending = new Set<Promise<unknown>>();

  constructor(options: CommitOptions) {
    this.#options = options;
    this.#sql = options.connect();
  }

  /** Whether the last batch failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /**
   * The batch on its way, if any: resolves once it is answered, to whether
   * it committed. A database that froze keeps it waiting.
   */
  answered(): Promise<boolean> | undefined {
    return this.#inFlight?.then(() => !this.#failing, () => false);
  }

  /** Queues rows to insert; resolves once committed. */
  insert(rows: NewRow[]): Promise<void> {
    if (this.#refusing()) return Promise.reject(this.#stuck);
    const batch = this.#batch();
    for (const row of rows) batch.inserts.push(row);
    return batch.done.promise;
  }

  /**
   * Queues a group's rows to insert unless a row with its id is there
   * already (a chosen id, or the health probe's); resolves once committed,
   * to whether they were inserted.
   */
  insertNew(rows: NewRow[]): Promise<boolean> {
    if (this.#refusing()) return Promise.reject(this.#stuck);
    const batch = this.#batch();
    for (const row of rows) batch.checked.push(row);
    const id = rows[0]?.groupId ?? "";
    return batch.done.promise.then(() => !batch.refused.has(id));
  }

  /**
   * Queues a task's progress, and whether its group is now finished.
   *
   * @returns This batch's commit: an attempt mark, which is not carried over,
   * or a probe, which asks whether the stream works now. For an outcome, see
   * {@linkcode PostgresCommit.saveOutcome}.
   */
  save(row: SaveRow, groupFinished = false): Promise<void> {
    return this.#save(row, groupFinished).done.promise;
  }

  /**
   * Queues a task's outcome, and whether its group is now finished.
   *
   * @returns Its commit, with this batch or a later one it was carried over
   * to after a failure; rejected once it is given up (`retryForMs`, or close).
   */
  saveOutcome(row: SaveRow, groupFinished = false): Promise<void> {
    return this.#save(row, groupFinished).outcomes.promise;
  }

  #save(row: SaveRow, groupFinished: boolean): Batch {
    const batch = this.#batch();
    const key = `${row.groupId}/${row.index}`;
    const earlier = row.keep ? batch.saves.get(key) : undefined;
    // A row that keeps the retry time, error and duration keeps those of a save
    // still waiting in this batch (a retry, then the abandon at shutdown): the
    // table does not have them yet.
    batch.saves.set(key, earlier ? { ...earlier, state: row.state, attempts: row.attempts } : row);
    if (groupFinished) batch.finished.add(row.groupId);
    return batch;
  }

  /** Queues the delete of groups whose insert failed but may have been applied. */
  withdraw(groupIds: Iterable<string>): Promise<void> {
    const batch = this.#batch();
    for (const id of groupIds) batch.withdrawn.add(id);
    return batch.done.promise;
  }

  /**
   * Commits everything queued so far, once more without a pause or a retry
   * after, and waits for the sessions given up on to be ended; for closing.
   */
  async flush(): Promise<void> {
    this.#closing = true;
    if (this.#pause !== undefined) this.#resume();
    while (this.#inFlight || this.#next) {
      await (this.#inFlight ?? this.#next?.done.promise)?.catch(() => {});
    }
    await Promise.all(this.#ending);
  }

  /**
   * After a batch got no answer (a database that froze or vanished), one
   * batch at a time goes to see whether it is back; inserts meanwhile are
   * refused at once rather than each waiting out a deadline behind it.
   */
  #refusing(): boolean {
    return this.#stuck !== undefined && this.#inFlight !== undefined;
  }

  #batch(): Batch {
    if (this.#next) return this.#next;
    const batch = this.#next = newBatch();
    // End of this turn, or after the batch in flight (or the pause): every
    // write of the meantime joins this one.
    if (!this.#inFlight && this.#pause === undefined) setImmediate(() => this.#send());
    return batch;
  }

  #resume(): void {
    this.#options.timers.clearTimeout(this.#pause);
    this.#pause = undefined;
    this.#send();
  }

  /**
   * A failed batch's outcomes and deletes go again with the next batch, a
   * second later (the database may be restarting), so that tasks that
   * finished are not left marked unfinished, to run again after a restart.
   * Attempt marks are not: their attempt failed with the batch. Given up once
   * they have failed for `retryForMs` (a row the database would always refuse
   * must not hold the others' for longer) or at close.
   */
  #carryOver(failed: Batch, error: unknown): boolean {
    const now = this.#options.now();
    const since = failed.failedSince ?? now;
    const outcomes = [...failed.saves].filter(([, row]) => row.state !== "running");
    const none = outcomes.length === 0 && failed.finished.size === 0 &&
      failed.withdrawn.size === 0;
    if (none || this.#closing || now - since >= this.#options.retryForMs) {
      failed.outcomes.reject(error);
      return false;
    }
    const next = this.#next ??= newBatch();
    // Its outcomes' callers learn how the carried ones end.
    next.outcomes.promise.then(failed.outcomes.resolve, failed.outcomes.reject);
    next.failedSince = Math.min(next.failedSince ?? since, since);
    for (const [key, row] of outcomes) {
      const later = next.saves.get(key);
      // A later save wins, as within a batch; one that keeps takes these values.
      const kept = later?.keep ? { ...row, state: later.state, attempts: later.attempts } : later;
      next.saves.set(key, kept ?? row);
    }
    for (const groupId of failed.finished) next.finished.add(groupId);
    for (const groupId of failed.withdrawn) next.withdrawn.add(groupId);
    return true;
  }

  #send(): void {
    const batch = this.#next;
    this.#next = undefined;
    if (!batch) return;
    this.#inFlight = this.#answered(batch).then(
      () => {
        this.#failing = false;
        this.#stuck = undefined;
        batch.done.resolve();
        batch.outcomes.resolve();
      },
      (error) => {
        this.#failing = true;
        this.#stuck = error === this.#stuck ? error : undefined;
        batch.done.reject(error);
        if (batch.inserts.length > 0) {
          const ids = [...new Set(batch.inserts.map((row) => row.groupId))];
          this.#options.onUnsure?.(ids, this.#stuck ? this.#sessionEnded : Promise.resolve());
        }
        // Inserts queued behind it have waited a deadline too: refused with it.
        const next = this.#next;
        if (this.#stuck && next && !hasProgress(next)) {
          this.#next = undefined;
          next.done.reject(this.#stuck);
        }
        if (this.#carryOver(batch, error)) {
          this.#pause = this.#options.timers.setTimeout(() => this.#resume(), RETRY_PAUSE_MS);
        }
      },
    ).finally(() => {
      this.#inFlight = undefined;
      if (this.#next && this.#pause === undefined) this.#send();
    });
  }

  /**
   * Ends `sql` now, which rejects its statements still queued; the next batch
   * goes on a new connection. `flush()` and `end()` wait for it, and `after`.
   */
  #drop(sql: Sql, after?: Promise<unknown>): void {
    if (this.#sql === sql) this.#sql = this.#options.connect();
    const ending = Promise.all([sql.end({ timeout: 0 }).catch(() => {}), after])
      .finally(() => this.#ending.delete(ending));
    this.#ending.add(ending);
  }

  /** Ends the connection (and any replaced one still closing); call after flush(). */
  async end(): Promise<void> {
    await Promise.all([this.#sql.end({ timeout: END_S }), ...this.#ending]);
  }

  /**
   * The batch's commit, failed if it gets no answer by its deadline, past the
   * server's own statement timeout, or sooner as `watch` sees its session gone
   * or idle: the connection is stuck (a database host gone without a reset; or
   * postgres.js 3.4.9, whose connection can leave every later statement
   * unanswered once it was killed while reconnecting). It is ended and the
   * next batch gets a new one; else every later commit would wait behind it.
   */
  #answered(batch: Batch): Promise<unknown> {
    const sql = this.#sql;
    const { owner, now, timers, timeoutMs, monotonic = monotonicClock } = this.#options;
    const statements = batchStatements(sql, batch, owner, now());
    const deadlineMs = timeoutMs * statements.length + 1_000;
    const started = monotonic.now();
    let [timer, unwatch]: [unknown, (() => void) | undefined] = [undefined, undefined];
    const stuck = new Promise<never>((_, reject) => {
      let given = false; // by the deadline or the watch, whichever comes first
      const giveUp = (why: string) => {
        if (given) return;
        given = true;
        this.#sessionEnded = Promise.resolve(this.#options.endSession?.(sql)).catch(() => {});
        this.#drop(sql, this.#sessionEnded);
        reject(this.#stuck = new Error(`Cannot commit to the task journal: ${why}`));
      };
      timer = timers.setTimeout(() => giveUp(`no answer in ${deadlineMs} ms`), deadlineMs);
      // Not a first batch, which may wait for the connection to be made.
      if (this.#proven.has(sql)) {
        unwatch = this.#options.watch?.(sql, giveUp);
      }
    });
    stuck.catch(() => {});
    const answered = Promise.all(statements).then(() => void this.#proven.add(sql), (error) => {
      // Failed on the way, not by the database (a connection that could not
      // be made, or closed): the driver would send the rest of the batch on
      // its next connection, late, once the batch has failed.
      if (failedOnTheWay(error) && this.#sql === sql) this.#drop(sql);
      throw error;
    });
    return Promise.race([answered, stuck]).finally(() => {
      timers.clearTimeout(timer);
      unwatch?.();
      this.#options.batches?.observe((monotonic.now() - started) / 1_000);
    });
  }
}
