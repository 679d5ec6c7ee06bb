/**
 * The error a runner throws when it refuses a group.
 *
 * @module
 */

/**
 * Why a group was refused.
 *
 * @example Telling a full backlog apart
 * ```ts
 * import { AdmissionError, type AdmissionReason, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const runner = new TaskRunner({ maxPending: 1 });
 * let reason: AdmissionReason | undefined;
 * try {
 *   runner.submit(new TaskGroup().add(() => {}).add(() => {}));
 * } catch (error) {
 *   if (error instanceof AdmissionError) reason = error.reason;
 * }
 * equal(reason, "backlog_full");
 * ```
 */
export type AdmissionReason = "backlog_full" | "draining";

/**
 * Thrown by {@linkcode TaskRunner.submit} when a group is refused: the
 * backlog would pass `maxPending`, or the runner is draining. None of the
 * group's tasks was accepted. Servers answer it with 503 and `Retry-After`.
 *
 * @example A group larger than the backlog
 * ```ts
 * import { AdmissionError, TaskGroup, TaskRunner } from "./mod.ts";
 * import { throws } from "node:assert/strict";
 *
 * const runner = new TaskRunner({ maxPending: 1 });
 * const group = new TaskGroup().add(() => {}).add(() => {});
 * throws(() => runner.submit(group), AdmissionError);
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
   */
  constructor(reason: AdmissionReason, pending: number, limit: number) {
    super(
      reason === "draining"
        ? "Cannot accept tasks: runner is draining"
        : `Cannot accept tasks: backlog is full (${pending} of ${limit} pending)`,
    );
    this.name = "AdmissionError";
    this.reason = reason;
    this.pending = pending;
    this.limit = limit;
  }
}
