// TaskOptions.concurrency, through the runner (lib/_lanes.ts keeps the counts).
import { deepEqual, equal, throws } from "node:assert/strict";
import { type DeadLetter, defineTask, TaskGroup, TaskRunner } from "../lib/mod.ts";
import { fakeClock, gatedTask, quiet, TestRunner } from "./_helpers.ts";

Deno.test("concurrency: at most that many of a name run at once, the next as one ends; other names are not held back", async () => {
  await using runner = new TestRunner({ logger: quiet, maxConcurrency: 8 });
  const mail = gatedTask("mail", { concurrency: 2 });
  const groups = ["a", "b", "c", "d"].map((label) => new TaskGroup().add(mail.task, label));
  for (const group of groups) runner.submit(group);
  const other: string[] = [];
  const free = new TaskGroup().add((label: string) => void other.push(label), "free");
  runner.submit(free);
  await free.settled();
  deepEqual([mail.started, other], [["a", "b"], ["free"]], "the free task did not wait");
  deepEqual([runner.running, runner.queued], [2, 2]);
  deepEqual(groups.map((group) => group.tasks[0]?.state), [
    "running",
    "running",
    "queued",
    "queued",
  ]);
  let next = mail.nextStart();
  mail.end("b");
  await next;
  deepEqual(mail.started, ["a", "b", "c"], "the one waiting longest");
  next = mail.nextStart();
  mail.end("a");
  await next;
  mail.end("c");
  mail.end("d");
  await runner.idle();
  deepEqual(groups.map((group) => group.state), ["done", "done", "done", "done"]);
  deepEqual([runner.running, runner.queued], [0, 0]);
});

Deno.test("concurrency: a task waiting for its name holds back its group's next task", async () => {
  await using runner = new TestRunner({ logger: quiet });
  const mail = gatedTask("mail", { concurrency: 1 });
  const after: string[] = [];
  runner.submit(new TaskGroup().add(mail.task, "first"));
  const second = new TaskGroup().add(mail.task, "second").add(() => void after.push("after"));
  runner.submit(second);
  deepEqual([mail.started, after], [["first"], []]);
  const next = mail.nextStart();
  mail.end("first");
  await next;
  mail.end("second");
  await second.settled();
  deepEqual([mail.started, after], [["first", "second"], ["after"]]);
});

Deno.test("concurrency: a task waiting out its backoff holds no place; a failed one gives its place back", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, logger: quiet, retries: 1 });
  const mail = gatedTask("mail", { concurrency: 1, retryDelay: 1_000 });
  const first = new TaskGroup().add(mail.task, "first");
  const second = new TaskGroup().add(mail.task, "second");
  runner.submit(first);
  runner.submit(second);
  const next = mail.nextStart();
  mail.end("first", new Error("blip"));
  await next;
  deepEqual(mail.started, ["first", "second"], "second ran while first waited its backoff");
  equal(first.tasks[0]?.state, "retrying");
  await clock.tickAsync(1_000);
  equal(runner.queued, 1, "first's retry waits for second's place");
  const retried = mail.nextStart();
  mail.end("second", new Error("down"));
  await retried;
  deepEqual(mail.started, ["first", "second", "first"]);
  mail.end("first");
  await first.settled();
  await clock.tickAsync(1_000); // second's backoff (its timeout, 30 s, not reached)
  const again = mail.started.length;
  mail.end("second");
  await runner.idle();
  deepEqual([first.state, second.state, again], ["done", "done", 4]);
});

Deno.test("concurrency: the drain's deadline abandons the tasks waiting for their name, in order", async () => {
  const letters: DeadLetter[] = [];
  const runner = new TaskRunner({
    logger: quiet,
    deadLetter: (letter) => void letters.push(letter),
  });
  const mail = gatedTask("mail", { concurrency: 1 });
  for (const label of ["a", "b", "c"]) {
    runner.submit(new TaskGroup({ id: label }).add(mail.task, label));
  }
  equal(runner.queued, 2);
  const { abandoned } = await runner.drain({ signal: AbortSignal.abort() });
  deepEqual([abandoned, mail.started], [3, ["a"]]);
  deepEqual(letters.map((letter) => `${letter.groupId} ${letter.reason}`), [
    "a shutdown",
    "b shutdown",
    "c shutdown",
  ]);
  deepEqual([runner.pending, runner.queued, runner.running], [0, 0, 0]);
});

Deno.test("concurrency: the queue's latency counts a task waiting for its name", async () => {
  const clock = fakeClock();
  const runner = new TaskRunner({ clock, logger: quiet });
  const mail = gatedTask("mail", { concurrency: 1 });
  runner.submit(new TaskGroup().add(mail.task, "a"));
  runner.submit(new TaskGroup().add(mail.task, "b"));
  await clock.tickAsync(2_500);
  deepEqual([runner.queued, runner.queueLatencyMs], [1, 2_500]);
  await runner.drain({ signal: AbortSignal.abort() });
});

Deno.test("concurrency must be a positive integer", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    throws(() => defineTask("x", () => {}, { concurrency: bad }), {
      name: "RangeError",
      message: `Cannot define task "x": concurrency must be a positive integer, got ${bad}`,
    });
  }
});
