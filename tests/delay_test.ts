import { equal, rejects, throws } from "node:assert/strict";
import { delay, MAX_TIMER_MS, type TimeoutHandle, TimeoutQueue } from "../lib/mod.ts";
import { abortWithHooks, hookableController } from "../lib/_abort_hooks.ts";
import { fakeClock } from "./_helpers.ts";

Deno.test("delay() resolves once its time has passed, not before", async () => {
  const clock = fakeClock();
  const timeouts = new TimeoutQueue(clock);
  let done = false;
  const waiting = delay(100, { timeouts }).then(() => done = true);
  await clock.tickAsync(99);
  equal(done, false);
  await clock.tickAsync(1);
  await waiting;
  equal(done, true);
});

Deno.test("delay() with an aborted signal rejects at once with its reason", async () => {
  const reason = new Error("stop");
  await rejects(delay(100, { signal: AbortSignal.abort(reason) }), (error) => error === reason);
});

Deno.test("delay() aborted while waiting rejects with the reason and leaves no timeout", async () => {
  const clock = fakeClock();
  const timeouts = new TimeoutQueue(clock);
  const controller = new AbortController();
  const waiting = delay(100, { signal: controller.signal, timeouts });
  const reason = new Error("cancelled");
  controller.abort(reason);
  await rejects(waiting, (error) => error === reason);
  // Its timeout was removed: a later one in the same bucket fires alone, on time.
  let fired = 0;
  timeouts.add(100, () => fired++);
  await clock.tickAsync(100);
  equal(fired, 1);
});

Deno.test("delay() and TimeoutQueue refuse a wait longer than a timer keeps, or NaN", async () => {
  // Deno runs a longer setTimeout at once: refused rather than cut short.
  await rejects(delay(MAX_TIMER_MS + 1), /^RangeError: Cannot add timeout: 2147483648 ms is over/);
  const queue = new TimeoutQueue(fakeClock());
  throws(() => queue.add(NaN, () => {}), RangeError);
  queue.remove(queue.add(MAX_TIMER_MS, () => {}));
});

Deno.test("delay() on a task's signal (a hook slot): elapsed it resolves; aborted it rejects and gives its timeout back", async () => {
  const clock = fakeClock();
  const removed: TimeoutHandle[] = [];
  const timeouts = new class extends TimeoutQueue {
    override remove(handle: TimeoutHandle): void {
      removed.push(handle);
      super.remove(handle);
    }
  }(clock);
  const controller = hookableController();
  const elapsed = delay(10, { signal: controller.signal, timeouts });
  await clock.tickAsync(10);
  await elapsed;
  const reason = new Error("timed out");
  const aborted = delay(10, { signal: controller.signal, timeouts });
  removed.length = 0;
  abortWithHooks(controller, reason);
  await rejects(aborted, (error) => error === reason);
  equal(removed.length, 1);
});
