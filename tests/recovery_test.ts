import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type DeadLetter,
  defineTask,
  definitionsByName,
  recoverTasks,
  SqliteTaskStore,
  type StoredTask,
  type TaskContext,
  type TaskDefinition,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { acceptedField } from "../lib/_status_times.ts";
import { type FakeClock, fakeClock, storedTask, tempDir, TestRunner } from "./_helpers.ts";
import { journalWith, unfinished } from "./_sqlite_journal.ts";

const send = defineTask("send", (to: string) => void to);

Deno.test("definitionsByName refuses two definitions of one name, which a restart would confuse", () => {
  const other = defineTask("send", (to: string) => void to.toUpperCase());
  throws(
    () => definitionsByName(send, other),
    /^TypeError: Cannot look task definitions up by name: two are named "send"$/,
  );
  equal(definitionsByName(send, send).get("send"), send, "one definition given twice");
});

Deno.test("recoverTasks: more unfinished work than MAX_PENDING does not stop start-up; the rest waits in the journal", async () => {
  await using dir = await tempDir();
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`);
  for (let i = 0; i < 3; i++) await store.enqueue(new TaskGroup({ id: `g${i}` }).add(send, "x"));
  const ran: string[] = [];
  const gate = Promise.withResolvers<void>();
  const record = defineTask("send", async function (this: TaskContext) {
    await gate.promise; // pending until the assertion below
    ran.push(this.groupId);
  });
  await using runner = new TestRunner({ maxPending: 2 });
  const result = await recoverTasks({
    store,
    definitions: definitionsByName(record),
    runner,
    deadLetter: () => {},
  });
  deepEqual(result, { resumed: 2, deadLettered: 0, deferred: 1 });
  gate.resolve();
  await runner.idle();
  equal(ran.length, 2);
});

Deno.test("recoverTasks dead-letters a journaled task whose name is no longer defined and marks it failed", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const gone = defineTask("gone", (to: string) => void to);
  {
    using store = SqliteTaskStore.open(path);
    const group = new TaskGroup({ id: "old" }).add(gone, "ada@example.com");
    acceptedField.set(group, Date.UTC(2026, 11, 1)); // as a runner took it, days ago
    await store.enqueue(group);
  }
  const letters: DeadLetter[] = [];
  {
    using store = SqliteTaskStore.open(path);
    await using runner = new TestRunner({ journal: store });
    const result = await recoverTasks({
      store,
      definitions: definitionsByName(send),
      runner,
      deadLetter: (letter) => void letters.push(letter),
      clock: fakeClock(), // the time of the letter, too
    });
    deepEqual(result, { resumed: 0, deadLettered: 1, deferred: 0 });
    deepEqual(letters.map((l) => [l.taskId, l.reason, l.acceptedAt, l.endedAt]), [
      ["old/0", "unknown_task", "2026-12-01T00:00:00.000Z", "1970-01-01T00:00:00.000Z"],
    ]);
    equal(store.status("old")?.state, "failed");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover(), [], "it is not found again at the next start");
});

Deno.test("recoverTasks dead-letters a task whose journaled arguments cannot be read, and runs the rest", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  {
    using store = SqliteTaskStore.open(path);
    for (const id of ["g0", "g1", "g2"]) {
      await store.enqueue(new TaskGroup({ id }).add(send, `${id}@example.com`));
    }
  }
  // Damaged by hand, or written by something else: no JSON, and JSON that is no argument list.
  const db = new DatabaseSync(path);
  db.exec(`UPDATE tasks SET args = '["g0@exam' WHERE group_id = 'g0'`);
  db.exec(`UPDATE tasks SET args = '{"to":1}' WHERE group_id = 'g2'`);
  db.close();
  const letters: DeadLetter[] = [];
  const ran: string[] = [];
  {
    using store = SqliteTaskStore.open(path);
    await using runner = new TestRunner({ journal: store });
    const result = await recoverTasks({
      store,
      definitions: definitionsByName(defineTask("send", (to: string) => void ran.push(to))),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    deepEqual(result, { resumed: 1, deadLettered: 2, deferred: 0 });
    await runner.idle();
    deepEqual(ran, ["g1@example.com"]);
    deepEqual(letters.map((l) => [l.taskId, l.reason, l.args]), [
      ["g0/0", "unreadable", []],
      ["g2/0", "unreadable", []],
    ]);
    match(letters[0]?.error ?? "", /^its arguments are not JSON \(.+\): \["g0@exam$/);
    equal(letters[1]?.error, `its arguments are not a JSON array: {"to":1}`);
    equal(store.status("g0")?.state, "failed");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover(), [], "neither is found again at the next start");
});

Deno.test("recoverTasks gives up at its signal: it rejects with the reason, submits nothing, and the journal keeps the tasks", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  await journalWith(path, [2]);
  const store = SqliteTaskStore.open(path); // unfinished() closes it
  const runner = new TaskRunner();
  const options = { store, definitions: definitionsByName(send), runner, deadLetter: () => {} };
  let reads = 0;
  const counted = { recover: (limit?: number) => (reads++, store.recover(limit)), fail: () => {} };
  await rejects(
    recoverTasks({ ...options, store: counted, signal: AbortSignal.abort(new Error("at once")) }),
    /^Error: at once$/,
  );
  equal(reads, 0, "an aborted signal: the journal is not read");
  const answered = Promise.withResolvers<void>();
  let late: Promise<StoredTask[]> | undefined;
  const slow = {
    recover: (limit?: number) => late = answered.promise.then(() => store.recover(limit)),
    fail: () => {},
  };
  const controller = new AbortController();
  const recovering = recoverTasks({ ...options, store: slow, signal: controller.signal });
  controller.abort(new Error("gave up"));
  await rejects(recovering, /^Error: gave up$/);
  answered.resolve();
  equal((await late)?.length, 2, "the journal answered after all");
  equal(runner.pending, 0, "nothing submitted");
  deepEqual(unfinished(store), ["g0/0", "g0/1"]);
});

/**
 * Recovers `tasks` of `definition` into a runner on `clock`, as a restart
 * does; `due()` is when each group's next task runs, as `GET /tasks/{id}`
 * says (before, queued and nothing more).
 */
async function recoverOnClock(
  clock: FakeClock,
  definition: TaskDefinition<[string]>,
  tasks: StoredTask[],
) {
  const groups: TaskGroup[] = [];
  const runner = new TaskRunner({ clock, onGroupAccepted: (group) => groups.push(group) });
  await recoverTasks({
    store: { recover: () => tasks, fail: () => {} },
    definitions: definitionsByName(definition),
    runner,
    deadLetter: () => {},
    clock,
  });
  return {
    due: () => groups.map((group) => group.toJSON().tasks[0]?.retryAt),
    [Symbol.asyncDispose]: () => runner[Symbol.asyncDispose](),
  };
}

Deno.test("recoverTasks waits out a journaled retry time as long as the wait it was given, past maxRetryDelay, and never longer", async () => {
  const clock = fakeClock();
  const sent: string[] = [];
  const send = defineTask("send", (to: string) => void sent.push(to)); // maxRetryDelay: 10 s
  const now = clock.now();
  const tasks = [
    // A RetryAfterError's 60 s, journaled 1 s before the restart.
    storedTask("asked", {
      args: ["asked"],
      attempts: 1,
      nextAt: now + 59_000,
      updatedAt: now - 1_000,
    }),
    // A 5 s backoff journaled by a wall clock a day ahead of this one.
    storedTask("a-day-ahead", {
      args: ["a-day-ahead"],
      attempts: 1,
      nextAt: now + 86_405_000,
      updatedAt: now + 86_400_000,
    }),
  ];
  await using recovered = await recoverOnClock(clock, send, tasks);
  deepEqual(
    recovered.due(),
    [now + 59_000, now + 5_000].map((at) => new Date(at).toISOString()),
  );
  await clock.tickAsync(5_000);
  deepEqual(sent, ["a-day-ahead"]);
  await clock.tickAsync(53_999);
  deepEqual(sent, ["a-day-ahead"]);
  await clock.tickAsync(1);
  deepEqual(sent, ["a-day-ahead", "asked"]);
});

Deno.test("recoverTasks waits out a journaled retry time whose row says not when it was written a backoff's at most", async () => {
  const clock = fakeClock();
  const stored = (groupId: string, nextAt: number) =>
    storedTask(groupId, { args: [groupId], attempts: 1, nextAt });
  const sent: string[] = [];
  const fn = (to: string) => void sent.push(to);
  const byDefault = defineTask("send", fn); // the runner's maxRetryDelay, 10 s
  const patient = defineTask("send", fn, { maxRetryDelay: 60_000 });
  for (const [definition, longest] of [[byDefault, 10_000], [patient, 60_000]] as const) {
    sent.length = 0;
    const tasks = [
      stored("soon", clock.now() + 3_000), // a backoff the process died in: carried on
      // Journaled by a wall clock a day ahead of this one (stepped back since, or a peer's).
      stored("a-day-ahead", clock.now() + 86_400_000),
    ];
    await using recovered = await recoverOnClock(clock, definition, tasks);
    const { due } = recovered;
    deepEqual(
      due(),
      [clock.now() + 3_000, clock.now() + longest].map((at) => new Date(at).toISOString()),
    );
    await clock.tickAsync(2_999);
    deepEqual(sent, []);
    await clock.tickAsync(1);
    deepEqual(sent, ["soon"]);
    await clock.tickAsync(longest - 3_001);
    deepEqual(sent, ["soon"]);
    await clock.tickAsync(1);
    deepEqual(sent, ["soon", "a-day-ahead"], `at the ${longest} ms backoff`);
    deepEqual(due(), [null, null], "done");
  }
});

Deno.test("recoverTasks marks a task with no definition failed only once its dead letter is written", async () => {
  const events: string[] = [];
  const written = Promise.withResolvers<void>();
  const sent = Promise.withResolvers<string[]>();
  await using runner = new TestRunner();
  const recovering = recoverTasks({
    store: {
      recover: () => [storedTask("g", { name: "gone" })],
      fail: () => void events.push("journal failed"),
    },
    definitions: definitionsByName(send),
    runner,
    deadLetter(letter: DeadLetter) {
      events.push(`letter ${letter.reason}`);
      sent.resolve([...events]);
      return written.promise;
    },
  });
  // Failed first, a crash before the letter's write left it with no letter, never to run.
  deepEqual(await sent.promise, ["letter unknown_task"]);
  written.resolve();
  deepEqual(await recovering, { resumed: 0, deadLettered: 1, deferred: 0 });
  deepEqual(events, ["letter unknown_task", "journal failed"]);
});
