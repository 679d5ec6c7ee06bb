import { deepEqual, equal } from "node:assert/strict";
import {
  DeferredRecovery,
  defineTask,
  definitionsByName,
  recoverTasks,
  SqliteTaskStore,
  type TaskContext,
  TaskRunner,
  type TaskStore,
} from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";
import { journalWith, unfinished } from "./_sqlite_journal.ts";

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
  deferred.again(); // walked twice, the large group is counted once
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
