/**
 * Options of the task runner and its methods, and their validation.
 *
 * @module
 */
import { checkTaskOptions } from "./_task_options.ts";
import type { Clock } from "./clock.ts";
import type { DeadLetter } from "./dead_letter.ts";
import type { StructuredLogger } from "./logging.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskStore } from "./task_store.ts";
import type { TaskTracer } from "./task_tracing.ts";

/**
 * Options for {@linkcode TaskRunner}.
 *
 * @example No retries, and failures to the dead letters
 * ```ts
 * import { type DeadLetter, TaskGroup, TaskRunner, type TaskRunnerOptions } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const letters: DeadLetter[] = [];
 * const options: TaskRunnerOptions = {
 *   maxConcurrency: 4,
 *   retries: 0,
 *   deadLetter: (record) => letters.push(record),
 * };
 * await using runner = new TaskRunner(options);
 * runner.submit(new TaskGroup().add(function send() {
 *   throw new Error("mail server down");
 * }));
 * await runner.idle();
 * equal(letters[0]?.task, "send");
 * equal(letters[0]?.error, "mail server down");
 * ```
 */
export interface TaskRunnerOptions {
  /** Tasks running at once, across all groups. @default {256} */
  maxConcurrency?: number | undefined;
  /** Tasks accepted but not finished; a group that would pass it is refused. @default {100000} */
  maxPending?: number | undefined;
  /** Default per-attempt timeout in milliseconds. @default {30000} */
  timeout?: number | undefined;
  /** Default retries after the first attempt. @default {2} */
  retries?: number | undefined;
  /** Default base retry delay in milliseconds. @default {100} */
  retryDelay?: number | undefined;
  /** Default upper bound of a retry delay in milliseconds. @default {10000} */
  maxRetryDelay?: number | undefined;
  /** Where a task goes when its last attempt failed or shutdown abandoned it. @default {a log record only} */
  deadLetter?: (record: DeadLetter) => unknown;
  /**
   * Called once per accepted group, before any of its tasks runs; if it
   * throws, the error is logged and the group runs. @default {nothing}
   */
  onGroupAccepted?: (group: TaskGroup) => void;
  /**
   * Called once per group when its last task reached a final state; if it
   * throws, the error is logged. @default {nothing}
   */
  onGroupSettled?: (group: TaskGroup) => void;
  /**
   * Called, before `onGroupSettled`, for a group whose journal commit failed
   * (`SubmitOptions.commit` rejected): its client got no 202, so it never
   * existed, and a status kept for it would shadow the journal's (a group
   * of the same id accepted elsewhere). If it throws, the error is logged.
   * @default {nothing}
   */
  onGroupDropped?: (group: TaskGroup) => void;
  /**
   * A durable journal: each attempt starts once its start is journaled, and
   * outcomes and retry times are recorded. @default {none (memory only)}
   */
  journal?: Pick<TaskStore, "attempt" | "record" | "sharedPlaces"> | undefined;
  /**
   * What a task's `this.submit(group)` does with a follow-up group.
   * `createApp` gives its `App.submit` (journaled first in durable mode).
   * @default {this runner's submit, accepted while draining; with a
   * `journal`, a rejection (a follow-up must be journaled: give this)}
   */
  submitFollowUp?: ((group: TaskGroup) => Promise<void>) | undefined;
  /** Traces each attempt as a span in its request's trace. @default {no spans} */
  tracer?: TaskTracer | undefined;
  /**
   * Time source for timestamps, timeouts and backoff. @default {systemClock
   * for timestamps and retry times, monotonicClock for timeouts}
   */
  clock?: Clock;
  /** The runner's own log. @default {getLogger(["posthaste", "runner"])} */
  logger?: StructuredLogger;
}

