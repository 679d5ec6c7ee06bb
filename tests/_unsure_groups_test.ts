// Groups whose enqueue failed after its insert was sent (lib/_unsure_groups.ts,
// through PostgresTaskStore): answered 503, they must never run, though the
// database may have got the insert, or get it once a network cut heals.
import { deepEqual, rejects } from "node:assert/strict";
import { defineTask, PostgresTaskStore, type TaskEntry, TaskGroup } from "../lib/mod.ts";
import { fakeClock, keepingLogger, turn } from "./_helpers.ts";
import { postgresTest, proxyTo, type TestSchema, until } from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);

/**
 * A store through a proxy, on a fake clock, whose commits get 1 s a statement:
 * `mark` commits progress (after any delete queued before it), `refuse` sends
 * an enqueue that goes unanswered and sees it refused at its 2 s deadline,
 * answered 503; `close()` ends it all.
 */
async function proxiedStore(db: TestSchema) {
  const proxy = proxyTo(db.url);
  const clock = fakeClock();
  const logger = keepingLogger();
  const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000, logger });
  const mark = (text: string) =>
    store.attempt(new TaskGroup().add(send, text).tasks[0] as TaskEntry);
  const refuse = async (group: TaskGroup) => {
    const refused = rejects(store.enqueue(group), /no answer in 2000 ms/);
    await turn(); // sent
    await clock.tickAsync(2_000);
    await refused;
  };
  const close = async () => {
    await store.close();
    await proxy[Symbol.asyncDispose]();
  };
  return { proxy, clock, logger, store, mark, refuse, close };
}

/**
 * A {@linkcode proxiedStore} whose intake connection is cut (what it sends is
 * held) while a request is enqueued: `late` is refused, its insert in the
 * proxy. With `unreachable`, new connections get no answer either, so the try
 * to end the cut session (2 s) waits.
 */
async function refusedAtCut(db: TestSchema, { unreachable = false } = {}) {
  const opened = await proxiedStore(db);
  const { proxy, store, mark, refuse, close } = opened;
  const [first, late] = [new TaskGroup().add(send, "first"), new TaskGroup().add(send, "late")];
  try {
    await mark("progress connected"); // before the intake's, which is then the newest link
    await store.enqueue(first);
    const port = proxy.holdNewest();
    proxy.unreachableNew(unreachable);
    await refuse(late);
    return { ...opened, first, late, port };
  } catch (error) {
    await close();
    throw error;
  }
}

postgresTest(
  "PostgresTaskStore: a refused enqueue's session is ended, so its insert cannot land late when a cut heals",
  async (db) => {
    const { proxy, first, port, close, logger } = await refusedAtCut(db);
    try {
      await until(
        async () =>
          (await db.admin`SELECT 1 FROM pg_stat_activity WHERE client_port = ${port!}`).length ===
            0,
        "the given-up intake session ended",
      );
      await proxy.releaseHeld(); // the cut heals: what was sent arrives, at a session gone
      deepEqual(await groupIds(db), [first.id], "never landed, the store still open");
      deepEqual(cannotEnd(logger), [], "nothing to say");
    } finally {
      await close();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a refused enqueue whose insert the database ran late, its session not ended, is deleted by close",
  async (db) => {
    const { proxy, clock, first, late, mark, close, logger } = await refusedAtCut(db, {
      unreachable: true,
    });
    try {
      // Nothing of progress on its way while the clock moves (its deadline would pass).
      await mark("meanwhile");
      await clock.tickAsync(2_000); // the try to end its session given up
      deepEqual(
        cannotEnd(logger),
        ["no answer in 2000 ms"],
        "said: what it was sent may still run",
      );
      proxy.unreachableNew(false);
      await mark("after"); // the first delete: before the insert lands
      await proxy.releaseHeld(); // the database wakes and runs the insert it had
      deepEqual(await groupIds(db), [first.id, late.id].sort(), "the late insert landed");
    } finally {
      await close();
    }
    deepEqual(await groupIds(db), [first.id], "deleted again at close: it never runs anywhere");
  },
);

postgresTest(
  "PostgresTaskStore: a refused enqueue's groups are deleted once the try to end its session is over, not before: an insert that landed meanwhile goes too",
  async (db) => {
    const { proxy, clock, first, late, mark, close } = await refusedAtCut(db, {
      unreachable: true,
    });
    try {
      await mark("meanwhile"); // a delete sent at once would be committed with it
      await proxy.releaseHeld(); // the cut heals for the old connection first
      deepEqual(await groupIds(db), [first.id, late.id].sort(), "landed while its end was tried");
      proxy.unreachableNew(false);
      await clock.tickAsync(2_000); // the try given up: now the delete goes
      await mark("after"); // committed after it
      deepEqual(await groupIds(db), [first.id], "deleted, the store still open");
    } finally {
      await close();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a refused enqueue whose connection was never made ends no session and says nothing: it sent nothing",
  async (db) => {
    const { proxy, clock, logger, mark, refuse, close } = await proxiedStore(db);
    try {
      await mark("progress connected");
      proxy.unreachableNew(true); // the cut comes before the intake's connection is made
      await refuse(new TaskGroup().add(send, "late"));
      await clock.tickAsync(2_000); // as long as a try to end its session would take
      await turn();
      // In a full cut, a warning for each connection tried: 11 in 78 s by hand.
      deepEqual(cannotEnd(logger), [], "no session to end, and no warning of one");
      proxy.unreachableNew(false);
    } finally {
      await close();
    }
    deepEqual(await groupIds(db), [], "never landed");
  },
);

/** The groups in the test's table. */
async function groupIds(db: TestSchema): Promise<string[]> {
  const rows = await db.admin`
    SELECT DISTINCT group_id FROM ${db.admin(db.name)}.posthaste_tasks ORDER BY group_id`;
  return rows.map((row) => row.group_id);
}

/** Why each given-up session could not be ended, as the store warned. */
function cannotEnd(logger: ReturnType<typeof keepingLogger>): unknown[] {
  return logger.messages.flatMap((message, i) =>
    message.startsWith("Cannot end the database session") ? [logger.properties[i]?.why] : []
  );
}
