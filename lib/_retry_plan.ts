// When a failed attempt's task runs again: what its error says, else its
// retries and backoff. Internal to TaskRunner.
import { backoffDelay } from "./backoff.ts";
import { RetryAfterError } from "./retry_after_error.ts";
import type { RunnerLimits } from "./runner_options.ts";
import type { TaskEntry } from "./task_entry.ts";
import { UnrecoverableError } from "./unrecoverable_error.ts";

/**
 * Milliseconds until the task's next attempt, or `undefined` when it has
 * none: its retries are used up, or its error said none would help.
 */
export function retryDelay(
  entry: TaskEntry,
  error: unknown,
  defaults: RunnerLimits["defaults"],
): number | undefined {
  // Field by field: a task's `retries: undefined` means the default, as its timeout's does.
  const { options } = entry;
  if (error instanceof UnrecoverableError) return undefined;
  if (entry.attempts > (options?.retries ?? defaults.retries)) return undefined;
  if (error instanceof RetryAfterError) return error.delayMs;
  return backoffDelay(
    entry.attempts,
    options?.retryDelay ?? defaults.retryDelay,
    options?.maxRetryDelay ?? defaults.maxRetryDelay,
  );
}
