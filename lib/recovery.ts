/**
 * Start-up in durable mode: the journal's unfinished tasks run again.
 *
 * @module
 */
import { AdmissionError } from "./admission_error.ts";
import type { DeadLetter } from "./dead_letter.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskDefinition } from "./task.ts";
import { restoreTask, TaskGroup } from "./task_group.ts";
import type { StoredTask, TaskStore } from "./task_store.ts";

/** Options for {@linkcode recoverTasks}. */
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
}

/** What {@linkcode recoverTasks} did. */
export interface RecoverResult {
  /** Tasks submitted to run again. */
  resumed: number;
  /** Tasks moved to the dead letters (crash loops, unknown names). */
  deadLettered: number;
  /** Tasks left queued in the journal because the backlog was full (they run at a later start). */
  deferred: number;
}

/**
 * Task definitions keyed by their names, as {@linkcode recoverTasks} looks
 * them up.
 *
 * @param definitions Definitions of any argument types.
 * @returns The map; of two with one name, the later wins.
 *
 * @example
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
  return new Map(definitions.map((definition) => [definition.name, definition]));
}

function letter(task: StoredTask, reason: DeadLetter["reason"], error: string): DeadLetter {
  return {
    reason,
    task: task.name,
    taskId: task.id,
    groupId: task.groupId,
    args: task.args,
    attempts: task.attempts,
    error,
    startedAt: null,
    endedAt: new Date().toISOString(),
  };
}

/**
 * Reads the journal's unfinished tasks and submits them again, group by
 * group in their original order, with their ids and attempt counts; a task
 * waiting for a retry starts when its backoff ends. Tasks that crashed the
 * process `crashLimit` times, and tasks whose name has no definition, go to
 * the dead letters instead.
 *
 * @param options The journal, the definitions, the runner and the dead letters.
 * @returns How many tasks resumed, were dead-lettered, or stay queued for a later start.
 *
 * @example
 * ```ts
 * import { recoverTasks, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const result = recoverTasks({
 *   store: { recover: () => [], fail: () => {} },
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 * });
 * deepEqual(result, { resumed: 0, deadLettered: 0, deferred: 0 });
 * ```
 */
export function recoverTasks(options: RecoverOptions): RecoverResult {
  const { store, definitions, runner, deadLetter, crashLimit = 3 } = options;
  const groups = new Map<string, { group: TaskGroup; nextAt: number }>();
  let deadLettered = 0;
  for (const task of store.recover(crashLimit)) {
    const definition = definitions.get(task.name);
    if (task.quarantined || definition === undefined) {
      const error = task.quarantined
        ? `the process crashed during ${task.crashes} attempts`
        : `no task is defined with the name "${task.name}"`;
      if (!task.quarantined) store.fail(task, error);
      deadLetter(letter(task, task.quarantined ? "crash_loop" : "unknown_task", error));
      deadLettered++;
      continue;
    }
    let found = groups.get(task.groupId);
    if (found === undefined) {
      found = { group: new TaskGroup({ id: task.groupId }), nextAt: task.nextAt };
      groups.set(task.groupId, found);
    }
    found.group[restoreTask](
      definition as TaskDefinition<unknown[]>,
      task.args,
      task.index,
      task.attempts,
    );
  }
  let resumed = 0, deferred = 0;
  for (const { group, nextAt } of groups.values()) {
    const wait = nextAt - Date.now();
    // A retry's backoff carries on across the restart instead of starting over.
    const after = wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined;
    try {
      runner.submit(group, after ? { after } : {});
      resumed += group.size;
    } catch (error) {
      // More unfinished work than MAX_PENDING: the rest stays queued in the
      // journal rather than stopping the server from starting.
      if (!(error instanceof AdmissionError)) throw error;
      deferred += group.size;
    }
  }
  return { resumed, deadLettered, deferred };
}
