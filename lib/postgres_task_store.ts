/**
 * The durable journal in PostgreSQL: one table that several server processes
 * share, group commit, and claims held by session locks.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { StructuredLogger } from "./logging.ts";
import { OwnerClaim } from "./_postgres_claim.ts";
import { PostgresPool } from "./_postgres_pool.ts";
import { LookLog } from "./_look_log.ts";
import { Histogram, LATENCY_BUCKETS } from "./histogram.ts";
import { JournalHealth } from "./_journal_health.ts";
import { abortable, type WaitOptions } from "./abortable.ts";
import { withoutPassword } from "./_without_password.ts";
import { cannot, duplicateGroup, journalRows } from "./_journal_rows.ts";
import { givenIds, PendingIds } from "./_given_ids.ts";
import type { PostgresCommit } from "./_postgres_commit.ts";
import { checkCommitTimeout, COMMIT_TIMEOUT_MS, commitStreams } from "./_postgres_streams.ts";
import { saveRow } from "./_postgres_batch.ts";
import { PostgresOutcomes } from "./_postgres_outcomes.ts";
import { probeStreams } from "./_postgres_probe.ts";
import { UnsureGroups } from "./_unsure_groups.ts";
import { adoptOrphans, failOwned, readFingerprint, readGroup } from "./_postgres_journal.ts";
import { StopMark } from "./_postgres_stop_mark.ts";
import { type ListedPage, listOwned } from "./_postgres_list.ts";
import { ensureTable } from "./_postgres_schema.ts";
import { type Clock, monotonicClock, systemClock } from "./clock.ts";
import { groupStatus } from "./_journal_recovery.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
import type { GroupStatus } from "./task_status.ts";
import type { StoredTask, TaskStore } from "./task_store.ts";
import type { SharedPlaces } from "./shared_places.ts";
import type { PostgresTaskStoreOptions } from "./postgres_task_store_options.ts";

/**
 * A {@linkcode TaskStore} in a PostgreSQL database, which several servers
 * can share. Each open store is an owner with a random id: the rows it
 * enqueues carry that id, and its claim on them is a session-level advisory
 * lock on the id, held on a connection of its own for as long as the store is
 * open. The lock ends with the session, so when a process dies (or is
 * killed) PostgreSQL frees it, and the next `recover()` of any server, that
 * one restarted or another, adopts the unfinished tasks of every owner whose
 * lock is free. No clocks, leases or heartbeats are compared: a server whose
 * connection is up never loses its work. One that loses the connection takes
 * the lock again; tasks adopted meanwhile run twice (at least once), and its
 * later writes to them are ignored.
 *
 * Writes queued while a batch is on its way are sent together as the next
 * one, so concurrent requests share a statement and its commit; with
 * `synchronous_commit` on (PostgreSQL's default) an enqueue resolves once
 * its rows are durable. A commit fails at its deadline (`commitTimeoutMs`)
 * rather than wait for good on a stuck connection, which is then replaced;
 * outcomes whose commit failed go again with later commits for a minute. The
 * pool of reads and looks, and the claim's connection, are replaced too when
 * they stop answering (a host gone without a reset).
 *
 * @example Journaling a group in PostgreSQL
 * ```ts
 * import { defineTask, PostgresTaskStore, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const url = Deno.env.get("POSTHASTE_TEST_POSTGRES"); // e.g. postgres://posthaste@127.0.0.1/posthaste
 * if (url !== undefined) {
 *   const send = defineTask("send", (to: string) => void to);
 *   await using store = await PostgresTaskStore.open(url);
 *   const group = new TaskGroup().add(send, "ada@example.com");
 *   await store.enqueue(group); // durable now: a 202 may be sent
 *   equal((await store.status(group.id))?.state, "queued");
 *   await using runner = new TaskRunner({ journal: store });
 *   runner.submit(group);
 *   await runner.idle(); // it succeeded: its rows go with the next commit
 * }
 * ```
 */
