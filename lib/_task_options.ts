// Checks a task's timeout and retry numbers where they are given (a task's
// definition, a runner's defaults), so that a NaN or a negative never reaches
// a timer, a backoff or a journaled retry time; and that the tasks an app
// defines agree on the limits of the places they share. Internal.
import { MAX_TIMER_MS } from "./clock.ts";
import type { TaskOptions } from "./task.ts";

/**
 * Throws a RangeError naming the first bad field of `options`.
 *
 * @param options The numbers to check; absent ones are not checked.
 * @param action What was being done, for the message ("define task \"x\"").
 */
export function checkTaskOptions(options: TaskOptions, action: string): void {
  const { timeout, retries, retryDelay, maxRetryDelay } = options;
  const bad = (name: string, rule: string, value: number): never => {
    throw new RangeError(`Cannot ${action}: ${name} must be ${rule}, got ${value}`);
  };
  if (
    timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_TIMER_MS)
  ) {
    bad("timeout", `a positive integer <= ${MAX_TIMER_MS}`, timeout);
  }
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) {
    bad("retries", "an integer >= 0", retries);
  }
  for (const name of ["concurrency", "sharedConcurrency"] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      bad(name, "a positive integer", value);
    }
  }
  const { concurrencyKey } = options;
  if (concurrencyKey !== undefined && !(typeof concurrencyKey === "string" && concurrencyKey)) {
    const got = JSON.stringify(concurrencyKey);
    throw new RangeError(`Cannot ${action}: concurrencyKey must be a non-empty string, got ${got}`);
  }
  for (const [name, value] of [["retryDelay", retryDelay], ["maxRetryDelay", maxRetryDelay]]) {
    if (typeof value === "number" && !(value >= 0 && value <= MAX_TIMER_MS)) {
      bad(name as string, `a number from 0 to ${MAX_TIMER_MS}`, value);
    }
  }
}

/**
 * Throws a TypeError if two of `definitions` that give limits count against
 * the same places (one `concurrencyKey`, or a key that is another's name)
 * with different limits: the runner would hold whichever of them came to
 * run first and smallest, an order no one chose. A task with a key and no
 * limit counts against nothing, and is not checked.
 *
 * @param action What was being done, for the message ("make the app").
 */
export function checkSharedLimits(
  definitions: Iterable<{ name: string; options: TaskOptions }>,
  action: string,
): void {
  const first = new Map<string, { name: string; limits: string }>();
  for (const { name, options } of definitions) {
    const { concurrency, sharedConcurrency, concurrencyKey } = options;
    if (concurrency === undefined && sharedConcurrency === undefined) continue;
    const key = concurrencyKey ?? name;
    const limits = [
      concurrency !== undefined && `concurrency ${concurrency}`,
      sharedConcurrency !== undefined && `sharedConcurrency ${sharedConcurrency}`,
    ].filter(Boolean).join(", ");
    const seen = first.get(key);
    if (seen === undefined) first.set(key, { name, limits });
    else if (seen.limits !== limits) {
      throw new TypeError(
        `Cannot ${action}: tasks ${JSON.stringify(seen.name)} (${seen.limits}) and ${
          JSON.stringify(name)
        } (${limits}) count against the places of ${
          JSON.stringify(key)
        } with different limits; give them the same`,
      );
    }
  }
}