/**
 * Checks a limit given to {@linkcode TaskRunner}.
 *
 * @param name The option's name, for the message.
 * @param value Its value.
 * @returns The value.
 * @throws {RangeError} If it is not a positive integer.
 *
 * @example Refusing zero
 * ```ts
 * import { positiveInteger } from "./mod.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => positiveInteger("maxConcurrency", 0), RangeError);
 * ```
 */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Cannot create runner: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * The runner's limits and task defaults, with {@linkcode TaskRunnerOptions}' defaults applied.
 *
 * @example The limits of a runner
 * ```ts
 * import { resolveLimits, type RunnerLimits } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const limits: RunnerLimits = resolveLimits({ maxConcurrency: 8 });
 * equal(limits.maxConcurrency, 8);
 * equal(limits.defaults.timeout, 30_000);
 * ```
 */
export interface RunnerLimits {
  /** Tasks running at once. */
  maxConcurrency: number;
  /** Tasks accepted but not finished. */
  maxPending: number;
  /** Task options for tasks that set none. */
  defaults: Record<"timeout" | "retries" | "retryDelay" | "maxRetryDelay", number>;
}

/**
 * Applies the defaults of {@linkcode TaskRunnerOptions} and checks the limits.
 *
 * @param options The runner's options.
 * @returns The limits and task defaults.
 * @throws {RangeError} If `maxConcurrency`, `maxPending` or `timeout` is not a
 * positive integer, `retries` not an integer >= 0, or a retry delay not a
 * number >= 0; or a wait is over {@linkcode MAX_TIMER_MS}.
 *
 * @example Defaults, and a bad limit
 * ```ts
 * import { resolveLimits } from "./mod.ts";
 * import { equal, throws } from "node:assert/strict";
 *
 * equal(resolveLimits({}).defaults.retries, 2);
 * throws(() => resolveLimits({ maxConcurrency: 0 }), RangeError);
 * ```
 */
export function resolveLimits(options: TaskRunnerOptions): RunnerLimits {
  const {
    maxConcurrency = 256,
    maxPending = 100_000,
    timeout = 30_000,
    retries = 2,
    retryDelay = 100,
    maxRetryDelay = 10_000,
  } = options;
  const defaults = { timeout, retries, retryDelay, maxRetryDelay };
  checkTaskOptions(defaults, "create runner");
  return {
    maxConcurrency: positiveInteger("maxConcurrency", maxConcurrency),
    maxPending: positiveInteger("maxPending", maxPending),
    defaults,
  };
}

/**
 * Options for {@linkcode TaskRunner.submit}.
 *
 * @example Tasks wait for the response to be delivered
 * ```ts
 * import { TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * const delivered = Promise.withResolvers<void>();
 * const ran: string[] = [];
 * runner.submit(new TaskGroup().add(() => void ran.push("task")), { after: delivered.promise });
 * ran.push("response");
 * delivered.resolve();
 * await runner.idle();
 * deepEqual(ran, ["response", "task"]);
 * ```
 */
export interface SubmitOptions {
  /**
   * Start the group only once this settles.
   * @default {undefined} (start as soon as there is room)
   */
  after?: Promise<unknown>;
  /**
   * A response's `info.completed`, in place of `after`: the group starts a
   * turn of the event loop after it settles (one timer for all the
   * responses of a turn). Deno settles it before it writes the response, so
   * a task started then that computes held the response back.
   * @default {undefined}
   */
  response?: Promise<unknown>;
  /**
   * The group's journal commit: the group starts only after it resolves, and
   * is dropped (as if never accepted) if it rejects.
   * @default {undefined} (not journaled)
   */
  commit?: Promise<unknown>;
  /**
   * Accept the group while the runner drains (a follow-up of work it
   * accepted: the drain then waits for it too, up to its deadline); once the
   * drain has ended it is refused all the same.
   * @default {false}
   */
  whileDraining?: boolean;
}

/**
 * Options for {@linkcode TaskRunner.drain}.
 *
 * @example A drain that stops waiting at once
 * ```ts
 * import { type TaskContext, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const runner = new TaskRunner();
 * runner.submit(new TaskGroup().add(function hang(this: TaskContext) {
 *   return new Promise((_, reject) => this.signal.addEventListener("abort", reject));
 * }));
 * deepEqual(await runner.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
 * ```
 */
export interface DrainOptions {
  /** When it aborts, drain stops waiting: running tasks are aborted and every unfinished task is abandoned. */
  signal?: AbortSignal;
}
