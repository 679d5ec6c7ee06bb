// Room kept for deferred work: journaled work that did not fit the backlog
// (at start-up, or adopted from a dead server) resumes once half the backlog
// is free. New requests that kept it above half would starve that older,
// accepted work for as long as they came; so while any waits, new work (a
// request's group, App.submit's) is admitted only into the first half, and a
// task's follow-up, which continues accepted work, takes any room. Internal.
import { AdmissionError } from "./admission_error.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * The journal as new work sees it, refusing a request's (or App.submit's) group as
 * `backlog_full` while `deferring()` and the backlog, with the group, would
 * be above half of `maxPending`. The runner has admitted the group by then:
 * the refusal rejects its commit, which drops it.
 *
 * @param journal The journal the handler writes to.
 * @param pending The runner's pending count (the group included).
 * @param maxPending The runner's backlog.
 * @param deferring Whether deferred work waits in the journal.
 */
export function keepingRoom(
  journal: Pick<TaskStore, "enqueue">,
  pending: () => number,
  maxPending: number,
  deferring: () => boolean,
): Pick<TaskStore, "enqueue"> {
  const half = Math.floor(maxPending / 2);
  return {
    enqueue(group: TaskGroup): Promise<void> {
      if (pending() > half && deferring()) {
        const before = pending() - group.size;
        throw Object.assign(new AdmissionError("backlog_full", before, maxPending, group.size), {
          message:
            `Cannot accept tasks: half the backlog is kept for deferred work from the journal (${before} of ${maxPending} pending, ${half} for new work)`,
        });
      }
      return journal.enqueue(group);
    },
  };
}
