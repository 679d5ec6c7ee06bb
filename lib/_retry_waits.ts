// Tasks waiting out a retry's backoff (or a pause the journal asked for),
// each on a timer of the runner's clock. Internal to TaskRunner.
import type { Clock } from "./clock.ts";
import type { TaskEntry } from "./task_entry.ts";

/** Queues each task again when its wait ends; shutdown takes them all back. */
export class RetryWaits {
  readonly #timers = new Map<TaskEntry, unknown>();
  readonly #clock: Pick<Clock, "setTimeout" | "clearTimeout">;
  readonly #due: (entry: TaskEntry) => void;

  constructor(clock: Pick<Clock, "setTimeout" | "clearTimeout">, due: (entry: TaskEntry) => void) {
    this.#clock = clock;
    this.#due = due;
  }

  /** Calls `due(entry)` after `ms`. */
  add(entry: TaskEntry, ms: number): void {
    const retry = (): void => {
      this.#timers.delete(entry);
      this.#due(entry);
    };
    this.#timers.set(entry, this.#clock.setTimeout(retry, ms));
  }

  /** Stops every wait: the tasks that were waiting, in the order they began. */
  takeAll(): TaskEntry[] {
    for (const timer of this.#timers.values()) this.#clock.clearTimeout(timer);
    const entries = [...this.#timers.keys()];
    this.#timers.clear();
    return entries;
  }
}
