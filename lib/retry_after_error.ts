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
 * mode and kept whole through a restart; `GET /tasks/{id}` shows it as
 * `retryAt`. A task in a worker throws an error named `RetryAfterError`
 * with a number `delayMs`.
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

/**
 * How long a response's `Retry-After` header asks to wait, in milliseconds:
 * its seconds (`120`), or the time until its date (`Wed, 21 Oct 2026
 * 07:28:00 GMT`; 0 once past), at most {@linkcode MAX_TIMER_MS}. For the
 * {@linkcode RetryAfterError} of a `429` or `503`.
 *
 * @param response The response, or its headers.
 * @param now The time to count a date from, in milliseconds since the epoch.
 * @returns The wait, or `undefined` without a header that says one.
 *
 * @example A 429 that asks for two minutes
 * ```ts
 * import { retryAfterMs } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const limited = new Response(null, { status: 429, headers: { "retry-after": "120" } });
 * equal(retryAfterMs(limited), 120_000);
 * const until = new Headers({ "retry-after": "Thu, 03 Dec 2026 18:00:30 GMT" });
 * equal(retryAfterMs(until, Date.parse("2026-12-03T18:00:00Z")), 30_000);
 * equal(retryAfterMs(new Response()), undefined);
 * ```
 */
export function retryAfterMs(
  response: Pick<Response, "headers"> | Headers,
  now: number = Date.now(),
): number | undefined {
  const headers = response instanceof Headers ? response : response.headers;
  const value = headers.get("retry-after")?.trim();
  if (value === undefined || value === "") return undefined;
  // delay-seconds is 1*DIGIT (RFC 9110, 10.2.3); an HTTP date begins with its day's
  // name, in each of its three forms (Date.parse alone takes "1.5" for a date).
  const ms = /^\d+$/.test(value)
    ? Number(value) * 1_000
    : /^[A-Za-z]{3}/.test(value)
    ? Date.parse(value) - now
    : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.min(MAX_TIMER_MS, Math.max(0, ms));
}
