// The PostgreSQL store's pool for what is not a commit: status reads,
// takeover looks, prunes, the lists of a replay. Once every connection is
// busy, the driver pipelines the next queries onto busy ones; a connection
// whose host vanished without a reset (a failover, a network cut) takes them
// too, and neither they nor it end until TCP gives up, a quarter of an hour
// later: every status read 503, and no look for the work of servers that died.
// So a query with no answer for a while has the database asked, on a
// connection of its own, whether it runs any of the pool's; if it runs none,
// the pool is given up for a new one. Also `connect`, how every posthaste
// connection is made. Internal to PostgresTaskStore.
import postgres, { type Sql } from "postgres";
import { arrayTypes } from "./_postgres_arrays.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * How long a query on the pool waits for its answer before the database is
 * asked whether it runs it (and again as often while it does): twice a
 * status read's deadline.
 */
export const POOL_STALL_MS = 10_000;
/** How long that question may take: no answer counts as "none of them". */
const POOL_CHECK_MS = 5_000;

/** A pool of connections, replaced when a query on it has no answer and the database runs none. */
export class PostgresPool {
  readonly #url: string;
  readonly #size: number;
  readonly #logger: StructuredLogger;
  readonly #timers: Pick<Clock, "setTimeout" | "clearTimeout">;
  #sql!: Sql;
  /** The pool's sessions' `application_name`, new with each pool: how the database tells them. */
  #name = "";
  /** The question on its way, for the pool it asks about: one at a time. */
  #asking: Promise<string | undefined> | undefined;
  /** Pools given up on, closing. */
  readonly #ending = new Set<Promise<void>>();
  #ended = false;

  /**
   * @param size The pool's connections.
   * @param timers Time the stalls (the system's: a fake clock ticked far
   * would see a stall in every query on its way).
   */
  constructor(
    url: string,
    size: number,
    logger: StructuredLogger,
    timers: Pick<Clock, "setTimeout" | "clearTimeout"> = systemClock,
  ) {
    this.#url = url;
    this.#size = size;
    this.#logger = logger;
    this.#timers = timers;
    this.#open();
  }

