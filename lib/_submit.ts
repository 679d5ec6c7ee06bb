// A group handed to the runner, journaled first in durable mode: a request's
// (createHandler) and one submitted outside a request (App.submit). Internal.
import { givenIds } from "./_given_ids.ts";
import { DuplicateGroupError } from "./duplicate_group_error.ts";
import type { TaskRunner } from "./runner.ts";
import type { SubmitOptions } from "./runner_options.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * Submits `group` to `runner` with `options` (`after`, `whileDraining`), to
 * start, with a journal, once it is journaled.
 *
 * @returns Undefined without a journal; else a promise that resolves once
 * the group is journaled, or rejects with the journal's error (the runner
 * then drops the group: it never existed).
 * @throws {AdmissionError} From the runner, with nothing journaled.
 * @throws {TypeError} From the journal's `enqueue` (a task it cannot
 * journal); the group is dropped.
 */
export function submitJournaled(
  runner: TaskRunner,
  journal: Pick<TaskStore, "enqueue"> | undefined,
  group: TaskGroup,
  options: SubmitOptions = {},
): Promise<void> | undefined {
  if (journal === undefined) {
    runner.submit(group, options);
    return undefined;
  }
  const committed = Promise.withResolvers<void>();
  runner.submit(group, { ...options, commit: committed.promise });
  committed.promise.catch(() => {});
  let enqueued: Promise<void>;
  try {
    enqueued = journal.enqueue(group);
  } catch (error) {
    committed.reject(error);
    throw error;
  }
  return enqueued.then(committed.resolve, (error) => {
    committed.reject(error);
    throw error;
  });
}

/**
 * `App.submit` and `ServiceParts.submit`: a group submitted outside a
 * request, journaled first in durable mode, accepted while the runner drains
 * (until it has drained), refused (rejected) when its given id is known.
 * `journal()` is undefined in memory mode and null while the service (which
 * names the tasks a journal accepts) is being made.
 */
export function outsideRequests(
  runner: TaskRunner,
  known: (id: string) => boolean,
  journal: () => Pick<TaskStore, "enqueue"> | null | undefined,
): (group: TaskGroup) => Promise<void> {
  return (group) =>
    Promise.try(() => {
      const store = journal();
      if (store === null) {
        throw new TypeError(
          `Cannot submit group "${group.id}": the service is being made, and a journal accepts only its tasks; submit once it is made`,
        );
      }
      if (givenIds.has(group) && known(group.id)) throw new DuplicateGroupError(group.id);
      // A task's follow-up is part of the work the drain waits for.
      return submitJournaled(runner, store, group, { whileDraining: true });
    });
}

/**
 * A bare runner's `this.submit` for tasks: the runner's submit, accepted
 * while it drains. With a journal it refuses: the group would run
 * unjournaled, lost in a crash (`createApp` gives its own).
 */
export function followUpsOf(
  runner: TaskRunner,
  journaled: boolean,
): (group: TaskGroup) => Promise<void> {
  return (group) =>
    Promise.try(() => {
      if (journaled) {
        throw new TypeError(
          `Cannot submit group "${group.id}": a runner with a journal needs submitFollowUp to journal it`,
        );
      }
      runner.submit(group, { whileDraining: true });
    });
}
