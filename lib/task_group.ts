/**
 * The ordered list of tasks one request leaves behind.
 *
 * @module
 */
import { context } from "@opentelemetry/api";
import { givenField } from "./_given_ids.ts";
import { isOnProbation, onProbation } from "./_probation.ts";
import { acceptedField, finishedAt, isFinal, isoOrNull } from "./_status_times.ts";
import { abortable, type WaitOptions } from "./abortable.ts";
import { timeOrderedId } from "./time_ordered_id.ts";
import type { TaskEntry } from "./task_entry.ts";
import type { TaskGroupOptions } from "./task_group_options.ts";
import type { Task, TaskDefinition, TaskFunction } from "./task.ts";
import { type GroupState, groupStateOf, type GroupStatus, type TaskRecord } from "./task_status.ts";

// Groups keep their acceptance time relative to this (see TaskGroup's #accepted).
const SINCE = Date.now();

/**
 * Recovery's hook into a group: re-add a journaled task with its original
 * index (a symbol, so it stays off the group's public surface).
 *
 * @example Restoring a journaled task
 * ```ts
 * import { defineTask, restoreTask, type TaskDefinition, type TaskEntry, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send = defineTask("send", (_to: string) => {});
 * const group = new TaskGroup({ id: "g" });
 * // As recovery does: the third task of its group, tried once before the restart.
 * group[restoreTask](send as TaskDefinition<unknown[]>, ["ada@example.com"], 2, 1);
 * const [restored] = group.tasks as readonly TaskEntry[];
 * equal(restored?.index, 2);
 * equal(restored?.attempts, 1);
 * ```
 */
export const restoreTask: unique symbol = Symbol("posthaste.restoreTask");

/**
 * The runner's hook into a group: the next queued task, or `undefined` once
 * none is left (a symbol, so it stays off the group's public surface).
 *
 * @example Taking a group's tasks in order
 * ```ts
 * import { nextTask, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const group = new TaskGroup().add(() => {}).add(() => {});
 * equal(group[nextTask]()?.index, 0);
 * equal(group[nextTask]()?.index, 1);
 * equal(group[nextTask](), undefined);
 * ```
 */
export const nextTask: unique symbol = Symbol("posthaste.nextTask");

/**
 * An ordered list of background tasks, typically one per request. Arguments
 * are checked against the task's parameters at compile time. A runner runs
 * the tasks one after another, in the order added, and every task runs even
 * when an earlier one failed.
 *
 * @example Adding typed tasks
 * ```ts
 * import { TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const sent: string[] = [];
 * const send = (email: string, times: number) => void sent.push(email.repeat(times));
 * const group = new TaskGroup().add(send, "a@example.com", 1);
 * // group.add(send, "a@example.com", "1"); // fails `deno check`
 * equal(group.size, 1);
 * equal(group.state, "queued");
 * ```
 */
export class TaskGroup {
  /** The group's id; also the id in the 202 answer. */
  readonly id: string;
  /** The OpenTelemetry context its task spans are children of: as given, else the one active. */
  readonly traceContext: object;
  // See givenField in _given_ids.ts.
  #given: string | null | undefined;
  #entries: TaskEntry[] = [];
  #cursor = 0;
  #settled: PromiseWithResolvers<void> | undefined;
  #finished = false;
  // Kept as milliseconds after SINCE: a small integer V8 stores in the field
  // itself, where a wall-clock time (over 2^31) is a heap number of its own,
  // 24 B more for every waiting group (so for 12 days or more after the
  // start, as small integers reach; a heap number after). Undefined: not accepted.
  #accepted: number | undefined;

  static {
    givenField.get = (group) => group.#given;
    givenField.set = (group, value) => void (group.#given = value);
    acceptedField.set = (group, at) => void (group.#accepted = at - SINCE);
  }

  /**
   * Makes an empty group.
   *
   * @param options The group's id.
   */
  constructor(options: TaskGroupOptions = {}) {
    this.id = options.id ?? timeOrderedId();
    this.#given = options.id === undefined ? undefined : null;
    this.traceContext = options.traceContext ?? context.active();
  }

  /**
   * Adds a task to run after the ones already added.
   *
   * @param task A function (sync or async) or a {@linkcode defineTask} definition.
   * @param args Its arguments, type-checked against its parameters.
   * @returns This group, to chain calls.
   * @throws {Error} If the group has already been handed to a runner.
   */
  add<A extends unknown[]>(task: Task<A>, ...args: NoInfer<A>): this {
    if (this.started) {
      throw new Error(
        `Cannot add task: group "${this.id}" was handed to a runner (a route adds its tasks before it answers)`,
      );
    }
    const definition = typeof task === "function" ? undefined : task;
    const fn = (definition?.fn ?? task) as TaskFunction<unknown[]>;
    this.#entries.push({
      group: this,
      index: this.#entries.length,
      name: definition?.name ?? (fn.name || "anonymous"),
      fn,
      options: definition?.options,
      args,
      state: "queued",
      attempts: 0,
      startedAt: -1,
      durationMs: 0,
      error: undefined,
      retryAt: -1,
    });
    return this;
  }

