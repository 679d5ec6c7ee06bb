/**
 * Counters of what a runner did, for metrics and tests.
 *
 * @module
 */

/** A task's final state. */
export type FinalState = "done" | "failed" | "abandoned";

/** Called once per task that reached a final state. */
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
