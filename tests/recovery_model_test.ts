// A property test of start-up in durable mode, against a model. A SQLite
// journal holds random groups: tasks done before the crash, one running at it,
// tasks whose definition is gone. The restarted server (a runner with random
// limits, the journal as its journal, JournalTakeover resuming what was
// deferred whenever the backlog has room, as createApp wires it) must run
// every task the model says can run exactly once, in order within its group;
// dead-letter the unknown and the quarantined; and leave in the journal only
// the groups larger than the whole backlog.
import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { configure, reset } from "@logtape/logtape";
import {
  type DeadLetter,
  defineTask,
  definitionsByName,
  JournalTakeover,
  SqliteTaskStore,
  type TaskContext,
  type TaskEntry,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

/** A journaled task: its definition's name, and how far it got before the crash. */
interface Planned {
  known: boolean;
  progress: "queued" | "done" | "running";
}

const journal = fc.array(
  fc.array(
    fc.record({
      known: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
      progress: fc.constantFrom("queued", "queued", "done", "running"),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  { minLength: 1, maxLength: 12 },
).map((groups) =>
  // As the runner leaves a group: done tasks first, at most one running, queued after.
  groups.map((tasks) => {
    const done = tasks.filter((t) => t.progress === "done").length;
    const running = tasks.some((t) => t.progress === "running") ? 1 : 0;
    return tasks.map((t, i): Planned => ({
      known: t.known,
      progress: i < done ? "done" : i < done + running ? "running" : "queued",
    }));
  })
);

const send = defineTask("send", (_to: string) => {});
const gone = defineTask("gone", (_to: string) => {});

Deno.test("recovery model: each recoverable task runs once, in order; the rest is dead-lettered or stays", async () => {
  const watchers = new Set<(message: string) => void>();
  await configure({
    reset: true,
    sinks: { watch: (record) => void watchers.forEach((w) => w(String(record.rawMessage))) },
    loggers: [
      { category: ["posthaste"], lowestLevel: "info", sinks: ["watch"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  await using dir = await tempDir();
  let file = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        journal,
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2 }),
        async (groups, maxPending, maxConcurrency, crashLimit) => {
          const path = `${dir.path}/tasks-${file++}.db`;
          // The journal as the crashed server left it.
          const ids = groups.map((_, g) => `g${String(g).padStart(2, "0")}`);
          {
            using store = SqliteTaskStore.open(path);
            for (const [g, tasks] of groups.entries()) {
              const group = new TaskGroup({ id: ids[g] as string });
              for (const [i, t] of tasks.entries()) group.add(t.known ? send : gone, `${g}/${i}`);
              await store.enqueue(group);
              for (const [i, t] of tasks.entries()) {
                if (t.progress === "queued") continue;
                const entry = Object.assign(group.tasks[i] as TaskEntry, {
                  state: "running",
                  attempts: 1,
                });
                await store.attempt(entry);
                if (t.progress === "done") store.record(Object.assign(entry, { state: "done" }));
              }
            }
          }

          // The model: what the restart resumes, per group, and what it dead-letters.
          const letters: string[] = [];
          const runs: string[][] = [];
          const stays: string[] = [];
          for (const [g, tasks] of groups.entries()) {
            const runnable: string[] = [];
            for (const [i, t] of tasks.entries()) {
              if (t.progress === "done") continue;
              const quarantined = t.progress === "running" && crashLimit <= 1;
              if (quarantined) letters.push(`${ids[g]}/${i} crash_loop`);
              else if (!t.known) letters.push(`${ids[g]}/${i} unknown_task`);
              else runnable.push(`${ids[g]}/${i}`);
            }
            if (runnable.length > maxPending) stays.push(...runnable);
            else runs.push(runnable);
          }

          const store = SqliteTaskStore.open(path);
          const ran: string[] = [];
          const dead: DeadLetter[] = [];
          const accepted = new Set<string>();
          let takeover: JournalTakeover | undefined = undefined;
          const runner = new TaskRunner({
            maxPending,
            maxConcurrency,
            journal: store,
            onGroupAccepted: (group) => void accepted.add(group.id),
            onGroupSettled: () => {
              if (runner.pending <= maxPending / 2) takeover?.roomFreed();
            },
          });
          const run = defineTask("send", function (this: TaskContext, _to: string) {
            ran.push(this.id);
          });
          takeover = new JournalTakeover({
            store,
            name: path,
            definitions: definitionsByName(run),
            runner,
            deadLetter: (letter) => void dead.push(letter),
            known: (id) => accepted.has(id),
            crashLimit,
          });
          const walked = Promise.withResolvers<void>();
          const watch = (message: string): void => {
            if (message.includes("deferred tasks resumed")) walked.resolve();
          };
          watchers.add(watch);
          try {
            const start = await takeover.start();
            // Deferred work resumes as groups settle; with none running, nothing can.
            if (start.deferred > 0 && start.resumed > 0) await walked.promise;
            await runner.idle();
          } finally {
            watchers.delete(watch);
          }

          for (const group of runs) {
            deepEqual(ran.filter((id) => group.includes(id)), group, "once each, in order");
          }
          equal(ran.length, runs.flat().length, "nothing else ran");
          deepEqual(
            dead.map((letter) => `${letter.taskId} ${letter.reason}`).sort(),
            letters.sort(),
          );
          store.close(); // commits the last outcomes
          using after = SqliteTaskStore.open(path);
          deepEqual(after.list("", 1_000).map((task) => task.id), stays, "only what never fits");
        },
      ),
      { numRuns: 100 },
    );
  } finally {
    await reset();
  }
});
