// PostgreSQL for tests: a fresh schema per test in the database that
// POSTHASTE_TEST_POSTGRES names (.ci/run starts one); without it the
// PostgreSQL tests are ignored.
import { equal } from "node:assert/strict";
import postgres, { type Sql } from "postgres";

/** The test database's URL, or undefined: the PostgreSQL tests are then ignored. */
const POSTGRES_URL: string | undefined = Deno.env.get("POSTHASTE_TEST_POSTGRES");

/** A schema of its own: `url` puts the store's table in it; disposing drops it. */
export interface TestSchema extends AsyncDisposable {
  url: string;
  /** The schema's name, for qualifying the store's table in `admin` queries. */
  name: string;
  /** A connection for looking at and breaking things. */
  admin: Sql;
  /** Ends the sessions that hold `owner`'s claim, as its process dying would. */
  kill(owner: string): Promise<void>;
}

let schemas = 0;

async function testSchema(): Promise<TestSchema> {
  if (POSTGRES_URL === undefined) throw new Error("Cannot create a schema: no test database");
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  const name = `test_${Deno.pid}_${++schemas}`;
  await admin`DROP SCHEMA IF EXISTS ${admin(name)} CASCADE`;
  await admin`CREATE SCHEMA ${admin(name)}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("search_path", name);
  return {
    url: url.href,
    name,
    admin,
    async kill(owner) {
      // A 64-bit advisory key shows in pg_locks as two 32-bit halves; each
      // call returns once its session is gone, and with it the lock.
      await admin`
        SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
        WHERE locktype = 'advisory' AND objsubid = 1
        AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(${owner}, 0)
      `;
    },
    async [Symbol.asyncDispose]() {
      await admin`DROP SCHEMA ${admin(name)} CASCADE`;
      await admin.end();
    },
  };
}

/**
 * A test that runs against a schema of its own, dropped when it ends;
 * ignored without a test database.
 */
export function postgresTest(name: string, fn: (db: TestSchema) => Promise<void>): void {
  Deno.test({
    name,
    ignore: POSTGRES_URL === undefined,
    async fn() {
      await using db = await testSchema();
      await fn(db);
    },
  });
}

/** A lock on the store's table; see {@linkcode lockTable}. */
export interface TableLock {
  /** Resolves once the store's sessions waiting for the lock are `count` (round trips, no sleeps). */
  waiters(count: number): Promise<void>;
  /** Lets the lock go (again: a no-op). */
  release(): Promise<void>;
}

/** Another session holds the store's table until `release()`: statements on it wait. */
export async function lockTable(db: TestSchema): Promise<TableLock> {
  const [locked, held] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const locking = db.admin.begin(async (tx) => {
    await tx`LOCK TABLE ${tx(db.name)}.posthaste_tasks IN ACCESS EXCLUSIVE MODE`;
    locked.resolve();
    await held.promise;
  });
  await locked.promise;
  // db.admin's one connection holds the lock: another one looks.
  const look = postgres(db.url, { max: 1, onnotice: () => {} });
  const waiting = () =>
    look`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = 'posthaste' AND wait_event_type = 'Lock'
    `.then(([row]) => row?.n as number);
  let released: Promise<void> | undefined;
  return {
    async waiters(count) {
      for (let i = 0; i < 10_000 && await waiting() !== count; i++);
      equal(await waiting(), count, `${count} of the store's statements wait for the lock`);
    },
    release() {
      held.resolve();
      return released ??= locking.then(() => look.end());
    },
  };
}
