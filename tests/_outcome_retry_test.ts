import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { outcomeFailureLogs, OutcomeRetry } from "../lib/_outcome_retry.ts";
import {
  defineTask,
  SqliteTaskStore,
  type StructuredLogger,
  type TaskContext,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import {
  type FakeClock,
  fakeClock,
  recordingLogger,
  tempDir,
  TestRunner,
  turn,
} from "./_helpers.ts";

/** A journal that refuses every write while `full`, and records what it took. */
function journal() {
  const disk = { full: true, taken: [] as string[], tries: 0 };
  const write = (what: string) => () => {
    disk.tries++;
    if (disk.full) return Promise.reject(new Error("database or disk is full"));
    disk.taken.push(what);
    return Promise.resolve();
  };
  return { disk, write };
}

function retrying() {
  const clock = fakeClock();
  const givenUp: string[] = [];
  const written = { count: 0 };
  const retry = new OutcomeRetry({
    clock,
    onGiveUp: (key) => void givenUp.push(key),
    onWritten: () => void written.count++,
  });
  return { clock, givenUp, retry, written };
}

Deno.test("OutcomeRetry: a refused outcome is written again a second later until it commits", async () => {
  const { clock, givenUp, retry, written } = retrying();
  const { disk, write } = journal();
  await rejects(retry.write("g/0", write("g/0 done")), /disk is full/);
  await clock.tickAsync(999);
  deepEqual(disk.tries, 1, "not before the pause ends");
  await clock.tickAsync(1);
  deepEqual(disk.tries, 2, "refused again: the next pause");
  disk.full = false;
  await clock.tickAsync(1_000);
  deepEqual(disk.taken, ["g/0 done"]);
  await clock.tickAsync(10_000);
  deepEqual([disk.tries, givenUp], [3, []], "written once, then left alone");
  equal(written.count, 1, "the retried write told of its commit: the journal's refusals ended");
});

Deno.test("OutcomeRetry: a newer write of the key replaces a waiting outcome; an attempt mark drops it", async () => {
  const { clock, retry } = retrying();
  const { disk, write } = journal();
  await rejects(retry.write("g/0", write("g/0 retry at 5 s")), /full/);
  await rejects(retry.write("h", write("h forgotten")), /full/);
  disk.full = false;
  await retry.write("g/0", write("g/0 failed"));
  await rejects(retry.write("k/0", () => Promise.reject(new Error("full"))), /full/);
  retry.supersede("k/0"); // k/0's next attempt began: its old outcome is stale
  await clock.tickAsync(1_000);
  deepEqual(disk.taken, ["g/0 failed", "h forgotten"], "the old g/0 never lands after the new");
});

Deno.test("OutcomeRetry: in one batch the later of two refused writes of a key is the one kept", async () => {
  const { clock, retry } = retrying();
  const { disk, write } = journal();
  const both = [retry.write("g/0", write("old")), retry.write("g/0", write("new"))];
  await Promise.allSettled(both);
  disk.full = false;
  await clock.tickAsync(1_000);
  deepEqual(disk.taken, ["new"]);
});

Deno.test("OutcomeRetry: a write that keeps goes with the waiting outcome of its key, after it", async () => {
  const { clock, retry } = retrying();
  const { disk, write } = journal();
  await rejects(retry.write("g/0", write("g/0 retry at 5 s")), /full/);
  await rejects(retry.write("g/0", write("g/0 queued again"), true), /full/);
  disk.full = false;
  await clock.tickAsync(1_000);
  deepEqual(disk.taken, ["g/0 retry at 5 s", "g/0 queued again"]);
});

Deno.test("OutcomeRetry: gives up after a minute of refusals, and at close after one more try", async () => {
  const { clock, givenUp, retry } = retrying();
  const { disk, write } = journal();
  await rejects(retry.write("g/0", write("g/0")), /full/);
  await clock.tickAsync(59_000);
  deepEqual(givenUp, [], "59 s: still trying");
  await clock.tickAsync(1_000);
  deepEqual(givenUp, ["g/0"]);
  const tries = disk.tries;
  await clock.tickAsync(5_000);
  deepEqual(disk.tries, tries, "no try after giving up");

  await rejects(retry.write("h/0", write("h/0")), /full/);
  await rejects(retry.write("k/0", write("k/0")), /full/);
  disk.full = false;
  retry.flush(); // closing: both go now, not a second later
  await Promise.resolve();
  deepEqual(disk.taken, ["h/0", "k/0"]);
  await rejects(retry.write("m/0", () => Promise.reject(new Error("full"))), /full/);
  deepEqual(givenUp, ["g/0", "m/0"], "after close, a refusal is given up at once");
});

/**
 * A journal whose disk is "full" while the group `~full` is queued: it then
 * refuses outcomes (attempt marks still go, as they did in the by-hand run
 * where only the deletes of finished groups were refused); `fail()` on that
 * group frees the disk.
 */
function fullDiskJournal(path: string): void {
  SqliteTaskStore.open(path).close();
  using db = new DatabaseSync(path);
  const full = "EXISTS (SELECT 1 FROM tasks WHERE group_id = '~full' AND state = 'queued')";
  db.exec(`
    CREATE TRIGGER full_update BEFORE UPDATE ON tasks
    WHEN NEW.group_id <> '~full' AND NEW.state <> 'running' AND ${full}
    BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
    CREATE TRIGGER full_delete BEFORE DELETE ON tasks WHEN OLD.group_id <> '~full' AND ${full}
    BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
  `);
}

const send = defineTask("send", (to: string) => void to);

/** Runs a group that succeeds and one that fails while the disk is full, then frees it. */
async function finishWhileFull(
  path: string,
  clock: FakeClock,
  logger: StructuredLogger,
): Promise<SqliteTaskStore> {
  fullDiskJournal(path);
  const store = SqliteTaskStore.open(path, { clock, logger });
  await store.enqueue(new TaskGroup({ id: "~full" }).add(send, "nobody"));
  await using runner = new TestRunner({ journal: store });
  const fail = defineTask("fail", () => {
    throw new Error("no");
  }, { retries: 0 });
  const groups = [
    new TaskGroup({ id: "ok" }).add(send, "ada"),
    new TaskGroup({ id: "bad" }).add(fail),
  ];
  await Promise.all(groups.map((group) => store.enqueue(group)));
  for (const group of groups) runner.submit(group);
  await runner.idle();
  await turn(); // the outcomes' commit, refused
  store.fail({ groupId: "~full", index: 0 }, "disk freed");
  return store;
}

Deno.test("SqliteTaskStore: outcomes refused by a full disk are written once it has room", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const clock = fakeClock();
  const { logger, errors } = recordingLogger(3);
  const store = await finishWhileFull(path, clock, logger);
  await clock.tickAsync(1_000);
  await turn();
  const refused = errors.filter((e) => e.message.startsWith("Cannot journal task"));
  // A full disk refuses every outcome: a line a second, with how many it stands for.
  deepEqual(refused.map((e) => e.properties.unlogged), [0], "one line; the other is counted");
  deepEqual(refused.map((e) => e.properties.pauseMs), [1_000], "with the retry's pause");
  equal(errors.filter((e) => e.message.includes("the outcome of")).length, 0, "none given up");
  deepEqual(store.status("bad")?.state, "failed", "the failure is journaled");
  store.close();
  using reopened = SqliteTaskStore.open(path);
  deepEqual(reopened.recover().map((task) => task.id), [], "nothing runs again after a restart");
});

