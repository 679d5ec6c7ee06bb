/**
 * Helpers for testing code that uses posthaste, without sleeping: a runner
 * whose `await using` drains within a deadline, and a fake clock to step
 * through timeouts and backoff (`@posthaste/posthaste/testing`).
 *
 * @example A retry's backoff, stepped through on a fake clock
 * ```ts
 * import { fakeClock, TestRunner } from "./testing.ts";
 * import { TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const clock = fakeClock();
 * await using runner = new TestRunner({ clock, retries: 1 });
 * let calls = 0;
 * const group = new TaskGroup().add(() => {
 *   if (++calls === 1) throw new Error("mail server down");
 * });
 * runner.submit(group);
 * await clock.runAllAsync(); // the backoff's wait passes at once
 * await runner.idle();
 * equal(calls, 2);
 * ```
 *
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock } from "./clock.ts";
import { TaskRunner } from "./runner.ts";
import type { TaskRunnerOptions } from "./runner_options.ts";

/**
 * Options for {@linkcode TestRunner}: a runner's, and how its disposal ends.
 *
 * @example A shorter deadline, and a stuck drain counted
 * ```ts
 * import type { TestRunnerOptions } from "./testing.ts";
 *
 * const stuck: number[] = [];
 * const options: TestRunnerOptions = { drainMs: 1_000, onStuck: (abandoned) => stuck.push(abandoned) };
 * ```
 */
export interface TestRunnerOptions extends TaskRunnerOptions {
  /**
   * How long `await using` waits for the drain before it gives up,
   * aborting what still runs.
   *
   * @default {5000}
   */
  drainMs?: number;
  /**
   * Told when the drain did not end in time, with the count of tasks it
   * abandoned.
   *
   * @default {a line on stderr}
   */
  onStuck?: (abandoned: number) => void;
}

/**
 * A {@linkcode TaskRunner} whose `await using` drains within `drainMs`.
 * Deno's tests have no time limit: with a plain runner, a test whose
 * assertion failed while a task still waited on a gate hung in the drain
 * and never reported the assertion. A drain that does not end in time is
 * told to `onStuck` rather than thrown: thrown from a disposal, its error
 * would hide the test's own in a `SuppressedError`.
 *
 * @example A task that never ends does not hang the test
 * ```ts
 * import { TestRunner } from "./testing.ts";
 * import { TaskGroup } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const stuck: number[] = [];
 * {
 *   await using runner = new TestRunner({ drainMs: 10, onStuck: (n) => stuck.push(n) });
 *   runner.submit(new TaskGroup().add(() => new Promise<void>(() => {})));
 * }
 * deepEqual(stuck, [1]);
 * ```
 */
export class TestRunner extends TaskRunner {
  readonly #drainMs: number;
  readonly #onStuck: (abandoned: number) => void;

  /**
   * Makes a runner as {@linkcode TaskRunner} does.
   *
   * @param options The runner's options, `drainMs` and `onStuck`.
   */
  constructor(options: TestRunnerOptions = {}) {
    const { drainMs = 5_000, onStuck = reportStuck(drainMs), ...runner } = options;
    super(runner);
    this.#drainMs = drainMs;
    this.#onStuck = onStuck;
  }

  /** Drains, giving up after `drainMs` (told to `onStuck`). */
  override async [Symbol.asyncDispose](): Promise<void> {
    // Real time, whatever the runner's clock: a fake one may never move. A
    // timer cleared once the drain ends, not AbortSignal.timeout, whose timer
    // would outlive the test and fail Deno's leak check.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#drainMs);
    try {
      const { abandoned } = await this.drain({ signal: deadline.signal });
      if (deadline.signal.aborted) this.#onStuck(abandoned);
    } finally {
      clearTimeout(timer);
    }
  }
}

function reportStuck(drainMs: number): (abandoned: number) => void {
  return (abandoned) => {
    const line = `Cannot drain a test's runner within ${drainMs} ms: ${abandoned} abandoned\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(line));
  };
}

/**
 * A fake {@linkcode Clock} for a runner or a timeout queue, with the controls
 * that move it.
 *
 * @example A retry's backoff, waited out without sleeping
 * ```ts
 * import { type FakeClock, fakeClock, TestRunner } from "./testing.ts";
 * import { TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const clock: FakeClock = fakeClock();
 * await using runner = new TestRunner({ clock, retries: 1, retryDelay: 60_000 });
 * let attempts = 0;
 * const group = new TaskGroup().add(() => {
 *   if (++attempts === 1) throw new Error("flaky");
 * });
 * runner.submit(group);
 * await clock.runAllAsync(); // the minute's backoff, at once
 * await group.settled();
 * equal(attempts, 2);
 * ```
 */
export interface FakeClock extends Clock {
  /** Moves the time on by `ms`, running the timers due and the promises they settle. */
  tickAsync(ms: number): Promise<number>;
  /** Runs every timer, and those they set, until none is left. */
  runAllAsync(): Promise<number>;
}

/**
 * Options for {@linkcode fakeClock}.
 *
 * @example A clock for a task retried many times
 * ```ts
 * import { fakeClock, type FakeClockOptions } from "./testing.ts";
 * import { equal } from "node:assert/strict";
 *
 * const options: FakeClockOptions = { loopLimit: 1_000_000 };
 * equal(fakeClock(options).now(), 0);
 * ```
 */
export interface FakeClockOptions {
  /**
   * How many timers `runAllAsync` runs before it gives up as if looping
   * forever (a task retried many times sets many).
   * @default {100_000}
   */
  loopLimit?: number;
}

/**
 * A clock that starts at 0 and moves only when told (`@sinonjs/fake-timers`).
 *
 * @param options How many timers `runAllAsync` runs before it gives up.
 * @returns The clock: a runner's `clock`, or a `TimeoutQueue`'s for a delay.
 *
 * @example A timeout that fires only when the clock moves
 * ```ts
 * import { fakeClock } from "./testing.ts";
 * import { delay, TimeoutQueue } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const clock = fakeClock();
 * let done = false;
 * const waited = delay(60_000, { timeouts: new TimeoutQueue(clock) }).then(() => done = true);
 * await clock.tickAsync(59_999);
 * equal(done, false);
 * await clock.tickAsync(1);
 * await waited;
 * equal(done, true);
 * ```
 */
export function fakeClock(options: FakeClockOptions = {}): FakeClock {
  const clock = FakeTimers.createClock(0, options.loopLimit ?? 100_000);
  return {
    now: () => clock.now,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle as FakeTimers.TimerId),
    tickAsync: (ms) => clock.tickAsync(ms),
    runAllAsync: () => clock.runAllAsync(),
  };
}
