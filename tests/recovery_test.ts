import { deepEqual, equal, rejects } from "node:assert/strict";
import {
  type DeadLetter,
  DeferredRecovery,
  defineTask,
  definitionsByName,
  recoverTasks,
  SqliteTaskStore,
  type StoredTask,
  type TaskContext,
  TaskGroup,
  TaskRunner,
  type TaskStore,
} from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

const send = defineTask("send", (to: string) => void to);

/** A journal holding `sizes.length` unfinished groups `g0`, `g1`, … of the given sizes. */
async function journalWith(path: string, sizes: number[]): Promise<void> {
  using store = SqliteTaskStore.open(path);
  for (const [i, size] of sizes.entries()) {
    const group = new TaskGroup({ id: `g${i}` });
    for (let t = 0; t < size; t++) group.add(send, `to ${t}`);
    await store.enqueue(group);
  }
}

/** What is left unfinished in the journal once its outcomes are committed (on close). */
function unfinished(store: SqliteTaskStore): string[] {
  store.close();
  using reopened = SqliteTaskStore.open(store.path);
  return reopened.list("", 100).map((task) => task.id);
}

/** The journal's reads as a network store answers them: asynchronously, a turn of the event loop later. */
function remote(store: SqliteTaskStore): Pick<TaskStore, "recover" | "list" | "fail"> {
  const later = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    recover: async (crashLimit) => (await later(), store.recover(crashLimit)),
    list: async (after, groups) => (await later(), store.list(after, groups)),
    fail: async (task, error) => (await later(), store.fail(task, error)),
  };
}

/** A restarted server: its runner journals to `store`, and resumes deferred work as room frees. */
async function restart(store: SqliteTaskStore, maxPending: number, ran: string[], async = false) {
  const record = defineTask("send", function (this: TaskContext) {
    ran.push(this.id);
  });
  const known = new Set<string>();
  const runner = new TaskRunner({
    maxPending,
    journal: store,
    onGroupAccepted: (group) => void known.add(group.id),
    onGroupSettled: () => queueMicrotask(() => void deferred.resume()),
  });
  const options = {
    store: async ? remote(store) : store,
    definitions: definitionsByName(record),
    runner,
    deadLetter: () => {},
  };
  const deferred = new DeferredRecovery({ ...options, known: (id) => known.has(id) });
  const recovered = await recoverTasks(options);
  return { runner, recovered, deferred };
}

for (const async of [false, true]) {
  Deno.test(`DeferredRecovery: work that did not fit the backlog at start-up runs once room frees, each task once (${async ? "asynchronous" : "synchronous"} store)`, async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/tasks.db`;
    await journalWith(path, [1, 2, 1, 1, 1, 1]);
    const store = SqliteTaskStore.open(path);
    const ran: string[] = [];
    const { runner, recovered, deferred } = await restart(store, 2, ran, async);
    await using _ = runner;
    // g1 (2 tasks) did not fit, nor anything after g2.
    deepEqual(recovered, { resumed: 2, deadLettered: 0, deferred: 5 });
    // g0 and g2 are still unfinished in the journal when the walk passes them: it skips them.
    deepEqual(await deferred.finished, { resumed: 5, deadLettered: 0, deferred: 0 });
    await runner.idle();
    deepEqual(ran.toSorted(), [
      "g0/0",
      "g1/0",
      "g1/1",
      "g2/0",
      "g3/0",
      "g4/0",
      "g5/0",
    ]);
    deepEqual(unfinished(store), [], "nothing unfinished is left in the journal");
  });
}

Deno.test("DeferredRecovery: a group larger than maxPending stays queued instead of blocking the rest", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  await journalWith(path, [1, 3, 1, 1]);
  const store = SqliteTaskStore.open(path);
  const ran: string[] = [];
  const { runner, recovered, deferred } = await restart(store, 2, ran);
  await using _ = runner;
  deepEqual(recovered, { resumed: 2, deadLettered: 0, deferred: 4 });
  deepEqual(await deferred.finished, { resumed: 1, deadLettered: 0, deferred: 3 });
  await runner.idle();
  deepEqual(ran.toSorted(), ["g0/0", "g2/0", "g3/0"]);
  deepEqual(unfinished(store), ["g1/0", "g1/1", "g1/2"]);
});

Deno.test("DeferredRecovery: nothing is resumed once the runner drains", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  await journalWith(path, [1, 1]);
  const store = SqliteTaskStore.open(path);
  const ran: string[] = [];
  const { runner, recovered, deferred } = await restart(store, 1, ran);
  equal(recovered.deferred, 1);
  await runner.drain();
  await deferred.resume();
  equal(deferred.done, false);
  deepEqual(ran, ["g0/0"]);
  deepEqual(unfinished(store), ["g1/0"], "left for the next start");
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
  await using runner = new TaskRunner({ maxPending: 2 });
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
    await store.enqueue(new TaskGroup({ id: "old" }).add(gone, "ada@example.com"));
  }
  const letters: DeadLetter[] = [];
  {
    using store = SqliteTaskStore.open(path);
    await using runner = new TaskRunner({ journal: store });
    const result = await recoverTasks({
      store,
      definitions: definitionsByName(send),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    deepEqual(result, { resumed: 0, deadLettered: 1, deferred: 0 });
    deepEqual(letters.map((l) => [l.taskId, l.reason]), [["old/0", "unknown_task"]]);
    equal(store.status("old")?.state, "failed");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover(), [], "it is not found again at the next start");
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
