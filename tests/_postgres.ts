// PostgreSQL for tests: a fresh schema per test in the database that
// POSTHASTE_TEST_POSTGRES names (.ci/run starts one); without it the
// PostgreSQL tests are ignored.
import postgres, { type Sql } from "postgres";
import type { SaveRow } from "../lib/_postgres_batch.ts";
import { ensureTable } from "../lib/_postgres_schema.ts";
import { connect } from "../lib/_postgres_pool.ts";

/** The test database's URL, or undefined: the PostgreSQL tests are then ignored. */
const POSTGRES_URL: string | undefined = Deno.env.get("POSTHASTE_TEST_POSTGRES");

/** A schema of its own: `url` puts the store's table in it; disposing drops it. */
export interface TestSchema extends AsyncDisposable {
  url: string;
  /** The schema's name, for qualifying the store's table in `admin` queries. */
  name: string;
  /** A connection for looking at and breaking things. */
  admin: Sql;
  /** The sessions that hold `owner`'s claim, by pid. */
  claimHolders(owner: string): Promise<number[]>;
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
  const claimHolders = async (owner: string): Promise<number[]> => {
    // A 64-bit advisory key shows in pg_locks as two 32-bit halves.
    const rows = await admin`
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
      AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(${owner}, 0)
    `;
    return rows.map((row) => row.pid as number);
  };
  return {
    url: url.href,
    name,
    admin,
    claimHolders,
    async kill(owner) {
      // Each call returns once its session is gone, and with it the lock.
      for (const pid of await claimHolders(owner)) {
        await admin`SELECT pg_terminate_backend(${pid}, 10000)`;
      }
    },
    async [Symbol.asyncDispose]() {
      await admin`DROP SCHEMA ${admin(name)} CASCADE`;
      await admin.end();
    },
  };
}

/**
 * A test that runs against a schema of its own, dropped when it ends;
 * ignored without a test database, or if `ignore`.
 */
export function postgresTest(
  name: string,
  fn: (db: TestSchema) => Promise<void>,
  ignore = false,
): void {
  Deno.test({
    name,
    ignore: POSTGRES_URL === undefined || ignore,
    async fn() {
      await using db = await testSchema();
      await fn(db);
    },
  });
}

/** A connection made as the store makes its own, to a schema with the store's table. */
export async function journalTable(db: TestSchema) {
  const sql = connect(db.url, 1);
  await ensureTable(sql);
  const table = db.admin(`${db.name}.posthaste_tasks`);
  return {
    sql,
    /** The table, for `db.admin`. */
    table,
    /** Adds `count` one-task groups of `owner`'s in `state`. */
    fill: (owner: string, count: number, state = "queued") =>
      db.admin`
        INSERT INTO ${table} (group_id, idx, name, args, state, updated_at, owner)
        SELECT gen_random_uuid()::text, 0, 'send', '[]', ${state}, 0, ${owner}
        FROM generate_series(1, ${count})
      `,
    [Symbol.asyncDispose]: () => sql.end(),
  };
}

