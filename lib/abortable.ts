/**
 * Waits that a signal can end early.
 *
 * @module
 */
import { offAbort, onAbort } from "./_abort_hooks.ts";

/**
 * Options of a wait: {@linkcode TaskRunner.idle}, {@linkcode TaskGroup.settled}, {@linkcode LogWriter.flush}.
 *
 * @example Giving up a wait
 * ```ts
 * import { TaskGroup, TaskRunner, type WaitOptions } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * const gate = Promise.withResolvers<void>();
 * runner.submit(new TaskGroup().add(() => gate.promise));
 * const options: WaitOptions = { signal: AbortSignal.abort(new Error("enough")) };
 * await rejects(runner.idle(options), /enough/);
 * gate.resolve();
 * ```
 */
export interface WaitOptions {
  /**
   * Ends the wait early, rejecting with the signal's reason; what was waited
   * for goes on. @default {undefined} (wait as long as it takes)
   */
  signal?: AbortSignal | undefined;
}

/**
 * Settles as `promise` does, or rejects with `signal.reason` as soon as
 * `signal` aborts (at once if it already has). Only the wait ends: the work
 * behind `promise` goes on. The abort listener is removed once either
 * happens, so a long-lived signal does not collect one per wait.
 *
 * @param promise What to wait for.
 * @param signal Ends the wait early.
 * @returns `promise`, or one that may reject earlier with the signal's reason.
 *
 * @example Giving up on a wait
 * ```ts
 * import { abortable } from "./mod.ts";
 * import { equal, rejects } from "node:assert/strict";
 *
 * equal(await abortable(Promise.resolve(1), new AbortController().signal), 1);
 * const never = new Promise(() => {});
 * await rejects(abortable(never, AbortSignal.abort(new Error("gave up"))), /gave up/);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => reject(signal.reason);
    onAbort(signal, aborted);
    promise.then(resolve, reject).finally(() => offAbort(signal, aborted));
  });
}
