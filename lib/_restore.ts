// Journaled tasks made into groups again, and submitted: what recoverTasks
// and DeferredRecovery share. Internal.
import { getLogger } from "@logtape/logtape";
import { fingerprints } from "./_given_ids.ts";
import { acceptedField, isoOrNull } from "./_status_times.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type DeadLetter, sendDeadLetter } from "./dead_letter.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskDefinition } from "./task.ts";
import { restoreTask, TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
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
    acceptedAt: isoOrNull(task.acceptedAt ?? -1),
    startedAt: null,
    endedAt: new Date(now).toISOString(),
  };
}

/** Why a journaled task cannot run again, as its dead letter says, or undefined if it can. */
function refusal(
  task: StoredTask,
  definitions: RestoreOptions["definitions"],
): [DeadLetter["reason"], string] | undefined {
  if (task.quarantined) {
    return ["crash_loop", `the process crashed during ${task.crashes} attempts`];
  }
  if (task.unreadable !== undefined) return ["unreadable", task.unreadable];
  if (!definitions.has(task.name)) {
    return ["unknown_task", `no task is defined with the name "${task.name}"`];
  }
  return undefined;
}

/** A group rebuilt from the journal, and when its next attempt may start. */
export interface Restored {
  group: TaskGroup;
  nextAt: number;
  /** The wait it was given when `nextAt` was journaled, if the journal says. */
  givenWait: number | undefined;
  /** The next task's own longest backoff, if it sets one. */
  maxRetryDelay: number | undefined;
}

/** Rebuilds groups from journaled tasks; quarantined, unreadable and unknown tasks go to the dead letters. */
export async function restore(
  tasks: StoredTask[],
  { store, definitions, deadLetter, clock = systemClock }: RestoreOptions,
): Promise<{ groups: Restored[]; deadLettered: number }> {
  const logger = getLogger(["posthaste", "journal"]);
  const groups = new Map<string, Restored>();
  const letters: (Promise<void> | undefined)[] = [];
  const failing: [StoredTask, string][] = [];
  const probation: StoredTask[] = [];
  for (const task of tasks) {
    const refused = refusal(task, definitions);
    if (refused !== undefined) {
      const [reason, error] = refused;
      // A letter that cannot be written is logged with its record.
      letters.push(sendDeadLetter(deadLetter, letter(task, reason, error, clock.now()), logger));
      failing.push([task, reason === "crash_loop" ? `quarantined: ${error}` : error]);
      continue;
    }
    const definition = definitions.get(task.name) as TaskDefinition<unknown[]>; // refusal() saw it
    let found = groups.get(task.groupId);
    if (found === undefined) {
      found = {
        group: new TaskGroup({ id: task.groupId }),
        nextAt: task.nextAt,
        // Not a wait where the row was written after its retry time (late, or by another clock).
        givenWait: task.updatedAt !== undefined && task.nextAt > task.updatedAt
          ? task.nextAt - task.updatedAt
          : undefined,
        maxRetryDelay: definition.options.maxRetryDelay,
      };
      groups.set(task.groupId, found);
      if (task.fingerprint !== undefined) fingerprints.set(found.group, task.fingerprint);
      // Unknown for rows journaled before it was: the runner then takes it as accepted now.
      if (task.acceptedAt !== undefined) acceptedField.set(found.group, task.acceptedAt);
    }
    found.group[restoreTask](definition, task.args, task.index, task.attempts, task.probation);
    if (task.probation) probation.push(task);
  }
  const [first] = probation;
  if (first !== undefined) {
    logger.warn(
      "{count} recovered tasks were running when the process died {crashes} times, one short of their quarantine: they run one at a time, so that another crash quarantines only the one running (first: {taskId})",
      { count: probation.length, crashes: first.crashes, taskId: first.id },
    );
  }
  // The letters written first: a crash before their tasks are failed finds
  // them again (letters twice), never failed with none.
  await Promise.all(letters);
  for (const [task, error] of failing) await store.fail(task, error);
  return { groups: [...groups.values()], deadLettered: letters.length };
}

/** Submits a restored group; a retry's backoff carries on instead of starting over. */
export function submitRestored(
  runner: TaskRunner,
  { group, nextAt, givenWait, maxRetryDelay = runner.defaults.maxRetryDelay }: Restored,
  clock: Clock = systemClock,
): void {
  // A retry time further off than the wait it was given (both written by one
  // clock) was journaled by a wall clock ahead of this one (stepped back
  // since, or a peer's): it could be days away, so the wait is the one given
  // at most: a backoff's, or the longer one a RetryAfterError asked for. A
  // row that does not say when it was written waits a backoff's at most.
  const wait = Math.min(nextAt - clock.now(), givenWait ?? maxRetryDelay);
  const after = wait > 0
    ? new Promise<void>((resolve) => clock.setTimeout(resolve, wait))
    : undefined;
  // GET /tasks/{id} shows when it runs: queued, with its retry time.
  const [first] = group.tasks as readonly TaskEntry[];
  if (after && first) first.retryAt = clock.now() + wait;
  runner.submit(group, after ? { after } : {});
}
