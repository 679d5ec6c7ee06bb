/**
 * The runner's admission: how many tasks are pending, the limit, draining,
 * and waiting for the count to reach zero.
 *
 * @module
 */
import { abortable } from "./abortable.ts";
import { AdmissionError } from "./admission_error.ts";

/** Counts accepted, unfinished tasks against `maxPending`. */
export class Backlog {
  readonly #max: number;
  #pending = 0;
  #draining = false;
  // Drained (nothing left, or the deadline passed): not even a follow-up is admitted.
  #closed = false;
  #idle: (() => void)[] = [];

  /** @param max The most tasks that may be pending at once. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Tasks accepted and not yet finished. */
  get pending(): number {
    return this.#pending;
  }

  /** Whether draining began; only follow-ups are admitted then, until it ends. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Admits `size` tasks, all or none.
   *
   * @param whileDraining Admit them while draining too (a follow-up of
   * accepted work, which the drain then waits for), though not once it ended.
   * @throws {AdmissionError} If draining (or drained), or if they do not fit
   * (now, or ever: `too_large`).
   */
  admit(size: number, whileDraining = false): void {
    if (this.#closed || (this.#draining && !whileDraining)) {
      throw new AdmissionError("draining", this.#pending, this.#max);
    }
    if (this.#pending + size > this.#max) {
      const reason = size > this.#max ? "too_large" : "backlog_full";
      throw new AdmissionError(reason, this.#pending, this.#max, size);
    }
    this.#pending += size;
  }

  /**
   * Tasks finished (or were dropped); wakes the idle waiters at zero.
   *
   * @param count How many. @default {1}
   */
  settle(count = 1): void {
    this.#pending -= count;
    if (this.#pending > 0) return;
    if (this.#draining) this.#closed = true;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once nothing is pending. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stops admitting, then waits until nothing is pending or `signal` aborts.
   *
   * @param signal Ends the wait early.
   */
  async drain(signal?: AbortSignal): Promise<void> {
    this.#draining = true;
    if (this.#pending === 0) this.#closed = true;
    // The abort ends only the wait: the caller then deals with what is left.
    await abortable(this.idle(), signal).catch((error) => {
      if (!signal?.aborted) throw error;
    });
    this.#closed = true;
  }
}
