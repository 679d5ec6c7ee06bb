// Groups whose enqueue failed after its insert was sent (lib/_unsure_groups.ts,
// through PostgresTaskStore): answered 503, they must never run, though the
// database may have got the insert, or get it once a network cut heals.
import { deepEqual, rejects } from "node:assert/strict";
import { defineTask, PostgresTaskStore, type TaskEntry, TaskGroup } from "../lib/mod.ts";
import { fakeClock, turn } from "./_helpers.ts";
import { postgresTest, proxyTo, type TestSchema, until } from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);

postgresTest(
  "PostgresTaskStore: a refused enqueue's session is ended, so its insert cannot land late when a cut heals",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000 });
    const [first, late] = [new TaskGroup().add(send, "first"), new TaskGroup().add(send, "late")];
    try {
      await store.enqueue(first);
      const port = proxy.holdNewest(); // the intake stream's: what it sends now waits in the proxy
      const refused = rejects(store.enqueue(late), /no answer in 2000 ms/);
      await turn(); // sent
      await clock.tickAsync(2_000);
      await refused; // answered 503
      await until(
        async () =>
          (await db.admin`SELECT 1 FROM pg_stat_activity WHERE client_port = ${port!}`).length ===
            0,
        "the given-up intake session ended",
      );
      await proxy.releaseHeld(); // the cut heals: what was sent arrives, at a session gone
      deepEqual(await groupIds(db), [first.id], "never landed, the store still open");
    } finally {
      await store.close();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a refused enqueue whose insert the database ran late, its session not ended, is deleted by close",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000 });
    const [first, late] = [new TaskGroup().add(send, "first"), new TaskGroup().add(send, "late")];
    const marker = (text: string) =>
      store.attempt(new TaskGroup().add(send, text).tasks[0] as TaskEntry);
    try {
      await marker("progress connected"); // before the intake's, which is then the newest
      await store.enqueue(first);
      proxy.holdNewest(); // the intake stream's: what it sends now waits in the proxy
      proxy.unreachableNew(); // and no new connection gets through to end its session
      const refused = rejects(store.enqueue(late), /no answer in 2000 ms/);
      await turn(); // sent
      await clock.tickAsync(2_000);
      await refused; // answered 503
      // Nothing of progress on its way while the clock moves (its deadline would pass).
      await marker("meanwhile");
      await clock.tickAsync(2_000); // the try to end its session given up
      proxy.unreachableNew(false);
      // The first delete goes with the next progress commit: before the insert lands here.
      await marker("after");
      await proxy.releaseHeld(); // the database wakes and runs the insert it had
      deepEqual(await groupIds(db), [first.id, late.id].sort(), "the late insert landed");
    } finally {
      await store.close();
    }
    deepEqual(await groupIds(db), [first.id], "deleted again at close: it never runs anywhere");
  },
);

postgresTest(
  "PostgresTaskStore: a refused enqueue's groups are deleted once the try to end its session is over, not before: an insert that landed meanwhile goes too",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000 });
    const [first, late] = [new TaskGroup().add(send, "first"), new TaskGroup().add(send, "late")];
    const marker = (text: string) =>
      store.attempt(new TaskGroup().add(send, text).tasks[0] as TaskEntry);
    try {
      await marker("progress connected"); // before the intake's, which is then the newest
      await store.enqueue(first);
      proxy.holdNewest(); // the intake stream's
      proxy.unreachableNew(); // the try to end its session gets no answer
      const refused = rejects(store.enqueue(late), /no answer in 2000 ms/);
      await turn(); // sent
      await clock.tickAsync(2_000);
      await refused; // answered 503
      await marker("meanwhile"); // a delete sent at once would be committed with it
      await proxy.releaseHeld(); // the cut heals for the old connection first
      deepEqual(await groupIds(db), [first.id, late.id].sort(), "landed while its end was tried");
      proxy.unreachableNew(false);
      await clock.tickAsync(2_000); // the try given up: now the delete goes
      await marker("after"); // committed after it
      deepEqual(await groupIds(db), [first.id], "deleted, the store still open");
    } finally {
      await store.close();
    }
  },
);

/** The groups in the test's table. */
async function groupIds(db: TestSchema): Promise<string[]> {
  const rows = await db.admin`
    SELECT DISTINCT group_id FROM ${db.admin(db.name)}.posthaste_tasks ORDER BY group_id`;
  return rows.map((row) => row.group_id);
}
