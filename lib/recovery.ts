/**
 * Start-up in durable mode: the journal's unfinished tasks run again.
 *
 * @module
 */
import { abortable } from "./abortable.ts";
import { AdmissionError } from "./admission_error.ts";
import type { Clock } from "./clock.ts";
import type { DeadLetter } from "./dead_letter.ts";
import { restore, submitRestored } from "./_restore.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskDefinition } from "./task.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * Options for {@linkcode recoverTasks}.
 *
 * @example The crash limit goes to the store
 * ```ts
 * import { recoverTasks, type RecoverOptions, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * let limit = 0;
 * const options: RecoverOptions = {
 *   store: { recover: (crashLimit) => (limit = crashLimit ?? 0, []), fail: () => {} },
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 *   crashLimit: 5,
 * };
 * await recoverTasks(options);
 * equal(limit, 5);
 * ```
 */
export interface RecoverOptions {
  /** The journal. */
  store: Pick<TaskStore, "recover" | "fail">;
  /** Task definitions by name (see {@linkcode definitionsByName}): how journaled tasks are found again. */
  definitions: ReadonlyMap<string, TaskDefinition<never>>;
  /** Where the recovered groups run. */
  runner: TaskRunner;
  /** Where quarantined and unknown tasks are reported. */
  deadLetter: (record: DeadLetter) => unknown;
  /** Attempts during which the process died before a task is quarantined. @default {3} */
  crashLimit?: number;
  /**
   * The wall clock that journaled retry times are read against, and whose
   * timers wait out a backoff that has not ended; the runner's, as a rule.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Gives up waiting for the journal: the call rejects with its reason, and
   * no group is submitted (tasks already dead-lettered stay so). A read
   * already sent still completes; on PostgreSQL it adopts the orphans it
   * finds, which then wait unsubmitted until this store is closed, so close
   * it after giving up, as {@linkcode createApp} does.
   */
  signal?: AbortSignal;
}

/**
 * What {@linkcode recoverTasks} did.
 *
 * @example One task resumed, one whose definition is gone
 * ```ts
 * import {
 *   defineTask,
 *   definitionsByName,
 *   type RecoverResult,
 *   recoverTasks,
 *   type StoredTask,
 *   TaskRunner,
 * } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const stored = (index: number, name: string): StoredTask => ({
 *   id: `g/${index}`, groupId: "g", index, name, args: ["ada"],
 *   attempts: 0, nextAt: 0, crashes: 0, quarantined: false,
 * });
 * await using runner = new TaskRunner();
 * const result: RecoverResult = await recoverTasks({
 *   store: { recover: () => [stored(0, "send"), stored(1, "renamed")], fail: () => {} },
 *   definitions: definitionsByName(defineTask("send", (to: string) => void to)),
 *   runner,
 *   deadLetter: () => {},
 * });
 * deepEqual(result, { resumed: 1, deadLettered: 1, deferred: 0 });
 * ```
 */
export interface RecoverResult {
  /** Tasks submitted to run again. */
  resumed: number;
  /** Tasks moved to the dead letters (crash loops, unknown names). */
  deadLettered: number;
  /** Tasks left queued in the journal because the backlog was full. */
  deferred: number;
}

/**
 * Task definitions keyed by their names, as {@linkcode recoverTasks} looks
 * them up.
 *
 * @param definitions Definitions of any argument types (one given twice counts once).
 * @returns The map.
 * @throws {TypeError} If two different definitions have one name: after a
 * restart, a task journaled by one would run the other's function.
 *
 * @example Looking a definition up by name
 * ```ts
 * import { defineTask, definitionsByName } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const send = defineTask("send", (to: string) => void to);
 * equal(definitionsByName(send).get("send"), send);
 * ```
 */
export function definitionsByName(
  ...definitions: TaskDefinition<never>[]
): Map<string, TaskDefinition<never>> {
  const byName = new Map<string, TaskDefinition<never>>();
  for (const definition of definitions) {
    const { name } = definition;
    if ((byName.get(name) ?? definition) !== definition) {
      throw new TypeError(
        `Cannot look task definitions up by name: two are named ${JSON.stringify(name)}`,
      );
    }
    byName.set(name, definition);
  }
  return byName;
}

/**
 * Reads the journal's unfinished tasks and submits them again, group by
 * group in their original order, with their ids and attempt counts; a task
 * waiting for a retry starts when its backoff ends. Tasks that crashed the
 * process `crashLimit` times, and tasks whose name has no definition, go to
 * the dead letters instead. Groups that do not fit the backlog stay in the
 * journal: {@linkcode DeferredRecovery} submits them once there is room.
 *
 * @param options The journal, the definitions, the runner, the dead letters,
 * and a signal to give up.
 * @returns How many tasks resumed, were dead-lettered, or stay queued in the journal.
 *
 * @example Recovering from an empty journal
 * ```ts
 * import { recoverTasks, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const result = await recoverTasks({
 *   store: { recover: () => [], fail: () => {} },
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 * });
 * deepEqual(result, { resumed: 0, deadLettered: 0, deferred: 0 });
 * ```
 */
export async function recoverTasks(options: RecoverOptions): Promise<RecoverResult> {
  const { store, runner, crashLimit = 3, signal } = options;
  signal?.throwIfAborted();
  const names = [...options.definitions.keys()];
  const tasks = await abortable(Promise.resolve(store.recover(crashLimit, names)), signal);
  const { groups, deadLettered } = await restore(tasks, options);
  signal?.throwIfAborted();
  let resumed = 0, deferred = 0;
  for (const restored of groups) {
    try {
      submitRestored(runner, restored, options.clock);
      resumed += restored.group.size;
    } catch (error) {
      // More unfinished work than MAX_PENDING: the rest stays queued in the
      // journal rather than stopping the server from starting.
      if (!(error instanceof AdmissionError)) throw error;
      deferred += restored.group.size;
    }
  }
  return { resumed, deadLettered, deferred };
}
