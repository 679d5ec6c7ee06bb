/**
 * Durable mode's work that did not fit the backlog at start-up, submitted
 * once there is room.
 *
 * @module
 */
import { AdmissionError } from "./admission_error.ts";
import { restore, submitRestored } from "./_restore.ts";
import type { RecoverOptions, RecoverResult } from "./recovery.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * Options for {@linkcode DeferredRecovery}.
 *
 * @example Pages of one group
 * ```ts
 * import { DeferredRecovery, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const pages: [string, number][] = [];
 * const deferred = new DeferredRecovery({
 *   store: { list: (after, groups) => (pages.push([after, groups]), []), fail: () => {} },
 *   definitions: new Map(),
 *   runner: new TaskRunner(),
 *   deadLetter: () => {},
 *   known: () => false,
 *   pageSize: 1,
 * });
 * await deferred.resume();
 * deepEqual(pages, [["", 1]]);
 * ```
 */
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
 * room. It walks the journal once, in its order, skipping groups the runner
 * already has (twice or more if {@linkcode DeferredRecovery.again} is called).
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
  // More was deferred during the walk: at the journal's end it starts over.
  #again = false;
  readonly #tooLarge = new Set<string>();
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
   * More work was deferred while this walk is under way (another look at the
   * journal), perhaps before its place: at the journal's end the walk starts
   * over, skipping the groups the runner has, rather than pass that work by.
   *
   * @example Walking twice
   * ```ts
   * import { DeferredRecovery, TaskRunner } from "./mod.ts";
   * import { deepEqual } from "node:assert/strict";
   *
   * const pages: string[] = [];
   * const deferred = new DeferredRecovery({
   *   store: { list: (after) => (pages.push(after), []), fail: () => {} },
   *   definitions: new Map(),
   *   runner: new TaskRunner(),
   *   deadLetter: () => {},
   *   known: () => false,
   * });
   * deferred.again();
   * await deferred.resume();
   * deepEqual(pages, ["", ""]);
   * ```
   */
  again(): void {
    this.#again = true;
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
        if (this.#again) {
          [this.#again, this.#after] = [false, ""];
          continue;
        }
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
          if (error.reason !== "too_large") return;
          if (!this.#tooLarge.has(id)) this.#result.deferred += size; // once, however many walks
          this.#tooLarge.add(id);
        }
        this.#after = id;
      }
      this.#after = tasks.at(-1)?.groupId ?? this.#after;
    }
  }
}
