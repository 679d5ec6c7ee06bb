/**
 * The time source the runner reads, injectable so tests control time.
 *
 * @module
 */

/**
 * The longest wait a timer keeps, in milliseconds (2^31 - 1, about 24.8 days):
 * Deno, as browsers do, runs a longer `setTimeout` at once. Every wait
 * posthaste arms (timeouts, delays, body deadlines, shutdown) is refused above
 * it rather than cut short.
 *
 * @example The limit
 * ```ts
 * import { MAX_TIMER_MS } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(MAX_TIMER_MS, 2 ** 31 - 1);
 * ```
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Timers and the current time; in tests, `fakeClock()` from
 * `@posthaste/posthaste/testing` is one that moves only when told.
 *
 * @example A fake clock
 * ```ts
 * import { TimeoutQueue } from "./mod.ts";
 * import { fakeClock } from "./testing.ts";
 * import { equal } from "node:assert/strict";
 *
 * const clock = fakeClock();
 * let fired = 0;
 * new TimeoutQueue(clock).add(1_000, () => fired++);
 * await clock.tickAsync(999);
 * equal(fired, 0);
 * await clock.tickAsync(1);
 * equal(fired, 1);
 * ```
 */
export interface Clock {
  /**
   * The time in milliseconds: since the epoch ({@linkcode systemClock}), or
   * from any origin when only differences count ({@linkcode monotonicClock}).
   */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer made by {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /**
   * Whether a pending timer keeps the process running (as
   * `Deno.refTimer`/`Deno.unrefTimer` set; a new timer does). A
   * {@linkcode TimeoutQueue} lets go of a timer whose waits were all taken
   * back; a clock without this keeps every timer it armed.
   */
  keepAlive?(handle: unknown, keep: boolean): void;
}

function keepTimerAlive(handle: unknown, keep: boolean): void {
  if (keep) Deno.refTimer(handle as number);
  else Deno.unrefTimer(handle as number);
}

/**
 * The real clock: `Date.now` and the global timers, looked up at each call.
 *
 * @example Reading the time
 * ```ts
 * import { systemClock } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(systemClock.now() > 0);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  keepAlive: keepTimerAlive,
};

/**
 * The global timers with a monotonic `now()` (`performance.now()`, not a
 * date): the clock for deadlines, which a step of the wall clock (NTP at
 * boot, a resumed VM) must neither stall nor fire early. Timestamps that are
 * shown or stored, such as a retry time kept across restarts, use
 * {@linkcode systemClock}.
 *
 * @example Measuring an interval
 * ```ts
 * import { monotonicClock } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const start = monotonicClock.now();
 * ok(monotonicClock.now() - start >= 0);
 * ```
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: systemClock.setTimeout,
  clearTimeout: systemClock.clearTimeout,
  keepAlive: keepTimerAlive,
};
