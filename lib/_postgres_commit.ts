// Group commit for PostgreSQL: the writes queued while one batch is on its
// way are sent together as the next, on the stream's own connection, three
// statements at most however many requests they came from. Internal to
// PostgresTaskStore.
import { setImmediate } from "node:timers";
import type { Sql } from "postgres";
import { type Clock, MAX_TIMER_MS } from "./clock.ts";
import { journalError, type NewRow } from "./_journal_rows.ts";
import type { TaskEntry } from "./task_group.ts";
import { TABLE } from "./_postgres_journal.ts";

/** A task's progress; `keep` leaves its retry time, error and duration as they are. */
export interface SaveRow {
  groupId: string;
  index: number;
  state: string;
  attempts: number;
  nextAt: number;
  error: string | null;
  durationMs: number;
  keep: boolean;
}

interface Batch {
  inserts: NewRow[];
  /** Rows of groups with a chosen id: inserted only if no row has that id yet. */
  checked: NewRow[];
  /** The groups of `checked` whose id was taken, once committed. */
  refused: Set<string>;
  /** The last save of each task wins (one that keeps takes the earlier one's values). */
  saves: Map<string, SaveRow>;
  /** Groups whose last task succeeded: deleted unless a task failed or another owner's is open. */
  finished: Set<string>;
  /** When a commit of outcomes carried over into this batch first failed (`now`). */
  failedSince: number | undefined;
  done: PromiseWithResolvers<void>;
}

function newBatch(): Batch {
  const done = Promise.withResolvers<void>();
  // Callers handle their own failures; a batch of carried-over outcomes may have none.
  done.promise.catch(() => {});
  return {
    inserts: [],
    checked: [],
    refused: new Set(),
    saves: new Map(),
    finished: new Set(),
    failedSince: undefined,
    done,
  };
}

const RETRY_PAUSE_MS = 1_000;

/** How long the database gives a commit's statement, by default. */
export const COMMIT_TIMEOUT_MS = 10_000;
// A batch has four statements at most, each given the timeout, then a second.
const MAX_COMMIT_MS = Math.floor((MAX_TIMER_MS - 1_000) / 4);

/** Throws a RangeError unless `ms` is a commit timeout whose deadline a timer can keep. */
export function checkCommitTimeout(ms: number): void {
  if (Number.isInteger(ms) && ms > 0 && ms <= MAX_COMMIT_MS) return;
  throw new RangeError(
    `Cannot open task store: commitTimeoutMs must be an integer from 1 to ${MAX_COMMIT_MS}, got ${ms}`,
  );
}

/** How a stream connects, and how long it waits for an answer. */
export interface CommitOptions {
  /** A new connection (one): at the start, and in place of a stuck one. */
  connect: () => Sql;
  /** The rows' owner. */
  owner: string;
  /** Wall-clock milliseconds, for `updated_at`. */
  now: () => number;
  /** The server cancels a statement after this (`statement_timeout`); a batch has at most four. */
  timeoutMs: number;
  /** Runs the deadline of a batch that gets no answer, and the pause before a retry. */
  timers: Pick<Clock, "setTimeout" | "clearTimeout">;
  /**
   * Milliseconds to keep committing the outcomes of a failed commit again,
   * each time with the next batch, at least a second apart; 0 never does.
   */
  retryForMs: number;
}

/** Batches writes; one batch at a time is on its way. */
export class PostgresCommit {
  readonly #options: CommitOptions;
  #sql: Sql;
  readonly #owner: string;
  readonly #now: () => number;
  #next: Batch | undefined;
  #inFlight: Promise<void> | undefined;
  #failing = false;
  /** A failed batch's outcomes wait in `#next` for the pause before a retry. */
  #pause: unknown;
  #closing = false;
  /** Stuck connections being ended. */
  readonly #ending = new Set<Promise<void>>();

  constructor(options: CommitOptions) {
    this.#options = options;
    this.#sql = options.connect();
    this.#owner = options.owner;
    this.#now = options.now;
  }

  /** Whether the last batch failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Queues rows to insert; resolves once committed. */
  insert(rows: NewRow[]): Promise<void> {
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
    const batch = this.#batch();
    for (const row of rows) batch.checked.push(row);
    const id = rows[0]?.groupId ?? "";
    return batch.done.promise.then(() => !batch.refused.has(id));
  }

