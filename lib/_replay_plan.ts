// Dead letters made into groups again for a replay: the letters chosen by
// reason on the command line, each group's in their order, once per task id;
// what was left out is logged. Internal to runReplay.
import type { Logger } from "@logtape/logtape";
import { parseArgs } from "node:util";
import { REASONS, type ReplayLetter } from "./_dead_letter_input.ts";
import type { DeadLetter } from "./dead_letter.ts";
import type { TaskDefinition } from "./task.ts";
import { restoreTask, TaskGroup } from "./task_group.ts";

// A task that crashed the process again and again is replayed only when asked
// for; an unreadable one's arguments are gone.
const DEFAULT_REASONS: readonly DeadLetter["reason"][] = ["failed", "shutdown", "unknown_task"];

/** The command line's choices. */
export interface Choices {
  reasons: readonly DeadLetter["reason"][];
  /** Only say what would be replayed. */
  dryRun: boolean;
}

/** What the command line asks for: `--reason=a,b` (repeatable) and `--dry-run`. */
export function choices(args: readonly string[]): Choices {
  let values: { reason?: string[] | undefined; "dry-run"?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: { reason: { type: "string", multiple: true }, "dry-run": { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new Error(
      `Cannot replay: ${
        (error as Error).message
      } (its options: --reason=failed,shutdown,… and --dry-run)`,
    );
  }
  const [path] = positionals;
  if (path !== undefined) {
    // A path would need a read grant of its own; standard input needs none.
    throw new Error(
      `Cannot replay ${
        JSON.stringify(path)
      }: give the letters on standard input (deno task replay < ${path})`,
    );
  }
  return { reasons: chosenReasons(values.reason), dryRun: values["dry-run"] ?? false };
}

function chosenReasons(values: string[] | undefined): DeadLetter["reason"][] {
  if (values === undefined) return [...DEFAULT_REASONS];
  const reasons = values.flatMap((value) => value.split(","));
  for (const reason of reasons) {
    if (reason === "unreadable") {
      throw new Error(
        "Cannot replay unreadable letters: their arguments could not be read from the journal",
      );
    }
    if (!(REASONS as readonly string[]).includes(reason)) {
      throw new Error(
        `Cannot replay: --reason ${JSON.stringify(reason)} is not one of ${
          REASONS.filter((known) => known !== "unreadable").join(", ")
        }`,
      );
    }
  }
  return reasons as DeadLetter["reason"][];
}

/** The groups to run, each its letters in order, and what was left out. */
export interface Plan {
  groups: ReplayLetter[][];
  tasks: number;
  /** How many of the tasks each task name has. */
  names: Record<string, number>;
  /** Letters whose task no definition names. */
  undefinedTasks: number;
}

/** Chooses the letters by `reasons`, keeps those of defined tasks, once per task id, and groups them. */
export function planReplay(
  letters: readonly ReplayLetter[],
  reasons: readonly DeadLetter["reason"][],
  definitions: ReadonlyMap<string, TaskDefinition<never>>,
  logger: Logger,
): Plan {
  // A task's letter once: the last, should the input repeat one.
  const byGroup = new Map<string, ReplayLetter[]>();
  const leftOut = new Map<string, number>();
  const unknown = new Map<string, number>();
  let repeated = 0;
  for (const letter of letters) {
    if (!reasons.includes(letter.reason)) {
      leftOut.set(letter.reason, (leftOut.get(letter.reason) ?? 0) + 1);
    } else if (!definitions.has(letter.task)) {
      unknown.set(letter.task, (unknown.get(letter.task) ?? 0) + 1);
    } else {
      const group = byGroup.get(letter.groupId);
      if (group === undefined) byGroup.set(letter.groupId, [letter]);
      else {
        // A group's letters are few: a look through them is cheaper than a map each.
        const at = group.findIndex(({ index }) => index === letter.index);
        if (at < 0) group.push(letter);
        else {
          group[at] = letter;
          repeated++;
        }
      }
    }
  }
  if (leftOut.size > 0) {
    logger.info("Left out {letters} letters for their reason ({reasons}): --reason names them", {
      letters: sum(leftOut),
      reasons: Object.fromEntries(leftOut),
    });
  }
  if (unknown.size > 0) {
    logger.error(
      "Cannot replay {letters} letters: none of the service's tasks has their names ({names}); a replay runs the defineTask definitions listed in its tasks",
      {
        letters: sum(unknown),
        names: Object.fromEntries(unknown),
      },
    );
  }
  if (repeated > 0) {
    logger.warn("{repeated} letters repeat a task id: each task is replayed once", { repeated });
  }
  // Made into groups as they are submitted: no more are held than run.
  const groups = [...byGroup.values()];
  for (const group of groups) group.sort((a, b) => a.index - b.index);
  const names: Record<string, number> = {};
  for (const group of groups) for (const { task } of group) names[task] = (names[task] ?? 0) + 1;
  const tasks = groups.reduce((total, group) => total + group.length, 0);
  return { groups, tasks, names, undefinedTasks: sum(unknown) };
}

/** The group that `letters` (one group's, in order) were dead letters of; each task keeps its id. */
export function groupOf(
  letters: readonly ReplayLetter[],
  definitions: ReadonlyMap<string, TaskDefinition<never>>,
): TaskGroup {
  const group = new TaskGroup({ id: (letters[0] as ReplayLetter).groupId });
  for (const { task, args, index } of letters) {
    // planReplay kept only the letters of defined tasks.
    group[restoreTask](definitions.get(task) as TaskDefinition<unknown[]>, args, index, 0);
  }
  return group;
}

const sum = (counts: ReadonlyMap<string, number>): number =>
  [...counts.values()].reduce((total, count) => total + count, 0);
