/**
 * The error a task throws when the other side says when to try again.
 *
 * @module
 */
import { MAX_TIMER_MS } from "./clock.ts";

/**
 * Thrown by a task, sets when its next attempt runs: `delayMs` after this
 * one failed, in place of the backoff (and not held to `maxRetryDelay`:
 * whoever said how long to wait knows better). It is one of the task's
 * `retries` still: with none left, the task fails. For a `429 Too Many
 * Requests` or a `503` with a `Retry-After`, where the backoff's first
 * retries would be refused the same way. The wait is journaled in durable
 * mode, and `GET /tasks/{id}` shows it as `retryAt`. A task in a worker
 * throws an error named `RetryAfterError` with a number `delayMs`.
 *
 * @example Waiting as long as the mail API asked
 * ```ts
 * import { defineTask, RetryAfterError, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send = defineTask("send", function (to: string) {
 *   if (this.attempt === 1) throw new RetryAfterError("Rate limited by the mail API", 20);
 *   return to;
 * }, { retryDelay: 60_000 }); // the backoff alone would wait a minute
 * await using runner = new TaskRunner({ logger: { info() {}, warn() {}, error() {} } });
 * const group = new TaskGroup().add(send, "ada@example.com");
 * runner.submit(group);
 * await group.settled(); // 20 ms later
 * equal(group.tasks[0]?.state, "done");
 * equal(group.tasks[0]?.attempts, 2);
 * ```
 */
export class RetryAfterError extends Error {
  /** Milliseconds from this attempt's failure to the next attempt. */
  readonly delayMs: number;

  /**
   * Makes the error.
   *
   * @param message What failed.
   * @param delayMs How long to wait before the next attempt, in milliseconds
   * (a `Retry-After` of seconds times 1,000).
   * @param options Its `cause`, e.g. the response that said so.
   * @throws {RangeError} If `delayMs` is not from 0 to {@linkcode MAX_TIMER_MS}.
   */
  constructor(message: string, delayMs: number, options?: ErrorOptions) {
    if (!(delayMs >= 0 && delayMs <= MAX_TIMER_MS)) {
      throw new RangeError(
        `Cannot make RetryAfterError: delayMs must be from 0 to ${MAX_TIMER_MS}, got ${delayMs}`,
      );
    }
    super(message, options);
    this.name = "RetryAfterError";
    this.delayMs = delayMs;
  }
}