  /** Queues a task's progress, and whether its group is now finished. */
  save(row: SaveRow, groupFinished = false): Promise<void> {
    const batch = this.#batch();
    const key = `${row.groupId}/${row.index}`;
    const earlier = row.keep ? batch.saves.get(key) : undefined;
    // A row that keeps the retry time, error and duration keeps those of a save
    // still waiting in this batch (a retry, then the abandon at shutdown): the
    // table does not have them yet.
    batch.saves.set(key, earlier ? { ...earlier, state: row.state, attempts: row.attempts } : row);
    if (groupFinished) batch.finished.add(row.groupId);
    return batch.done.promise;
  }

  /** Commits everything queued so far, once more without a pause or a retry after; for closing. */
  async flush(): Promise<void> {
    this.#closing = true;
    if (this.#pause !== undefined) this.#resume();
    while (this.#inFlight || this.#next) {
      await (this.#inFlight ?? this.#next?.done.promise)?.catch(() => {});
    }
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
  #carryOver(failed: Batch): boolean {
    const now = this.#now();
    const since = failed.failedSince ?? now;
    if (this.#closing || now - since >= this.#options.retryForMs) return false;
    const outcomes = [...failed.saves].filter(([, row]) => row.state !== "running");
    if (outcomes.length === 0 && failed.finished.size === 0) return false;
    const next = this.#next ??= newBatch();
    next.failedSince = Math.min(next.failedSince ?? since, since);
    for (const [key, row] of outcomes) {
      const later = next.saves.get(key);
      // A later save wins, as within a batch; one that keeps takes these values.
      const kept = later?.keep ? { ...row, state: later.state, attempts: later.attempts } : later;
      next.saves.set(key, kept ?? row);
    }
    for (const groupId of failed.finished) next.finished.add(groupId);
    return true;
  }

  #send(): void {
    const batch = this.#next;
    this.#next = undefined;
    if (!batch) return;
    this.#inFlight = this.#answered(batch).then(
      () => {
        this.#failing = false;
        batch.done.resolve();
      },
      (error) => {
        this.#failing = true;
        batch.done.reject(error);
        if (this.#carryOver(batch)) {
          this.#pause = this.#options.timers.setTimeout(() => this.#resume(), RETRY_PAUSE_MS);
        }
      },
    ).finally(() => {
      this.#inFlight = undefined;
      if (this.#next && this.#pause === undefined) this.#send();
    });
  }

  /** Ends the connection (and any replaced one still closing); call after flush(). */
  async end(): Promise<void> {
    await Promise.all([this.#sql.end({ timeout: 5 }), ...this.#ending]);
  }

  /**
   * The batch's commit, failed if it gets no answer by its deadline: past the
   * server's own statement timeout, so the connection is stuck (a database
   * host gone without a reset; or postgres.js 3.4.9, whose connection can
   * leave every later statement unanswered once it was killed while
   * reconnecting). That connection is ended and the next batch gets a new one;
   * without this, every later commit would wait behind this one for good.
   */
  #answered(batch: Batch): Promise<unknown> {
    const sql = this.#sql;
    const { statements, done } = this.#commit(batch, sql);
    const { timers, timeoutMs } = this.#options;
    const deadlineMs = timeoutMs * statements + 1_000;
    let timer: unknown;
    const stuck = new Promise<never>((_, reject) => {
      timer = timers.setTimeout(() => {
        if (this.#sql === sql) this.#sql = this.#options.connect();
        // Ending it also rejects its unanswered statements.
        const ending = sql.end({ timeout: 0 }).catch(() => {})
          .finally(() => this.#ending.delete(ending));
        this.#ending.add(ending);
        reject(new Error(`Cannot commit to the task journal: no answer in ${deadlineMs} ms`));
      }, deadlineMs);
    });
    stuck.catch(() => {});
    return Promise.race([done, stuck]).finally(() => timers.clearTimeout(timer));
  }

  #commit(
    { inserts, checked, refused, saves, finished }: Batch,
    sql: Sql,
  ): { statements: number; done: Promise<unknown> } {
    const now = this.#now();
    // No BEGIN and COMMIT round trips: the statements are sent at once on
    // this commit's own connection, which runs them in order, each its own
    // transaction. An enqueue is one statement, so it is atomic; a crash
    // between an outcome's UPDATE and its group's DELETE leaves a group of
    // done rows, which adoption deletes.
    const statements = [];
    // New rows as one INSERT; the checked ones add their conditions to it.
    const insertRows = (rows: NewRow[]) =>
      sql`
        INSERT INTO ${sql(TABLE)} (group_id, idx, name, args, state, updated_at, owner)
        SELECT g, i, n, a, 'queued', ${now}, ${this.#owner}
        FROM unnest(${column(rows, "groupId")}::text[], ${column(rows, "index")}::int[], ${
        column(rows, "name")
      }::text[], ${column(rows, "args")}::text[]) AS u(g, i, n, a)
      `;
    if (inserts.length > 0) statements.push(insertRows(inserts));
    if (checked.length > 0) {
      // A group's rows see the table as it was before the statement, not
      // each other: all of a group go in, or none.
      statements.push(
        sql`
          ${insertRows(checked)}
          WHERE NOT EXISTS (SELECT 1 FROM ${sql(TABLE)} AS e WHERE e.group_id = u.g)
          ON CONFLICT DO NOTHING
          RETURNING group_id
        `.then((rows) => {
          const inserted = new Set(rows.map((row) => String(row.group_id)));
          for (const row of checked) if (!inserted.has(row.groupId)) refused.add(row.groupId);
        }),
      );
    }
    if (saves.size > 0) {
      const rows = [...saves.values()];
      statements.push(sql`
          UPDATE ${sql(TABLE)} AS t SET
            state = u.s, attempts = u.n,
            next_at = CASE WHEN u.k = 1 THEN t.next_at ELSE u.x END,
            error = CASE WHEN u.k = 1 THEN t.error ELSE u.e END,
            duration_ms = CASE WHEN u.k = 1 THEN t.duration_ms ELSE u.d END,
            updated_at = ${now}
          FROM unnest(${column(rows, "groupId")}::text[], ${column(rows, "index")}::int[], ${
        column(rows, "state")
      }::text[], ${column(rows, "attempts")}::int[], ${column(rows, "nextAt")}::bigint[], ${
        column(rows, "error")
      }::text[], ${column(rows, "durationMs")}::int[], ${
        // The driver sends a boolean array as one boolean.
        rows.map((row) => row.keep ? 1 : 0)}::int[])
            AS u(g, i, s, n, x, e, d, k)
          WHERE t.group_id = u.g AND t.idx = u.i AND t.owner = ${this.#owner}
        `);
    }
    if (finished.size > 0) {
      // Kept if a task failed, or if another server adopted one (this one's
      // claim lapsed) and has not finished it: it runs it again, and reports it.
      statements.push(sql`
          DELETE FROM ${sql(TABLE)} AS t WHERE t.group_id = ANY(${[...finished]}::text[])
          AND NOT EXISTS (
            SELECT 1 FROM ${sql(TABLE)} AS f WHERE f.group_id = t.group_id AND (f.state = 'failed'
              OR (f.owner <> ${this.#owner} AND f.state <> 'done'))
          )
        `);
    }
    return { statements: statements.length, done: Promise.all(statements) };
  }
}

/** One field of every row, as the array that one `unnest` argument takes. */
function column<R, K extends keyof R>(rows: readonly R[], key: K): R[K][] {
  return rows.map((row) => row[key]);
}

const INT_MAX = 2 ** 31 - 1;

/** A task's progress as the commit saves it. */
export function saveRow(entry: TaskEntry, state: string, nextAt: number): SaveRow {
  return {
    groupId: entry.group.id,
    index: entry.index,
    state,
    attempts: entry.attempts,
    nextAt: Math.ceil(nextAt),
    error: journalError(entry.error),
    // The column is an integer: a task that took over 24.8 days (with its
    // retries) must not fail the commit that other tasks' writes share.
    durationMs: Math.min(Math.round(entry.durationMs), INT_MAX),
    keep: false,
  };
}
