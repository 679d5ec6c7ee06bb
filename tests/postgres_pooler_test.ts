// Durable mode on PostgreSQL through PgBouncer, as a user would put it in
// front: refused in transaction mode, served in session mode. The pooler is
// the one .ci/run starts (POSTHASTE_TEST_PGBOUNCER: its URL, with a role but
// no database), whose databases posthaste_transaction and posthaste_session
// are the test database in those modes; the role's own schema, first in its
// search path (whatever PgBouncer's reset between clients), keeps the tests'
// table apart. Without it these tests are ignored.
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import postgres, { type Sql } from "postgres";
import { counts, emails, post, spawnServer, tempDir } from "./_helpers.ts";

const POOLER = Deno.env.get("POSTHASTE_TEST_PGBOUNCER");
const DIRECT = Deno.env.get("POSTHASTE_TEST_POSTGRES");

interface Pooled {
  /** The store's URL through the pooler in `mode`. */
  url(mode: "transaction" | "session"): string;
  /** A direct connection, for looking at what the servers left. */
  admin: Sql;
}

function poolerTest(name: string, fn: (pooled: Pooled) => Promise<void>): void {
  Deno.test({
    name,
    ignore: POOLER === undefined || DIRECT === undefined,
    async fn() {
      const pooler = new URL(POOLER!);
      const direct = new URL(DIRECT!);
      [direct.username, direct.password] = [pooler.username, pooler.password];
      const admin = postgres(direct.href, { max: 1, onnotice: () => {} });
      const fresh = () => admin`DROP SCHEMA IF EXISTS ${admin(pooler.username)} CASCADE`;
      try {
        await fresh();
        await admin`CREATE SCHEMA ${admin(pooler.username)}`;
        await fn({ admin, url: (mode) => new URL(`/posthaste_${mode}`, pooler).href });
      } finally {
        await fresh();
        await admin.end();
      }
    },
  });
}

poolerTest(
  "postgres through PgBouncer in transaction mode: start-up is refused, and no lock is left behind",
  async ({ admin, url }) => {
    await using dir = await tempDir();
    const locks = async () =>
      (await admin`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)[0]!.n;
    const before = await locks();
    // The claim, a session lock, would stay with a session PgBouncer hands to others.
    for (let start = 0; start < 3; start++) {
      const started = spawnServer(dir.path, { TASK_STORE: url("transaction") });
      // One that starts after all is stopped, so that the failure leaves no server behind.
      await rejects(started.then((server) => server[Symbol.asyncDispose]()), (error: Error) => {
        match(error.message, /exited \(code 1\)/);
        match(
          error.message,
          /Cannot open task store .*posthaste_transaction.*: its sessions are handed from connection to connection \(a pooler in transaction or statement mode\)/,
        );
        return true;
      });
    }
    equal(await locks(), before, "the claim let go on the session PgBouncer handed on");
  },
);

poolerTest(
  "postgres through PgBouncer in session mode: 202s, their lines, a clean shutdown, an empty table",
  async ({ admin, url }) => {
    await using dir = await tempDir();
    const sent = emails(5, "pooled");
    {
      await using server = await spawnServer(dir.path, { TASK_STORE: url("session") });
      deepEqual(await post(server.url, sent), [202, 202, 202, 202, 202]);
      server.child.kill("SIGTERM");
      const { code, stderr } = await server.status();
      equal(code, 0, stderr);
      match(stderr, /Shutdown complete: every accepted task finished/);
    }
    const seen = counts(await Deno.readTextFile(`${dir.path}/log.txt`));
    deepEqual([...seen.keys()].sort(), sent.sort());
    const [left] = await admin`SELECT count(*)::int AS n FROM posthaste_tasks`;
    equal(left?.n, 0, "groups that succeeded leave the table");
  },
);
