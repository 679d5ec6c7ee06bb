/**
 * A task as the runner keeps it: its record, and what it needs to run it.
 *
 * @module
 */
import type { TaskGroup } from "./task_group.ts";
import type { TaskFunction, TaskOptions } from "./task.ts";
import type { TaskState } from "./task_status.ts";

/**
 * A {@linkcode TaskRecord} as the runner writes it, with what it needs to run it.
 *
 * @example A journal that counts the attempts it marks
 * ```ts
 * import { defineTask, SqliteTaskStore, type TaskEntry, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * using store = SqliteTaskStore.open(`${await Deno.makeTempDir()}/tasks.db`);
 * const marked: string[] = [];
 * const journal = {
 *   attempt(entry: TaskEntry) {
 *     marked.push(`${entry.group.id}/${entry.index} attempt ${entry.attempts}`);
 *     return store.attempt(entry);
 *   },
 *   record: (entry: TaskEntry, nextAt?: number) => store.record(entry, nextAt),
 * };
 * await using runner = new TaskRunner({ journal });
 * const group = new TaskGroup({ id: "g" }).add(defineTask("send", (to: string) => void to), "ada");
 * await store.enqueue(group);
 * runner.submit(group);
 * await runner.idle();
 * deepEqual(marked, ["g/0 attempt 1"]);
 * ```
 */
export interface TaskEntry {
  /** The group the task belongs to. */
  readonly group: TaskGroup;
  /** Its position in the group, from 0. */
  readonly index: number;
  /** See {@linkcode TaskRecord.name}. */
  readonly name: string;
  /** The function to run. */
  readonly fn: TaskFunction<unknown[]>;
  /** Options from its definition, if it has one. */
  readonly options: TaskOptions | undefined;
  /** See {@linkcode TaskRecord.args}. */
  readonly args: unknown[];
  /** See {@linkcode TaskRecord.state}. */
  state: TaskState;
  /** See {@linkcode TaskRecord.attempts}. */
  attempts: number;
  /** See {@linkcode TaskRecord.startedAt}. */
  startedAt: number;
  /** See {@linkcode TaskRecord.durationMs}. */
  durationMs: number;
  /** See {@linkcode TaskRecord.error}. */
  error: string | undefined;
  /** See {@linkcode TaskRecord.retryAt}. */
  retryAt: number;
}
