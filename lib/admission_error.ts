/**
 * The error a runner throws when it refuses a group.
 *
 * @module
 */

/**
 * Why a group was refused: `backlog_full` (it fits once tasks finish: try
 * again later), `too_large` (it has more tasks than `maxPending`, so it
 * never fits), `draining` (the runner is shutting down).
 *
 * @example Telling a full backlog apart
 * ```ts
 * import { AdmissionError, type AdmissionReason, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const gate = Promise.withResolvers<void>();
 * await using runner = new TaskRunner({ maxPending: 1 });
 * runner.submit(new TaskGroup().add(() => gate.promise));
 * let reason: AdmissionReason | undefined;
 * try {
 *   runner.submit(new TaskGroup().add(() => {}));
 * } catch (error) {
 *   if (error instanceof AdmissionError) reason = error.reason;
 * }
 * equal(reason, "backlog_full");
 * gate.resolve();
 * ```
 */
export type AdmissionReason = "backlog_full" | "too_large" | "draining";

/**
 * Thrown by {@linkcode TaskRunner.submit} when a group is refused: the
 * backlog would pass `maxPending`, the group alone would, or the runner is
 * draining. None of the group's tasks was accepted. Servers answer a full
 * backlog and draining with 503 and `Retry-After`, a group too large with
 * 413 (no retry can help it).
 *
 * @example A group larger than the backlog
 * ```ts
 * import { AdmissionError, TaskGroup, TaskRunner } from "./mod.ts";
 * import { throws } from "node:assert/strict";
 *
 * const runner = new TaskRunner({ maxPending: 1 });
 * const group = new TaskGroup().add(() => {}).add(() => {});
 * throws(
 *   () => runner.submit(group),
 *   (error) => error instanceof AdmissionError && error.reason === "too_large",
 * );
 * ```
 */
export class AdmissionError extends Error {
  /** Why the group was refused. */
  readonly reason: AdmissionReason;
  /** Tasks pending when it was refused. */
  readonly pending: number;
  /** The runner's `maxPending`. */
  readonly limit: number;

  /**
   * Makes the error; its message says why.
   *
   * @param reason Why the group was refused.
   * @param pending Tasks pending at that moment.
   * @param limit The runner's `maxPending`.
   * @param size Tasks in the refused group (its message names them when `too_large`). @default {0}
   */
  constructor(reason: AdmissionReason, pending: number, limit: number, size = 0) {
    super(
      reason === "draining"
        ? "Cannot accept tasks: runner is draining or has drained"
        : reason === "too_large"
        ? `Cannot accept tasks: a group of ${size} tasks is larger than the backlog (${limit})`
        : `Cannot accept tasks: backlog is full (${pending} of ${limit} pending)`,
    );
    this.name = "AdmissionError";
    this.reason = reason;
    this.pending = pending;
    this.limit = limit;
  }
}
