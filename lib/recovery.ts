/**
 * Start-up in durable mode: the journal's unfinished tasks run again.
 *
 * @module
 */
import { abortable } from "./abortable.ts";
import { AdmissionError } from "./admission_error.ts";
import { type Clock, systemClock } from "./clock.ts";
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
 * @example Nothing to recover
 * ```ts
 * import { definitionsByName, type RecoverResult, recoverTasks, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * const result: RecoverResult = await recoverTasks({
 *   store: { recover: () => [], fail: () => {} },
 *   definitions: definitionsByName(),
 *   runner,
 *   deadLetter: () => {},
 * });
 * deepEqual(result, { resumed: 0, deadLettered: 0, deferred: 0 });
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
 * @param definitions Definitions of any argument types.
 * @returns The map; of two with one name, the later wins.
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

interface Restored {
  group: TaskGroup;
  nextAt: number;
}

/** Rebuilds groups from journaled tasks; quarantined and unknown tasks go to the dead letters. */
async function restore(
  tasks: StoredTask[],
  { store, definitions, deadLetter }: Pick<RecoverOptions, "definitions" | "deadLetter"> & {
    store: Pick<TaskStore, "fail">;
  },
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
  return { groups: [...groups.values()], deadLettered };
}

/** Submits a restored group; a retry's backoff carries on instead of starting over. */
function submitRestored(
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
  const tasks = await abortable(Promise.resolve(store.recover(crashLimit)), signal);
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

/** Options for {@linkcode DeferredRecovery}. */
export interface DeferredRecoveryOptions
  extends Omit<RecoverOptions, "store" | "crashLimit" | "signal"> {
  /** The journal. */
  store: Pick<TaskStore, "list" | "fail">;
  /** Whether the runner has had the group since start-up (resumed or accepted then). */
  known: (groupId: string) => boolean;
  /** Groups read from the journal at a time. @default {256} */
  pageSize?: number;
}

/**
 * Submits the journal's unfinished groups that {@linkcode recoverTasks} left
 * queued because the backlog was full (`MAX_PENDING` was lowered across the
 * restart): call {@linkcode DeferredRecovery.resume} whenever the runner has
 * room. It walks the journal once, in group order, skipping groups the runner
 * already has.
 *
 * @example Walking an empty journal
 * ```ts
 * import { DeferredRecovery, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const deferred = new DeferredRecovery({
 *   store: { list: () => [], fail: () => {} },
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 *   known: () => false,
 * });
 * await deferred.resume();
 * deepEqual(await deferred.finished, { resumed: 0, deadLettered: 0, deferred: 0 });
 * ```
 */
export class DeferredRecovery {
  readonly #options: DeferredRecoveryOptions;
  readonly #result: RecoverResult = { resumed: 0, deadLettered: 0, deferred: 0 };
  readonly #finished = Promise.withResolvers<RecoverResult>();
  // The journal has been walked up to this group id.
  #after = "";
  #done = false;
  #walking: Promise<void> | undefined;

  /**
   * Starts at the journal's first group; nothing is read before {@linkcode DeferredRecovery.resume}.
   *
   * @param options The journal, the definitions, the runner, and which groups it has.
   */
  constructor(options: DeferredRecoveryOptions) {
    this.#options = options;
  }

  /** Whether the walk reached the journal's end. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Resolves once the walk reached the journal's end, with what it resumed,
   * dead-lettered, and left queued (groups larger than `maxPending`).
   */
  get finished(): Promise<RecoverResult> {
    return this.#finished.promise;
  }

  /**
   * Submits deferred groups, in journal order, while the runner admits them.
   * A call while a walk is under way joins it.
   *
   * @returns A promise that settles when this walk stops (no room, draining,
   * or the journal's end); it rejects if the journal cannot be read.
   */
  resume(): Promise<void> {
    this.#walking ??= this.#walk().finally(() => this.#walking = undefined);
    return this.#walking;
  }

  async #walk(): Promise<void> {
    const { store, runner, known, pageSize = 256 } = this.#options;
    while (!this.#done && !runner.draining) {
      const tasks = await store.list(this.#after, pageSize);
      if (tasks.length === 0) {
        this.#done = true;
        this.#finished.resolve(this.#result);
        return;
      }
      const { groups, deadLettered } = await restore(
        tasks.filter((task) => !known(task.groupId)),
        this.#options,
      );
      this.#result.deadLettered += deadLettered;
      for (const restored of groups) {
        const { size, id } = restored.group;
        try {
          submitRestored(runner, restored, this.#options.clock);
          this.#result.resumed += size;
        } catch (error) {
          if (!(error instanceof AdmissionError)) throw error;
          // Full: wait for room, from this group on. A group that can never fit stays queued.
          if (error.reason === "draining" || size <= error.limit) return;
          this.#result.deferred += size;
        }
        this.#after = id;
      }
      this.#after = tasks.at(-1)?.groupId ?? this.#after;
    }
  }
}
