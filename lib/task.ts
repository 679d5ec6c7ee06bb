/**
 * Task functions, their context and named task definitions.
 *
 * @module
 */
import { checkTaskOptions } from "./_task_options.ts";
import { unstorable } from "./_journal_rows.ts";
import type { TaskGroup } from "./task_group.ts";

/**
 * What a running task can reach through `this`, without it taking a place
 * among the task's typed arguments.
 *
 * @example A task that reads its id and attempt
 * ```ts
 * import { type TaskContext, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const seen: string[] = [];
 * function send(this: TaskContext, to: string) {
 *   seen.push(`${this.id}, attempt ${this.attempt}: ${to}`);
 * }
 * await using runner = new TaskRunner();
 * runner.submit(new TaskGroup({ id: "g" }).add(send, "ada"));
 * await runner.idle();
 * equal(seen[0], "g/0, attempt 1: ada");
 * ```
 */
export interface TaskContext {
  /** Aborts at the attempt's timeout or when shutdown gives up waiting. */
  readonly signal: AbortSignal;
  /** The attempt number, starting at 1. */
  readonly attempt: number;
  /** A stable id for the task (`<group id>/<index>`), for idempotent effects. */
  readonly id: string;
  /** The id of the task's group (the request's id). */
  readonly groupId: string;
  /** The task's name. */
  readonly name: string;
  /**
   * Submits a group of follow-up tasks, as `App.submit` does: it runs as a
   * request's group does, is accepted while the shutdown drains (the drain
   * waits for it), and in durable mode resolves once it is journaled. It
   * rejects, with nothing run, on a full backlog (the whole of it: unlike
   * `App.submit`, it is not held to half while deferred work waits, since it
   * continues accepted work) or a drain that has ended
   * (`AdmissionError`: let it throw, so that a retry submits again), and
   * for a given id still known (`DuplicateGroupError`: name a follow-up with
   * `groupIdForKey` of the task's `id`, so that it is submitted once).
   * Under a bare `TaskRunner`, its own submit (`TaskRunnerOptions.submitFollowUp`).
   */
  readonly submit: (group: TaskGroup) => Promise<void>;
}

/**
 * A background task: any sync or async function. It may declare
 * `this: TaskContext` to read its signal and attempt number.
 *
 * @example Typed tasks, one reading its signal
 * ```ts
 * import { type TaskFunction, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const write: TaskFunction<[string]> = (line) => void lines.push(line);
 * const check: TaskFunction<[]> = function () {
 *   this.signal.throwIfAborted();
 * };
 * equal(new TaskGroup().add(write, "hi").add(check).size, 2);
 * ```
 */
export type TaskFunction<A extends unknown[]> = (this: TaskContext, ...args: A) => unknown;

/**
 * Per-task behaviour; each field falls back to the runner's default.
 *
 * @example A timeout that aborts the attempt
 * ```ts
 * import { defineTask, type TaskContext, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const hang = defineTask("hang", function (this: TaskContext) {
 *   return new Promise((_, reject) => this.signal.addEventListener("abort", () => reject(this.signal.reason)));
 * }, { timeout: 20, retries: 0 });
 * await using runner = new TaskRunner();
 * const group = new TaskGroup().add(hang);
 * runner.submit(group);
 * await runner.idle();
 * equal(group.tasks[0]?.state, "failed");
 * ```
 */
export interface TaskOptions {
  /**
   * Milliseconds before an attempt's signal aborts and the attempt counts as
   * failed (timed out).
   *
   * @default {30000} (the runner's `timeout`)
   */
  readonly timeout?: number | undefined;
  /**
   * Attempts after the first one.
   *
   * @default {2} (the runner's `retries`)
   */
  readonly retries?: number | undefined;
  /**
   * Base delay in milliseconds before the first retry; it doubles each retry.
   *
   * @default {100} (the runner's `retryDelay`)
   */
  readonly retryDelay?: number | undefined;
  /**
   * Upper bound in milliseconds for any one retry delay.
   *
   * @default {10000} (the runner's `maxRetryDelay`)
   */
  readonly maxRetryDelay?: number | undefined;
  /**
   * Attempts of tasks of this name (or `concurrencyKey`) that may run at
   * once, across all groups (a mail API that takes 4 connections). A task
   * that finds them all running waits, and holds back no task of another
   * name or key; its group's later tasks wait behind it. Within the
   * runner's `maxConcurrency` still, and like it, a limit of one runner:
   * servers that share a PostgreSQL journal each run up to this many (see
   * `sharedConcurrency`). An attempt stopped at its timeout gives its place
   * back, as its slot, even if its code runs on.
   *
   * @default {undefined} (only the runner's `maxConcurrency`)
   */
  readonly concurrency?: number | undefined;
  /**
   * Attempts of tasks of this name (or `concurrencyKey`) that may run at
   * once across every server sharing the journal (a limit the other side
   * sets, such as a mail API's 4 connections, when several servers share
   * PostgreSQL). Before each attempt the runner takes one of these places
   * from the journal's {@linkcode SharedPlaces}, waiting as for
   * `concurrency` while none is free (it looks again every 250 ms, or when
   * another server gives one back for it; servers that all wait take
   * turns); a journal of one server, or none, makes it the same as
   * `concurrency`. With both, both hold.
   *
   * @default {undefined} (no limit shared between servers)
   */
  readonly sharedConcurrency?: number | undefined;
  /**
   * What `concurrency` and `sharedConcurrency` count: tasks of every name
   * with the same key share their places, as two mail tasks share a
   * provider's 4 connections, or the tasks of one `WorkerPool` its
   * workers. Give such tasks the same limits: `createApp` refuses a
   * service whose `tasks` differ there, and a bare runner holds the
   * smallest of those that have come to run. A task with neither limit
   * counts against nothing.
   *
   * @default {undefined} (the task's name)
   */
  readonly concurrencyKey?: string | undefined;
}

