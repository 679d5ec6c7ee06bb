/**
 * The time source the runner reads, injectable so tests control time.
 *
 * @module
 */

/** Timers and the current time; `@sinonjs/fake-timers` clocks fit with a small wrapper. */
export interface Clock {
  /** Milliseconds since the epoch. */
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