export class PostgresTaskStore implements TaskStore, AsyncDisposable {
  readonly #pool: PostgresPool;
  readonly #claim: OwnerClaim;
  /**
   * The places of `sharedConcurrency`: advisory locks on the claim's
   * session, so a server that dies gives back those it held.
   */
  readonly sharedPlaces: SharedPlaces;
  // Chosen group ids whose commit has not settled (see enqueue).
  readonly #givenPending = new PendingIds();
  readonly #owner: string;
  readonly #name: string;
  /** Seconds each insert of new tasks took (what a 202 waits for); see `Metrics.journalSyncs`. */
  readonly journalSyncs: Histogram = new Histogram(LATENCY_BUCKETS);
  /** New tasks: what a 202 waits for. */
  readonly #intake: PostgresCommit;
  /** Attempts and outcomes, committed beside the intake (a task's come after its insert). */
  readonly #progress: PostgresCommit;
  readonly #clock: Clock;
  readonly #health: JournalHealth;
  readonly #outcomes: PostgresOutcomes;
  readonly #logger: StructuredLogger;
  readonly #looks: LookLog;
  #closed: Promise<void> | undefined;
  readonly #stopMark: StopMark;
  #crashLimit = 3; // recover()'s, for list() (see SqliteTaskStore)
  readonly #listed: ListedPage = new Map();
  readonly #unsure: UnsureGroups;

  /**
   * Connects, creates the table if it is missing, and takes a claim.
   *
   * @param url A `postgres://` connection URL (libpq's `PG*` variables fill in what it lacks).
   * @param options Pool size, retention, clock, and a signal to give up.
   * @returns The open store.
   * @throws {Error} "Cannot open task store "<url without password>": …" if the
   * database cannot be reached or its `posthaste_tasks` table is foreign.
   */
  static async open(
    url: string,
    options: PostgresTaskStoreOptions = {},
  ): Promise<PostgresTaskStore> {
    const { signal } = options;
    signal?.throwIfAborted();
    checkCommitTimeout(options.commitTimeoutMs ?? COMMIT_TIMEOUT_MS);
    const name = withoutPassword(url);
    const logger = options.logger ?? getLogger(["posthaste", "journal"]);
    let pool: PostgresPool | undefined;
    try {
      // In the try: the driver's own parse error quotes the URL, password and all.
      pool = new PostgresPool(url, options.connections ?? 4, logger);
      await abortable(pool.run(ensureTable), signal);
      const owner = crypto.randomUUID();
      const claim = await OwnerClaim.takeUnshared(url, owner, logger, pool, signal);
      return new PostgresTaskStore(pool, claim, url, { owner, name, logger }, options);
    } catch (error) {
      await pool?.end(0);
      if (signal?.aborted && error === signal.reason) throw error;
      const failed = cannot(`open task store "${name}"`, error);
      const shown = withoutPassword(failed.message);
      // An error that quotes the URL whole (the driver's parse error) is not kept as the cause.
      throw shown === failed.message ? failed : new Error(shown);
    }
  }

