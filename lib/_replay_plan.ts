// Dead letters made into groups again for a replay: the letters chosen by
// reason, each group's in their order, once per task id; what was left out
// is logged. Internal to runReplay.
import type { Logger } from "@logtape/logtape";
import type { ReplayLetter } from "./_dead_letter_input.ts";
import type { DeadLetter } from "./dead_letter.ts";
import type { TaskDefinition } from "./task.ts";
import { restoreTask, TaskGroup } from "./task_group.ts";

/** The groups to run, rebuilt from the letters, and what was left out. */
export interface Plan {
  groups: TaskGroup[];
  tasks: number;
  /** Letters whose task no definition names. */
  undefinedTasks: number;
}

export function planReplay(
  letters: readonly ReplayLetter[],
  reasons: readonly DeadLetter["reason"][],
  definitions: ReadonlyMap<string, TaskDefinition<never>>,
  logger: Logger,
): Plan {
  // A task's letter once: the last, should the input repeat one.
  const byGroup = new Map<string, Map<number, ReplayLetter>>();
  const leftOut = new Map<string, number>();
  const unknown = new Map<string, number>();
  let repeated = 0;
  for (const letter of letters) {
    if (!reasons.includes(letter.reason)) {
      leftOut.set(letter.reason, (leftOut.get(letter.reason) ?? 0) + 1);
    } else if (!definitions.has(letter.task)) {
      unknown.set(letter.task, (unknown.get(letter.task) ?? 0) + 1);
    } else {
      const group = byGroup.get(letter.groupId) ?? new Map<number, ReplayLetter>();
      byGroup.set(letter.groupId, group);
      if (group.has(letter.index)) repeated++;
      group.set(letter.index, letter);
    }
  }
  if (leftOut.size > 0) {
    logger.info("Left out {letters} letters for their reason ({reasons}): --reason names them", {
      letters: sum(leftOut),
      reasons: Object.fromEntries(leftOut),
    });
  }
  if (unknown.size > 0) {
    logger.error("Cannot replay {letters} letters: no task is defined with their names ({names})", {
      letters: sum(unknown),
      names: Object.fromEntries(unknown),
    });
  }
  if (repeated > 0) {
    logger.warn("{repeated} letters repeat a task id: each task is replayed once", { repeated });
  }
  let tasks = 0;
  const groups = [...byGroup].map(([id, entries]) => {
    const group = new TaskGroup({ id });
    for (const letter of [...entries.values()].sort((a, b) => a.index - b.index)) {
      const definition = definitions.get(letter.task) as TaskDefinition<unknown[]>;
      group[restoreTask](definition, letter.args, letter.index, 0);
      tasks++;
    }
    return group;
  });
  return { groups, tasks, undefinedTasks: sum(unknown) };
}

const sum = (counts: ReadonlyMap<string, number>): number =>
  [...counts.values()].reduce((total, count) => total + count, 0);