Deno.test("SqliteTaskStore: outcomes refused by a full disk are written at close", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const clock = fakeClock();
  const store = await finishWhileFull(path, clock, recordingLogger(3).logger);
  store.close();
  using reopened = SqliteTaskStore.open(path, { clock }); // its time: "bad" is not pruned
  deepEqual(reopened.recover().map((task) => task.id), []);
  deepEqual(reopened.status("bad")?.state, "failed");
});

Deno.test("SqliteTaskStore: a task abandoned while its refused retry waits keeps its retry time", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  fullDiskJournal(path);
  const { logger, enough: refused } = recordingLogger(1);
  const store = SqliteTaskStore.open(path, { logger });
  await store.enqueue(new TaskGroup({ id: "~full" }).add(send, "nobody"));
  const flaky = defineTask("flaky", function (this: TaskContext) {
    if (this.attempt === 1) throw new Error("first attempt fails");
  }, { retries: 2, retryDelay: 60_000, maxRetryDelay: 60_000 });
  const runner = new TaskRunner({ journal: store });
  const group = new TaskGroup({ id: "late" }).add(flaky);
  await store.enqueue(group);
  runner.submit(group);
  await refused; // its retry time, refused by the full disk, waits to be written again
  deepEqual(await runner.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
  store.fail({ groupId: "~full", index: 0 }, "disk freed"); // before the requeue's commit
  await turn();
  store.close();
  using reopened = SqliteTaskStore.open(path);
  const [task] = reopened.recover();
  deepEqual([task?.id, task?.attempts], ["late/0", 1]);
  ok((task?.nextAt ?? 0) > Date.now() + 20_000, "the backoff carries on after the restart");
});

Deno.test("outcomeFailureLogs: a line a second of each kind, with how many it stands for", () => {
  let now = 0;
  const { logger, errors } = recordingLogger(10);
  const logs = outcomeFailureLogs(logger, { now: () => now }, 1_000);
  const full = new Error("database or disk is full");
  for (const id of ["a/0", "b/0", "c/0"]) {
    logs.refused(id, full);
    logs.givenUp(id, full);
  }
  now = 1_000;
  logs.refused("d/0", full);
  deepEqual(
    errors.map(({ properties: p }) => [p.taskId ?? p.id, p.unlogged]),
    [["a/0", 0], ["a/0", 0], ["d/0", 2]],
  );
  const infos: Record<string, unknown>[] = [];
  logger.info = (_message, properties = {}) => void infos.push(properties);
  logs.refused("e/0", full); // held: the gate opens again at 2,000
  now = 2_500;
  logs.written();
  logs.written();
  deepEqual(infos, [{ count: 5, ms: 2_500, unlogged: 1 }], "the refusals' end, once");
});
