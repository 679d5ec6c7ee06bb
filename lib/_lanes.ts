// Per-task concurrency (`TaskOptions.concurrency`): how many attempts of each
// limited task's name run, and the tasks of that name waiting for one to end.
// Internal to TaskRunner, which keeps the global limit itself.
import { Fifo } from "./fifo.ts";
import type { TaskEntry } from "./task_entry.ts";

interface Lane {
  running: number;
  readonly waiting: Fifo<TaskEntry>;
}

/**
 * One lane per limited task name. A task that finds its lane full waits in
 * it, out of the runner's ready queue, so that it holds back no task of
 * another name; its group's later tasks wait behind it, as for any task.
 */
export class Lanes {
  readonly #lanes = new Map<string, Lane>();
  /** Tasks waiting in a lane. */
  waiting = 0;

  /**
   * Takes a place in the lane of a task with a `concurrency` of its own
   * (`limit`), or parks the task there when its lane is full.
   *
   * @returns Whether the task may start now.
   */
  take(entry: TaskEntry, limit: number): boolean {
    let lane = this.#lanes.get(entry.name);
    if (lane === undefined) this.#lanes.set(entry.name, lane = { running: 0, waiting: new Fifo() });
    if (lane.running < limit) {
      lane.running++;
      return true;
    }
    lane.waiting.push(entry);
    this.waiting++;
    return false;
  }

  /**
   * Gives back the place a limited task's attempt held: it ended, or stopped
   * running for a while (a backoff, a refused journal mark).
   *
   * @returns The task of that name that waited longest, to queue, if any.
   */
  release(entry: TaskEntry): TaskEntry | undefined {
    const lane = this.#lanes.get(entry.name);
    if (lane === undefined) return undefined;
    lane.running--;
    const next = lane.waiting.shift();
    // Lanes stay once made (one per limited name): a Map whose entries come and go is slow to collect.
    if (next !== undefined) this.waiting--;
    return next;
  }

  /** The task that has waited longest in any lane, for the queue's latency. */
  oldest(): TaskEntry | undefined {
    let oldest: TaskEntry | undefined;
    for (const { waiting } of this.#lanes.values()) {
      const first = waiting.peek();
      if (first && (!oldest || first.group.acceptedAt < oldest.group.acceptedAt)) oldest = first;
    }
    return oldest;
  }

  /** Every waiting task, for shutdown; the lanes are empty after. */
  takeAll(): TaskEntry[] {
    const all: TaskEntry[] = [];
    for (const { waiting } of this.#lanes.values()) {
      for (let entry = waiting.shift(); entry !== undefined; entry = waiting.shift()) {
        all.push(entry);
      }
    }
    this.#lanes.clear();
    this.waiting = 0;
    return all;
  }
}
