// Tasks one crash from quarantine run one at a time (a lane of one place, of
// its own): when the process dies again, the one on probation that ran is the
// one the crash counts against for the last time, not every task beside it.
// Internal to TaskRunner's scheduler; recovery puts a task on probation.
import { Fifo } from "./fifo.ts";
import type { TaskOptions } from "./task.ts";
import type { TaskEntry } from "./task_entry.ts";

/** Marks a recovered task's options: it runs on probation. */
export const PROBATION: unique symbol = Symbol("posthaste.probation");

/** A task's options, as recovery marks them. */
export type ProbationOptions = TaskOptions & { readonly [PROBATION]?: true };

/** Its options, marked: the task runs only while no other task on probation does. */
export function onProbation(options: TaskOptions | undefined): ProbationOptions {
  return { ...options, [PROBATION]: true };
}

/** Whether a task runs on probation. */
export function isOnProbation(options: TaskOptions | undefined): boolean {
  return (options as ProbationOptions | undefined)?.[PROBATION] === true;
}

/** The one place tasks on probation take in turn, and the tasks waiting for it. */
export class Probation {
  #holder: TaskEntry | undefined;
  readonly #waiting = new Fifo<TaskEntry>();

  /** Tasks waiting for the place. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** The task waiting longest. */
  oldest(): TaskEntry | undefined {
    return this.#waiting.peek();
  }

  /** Whether `entry` holds the place (taking it if free); if not, it waits. */
  take(entry: TaskEntry): boolean {
    if (this.#holder === undefined) this.#holder = entry;
    if (this.#holder === entry) return true;
    this.#waiting.push(entry);
    return false;
  }

  /** `entry` stops (ends, or waits out a backoff): the place goes to the next, returned to be run. */
  release(entry: TaskEntry): TaskEntry | undefined {
    if (this.#holder !== entry) return undefined;
    this.#holder = this.#waiting.shift();
    return this.#holder;
  }

  /** Every waiting task, for shutdown. */
  takeAll(): TaskEntry[] {
    const all: TaskEntry[] = [];
    for (let entry = this.#waiting.shift(); entry !== undefined; entry = this.#waiting.shift()) {
      all.push(entry);
    }
    this.#holder = undefined;
    return all;
  }
}
