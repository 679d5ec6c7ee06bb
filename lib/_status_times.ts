// The times a group's status shows: when it was accepted (set by the runner
// as it takes the group, or by recovery to the time the journal holds) and
// when each task ended. Internal.
import type { TaskGroup } from "./task_group.ts";
import type { TaskRecord, TaskState } from "./task_status.ts";

/**
 * Writes a group's private field for when it was accepted (wall-clock
 * milliseconds). TaskGroup's static block fills this in: the field is
 * private, and its getter is all the public sees.
 */
export const acceptedField = {
  set: (_group: TaskGroup, _at: number): void => {},
};

/**
 * When a task reached its final state (clock milliseconds): its first
 * attempt's start and its duration, which runs to that moment. -1 if it has
 * not, or never started (abandoned while it waited). Not a field of the task:
 * a wall-clock time there would be a heap number of its own for every task
 * (V8 stores a field's doubles boxed once one is), more for each scavenge to
 * copy.
 */
export function finishedAt(task: TaskRecord): number {
  const { state, startedAt } = task;
  return isFinal(state) && startedAt >= 0 ? startedAt + task.durationMs : -1;
}

/** Whether a task is done with: `done`, `failed` or `abandoned`. */
export function isFinal(state: TaskState): boolean {
  return state === "done" || state === "failed" || state === "abandoned";
}

/** Clock milliseconds as ISO 8601, or null for -1 (not yet). */
export function isoOrNull(at: number): string | null {
  return at >= 0 ? new Date(at).toISOString() : null;
}