/**
 * A JSON value: what a defined task's arguments may be.
 *
 * @example What a defined task takes, and what it refuses
 * ```ts
 * import { defineTask, type JsonValue, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const save = defineTask("save", (record: JsonValue) => void record);
 * const group = new TaskGroup().add(save, { id: 1, tags: ["a"], note: null });
 * equal(group.size, 1);
 * // @ts-expect-error: a Date is no JSON value (it would not come back from the journal)
 * const refused = () => group.add(save, new Date());
 * void refused;
 * ```
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * A named task with options, made by {@linkcode defineTask}.
 *
 * @example What a definition holds
 * ```ts
 * import { defineTask, type TaskDefinition } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send: TaskDefinition<[string]> = defineTask("send", (to: string) => void to, { retries: 5 });
 * equal(send.name, "send");
 * equal(send.options.retries, 5);
 * ```
 */
export interface TaskDefinition<A extends unknown[]> {
  /** The task's name: reported in logs and dead letters. */
  readonly name: string;
  /** The function to run. */
  readonly fn: TaskFunction<A>;
  /** Options that override the runner's defaults. */
  readonly options: TaskOptions;
}

/**
 * What {@linkcode TaskGroup.add} accepts: a plain function or a definition.
 *
 * @example A function or a definition
 * ```ts
 * import { defineTask, type Task, TaskGroup } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const tasks: Task<[string]>[] = [function greet(to) {}, defineTask("send", (to: string) => {})];
 * const group = new TaskGroup();
 * for (const task of tasks) group.add(task, "ada");
 * deepEqual(group.tasks.map((task) => task.name), ["greet", "send"]);
 * ```
 */
export type Task<A extends unknown[]> = TaskFunction<A> | TaskDefinition<A>;

/**
 * Defines a named task with options. Its arguments must be JSON values
 * (a function or a `Date` argument fails `deno check`), so a definition can
 * be written to a journal and found again by name. Optional parameters may
 * be left out or undefined at the end: the journal keeps them left out, and
 * they come back undefined (an undefined before a value, which JSON would
 * turn into null, is refused when journaled).
 *
 * @param name A stable name, unique within the application.
 * @param fn The function to run.
 * @param options Timeout, retries and concurrency for this task.
 * @returns The definition, to pass to {@linkcode TaskGroup.add}.
 * @throws {TypeError} If `name` is empty or holds a NUL character or a lone
 * surrogate (the journal cannot store it as it is).
 * @throws {RangeError} If `timeout` is not a positive integer, `retries` not
 * an integer >= 0, a retry delay not a number >= 0, or `concurrency` or
 * `sharedConcurrency` not a positive integer; or a wait is over
 * {@linkcode MAX_TIMER_MS}.
 *
 * @example Defining a task with a timeout
 * ```ts
 * import { defineTask, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const greet = defineTask("greet", function (name: string) {
 *   return `hello ${name} (attempt ${this.attempt})`;
 * }, { timeout: 1_000 });
 * const group = new TaskGroup().add(greet, "ada");
 * equal(group.size, 1);
 * ```
 *
 * @example An optional parameter
 * ```ts
 * import { defineTask, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send = defineTask("send", (to: string, cc?: string) => void [to, cc]);
 * const group = new TaskGroup().add(send, "ada").add(send, "ada", "grace");
 * equal(group.size, 2);
 * ```
 */
export function defineTask<A extends (JsonValue | undefined)[]>(
  name: string,
  fn: TaskFunction<A>,
  options: TaskOptions = {},
): TaskDefinition<A> {
  if (name === "") throw new TypeError("Cannot define task: name is empty");
  // The name is journaled, and the task found again by it after a restart.
  const bad = unstorable(name);
  if (bad !== undefined) throw new TypeError(`Cannot define task: name holds ${bad}`);
  checkTaskOptions(options, `define task ${JSON.stringify(name)}`);
  return { name, fn, options };
}
