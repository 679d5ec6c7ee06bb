/**
 * Counters of what a runner did, for metrics and tests.
 *
 * @module
 */

/**
 * A task's final state.
 *
 * @example Counting outcomes by state
 * ```ts
 * import { type FinalState, RunnerStats } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const counts = new Map<FinalState, number>();
 * const stats = new RunnerStats();
 * stats.observe((state) => counts.set(state, (counts.get(state) ?? 0) + 1));
 * stats.record("failed", "send", 5);
 * equal(counts.get("failed"), 1);
 * ```
 */
export type FinalState = "done" | "failed" | "abandoned";

/**
 * Called once per task that reached a final state.
 *
 * @example Durations by task name
 * ```ts
 * import { RunnerStats, type SettleObserver } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const seen: [string, number][] = [];
 * const observer: SettleObserver = (_state, name, durationMs) => void seen.push([name, durationMs]);
 * const stats = new RunnerStats();
 * stats.observe(observer);
 * stats.record("done", "send", 12);
 * deepEqual(seen, [["send", 12]]);
 * ```
 */
export type SettleObserver = (state: FinalState, name: string, durationMs: number) => void;

/**
 * Monotonic counters of task outcomes; `observe` adds a listener, e.g. a
 * duration histogram.
 *
 * @example Recording an outcome
 * ```ts
 * import { RunnerStats } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const stats = new RunnerStats();
 * stats.record("done", "send", 12);
 * equal(stats.succeeded, 1);
 * ```
 */
export class RunnerStats {
  /** Tasks whose first attempt started. */
  started = 0;
  /** Tasks that succeeded. */
  succeeded = 0;
  /** Tasks whose last attempt failed. */
  failed = 0;
  /** Retries scheduled. */
  retried = 0;
  /** Attempts that timed out. */
  timedOut = 0;
  /** Tasks abandoned at shutdown. */
  abandoned = 0;
  #observers: SettleObserver[] = [];

  /**
   * Adds a listener for tasks reaching a final state.
   *
   * @param observer Called with the state, task name and duration.
   */
  observe(observer: SettleObserver): void {
    this.#observers.push(observer);
  }

  /**
   * Counts a task that reached a final state.
   *
   * @param state Its final state.
   * @param name Its name.
   * @param durationMs Milliseconds from its first attempt to now.
   */
  record(state: FinalState, name: string, durationMs: number): void {
    if (state === "done") this.succeeded++;
    else if (state === "failed") this.failed++;
    else this.abandoned++;
    for (const observer of this.#observers) {
      try {
        observer(state, name, durationMs);
      } catch (error) {
        // Reported like any uncaught error; the task's outcome is still recorded.
        reportError(error);
      }
    }
  }
}