  /** Whether a runner has taken the group; it cannot grow or be submitted again then. */
  get started(): boolean {
    return this.#cursor > 0 || this.#finished;
  }

  /**
   * For recovery from a journal: adds a task with the index and attempts it
   * had before the restart, so that its id and retry count carry on.
   *
   * @param task The task's definition.
   * @param args Its journaled arguments.
   * @param index Its original position in the group.
   * @param attempts Attempts it started before.
   * @param probation Whether it runs only while no other task on probation
   * does (one crash from quarantine).
   * @returns This group.
   */
  [restoreTask](
    task: TaskDefinition<unknown[]>,
    args: unknown[],
    index: number,
    attempts: number,
    probation = false,
  ): this {
    this.add(task, ...args);
    const entry = this.#entries[this.#entries.length - 1] as {
      index: number;
      attempts: number;
      options: TaskEntry["options"];
    };
    entry.index = index;
    entry.attempts = attempts;
    if (probation) entry.options = onProbation(entry.options);
    return this;
  }

  /**
   * When a runner accepted the group (its clock's milliseconds), or -1
   * before. A group recovered from a journal keeps the time it was first
   * accepted.
   */
  get acceptedAt(): number {
    return this.#accepted === undefined ? -1 : this.#accepted + SINCE;
  }

  /** How many tasks the group holds. */
  get size(): number {
    return this.#entries.length;
  }

  /** The tasks, in order, with their current state. */
  get tasks(): readonly TaskRecord[] {
    return this.#entries;
  }

  /** The group's state, derived from its tasks. */
  get state(): GroupState {
    return groupStateOf(this.#entries.map((entry) => entry.state));
  }

  /**
   * Waits until every task reached a final state (done, failed or abandoned).
   *
   * @param options A signal that ends the wait early (the tasks go on).
   * @returns A promise that resolves with this group, or rejects with the
   * signal's reason.
   */
  async settled(options: WaitOptions = {}): Promise<this> {
    if (!this.#finished && this.#entries.length > 0) {
      this.#settled ??= Promise.withResolvers<void>();
      await abortable(this.#settled.promise, options.signal);
    }
    return this;
  }

  /**
   * The group's status, as `GET /tasks/{id}` answers it. Arguments are left
   * out: they may hold personal data.
   *
   * @returns The id, state, acceptance time and each task's name, state,
   * attempts, start, duration, end and last error.
   */
  toJSON(): GroupStatus {
    return {
      id: this.id,
      state: this.state,
      acceptedAt: isoOrNull(this.acceptedAt),
      tasks: this.#entries.map((entry) => {
        const { name, state, attempts, durationMs, error, retryAt } = entry;
        return {
          name,
          state,
          attempts,
          startedAt: isoOrNull(entry.startedAt),
          durationMs,
          finishedAt: isoOrNull(finishedAt(entry)),
          error: error ?? null,
          // Queued with a retry time: restored in its backoff. Rounded up as
          // the journal stores it, so both say the same time.
          retryAt: (state === "retrying" || state === "queued") && retryAt >= 0
            ? new Date(Math.ceil(retryAt)).toISOString()
            : null,
          // Why a task waits that a slot would otherwise have run (see _probation.ts).
          ...(isOnProbation(entry.options) && !isFinal(state) && { probation: true as const }),
        };
      }),
    };
  }

  /**
   * For runners: returns the next queued task, or `undefined` once the group
   * has none left, which settles it.
   *
   * @returns The next task to run.
   */
  [nextTask](): TaskEntry | undefined {
    const entry = this.#entries[this.#cursor];
    if (entry !== undefined) {
      // A pending group can wait long: drop the spare capacity V8 gave the
      // array on its first push (17 slots for one task).
      if (this.#cursor === 0) this.#entries = this.#entries.slice();
      this.#cursor++;
      return entry;
    }
    if (!this.#finished) {
      this.#finished = true;
      this.#settled?.resolve();
    }
    return undefined;
  }
}
