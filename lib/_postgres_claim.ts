// A PostgresTaskStore's claim on its rows: a session-level advisory lock on
// its owner id, held on a connection of its own for as long as the store is
// open. PostgreSQL frees it when the session ends, however the process ends.
// Internal to PostgresTaskStore.
import type { Sql } from "postgres";
import { type Clock, systemClock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";
import { PostgresPlaces } from "./_postgres_places.ts";
import { askAside, connect, END_S, type PostgresPool } from "./_postgres_pool.ts";
import { abortable } from "./abortable.ts";
import {
  checkUnshared,
  CLAIM_APPLICATION_NAME,
  claimHolders,
  lockClaim,
  retakeClaim,
} from "./_postgres_claim_sql.ts";

/** How often the claim's connection is asked whether it still answers. */
export const CHECK_MS = 5_000;
/**
 * How long a check's answer may take before the database is asked, on a
 * connection of its own, what it holds of the claim (and again every
 * `CHECK_MS` while there is no answer).
 */
export const SLOW_MS = 2_000;
/**
 * How long an answer may take before the connection counts as gone while a
 * session of the claim runs a query in the database (it is slow), or the
 * database says nothing (it froze): long, since a new connection is a gap in
 * the claim in which a peer may adopt this server's work.
 */
export const STALL_MS = 30_000;

/**
 * How long after the claim was taken again this server adopts nothing of
 * others: lost in a failover, every server's claim was, and each takes its own
 * again within some seconds of the new host taking connections; until then a
 * live peer's work looks like a dead one's.
 */
export const SETTLE_MS = 15_000;

/** Holds the lock, and takes it again if its connection is lost or stops answering. */
export class OwnerClaim {
  #sql: Sql;
  readonly #url: string;
  readonly #owner: string;
  readonly #logger: StructuredLogger;
  readonly #timers: Pick<Clock, "setTimeout" | "clearTimeout">;
  /** The places of `sharedConcurrency`, held by the same session as the claim. */
  readonly places: PostgresPlaces;
  #closing = false;
  #retaking = false;
  /** Ends the settling after a retake (see `steady`). */
  #settling: (() => void) | undefined;
  /** Ends the pauses of the retake and the checks, at close. */
  readonly #pauses = new Set<() => void>();
  /** Connections given up on, closing. */
  readonly #ending = new Set<Promise<void>>();

  /**
   * Connects and takes the lock.
   *
   * @param timers Time the checks of the connection (the system's: a fake
   * clock ticked far would see a stall in every answer on its way).
   */
  static async take(
    url: string,
    owner: string,
    logger: StructuredLogger,
    timers: Pick<Clock, "setTimeout" | "clearTimeout"> = systemClock,
  ): Promise<OwnerClaim> {
    const claim = new OwnerClaim(url, owner, logger, timers);
    try {
      await lockClaim(claim.#sql, owner);
    } catch (error) {
      claim.#closing = true;
      await claim.#sql.end({ timeout: 0 });
      throw error;
    }
    void claim.#watch();
    return claim;
  }

  /**
   * {@linkcode OwnerClaim.take}, then fails, the claim let go, if `pool`'s
   * next query runs on the claim's session: a pooler in transaction or
   * statement mode hands one session from connection to connection. A claim
   * taken after `signal` aborted is closed.
   */
  static async takeUnshared(
    url: string,
    owner: string,
    logger: StructuredLogger,
    pool: PostgresPool,
    signal?: AbortSignal,
  ): Promise<OwnerClaim> {
    const taking = OwnerClaim.take(url, owner, logger);
    const claim = await abortable(taking, signal).catch((error) => {
      taking.then((claim) => claim.close(), () => {});
      throw error;
    });
    try {
      // Such a pooler gives the pool's next query the session last given back: the claim's.
      await abortable(pool.run((sql) => checkUnshared(sql, owner)), signal);
      return claim;
    } catch (error) {
      await claim.close();
      throw error;
    }
  }

  private constructor(
    url: string,
    owner: string,
    logger: StructuredLogger,
    timers: Pick<Clock, "setTimeout" | "clearTimeout">,
  ) {
    this.#url = url;
    this.#owner = owner;
    this.#logger = logger;
    this.#timers = timers;
    this.#sql = this.#connect();
    this.places = new PostgresPlaces(() => this.#sql, owner);
  }

  /**
   * Whether the claim is held, and has been for `SETTLE_MS` since it was last
   * taken again: whether this server may adopt the work of servers whose
   * claim is free.
   */
  get steady(): boolean {
    return !this.#retaking && this.#settling === undefined;
  }

  /** Ends the session, and with it the claim. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const end of [...this.#pauses]) end();
    await Promise.all([this.#sql.end({ timeout: END_S }), ...this.#ending]);
  }

  #connect(): Sql {
    const sql: Sql = connect(this.#url, 1, { application_name: CLAIM_APPLICATION_NAME }, {
      // Never recycled: a new connection would be a gap in the claim.
      max_lifetime: null,
      // A replaced connection's close is no loss: its successor holds the claim.
      onclose: () => sql === this.#sql && this.#lost(),
    });
    return sql;
  }

  /**
   * Asks the connection every `CHECK_MS` whether it answers. Else the store
   * would learn of its loss only from TCP, after many minutes, with its
   * `sharedConcurrency` tasks waiting on a take all the while. One with no
   * answer in `SLOW_MS` has the database asked what it holds of the claim
   * (see `#ask`): no session of it, or only idle ones, and the connection is
   * given up at once, so that a peer's look finds the claim free, and adopts
   * this server's work to run twice, for seconds only; a slow or silent
   * database, after `STALL_MS`.
   */
  async #watch(): Promise<void> {
    while (!this.#closing) {
      await this.#pause(CHECK_MS).done;
      if (this.#closing || this.#retaking) continue; // the retake has its own loop
      const sql = this.#sql;
      let answered = false;
      // An error is an answer: a lost connection is taken again through onclose.
      const asked = sql`SELECT 1`.then(() => answered = true, () => answered = true);
      const stall = this.#pause(STALL_MS);
      let [stalled, why, told] = [false, `gave no answer in ${STALL_MS} ms`, false];
      void stall.done.then(() => stalled = true);
      // Asked again while the stall lasts: a new host may take connections
      // only some seconds after the old one went away.
      for (let wait = SLOW_MS; !answered && !stalled && !this.#closing; wait = CHECK_MS) {
        const next = this.#pause(wait);
        await Promise.race([asked, next.done, stall.done]);
        next.end();
        if (answered || stalled || this.#closing) continue;
        const { now, said } = await this.#ask();
        if (now) {
          why = `gave no answer, and ${said}`;
          break;
        }
        if (told || answered) continue;
        told = true; // once a stall: the database is asked every CHECK_MS
        this.#logger.info(
          "The journal claim's connection gave no answer in {slowMs} ms, and {said}; waiting for it up to {stallMs} ms",
          { slowMs: SLOW_MS, said, stallMs: STALL_MS, owner: this.#owner },
        );
      }
      stall.end();
      if (!answered && !this.#closing && sql === this.#sql) this.#replace(why);
    }
  }

  /**
   * What the database says of the claim, and whether the connection is to be
   * given up `now` for it. So it is if no session holds the claim (a
   * failover: the new host never had the session), or only sessions of this
   * claim that are idle (a network cut: the question never reached the
   * session, or its answer never came back). Not while one runs a query (a
   * slow database), nor if the database says nothing in `SLOW_MS` or fails (one
   * that froze holds what it held; one that refuses connections cannot tell,
   * and is asked again).
   */
  async #ask(): Promise<{ now: boolean; said: string }> {
    const late = this.#pause(SLOW_MS);
    try {
      const holders = await askAside(
        this.#url,
        (sql) => claimHolders(sql, this.#owner),
        late.done.then(() => Promise.reject(new Error(`no answer in ${SLOW_MS} ms`))),
      );
      const idle = "its session in the database is idle: the question or its answer was lost";
      if (holders.length === 0) return { now: true, said: "the database holds no claim for it" };
      if (holders.every((row) => row.idle === true)) return { now: true, said: idle };
      return { now: false, said: "its session in the database runs a query" };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { now: false, said: `the database did not say what it holds of it (${message})` };
    } finally {
      late.end();
    }
  }

  /** Gives up the connection that stopped answering, and takes the claim on a new one. */
  #replace(why: string): void {
    this.#logger.warn(
      "The journal claim's connection {why}; connecting again for owner {owner}",
      { why, owner: this.#owner },
    );
    const gone = this.#sql;
    this.#sql = this.#connect();
    this.places.replaced();
    const ending: Promise<void> = gone.end({ timeout: 0 }).catch(() => {})
      .then(() => void this.#ending.delete(ending));
    this.#ending.add(ending);
    this.#lost();
  }

  /**
   * The session ended under a live store: until the lock is back, another
   * server may adopt this one's unfinished tasks and run them too (at least
   * once). The store's later writes to adopted rows are then ignored. One
   * retry loop at a time: the failed connections of its attempts close too.
   */
  #lost(): void {
    this.places.lost();
    if (this.#closing || this.#retaking) return;
    this.#retaking = true;
    void this.#retake().finally(() => this.#retaking = false);
  }

  async #retake(): Promise<void> {
    const owner = this.#owner;
    this.#logger.warn("Lost the journal claim's connection for owner {owner}; taking it again", {
      owner,
    });
    while (!this.#closing) {
      try {
        // The former sessions the database still keeps (a network cut: until
        // its TCP keepalive gives up, 90 s with connect's settings) hold the
        // claim, which this lock waits for, and the places, which every
        // server's tasks of that name wait for: ended first, the first query
        // on the new connection (takes of places are never blocked).
        await retakeClaim(this.#sql, owner);
        this.#logger.info("Took the journal claim for owner {owner} again", { owner });
        // Not awaited: the watch looks after this connection again from now.
        // Best effort: a place not taken again leaves the name over its limit a while.
        void this.places.retake().catch(() => {});
        this.#settling?.();
        const settle = this.#pause(SETTLE_MS);
        this.#settling = settle.end;
        void settle.done.then(() => {
          if (this.#settling === settle.end) this.#settling = undefined;
        });
        return;
      } catch (error) {
        if (this.#closing) return;
        this.#logger.error("Cannot take the journal claim again (retried in 1 s): {error}", {
          error,
        });
        await this.#pause(1_000).done;
      }
    }
  }

  /** A wait of `ms` that ends early at `end()`, or when the claim closes. */
  #pause(ms: number): { done: Promise<void>; end: () => void } {
    const { promise, resolve } = Promise.withResolvers<void>();
    const end = () => {
      this.#timers.clearTimeout(timer);
      this.#pauses.delete(end);
      resolve();
    };
    const timer = this.#timers.setTimeout(end, ms);
    this.#pauses.add(end);
    return { done: promise, end };
  }
}
