import { deepEqual, equal } from "node:assert/strict";
import {
  defineTask,
  restoreTask,
  type TaskDefinition,
  type TaskEntry,
  TaskGroup,
} from "../lib/mod.ts";
import { fakeClock, gatedTask, TestRunner } from "./_helpers.ts";

/** A group as recovery makes it: one task, `probation` if it is one crash from quarantine. */
function recovered(task: TaskDefinition<[string]>, name: string, probation = true): TaskGroup {
  return new TaskGroup()[restoreTask](task as TaskDefinition<unknown[]>, [name], 0, 0, probation);
}

Deno.test("probation: tasks one crash from quarantine run one at a time, in order, beside other work", async () => {
  await using runner = new TestRunner({ maxConcurrency: 8 });
  const { task: work, started, end } = gatedTask("work", {});
  const groups = [
    recovered(work, "p1"),
    recovered(work, "p2"),
    recovered(work, "n", false),
    recovered(work, "p3"),
  ];
  for (const group of groups) runner.submit(group);
  deepEqual(started, ["p1", "n"]);
  deepEqual([runner.running, runner.queued], [2, 2]);
  // GET /tasks/{id} says why one waits that a slot would have run.
  const shown = (group?: TaskGroup) => group?.toJSON().tasks.map((task) => task.probation);
  deepEqual(groups.map(shown), [[true], [true], [undefined], [true]]);
  end("p1");
  await groups[0]?.settled();
  deepEqual(started, ["p1", "n", "p2"]);
  end("n");
  end("p2");
  await groups[1]?.settled();
  deepEqual(started, ["p1", "n", "p2", "p3"]);
  end("p3");
  await runner.idle();
  deepEqual(groups.map((group) => group.tasks[0]?.state), ["done", "done", "done", "done"]);
  deepEqual(groups.map(shown), [[undefined], [undefined], [undefined], [undefined]]);
});

Deno.test("probation: a task on probation waits for its name's place too, and holds probation's meanwhile", async () => {
  await using runner = new TestRunner({ maxConcurrency: 8 });
  const limited = gatedTask("limited", { concurrency: 1 });
  const other = gatedTask("other", {});
  const started = () => [limited.started, other.started];
  const groups = [
    recovered(limited.task, "l1", false), // holds the name's one place
    recovered(limited.task, "l2"), // on probation: waits for the name's place
    recovered(other.task, "o"), // on probation: waits for l2 to end
  ];
  for (const group of groups) runner.submit(group);
  deepEqual(started(), [["l1"], []]);
  equal(runner.queued, 2);
  limited.end("l1");
  await groups[0]?.settled();
  deepEqual(started(), [["l1", "l2"], []]);
  limited.end("l2");
  await groups[1]?.settled();
  deepEqual(started(), [["l1", "l2"], ["o"]]);
  other.end("o");
  await runner.idle();
});

Deno.test("probation: a task waiting out its backoff gives the place to the next", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, maxConcurrency: 8, timeout: 3_600_000 });
  const { task: work, started, end } = gatedTask("work", {});
  let failed = false;
  const flaky = defineTask("flaky", (_name: string) => {
    started.push("f"); // in the same list: the order of every start
    if (!failed) throw new Error("once", { cause: failed = true });
  }, { retries: 1, retryDelay: 60_000 });
  const groups = [recovered(flaky, "f"), recovered(work, "g"), recovered(work, "h")];
  for (const group of groups) runner.submit(group);
  deepEqual(started, ["f", "g"]); // g took the place f left for its backoff; h waits for g
  end("g");
  await groups[1]?.settled();
  deepEqual(started, ["f", "g", "h"]);
  await clock.tickAsync(60_000); // f's backoff over: it waits for h
  deepEqual(started, ["f", "g", "h"]);
  end("h");
  await runner.idle();
  deepEqual(started, ["f", "g", "h", "f"]);
  deepEqual(groups.map((group) => group.tasks[0]?.state), ["done", "done", "done"]);
});

Deno.test("probation: the tasks waiting for it are abandoned at the shutdown deadline", async () => {
  await using runner = new TestRunner({ maxConcurrency: 8 });
  const hang = defineTask("hang", (_name: string) => new Promise<void>(() => {}));
  const groups = ["a", "b", "c"].map((name) => recovered(hang, name));
  for (const group of groups) runner.submit(group);
  equal(runner.queued, 2);
  const { abandoned } = await runner.drain({ signal: AbortSignal.abort() });
  equal(abandoned, 3);
  deepEqual(groups.map((group) => (group.tasks[0] as TaskEntry).state), [
    "abandoned",
    "abandoned",
    "abandoned",
  ]);
});
