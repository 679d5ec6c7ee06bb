/**
 * Where tasks and groups are: their states, a task's record and id, and a
 * group's status as `GET /tasks/{id}` shows it.
 *
 * @module
 */
import { isFinal } from "./_status_times.ts";

/**
 * Where a task is in its life.
 *
 * @example A task's state before and after it ran
 * ```ts
 * import { TaskGroup, TaskRunner, type TaskState } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const group = new TaskGroup().add(() => {});
 * const states: TaskState[] = [group.tasks[0]!.state];
 * await using runner = new TaskRunner();
 * runner.submit(group);
 * await runner.idle();
 * states.push(group.tasks[0]!.state);
 * deepEqual(states, ["queued", "done"]);
 * ```
 */
export type TaskState = "queued" | "running" | "retrying" | "done" | "failed" | "abandoned";

/**
 * Where a group is: derived from its tasks' states.
 *
 * @example One failed task fails its group
 * ```ts
 * import { type GroupState, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const group = new TaskGroup().add(() => {}).add(() => {
 *   throw new Error("mail server down");
 * });
 * await using runner = new TaskRunner({ retries: 0 });
 * runner.submit(group);
 * await runner.idle();
 * const state: GroupState = group.state;
 * equal(state, "failed");
 * ```
 */
export type GroupState = "queued" | "running" | "done" | "failed" | "abandoned";

/**
 * One task of a group, as the runner keeps it up to date.
 *
 * @example A task's record after a failed first attempt
 * ```ts
 * import { TaskGroup, TaskRunner, type TaskRecord } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * let calls = 0;
 * const group = new TaskGroup().add(function send(to: string) {
 *   if (++calls === 1) throw new Error(`cannot reach ${to}`);
 * }, "ada");
 * await using runner = new TaskRunner({ retryDelay: 0 });
 * runner.submit(group);
 * await runner.idle();
 * const record: TaskRecord = group.tasks[0]!;
 * equal(record.name, "send");
 * equal(record.state, "done");
 * equal(record.attempts, 2);
 * ```
 */
export interface TaskRecord {
  /** The task's name: a definition's name, else the function's name. */
  readonly name: string;
  /** The arguments it runs with. */
  readonly args: readonly unknown[];
  /** Where it is in its life. */
  readonly state: TaskState;
  /** Attempts started so far. */
  readonly attempts: number;
  /** When this process started its first attempt (clock milliseconds), or -1 before. */
  readonly startedAt: number;
  /** Milliseconds from the first attempt's start to the final outcome, 0 before. */
  readonly durationMs: number;
  /** The last attempt's error message, if it failed. */
  readonly error: string | undefined;
  /**
   * When its next attempt is due (clock milliseconds) while it waits out a
   * retry's backoff: `retrying`, or `queued` when resumed in a backoff after
   * a restart. -1 until it first waits.
   */
  readonly retryAt: number;
}

/**
 * A group's status as JSON, from `TaskGroup.toJSON`.
 *
 * @example A group's status as JSON
 * ```ts
 * import { type GroupStatus, TaskGroup } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const status: GroupStatus = new TaskGroup({ id: "g" }).add(function send() {}).toJSON();
 * deepEqual(status, {
 *   id: "g",
 *   state: "queued",
 *   acceptedAt: null, // no runner has it yet
 *   tasks: [
 *     {
 *       name: "send",
 *       state: "queued",
 *       attempts: 0,
 *       startedAt: null,
 *       durationMs: 0,
 *       finishedAt: null,
 *       error: null,
 *       retryAt: null,
 *     },
 *   ],
 * });
 * ```
 */
export interface GroupStatus {
  /** The group's id. */
  readonly id: string;
  /** The group's state. */
  readonly state: GroupState;
  /**
   * When a runner accepted it (ISO 8601; after a restart, when it was first
   * accepted), or null before, or if its journal rows do not say.
   */
  readonly acceptedAt: string | null;
  /** Each task's name, state, attempts, start, duration, end and last error message. */
  readonly tasks: readonly {
    readonly name: string;
    readonly state: TaskState;
    readonly attempts: number;
    /**
     * When its first attempt began (ISO 8601), so that a task `running` or
     * `retrying` shows how long it has been at it; null before. A server
     * counts from its own first attempt of the task (one resumed after a
     * restart, from the restart on); a status read from the journal (a group
     * finished before the restart, or a PostgreSQL peer's) has it for a
     * final task and one running its first attempt, else null.
     */
    readonly startedAt: string | null;
    readonly durationMs: number;
    /**
     * When it reached its final state (`done`, `failed`, `abandoned`), as
     * ISO 8601; null before, and for a task abandoned before its first
     * attempt. `durationMs` after `startedAt`.
     */
    readonly finishedAt: string | null;
    readonly error: string | null;
    /**
     * When the next attempt of a task waiting out a retry's backoff is due
     * (ISO 8601): a `retrying` one, or one the journal holds `queued` after a
     * restart. Else null.
     */
    readonly retryAt: string | null;
    /**
     * True for a task resumed one crash from quarantine that has not ended:
     * it runs only while no other such task does. Absent otherwise.
     */
    readonly probation?: true;
  }[];
}

/**
 * A task's stable id: its group's id and its index in the group.
 *
 * @param groupId The group's id.
 * @param index The task's position in the group.
 * @returns `<group id>/<index>`.
 *
 * @example A task's id
 * ```ts
 * import { taskId } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(taskId("g", 1), "g/1");
 * ```
 */
export function taskId(groupId: string, index: number): string {
  return `${groupId}/${index}`;
}

/**
 * A group's state from its tasks' states: `queued` until one starts,
 * `running` until all are final, then `abandoned`, `failed` or `done`.
 *
 * @param states The tasks' states, in any order.
 * @returns The group's state.
 *
 * @example A group's state from its tasks'
 * ```ts
 * import { groupStateOf } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(groupStateOf(["done", "queued"]), "running");
 * equal(groupStateOf(["done", "failed"]), "failed");
 * ```
 */
export function groupStateOf(states: readonly TaskState[]): GroupState {
  let final = 0, started = false, failed = false, abandoned = false;
  for (const state of states) {
    started ||= state !== "queued";
    if (!isFinal(state)) continue;
    final++;
    failed ||= state === "failed";
    abandoned ||= state === "abandoned";
  }
  if (final < states.length) return started ? "running" : "queued";
  return abandoned ? "abandoned" : failed ? "failed" : "done";
}
