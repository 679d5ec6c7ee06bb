// Durable mode: an attempt runs only once its start is journaled, so that a
// crash during it is counted at restart (the crash-loop guard). A mark the
// journal refuses (a database restarting, a full disk) is no attempt: the
// task has not run, and tries again a second later. Internal to the runner.
import { Slots } from "./_slots.ts";
import type { TaskEntry } from "./task_entry.ts";
import type { TaskStore } from "./task_store.ts";

const MARK_PAUSE_MS = 1_000;
// Past this many refusals in a row (a journal that stays away, or a row it
// always refuses), the attempt counts as failed.
const MARK_TRIES = 60;

/** What the runner does once an attempt's mark is journaled or refused. */
export interface StartTarget {
  /** Runs the attempt. */
  call(entry: TaskEntry): void;
  /** The mark was refused: the task waits `pauseMs` and starts again. */
  pause(entry: TaskEntry, error: unknown, pauseMs: number): void;
  /** Refused too often: the attempt failed. */
  fail(entry: TaskEntry, error: unknown): void;
  /** Starts what the freed slot allows. */
  pump(): void;
}

/** Attempts waiting for their start to be journaled; each holds a slot. */
export class JournaledStarts {
  readonly #journal: Pick<TaskStore, "attempt">;
  readonly #target: StartTarget;
  // Not a Set: an entry comes and goes with each task (see _slots.ts).
  readonly #waiting = new Slots<TaskEntry>();
  /** Tasks whose marks the journal refused, by how many times in a row. */
  readonly #refused = new Map<TaskEntry, number>();

  constructor(journal: Pick<TaskStore, "attempt">, target: StartTarget) {
    this.#journal = journal;
    this.#target = target;
  }

  /** Attempts waiting for their marks. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Journals the attempt's start, then runs it (or pauses it, if refused). */
  start(entry: TaskEntry): void {
    const waiting = this.#waiting.add(entry);
    this.#journal.attempt(entry).then(
      () => {
        if (!this.#answered(waiting, entry)) return;
        this.#refused.delete(entry);
        this.#target.call(entry);
        this.#target.pump(); // outside the pump loop now: a sync task's successor must start here
      },
      (error) => {
        if (!this.#answered(waiting, entry)) return;
        this.#refuse(entry, error);
        this.#target.pump();
      },
    );
  }

  /** Forgets every attempt still waiting (shutdown abandons them) and every count. */
  takeAll(): TaskEntry[] {
    this.#refused.clear();
    return this.#waiting.takeAll();
  }

  #answered(waiting: number, entry: TaskEntry): boolean {
    this.#waiting.take(waiting);
    return entry.state !== "abandoned";
  }

  #refuse(entry: TaskEntry, error: unknown): void {
    const refused = (this.#refused.get(entry) ?? 0) + 1;
    if (refused >= MARK_TRIES) {
      this.#refused.delete(entry);
      return this.#target.fail(entry, error);
    }
    this.#refused.set(entry, refused);
    entry.attempts--;
    entry.state = "queued";
    this.#target.pause(entry, error, MARK_PAUSE_MS);
  }
}
