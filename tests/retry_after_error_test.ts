import { deepEqual, equal, throws } from "node:assert/strict";
import {
  type DeadLetter,
  defineTask,
  RetryAfterError,
  retryAfterMs,
  TaskGroup,
  WorkerPool,
} from "../lib/mod.ts";
import type * as Tasks from "./fixtures/worker_tasks.ts";
import { fakeClock, quiet, TestRunner } from "./_helpers.ts";

Deno.test("RetryAfterError: the next attempt waits delayMs in place of the backoff, past maxRetryDelay; retryAt says when", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, logger: quiet });
  const times: number[] = [];
  const send = defineTask("send", function (to: string) {
    times.push(clock.now());
    if (this.attempt === 1) throw new RetryAfterError(`429 for ${to}`, 5_000);
    if (this.attempt === 2) throw new Error("blip"); // the backoff again: 100-200 ms
  }, { retries: 2, retryDelay: 100, maxRetryDelay: 250 });
  const group = new TaskGroup().add(send, "ada@example.com");
  runner.submit(group);
  deepEqual([group.tasks[0]?.state, group.tasks[0]?.retryAt], ["retrying", 5_000]);
  await clock.tickAsync(4_999);
  equal(times.length, 1, "not a millisecond early");
  await clock.tickAsync(1);
  equal(times.length, 2);
  await clock.runAllAsync();
  await group.settled();
  equal(group.tasks[0]?.state, "done");
  const backoff = times[2]! - times[1]!;
  equal(backoff >= 100 && backoff <= 200, true, `waited ${backoff} ms`);
});

Deno.test("RetryAfterError is one of the task's retries: with none left, the task fails", async () => {
  const clock = fakeClock();
  const letters: DeadLetter[] = [];
  await using runner = new TestRunner({
    clock,
    logger: quiet,
    deadLetter: (letter) => void letters.push(letter),
  });
  const send = defineTask("send", () => {
    throw new RetryAfterError("503, Retry-After: 1", 1_000);
  }, { retries: 1 });
  const group = new TaskGroup().add(send);
  runner.submit(group);
  await clock.runAllAsync();
  await group.settled();
  deepEqual([group.tasks[0]?.state, group.tasks[0]?.attempts, clock.now()], ["failed", 2, 1_000]);
  deepEqual([letters.length, letters[0]?.error], [1, "503, Retry-After: 1"]);
});

Deno.test("RetryAfterError keeps its delay and cause, and refuses a delay a timer cannot wait", () => {
  const cause = new Response(null, { status: 429, headers: { "retry-after": "30" } });
  const error = new RetryAfterError("Rate limited", 30_000, { cause });
  deepEqual([error.name, error.message, error.delayMs, error.cause], [
    "RetryAfterError",
    "Rate limited",
    30_000,
    cause,
  ]);
  equal(new RetryAfterError("now", 0).delayMs, 0);
  for (const bad of [-1, Number.NaN, Infinity, 2 ** 31]) {
    throws(() => new RetryAfterError("x", bad), {
      name: "RangeError",
      message: `Cannot make RetryAfterError: delayMs must be from 0 to 2147483647, got ${bad}`,
    });
  }
});

Deno.test("RetryAfterError: a worker's task sets its wait by an error of that name with a delayMs", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const module = new URL("./fixtures/worker_tasks.ts", import.meta.url);
  const options = { retries: 1, retryDelay: 60_000 };
  const failing = pool.define<typeof Tasks.failNamed>("failing", module, "failNamed", options);
  await using runner = new TestRunner({ logger: quiet });
  const group = new TaskGroup().add(failing, "RetryAfterError", 1);
  runner.submit(group);
  await group.settled(); // 1 ms, not the minute of the backoff
  deepEqual([group.tasks[0]?.state, group.tasks[0]?.attempts], ["failed", 2]);
});

Deno.test("retryAfterMs reads Retry-After's seconds or date, within what a timer can wait, and nothing else", () => {
  const now = Date.parse("2026-12-03T18:00:00Z");
  const wait = (value: string) => retryAfterMs(new Headers({ "retry-after": value }), now);
  deepEqual(
    ["0", " 120 ", "99999999999", "Thu, 03 Dec 2026 18:00:30 GMT", "Thu, 03 Dec 2026 17:00:00 GMT"]
      .map(wait),
    [0, 120_000, 2_147_483_647, 30_000, 0],
  );
  deepEqual(["Thursday, 03-Dec-26 18:01:00 GMT", "Thu Dec  3 18:02:00 2026"].map(wait), [
    60_000,
    120_000,
  ]);
  for (const bad of ["", "1.5", "-1", "+5", "soon", "Thu, 99 Foo 2026", "1e3"]) {
    equal(wait(bad), undefined, JSON.stringify(bad));
  }
  equal(retryAfterMs(new Response(null, { status: 429 })), undefined);
  equal(retryAfterMs(new Response(null, { headers: { "retry-after": "2" } })), 2_000);
});
