import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { defineTask, type TaskContext, TaskGroup } from "../lib/mod.ts";
import { TestRunner } from "./_helpers.ts";

Deno.test("TaskGroup.add() type-checks arguments against the task's parameters", () => {
  const send = (email: string, retries: number): string => email.repeat(retries);
  const optional = (email: string, note?: string): string => email + (note ?? "");
  const withContext = function (this: TaskContext, id: number): number {
    return id + this.attempt;
  };
  const group = new TaskGroup()
    .add(send, "a@example.com", 1)
    .add(optional, "a@example.com")
    .add(withContext, 1)
    .add(async () => {});

  // @ts-expect-error a string where a number is expected
  group.add(send, "a@example.com", "1");
  // @ts-expect-error a missing argument
  group.add(send, "a@example.com");
  // @ts-expect-error an extra argument
  group.add(send, "a@example.com", 1, true);
  // @ts-expect-error `this` is the task context, not a caller's argument
  group.add(withContext, { attempt: 1 }, 1);

  const defined = defineTask("defined", (email: string, tags: string[]) => `${email}${tags}`);
  group.add(defined, "a@example.com", ["x"]);
  // @ts-expect-error wrong type for a defined task
  group.add(defined, "a@example.com", [1]);
  // @ts-expect-error a defined task's arguments must be JSON values, not functions
  defineTask("fn-arg", (callback: () => void) => callback());
  // @ts-expect-error a defined task's arguments must be JSON values, not dates
  defineTask("date-arg", (when: Date) => when.getTime());

  equal(group.size, 10); // the expected errors still run
});

Deno.test("TaskGroup names tasks and derives its state", async () => {
  const group = new TaskGroup({ id: "req" })
    .add(function named() {})
    .add(defineTask("defined", () => {}))
    .add(() => {});
  deepEqual(group.tasks.map((t) => t.name), ["named", "defined", "anonymous"]);
  equal(group.id, "req");
  equal(group.state, "queued");
  await using runner = new TestRunner();
  runner.submit(group);
  await group.settled();
  equal(group.state, "done");
  throws(() => group.add(() => {}), /Cannot add task: group "req" was handed to a runner/);
});

Deno.test("TaskGroup.settled() resolves at once for an empty group", async () => {
  const group = new TaskGroup();
  equal(await group.settled(), group);
  equal(group.state, "done");
});

Deno.test("defineTask() refuses an empty name, and one the journal cannot store", () => {
  throws(() => defineTask("", () => {}), /^TypeError: Cannot define task: name is empty$/);
  throws(() => defineTask("a\0b", () => {}), /^TypeError: Cannot define task: name holds a NUL/);
  // A journal would store it as U+FFFD: after a restart no definition would have its name.
  throws(() => defineTask("send\uD800", () => {}), /name holds a lone surrogate/);
});

Deno.test("defineTask() refuses a timeout or retry number a timer or a journal cannot take", () => {
  throws(
    () => defineTask("send", () => {}, { timeout: 0 }),
    /^RangeError: Cannot define task "send": timeout must be a positive integer <= 2147483647, got 0$/,
  );
  throws(() => defineTask("send", () => {}, { timeout: NaN }), /timeout must be/);
  // Longer than a timer keeps: Deno would run it at once.
  throws(() => defineTask("send", () => {}, { timeout: 2 ** 31 }), /<= 2147483647, got 2147483648/);
  throws(() => defineTask("send", () => {}, { maxRetryDelay: 2 ** 31 }), /maxRetryDelay must be/);
  throws(() => defineTask("send", () => {}, { retries: -1 }), /retries must be an integer >= 0/);
  // A NaN retry time would fail a journal commit (next_at is NOT NULL, a bigint).
  throws(() => defineTask("send", () => {}, { retryDelay: NaN }), /retryDelay must be a number/);
  throws(() => defineTask("send", () => {}, { maxRetryDelay: -1 }), /maxRetryDelay must be/);
  equal(defineTask("send", () => {}, { retries: 0, retryDelay: 0 }).name, "send");
});

Deno.test("TaskGroup.settled({ signal }) stops waiting at the abort; the task goes on", async () => {
  const gate = Promise.withResolvers<void>();
  await using runner = new TestRunner();
  const group = new TaskGroup().add(() => gate.promise);
  runner.submit(group);
  const controller = new AbortController();
  const waiting = group.settled({ signal: controller.signal });
  controller.abort(new Error("stop waiting"));
  await rejects(waiting, /stop waiting/);
  equal(group.state, "running");
  gate.resolve();
  equal((await group.settled()).state, "done");
});

Deno.test("TaskGroup and a task's `this` print no internals (a chosen id's mark, the runner's handle)", async () => {
  const group = new TaskGroup({ id: "g" });
  ok(!/Symbol|given/.test(Deno.inspect(group)), Deno.inspect(group));
  let seen = "";
  await using runner = new TestRunner();
  runner.submit(new TaskGroup().add(async function (this: TaskContext) {
    await Promise.resolve();
    seen = Deno.inspect(this);
  }));
  await runner.idle();
  equal(seen, "Attempt { attempt: 1 }");
});
