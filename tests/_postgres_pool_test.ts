// The PostgreSQL store's pool (lib/_postgres_pool.ts): a query without an
// answer for a while, which the database does not run, gives the pool up for
// a new one.
import { deepEqual, equal, notEqual, rejects } from "node:assert/strict";
import type { Clock } from "../lib/clock.ts";
import { connect, POOL_STALL_MS, PostgresPool } from "../lib/_postgres_pool.ts";
import { fakeClock, keepingLogger } from "./_helpers.ts";
import { postgresTest, proxyTo, until } from "./_postgres.ts";

const backend = (pool: PostgresPool) =>
  pool.run(async (sql) => (await sql`SELECT pg_backend_pid() AS pid`)[0]!.pid as number);

/** A fake clock's timers, whose callbacks' promises (the pool's checks) can be awaited. */
function checkedTimers() {
  const clock = fakeClock();
  const fired: unknown[] = [];
  const timers: Pick<Clock, "setTimeout" | "clearTimeout"> = {
    setTimeout: (fn, ms) => clock.setTimeout(() => void fired.push((fn as () => unknown)()), ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
  /** Moves time on `ms`, then waits for what the timers it fired started. */
  const tick = async (ms: number) => {
    await clock.tickAsync(ms);
    await Promise.all(fired.splice(0));
  };
  return { timers, tick };
}

postgresTest(
  "connect(): sessions plan each statement for its values and never compile it (JIT)",
  async (db) => {
    const sql = connect(db.url, 1);
    try {
      const [plans] = await sql`SHOW plan_cache_mode`;
      const [jit] = await sql`SHOW jit`;
      deepEqual([plans?.plan_cache_mode, jit?.jit], ["force_custom_plan", "off"]);
    } finally {
      await sql.end();
    }
  },
);

postgresTest(
  "PostgresPool: a query with no answer that the database does not run gives the pool up",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const { timers, tick } = checkedTimers();
    const logger = keepingLogger();
    const pool = new PostgresPool(proxy.url, 2, logger, timers);
    try {
      const old = await backend(pool); // its connection, open and idle: the next query's
      proxy.silenceAll(); // a database host gone without a reset; new connections pass
      const unanswered = rejects(backend(pool), {
        message: "the journal's pool gave no answer in 10000 ms, and was replaced",
      });
      await tick(POOL_STALL_MS - 1);
      equal(logger.messages.length, 0, "not before the stall");
      await tick(1);
      deepEqual(logger.messages, [
        "A query on the journal's pool had no answer in {stallMs} ms, and {why}; connecting a new pool",
      ]);
      equal(logger.properties[0]?.why, "the database runs none of the pool's");
      await unanswered; // ended with the pool given up
      notEqual(await backend(pool), old, "a new connection answers");
      // The database kept the old session (its host lives: the proxy holds
      // its end open); the pool ended it.
      await until(
        async () =>
          (await db.admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${old}`).length === 0,
        "the old session ended",
      );
    } finally {
      await pool.end();
    }
  },
);

postgresTest(
  "PostgresPool: a query the database still runs keeps the pool, and is asked about again",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const { timers, tick } = checkedTimers();
    const logger = keepingLogger();
    const pool = new PostgresPool(proxy.url, 1, logger, timers);
    try {
      const pid = await backend(pool);
      const slow = rejects(pool.run((sql) => sql`SELECT pg_sleep(30)`));
      await until(
        async () =>
          (await db.admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active'`)
            .length > 0,
        "the database run the query",
      );
      await tick(POOL_STALL_MS); // the database is asked, and runs it
      deepEqual(logger.messages, [], "kept");
      proxy.silenceAll(); // then its host is gone, and the query's end with it
      await db.admin`SELECT pg_cancel_backend(${pid})`;
      await tick(POOL_STALL_MS); // asked again: it runs nothing of the pool's
      equal(logger.messages.length, 1, "given up");
      await slow;
    } finally {
      await pool.end();
    }
  },
);

postgresTest(
  "connect: its sessions have the database probe a client gone silent, so one cut off ends in 90 s, not two hours",
  async (db) => {
    const sql = connect(db.url, 1);
    try {
      const [row] = await sql`
        SELECT current_setting('tcp_keepalives_idle') AS idle,
        current_setting('tcp_keepalives_interval') AS interval,
        current_setting('tcp_keepalives_count') AS count
      `;
      deepEqual({ ...row }, { idle: "60", interval: "10", count: "3" });
    } finally {
      await sql.end();
    }
  },
);
