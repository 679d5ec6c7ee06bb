// Journaled tasks made into groups again, and submitted: what recoverTasks
// and DeferredRecovery share. Internal.
import { type Clock, systemClock } from "./clock.ts";
import type { DeadLetter } from "./dead_letter.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskDefinition } from "./task.ts";
import { restoreTask, TaskGroup } from "./task_group.ts";
import type { StoredTask, TaskStore } from "./task_store.ts";

/** What restoring needs: the definitions, the dead letters, the journal to mark failures in, and the wall clock. */
export interface RestoreOptions {
  store: Pick<TaskStore, "fail">;
  definitions: ReadonlyMap<string, TaskDefinition<never>>;
  deadLetter: (record: DeadLetter) => unknown;
  clock?: Clock | undefined;
}

function letter(
  task: StoredTask,
  reason: DeadLetter["reason"],
  error: string,
  now: number,
): DeadLetter {
  return {
    reason,
    task: task.name,
    taskId: task.id,
    groupId: task.groupId,
    args: task.args,
    attempts: task.attempts,
    error,
    startedAt: null,
    endedAt: new Date(now).toISOString(),
  };
}

/** A group rebuilt from the journal, and when its next attempt may start. */
export interface Restored {
  group: TaskGroup;
  nextAt: number;
}

/** Rebuilds groups from journaled tasks; quarantined and unknown tasks go to the dead letters. */
export async function restore(
  tasks: StoredTask[],
  { store, definitions, deadLetter, clock = systemClock }: RestoreOptions,
): Promise<{ groups: Restored[]; deadLettered: number }> {
  const groups = new Map<string, Restored>();
  let deadLettered = 0;
  for (const task of tasks) {
    const definition = definitions.get(task.name);
    if (task.quarantined || definition === undefined) {
      const error = task.quarantined
        ? `the process crashed during ${task.crashes} attempts`
        : `no task is defined with the name "${task.name}"`;
      if (!task.quarantined) await store.fail(task, error);
      const reason = task.quarantined ? "crash_loop" : "unknown_task";
      deadLetter(letter(task, reason, error, clock.now()));
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
  return { groups: [...groups.values()], deadLettered };
}

/** Submits a restored group; a retry's backoff carries on instead of starting over. */
export function submitRestored(
  runner: TaskRunner,
  { group, nextAt }: Restored,
  clock: Clock = systemClock,
): void {
  const wait = nextAt - clock.now();
  const after = wait > 0
    ? new Promise<void>((resolve) => clock.setTimeout(resolve, wait))
    : undefined;
  runner.submit(group, after ? { after } : {});
}
