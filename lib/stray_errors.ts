/**
 * Keeping the server up when code leaves an error unhandled.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { readable } from "./_thrown.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * Options for {@linkcode catchStrayErrors}.
 *
 * @example The error itself reaches the logger
 * ```ts
 * import { catchStrayErrors, type StrayErrorOptions } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const errors: unknown[] = [];
 * const target = new EventTarget();
 * const options: StrayErrorOptions = {
 *   logger: { info() {}, warn() {}, error: (_message, properties) => void errors.push(properties.error) },
 *   target,
 * };
 * using _guard = catchStrayErrors(options);
 * const boom = new Error("boom");
 * target.dispatchEvent(new ErrorEvent("error", { error: boom, cancelable: true }));
 * equal(errors[0], boom);
 * ```
 */
export interface StrayErrorOptions {
  /** Where each stray error is logged, with its stack. @default {getLogger(["posthaste", "process"])} */
  logger?: StructuredLogger;
  /** Where the `unhandledrejection` and `error` events arrive. @default {globalThis} */
  target?: EventTarget;
}

/**
 * The guard {@linkcode catchStrayErrors} installs; disposing it removes it.
 *
 * @example Counting stray errors, then removing the guard
 * ```ts
 * import { catchStrayErrors } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const target = new EventTarget();
 * const quiet = { info() {}, warn() {}, error() {} };
 * {
 *   using strays = catchStrayErrors({ logger: quiet, target });
 *   target.dispatchEvent(new ErrorEvent("error", { error: new Error("boom"), cancelable: true }));
 *   equal(strays.count, 1);
 * }
 * // Removed: the event is no longer cancelled.
 * equal(target.dispatchEvent(new ErrorEvent("error", { cancelable: true })), true);
 * ```
 */
export interface StrayErrors extends Disposable {
  /** Stray errors caught so far, e.g. for metrics. */
  readonly count: number;
}

/**
 * Logs unhandled promise rejections and uncaught exceptions instead of
 * letting them end the process. Deno exits on either by default, so one task
 * that leaves a promise unawaited (`fetch(url)` without `await`, a rejected
 * promise nobody catches) or throws in a timer would take down the server and,
 * in memory mode, every task it had accepted. Each one is logged at error
 * level with its stack and counted; the server goes on.
 *
 * @param options The logger and the event target.
 * @returns The guard; `using` removes it.
 *
 * @example A floating rejection is logged, not fatal
 * ```ts
 * import { catchStrayErrors } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const logged = Promise.withResolvers<string>();
 * using strays = catchStrayErrors({
 *   logger: { info() {}, warn() {}, error: (message) => logged.resolve(message) },
 * });
 * void Promise.reject(new Error("nobody awaited me"));
 * equal(await logged.promise, "Unhandled promise rejection; the server goes on: {error}");
 * equal(strays.count, 1);
 * ```
 */
export function catchStrayErrors(options: StrayErrorOptions = {}): StrayErrors {
  const { logger = getLogger(["posthaste", "process"]), target = globalThis } = options;
  let count = 0;
  const caught = (event: Event, what: string, thrown: unknown): void => {
    event.preventDefault();
    count++;
    // A revoked Proxy would throw again at `instanceof`, and count twice.
    const error = readable(thrown);
    logger.error(`${what}; the server goes on: {error}`, {
      error,
      stack: error instanceof Error ? error.stack : undefined,
    });
  };
  const onRejection = (event: Event): void =>
    caught(event, "Unhandled promise rejection", (event as PromiseRejectionEvent).reason);
  const onError = (event: Event): void =>
    caught(event, "Uncaught exception", (event as ErrorEvent).error);
  target.addEventListener("unhandledrejection", onRejection);
  target.addEventListener("error", onError);
  return {
    get count() {
      return count;
    },
    [Symbol.dispose]() {
      target.removeEventListener("unhandledrejection", onRejection);
      target.removeEventListener("error", onError);
    },
  };
}