  private constructor(
    pool: PostgresPool,
    claim: OwnerClaim,
    url: string,
    { owner, name, logger }: { owner: string; name: string; logger: StructuredLogger },
    options: PostgresTaskStoreOptions,
  ) {
    const {
      retentionMs = 600_000,
      retentionCount = 10_000,
      pruneIntervalMs = 1_000,
      commitTimeoutMs = COMMIT_TIMEOUT_MS,
    } = options;
    this.#pool = pool;
    this.#claim = claim;
    this.sharedPlaces = claim.places;
    this.#owner = owner;
    this.#stopMark = new StopMark(pool, owner);
    this.#name = name;
    this.#logger = logger;
    this.#looks = new LookLog(logger);
    const clock = this.#clock = options.clock ?? systemClock;
    ({ intake: this.#intake, progress: this.#progress } = commitStreams({
      url,
      owner,
      clock,
      timeoutMs: commitTimeoutMs,
      batches: this.journalSyncs,
      monotonic: options.clock ?? monotonicClock,
      logger,
      onUnsure: (ids, ended) => this.#unsure.withdraw(ids, ended),
    }));
    this.#unsure = new UnsureGroups(this.#progress);
    this.#health = new JournalHealth({
      failing: () => this.#intake.failing || this.#progress.failing,
      inFlight: () => this.#intake.answered(),
      probe: () => probeStreams(owner, this.#intake, this.#progress),
    }, clock);
    this.#outcomes = new PostgresOutcomes({
      pool,
      progress: this.#progress,
      clock,
      logger,
      retentionMs,
      retentionCount,
      pruneIntervalMs,
      closing: () => this.#closed !== undefined,
    });
  }

  /** The database, as its URL without the password. */
  get path(): string {
    return this.#name;
  }

  /** This store's owner id: the `owner` of the rows it claims. */
  get owner(): string {
    return this.#owner;
  }

  /**
   * Whether the journal takes commits. While none failed, the insert of new
   * tasks on its way (if any) answers: a frozen database gives none, and
   * health's one-second deadline sees it long before the requests fail at
   * `commitTimeoutMs`. With none on its way, or after a failure, a probe
   * write answers, at most once a second: an idle server on a frozen
   * database shows it too, and health recovers without client traffic.
   *
   * @returns True if the insert on its way, else a probe (or the last commit), succeeded.
   */
  health(): Promise<boolean> {
    return this.#health.check();
  }

  enqueue(group: TaskGroup): Promise<void> {
    const rows = journalRows(group);
    // A chosen id may be taken: refused alone (the database is asked in the
    // commit), not by failing the commit. Generated ids (UUIDv7) cannot be.
    if (!givenIds.has(group)) return this.#intake.insert(rows);
    const { id } = group;
    const pending = this.#givenPending.taken(id);
    if (pending) return Promise.reject(duplicateGroup(id, pending.fingerprint));
    const inserted = this.#intake.insertNew(rows).then(async (fresh) => {
      // The stored group's fingerprint, asked for only now: repeats are rare.
      if (!fresh) {
        throw duplicateGroup(
          id,
          await this.#pool.run((sql) => readFingerprint(sql, id)).catch(() => null),
        );
      }
    });
    return this.#givenPending.hold(group, inserted);
  }

  attempt(entry: TaskEntry): Promise<void> {
    return this.#progress.save(saveRow(entry, "running", 0));
  }

  record(entry: TaskEntry, nextAt = 0): void {
    this.#outcomes.record(entry, nextAt);
  }

  /**
   * Adopts the unfinished tasks of every owner that is gone (see the class);
   * given `names`, only groups whose tasks all have one, and logs what it
   * leaves, once for each change. Nothing while this server's own claim is
   * not steady (lost, or taken again under `SETTLE_MS` ago).
   */
  async recover(crashLimit = 3, names?: readonly string[]): Promise<StoredTask[]> {
    this.#crashLimit = crashLimit;
    const now = this.#clock.now();
    const { adopted, left, unclaimed } = this.#claim.steady
      ? await this.#pool.run((sql) =>
        sql.begin((tx) => adoptOrphans(tx, this.#owner, crashLimit, now, names))
      )
      : { adopted: [], left: [], unclaimed: true };
    if (unclaimed) this.#looks.unsteady();
    else this.#looks.report(left, names);
    return adopted;
  }

  /** Journals that this owner stops: see `DurableTaskStore.markStopping`. */
  markStopping(): Promise<void> {
    return this.#stopMark.mark(this.#clock.now());
  }

  list(after: string, groups: number): Promise<StoredTask[]> {
    return this.#pool.run((sql) =>
      listOwned(sql, this.#owner, after, groups, this.#crashLimit, this.#listed)
    );
  }

  fail(task: Pick<StoredTask, "groupId" | "index">, error: string): Promise<void> {
    const now = this.#clock.now();
    return this.#pool.run((sql) => failOwned(sql, this.#owner, task, error, now));
  }

  async status(groupId: string, options: WaitOptions = {}): Promise<GroupStatus | undefined> {
    const rows = await this.#pool.run((sql) => readGroup(sql, groupId, options.signal));
    return groupStatus(groupId, rows);
  }

  /**
   * Commits what is queued, gives up the claim (its unfinished tasks are then
   * adopted by the next `recover()`, here or elsewhere), and disconnects.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#intake.flush();
      this.#unsure.again();
      await this.#progress.flush();
      await this.#stopMark.clear();
      try {
        await this.#claim.close();
      } finally {
        await Promise.all([this.#pool.end(), this.#intake.end(), this.#progress.end()]);
      }
    })();
    return this.#closed;
  }

  /** Same as {@linkcode PostgresTaskStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
