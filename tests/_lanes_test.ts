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

Deno.test("concurrencyKey: tasks of several names share its places; other lanes are not held back", async () => {
  await using runner = new TestRunner({ logger: quiet, maxConcurrency: 8 });
  const welcome = gatedTask("welcome", { concurrency: 1, concurrencyKey: "mail-api" });
  const reset = gatedTask("reset", { concurrency: 1, concurrencyKey: "mail-api" });
  const sms = gatedTask("sms", { concurrency: 1 });
  const groups = [
    new TaskGroup().add(welcome.task, "a"),
    new TaskGroup().add(reset.task, "b"),
    new TaskGroup().add(welcome.task, "c"),
  ];
  for (const group of groups) runner.submit(group);
  const text = new TaskGroup().add(sms.task, "s");
  runner.submit(text);
  deepEqual([welcome.started, reset.started, sms.started], [["a"], [], ["s"]]);
  deepEqual([runner.running, runner.queued], [2, 2]);
  const next = reset.nextStart();
  welcome.end("a");
  await next;
  deepEqual(
    [welcome.started, reset.started],
    [["a"], ["b"]],
    "the one waiting longest, of either name",
  );
  reset.end("b");
  await groups[1]!.settled();
  welcome.end("c");
  sms.end("s");
  await runner.idle();
  deepEqual(groups.map((group) => group.state), ["done", "done", "done"]);
});

Deno.test("concurrencyKey: where limits differ, the smallest that has come to run holds, in order", async () => {
  await using runner = new TestRunner({ logger: quiet, maxConcurrency: 8 });
  const wide = gatedTask("wide", { concurrency: 3, concurrencyKey: "k" });
  const narrow = gatedTask("narrow", { concurrency: 1, concurrencyKey: "k" });
  const first = new TaskGroup().add(wide.task, "w1");
  runner.submit(first);
  runner.submit(new TaskGroup().add(wide.task, "w2"));
  runner.submit(new TaskGroup().add(narrow.task, "n1"));
  runner.submit(new TaskGroup().add(wide.task, "w3"));
  deepEqual([wide.started, narrow.started, runner.queued], [["w1", "w2"], [], 2]);
  wide.end("w1");
  await first.settled();
  deepEqual([runner.running, runner.queued], [1, 2], "still one over the lowered limit");
  const next = narrow.nextStart();
  wide.end("w2");
  await next;
  deepEqual([wide.started, narrow.started, wide.counts.running], [["w1", "w2"], ["n1"], 0]);
  const last = wide.nextStart();
  narrow.end("n1");
  await last;
  deepEqual([wide.started, runner.running], [["w1", "w2", "w3"], 1]);
  wide.end("w3");
  await runner.idle();
});

Deno.test("concurrencyKey must be a non-empty string", () => {
  throws(() => defineTask("x", () => {}, { concurrencyKey: "" }), {
    name: "RangeError",
    message: `Cannot define task "x": concurrencyKey must be a non-empty string, got ""`,
  });
});
