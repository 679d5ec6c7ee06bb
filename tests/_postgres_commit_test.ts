// The commit streams' deadlines, through PostgresTaskStore: a commit that
// gets no answer must not hold every later one for good.
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { defineTask, PostgresTaskStore, TaskGroup } from "../lib/mod.ts";
import { fakeClock } from "./_helpers.ts";
import { postgresTest } from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);

/**
 * A TCP proxy to the database. `silenceNewest()` makes the connection opened
 * last swallow every byte both ways without closing, as a database host that
 * vanished without a reset does; the others, and later ones, pass.
 */
function proxyTo(url: string) {
  const target = new URL(url);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const links: { conns: Deno.Conn[]; silent: boolean }[] = [];
  const close = (conns: Deno.Conn[]) => {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, link: { silent: boolean }) => {
    const buffer = new Uint8Array(65_536);
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        if (!link.silent) await to.write(buffer.subarray(0, n));
      }
    } catch { /* closed by the other side or at dispose */ }
    // One side ended: so does the link, as a direct connection would.
    if (!link.silent) close([from, to]);
  };
  const pumps: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({
        hostname: target.hostname,
        port: Number(target.port || 5432),
      });
      const link = { conns: [client, server], silent: false };
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
    async [Symbol.asyncDispose](): Promise<void> {
      listener.close();
      for (const { conns } of links) close(conns);
      await accepting.catch(() => {});
      await Promise.all(pumps);
    },
  };
}

postgresTest(
  "PostgresTaskStore: a commit that gets no answer fails at its deadline; the next goes through on a new connection",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000 });
    try {
      const [first, lost, next] = [new TaskGroup(), new TaskGroup(), new TaskGroup()];
      await store.enqueue(first.add(send, "first"));
      proxy.silenceNewest(); // the intake stream's, opened by that enqueue
      const stuck = rejects(
        store.enqueue(lost.add(send, "lost")),
        /Cannot commit to the task journal: no answer in 2000 ms/,
      );
      // The batch is sent at the end of this turn, and its deadline armed.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await clock.tickAsync(1_000 + 1_000); // one statement, then a second
      await stuck;
      equal(await store.health(), true, "a probe through new connections succeeds");
      await store.enqueue(next.add(send, "next"));
      // The lost group never reached the database; the probe deleted its row.
      const rows = await db.admin`
        SELECT group_id FROM ${db.admin(db.name)}.posthaste_tasks ORDER BY group_id
      `;
      deepEqual(rows.map((row) => row.group_id), [first.id, next.id].sort());
    } finally {
      await store.close();
    }
  },
);

postgresTest(
  "PostgresTaskStore: the database cancels a commit that waits past commitTimeoutMs",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url, { commitTimeoutMs: 50 });
    await store.enqueue(new TaskGroup().add(send, "warm"));
    // Another session holds the table: the insert waits for its lock.
    const [locked, held] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const locking = db.admin.begin(async (tx) => {
      await tx`LOCK TABLE ${tx(db.name)}.posthaste_tasks IN ACCESS EXCLUSIVE MODE`;
      locked.resolve();
      await held.promise;
    });
    await locked.promise;
    try {
      await rejects(
        store.enqueue(new TaskGroup().add(send, "waits")),
        (error: Error) => (match(error.message, /statement timeout/), true),
      );
    } finally {
      held.resolve();
      await locking;
    }
  },
);