/** A save of task `index` of `groupId` as `state`, ended at the commit's time. */
export const savedRow = (groupId: string, index: number, state: string): SaveRow => ({
  groupId,
  index,
  state,
  attempts: 1,
  nextAt: 0,
  error: null,
  durationMs: 0,
  at: -1,
  keep: false,
});

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
      WHERE application_name LIKE 'posthaste%'
      AND wait_event_type = 'Lock'
    `.then(([row]) => row?.n as number);
  let released: Promise<void> | undefined;
  return {
    waiters: (count) =>
      until(
        async () => await waiting() === count,
        `${count} store statements waiting for the lock`,
      ),
    release() {
      held.resolve();
      return released ??= locking.then(() => look.end());
    },
  };
}

/** Resolves once `check` holds: a round trip to the database each look, no sleeps. */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let look = 0; look < 10_000; look++) if (await check()) return;
  throw new Error(`Cannot see ${what}: not after 10,000 looks`);
}

/** One client's connection through {@linkcode proxyTo}, and what is done to it. */
interface Link {
  conns: Deno.Conn[];
  silent: boolean;
  /** What the client sent while held, for the server later. */
  held: Uint8Array[] | undefined;
  /** Resolves when the server ended its side. */
  ended: PromiseWithResolvers<void>;
  /** Resolves when the client ended its side: all it sent was read. */
  left: PromiseWithResolvers<void>;
}

/**
 * A TCP proxy to the database. `silenceNewest()` makes the connection opened
 * last swallow every byte both ways without closing, as a database host that
 * vanished without a reset does; the others, and later ones, pass.
 * `holdNewest()` keeps what its client sends from the server, even after the
 * client gave up on it, until `releaseHeld()` delivers it: a database that
 * froze, or a network cut, then what had been sent arriving after all (unless
 * the session was ended meanwhile).
 */
export function proxyTo(url: string) {
  const target = new URL(url);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const links: Link[] = [];
  const close = (conns: Deno.Conn[]) => {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, link: Link) => {
    const buffer = new Uint8Array(65_536);
    const toServer = from === link.conns[0];
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        if (link.silent) continue;
        if (link.held === undefined) await to.write(buffer.subarray(0, n));
        else if (toServer) link.held.push(buffer.slice(0, n));
      }
    } catch { /* closed by the other side or at dispose */ }
    (toServer ? link.left : link.ended).resolve();
    // One side ended: so does the link, as a direct connection would.
    if (!link.silent && link.held === undefined) close([from, to]);
  };
  const pumps: Promise<void>[] = [];
  let unreachable = false;
  const unanswered: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      if (unreachable) {
        unanswered.push(client); // a client that retries would get through once closed
        continue;
      }
      const server = await Deno.connect({
        hostname: target.hostname,
        port: Number(target.port || 5432),
      });
      const link: Link = {
        conns: [client, server],
        silent: false,
        held: undefined,
        ended: Promise.withResolvers(),
        left: Promise.withResolvers(),
      };
      links.push(link);
      pumps.push(pump(client, server, link), pump(server, client, link));
    }
  })();
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(listener.addr.port);
  return {
    url: proxied.href,
    silenceNewest(): void {
      const link = links.at(-1);
      if (link) link.silent = true;
    },
    /** Every connection open now swallows every byte (later ones pass): the host gone. */
    silenceAll(): void {
      for (const link of links) link.silent = true;
    },
    /** New connections get no answer (open ones pass): a database no client can reach anew. */
    unreachableNew(unreachableNow = true): void {
      unreachable = unreachableNow;
    },
    /** Returns the held connection's port, as the database's `client_port` shows it. */
    holdNewest(): number | undefined {
      const link = links.at(-1);
      if (link) link.held = [];
      return (link?.conns[1]?.localAddr as Deno.NetAddr | undefined)?.port;
    },
    /**
     * Once the held connection's client has gone (it gave up), delivers what
     * it sent, and waits until the server has answered and closed.
     */
    async releaseHeld(): Promise<void> {
      const link = links.find((l) => l.held !== undefined);
      const server = link?.conns[1];
      if (link?.held === undefined || server === undefined) return;
      await link.left.promise;
      try {
        for (const chunk of link.held) await server.write(chunk);
        await server.closeWrite();
      } catch { /* the server ended the session */ }
      await link.ended.promise;
      close(link.conns);
    },
    async [Symbol.asyncDispose](): Promise<void> {
      listener.close();
      close(unanswered);
      for (const { conns } of links) close(conns);
      await accepting.catch(() => {});
      await Promise.all(pumps);
    },
  };
}

/**
 * A stand-in connection: `answer` gets each statement's text (its values'
 * places as `$`, spaces folded) and values, and returns its result;
 * `sql(name)` is an identifier; `end()` resolves.
 */
export function fakeSql(answer: (text: string, values: unknown[]) => Promise<unknown>): Sql {
  return Object.assign((first: unknown, ...values: unknown[]) => {
    if (typeof first === "string") return first;
    return answer((first as string[]).join("$").replace(/\s+/g, " ").trim(), values);
  }, { end: () => Promise.resolve() }) as unknown as Sql;
}

/** The driver's error for a connection it could not make: a failure on the way, not the database's. */
export const connectTimeout = (): Error =>
  Object.assign(new Error("write CONNECT_TIMEOUT"), { code: "CONNECT_TIMEOUT" });

/** The database's own refusal of a statement. */
export const refusal = (message: string): Error => new postgres.PostgresError({ message } as never);
