// A worker task's failure as the pool gives it back. Internal.
import { MAX_TIMER_MS } from "./clock.ts";
import { RetryAfterError } from "./retry_after_error.ts";
import { UnrecoverableError } from "./unrecoverable_error.ts";
import type { Described } from "./_worker_host.ts";

/**
 * The error a worker's task threw, rebuilt on this side with its name,
 * message and stack. A worker cannot import posthaste's classes, so the
 * errors that steer retries are known by name: `UnrecoverableError`, and
 * `RetryAfterError` with a usable `delayMs` (else the backoff applies).
 */
export function revived(described: Described): Error {
  const { name, message, delayMs } = described;
  const error = name === "UnrecoverableError"
    ? new UnrecoverableError(message)
    : name === "RetryAfterError" && delayMs !== undefined && delayMs >= 0 && delayMs <= MAX_TIMER_MS
    ? new RetryAfterError(message, delayMs)
    : new Error(message);
  return Object.assign(error, described);
}
