/**
 * The time source the runner reads, injectable so tests control time.
 *
 * @module
 */

/** Timers and the current time; `@sinonjs/fake-timers` clocks fit with a small wrapper. */
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
};