  /**
   * Runs `query` on the pool. Each `POOL_STALL_MS` it goes unanswered, the
   * database is asked whether it runs any of the pool's queries; if not, the
   * pool is given up: its queries still on their way are ended (rejected) a
   * second later, and later queries go to a new one.
   */
  async run<T>(query: (sql: Sql) => Promise<T>): Promise<T> {
    const sql = this.#sql;
    let timer: unknown;
    let settled = false;
    const watch = () => {
      timer = this.#timers.setTimeout(async () => {
        if (sql !== this.#sql || this.#ended) return;
        const idle = await this.#idle();
        if (idle === undefined) {
          if (!settled) watch(); // a slow query: asked again later
        } else if (sql === this.#sql && !this.#ended) this.#replace(idle);
      }, POOL_STALL_MS);
    };
    watch();
    try {
      return await query(sql);
    } catch (error) {
      if (sql === this.#sql || this.#ended) throw error;
      // Ended with the pool given up: say so, not "CONNECTION_DESTROYED".
      const message = `the journal's pool gave no answer in ${POOL_STALL_MS} ms, and was replaced`;
      throw new Error(message, { cause: error });
    } finally {
      settled = true;
      this.#timers.clearTimeout(timer);
    }
  }

  /** Ends every connection, waiting up to `timeoutS` for the queries on their way. */
  async end(timeoutS: number = END_S): Promise<void> {
    this.#ended = true; // its queries end within timeoutS, their stall timers with them
    await Promise.all([this.#sql.end({ timeout: timeoutS }), ...this.#ending]);
  }

  #open(): void {
    this.#name = `posthaste pool ${crypto.randomUUID()}`;
    this.#sql = connect(this.#url, this.#size, { application_name: this.#name });
  }

  /**
   * Why the current pool counts as idle (the database runs none of its
   * queries, or does not answer), or undefined if it runs one.
   */
  #idle(): Promise<string | undefined> {
    const name = this.#name;
    this.#asking ??= (async () => {
      try {
        const [row] = await askWithin(
          this.#url,
          (sql) =>
            sql`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE application_name = ${name} AND state = 'active'`,
          POOL_CHECK_MS,
          this.#timers,
        );
        return row!.n > 0 ? undefined : "the database runs none of the pool's";
      } catch (error) {
        // A database that does not answer runs nothing of ours worth waiting for.
        return `the database did not say whether it runs any of the pool's (${
          error instanceof Error ? error.message : error
        })`;
      } finally {
        this.#asking = undefined;
      }
    })();
    return this.#asking;
  }

  #replace(why: string): void {
    this.#logger.warn(
      "A query on the journal's pool had no answer in {stallMs} ms, and {why}; connecting a new pool",
      { stallMs: POOL_STALL_MS, why },
    );
    const [gone, name] = [this.#sql, this.#name];
    this.#open();
    // Its sessions the database still keeps (a host that lives, a network
    // cut) are ended: an adoption's transaction would hold its rows for hours.
    const ended = this.#sql`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}
    `.then(() => {}, () => {});
    // A second for the answers of its connections that still give them.
    const ending: Promise<void> = Promise.all([gone.end({ timeout: END_S }).catch(() => {}), ended])
      .then(() => void this.#ending.delete(ending));
    this.#ending.add(ending);
  }
}

/**
 * Seconds a closing store's connection waits for its statements before it
 * is dropped. Short: at close the commits have been flushed, and a database
 * host gone without a reset answers nothing, which would hold the exit for
 * the whole wait (the app gives its files and journal 5 s in all).
 */
export const END_S = 1;

/**
 * Whether a query failed on the way to the database or back (the driver's
 * errors, such as CONNECT_TIMEOUT or CONNECTION_CLOSED, and the socket's),
 * not by the database's answer.
 */
export function failedOnTheWay(error: unknown): boolean {
  return error instanceof Error && "code" in error && !(error instanceof postgres.PostgresError);
}

/**
 * A connection pool of `max` named posthaste, with session settings (and
 * `options` for the driver).
 */
export function connect(
  url: string,
  max: number,
  settings: Record<string, number | string> = {},
  options: postgres.Options<Record<string, never>> = {},
): Sql {
  const connection = {
    application_name: "posthaste",
    // The driver prepares each statement once per connection, and after five
    // runs PostgreSQL may keep a generic plan made while the table was
    // small: a scan of the whole table for every batch, whose cost grows
    // with the table (a batched UPDATE took 1.4 s with 20,000 tasks
    // waiting). A plan per run costs a fraction of a millisecond a batch.
    plan_cache_mode: "force_custom_plan",
    // A table that vacuum has not caught up with makes every plan look
    // costly, past `jit_above_cost`, and a batch that runs in 2 ms then
    // spends ~90 ms compiling itself: in a soak, 330 such statements in 40 s,
    // the backlog full; none with JIT off. posthaste's statements are short.
    jit: "off",
    // A session whose client is cut off (not gone: no reset came) is kept
    // until the database's TCP keepalive gives up on it, after two hours by
    // Linux's default; the commit streams' given up on would pile up, each
    // a connection slot. Probed after a minute of silence, it ends in 90 s.
    tcp_keepalives_idle: 60,
    tcp_keepalives_interval: 10,
    tcp_keepalives_count: 3,
    ...settings,
  };
  // Array parameters serialized from the first statement on (see arrayTypes).
  return postgres(url, { max, onnotice: () => {}, ...options, connection, types: arrayTypes });
}

/**
 * Asks the database `query` on a connection of its own, ended once it is
 * answered, or once `late` rejects first: how a pool or claim that gets no
 * answer asks whether the database still has its sessions.
 */
export async function askAside<T>(
  url: string,
  query: (sql: Sql) => Promise<T>,
  late: Promise<never>,
): Promise<T> {
  const sql = connect(url, 1);
  try {
    return await Promise.race([query(sql), late]);
  } finally {
    void sql.end({ timeout: 0 });
  }
}

/** {@linkcode askAside}, given up once `ms` pass on `timers`: "no answer in <ms> ms". */
export async function askWithin<T>(
  url: string,
  query: (sql: Sql) => Promise<T>,
  ms: number,
  timers: Pick<Clock, "setTimeout" | "clearTimeout">,
): Promise<T> {
  let timer: unknown;
  const late = new Promise<never>((_, reject) => {
    timer = timers.setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  try {
    return await askAside(url, query, late);
  } finally {
    timers.clearTimeout(timer);
  }
}
