/**
 * The process-wide runner: ordered groups, a global concurrency limit, a
 * bounded backlog, timeouts that abort, retries, dead letters and drain.
 *
 * @module
 */
import { abortable, type WaitOptions } from "./abortable.ts";
import { Backlog } from "./_backlog.ts";
import { Scheduler } from "./_scheduler.ts";
import { followUpsOf } from "./_submit.ts";
import { acceptedField } from "./_status_times.ts";
import {
  type DrainOptions,
  resolveLimits,
  type RunnerLimits,
  type SubmitOptions,
  type TaskRunnerOptions,
} from "./runner_options.ts";
import { type Clock, systemClock } from "./clock.ts";
import { RunnerStats } from "./runner_stats.ts";
import { nextTask, type TaskGroup } from "./task_group.ts";

/**
 * Runs {@linkcode TaskGroup}s: each group's tasks in order, many groups at
 * once up to `maxConcurrency`. Every task runs even if an earlier one failed;
 * each attempt gets a signal that aborts at its timeout; failed attempts are
 * retried with backoff; what finally fails goes to the dead letters.
 *
 * @example Running a group and waiting for it
 * ```ts
 * import { TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const seen: string[] = [];
 * await using runner = new TaskRunner({ retries: 0 });
 * const group = new TaskGroup()
 *   .add((word: string) => void seen.push(word), "first")
 *   .add(() => { throw new Error("boom"); })
 *   .add(async (word: string) => void seen.push(word), "third");
 * runner.submit(group);
 * await group.settled();
 * deepEqual(seen, ["first", "third"]);
 * deepEqual(group.tasks.map((task) => task.state), ["done", "failed", "done"]);
 * ```
 */
export class TaskRunner implements AsyncDisposable {
  readonly #backlog: Backlog;
  readonly #limits: Readonly<RunnerLimits>;
  readonly #clock: Clock;
  /** Runs what was admitted. */
  readonly #scheduler: Scheduler;
  /** Counters of what the runner has done. */
  readonly stats: RunnerStats = new RunnerStats();

  /**
   * Makes a runner; it needs no start and holds no timers while idle.
   *
   * @param options Limits, defaults for task options, and injected sinks.
   * @throws {RangeError} If a limit is not a positive integer.
   */
  constructor(options: TaskRunnerOptions = {}) {
    const { maxConcurrency, maxPending, defaults } = resolveLimits(options);
    this.#backlog = new Backlog(maxPending);
    this.#limits = Object.freeze({ maxConcurrency, maxPending, defaults: Object.freeze(defaults) });
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = new Scheduler({
      options,
      limits: this.#limits,
      backlog: this.#backlog,
      stats: this.stats,
      clock: this.#clock,
      submitFollowUp: options.submitFollowUp ?? followUpsOf(this, options.journal !== undefined),
    });
  }

  /** Tasks accepted and not yet finished. */
  get pending(): number {
    return this.#backlog.pending;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#scheduler.running;
  }

  /**
   * Tasks ready to run that wait for a free slot (`maxConcurrency` are
   * running) or for one of their name's or `concurrencyKey`'s, or, one
   * crash from quarantine, for their turn on probation.
   */
  get queued(): number {
    return this.#scheduler.queued;
  }

  /**
   * Milliseconds since the group of the task first in line for a free slot
   * was accepted, or 0 if none waits: how far behind the runner is.
   */
  get queueLatencyMs(): number {
    const first = this.#scheduler.firstInLine;
    return first === undefined ? 0 : Math.max(0, this.#clock.now() - first.group.acceptedAt);
  }

  /**
   * Attempts stopped at their timeout or at shutdown whose code has not
   * ended: tasks that ignore their signal, running past every limit.
   */
  get overrunning(): number {
    return this.#scheduler.overrunning;
  }

  /** The options of a task that sets none of its own. */
  get defaults(): Readonly<RunnerLimits["defaults"]> {
    return this.#limits.defaults;
  }

  /** `maxConcurrency`, `maxPending` and the task defaults, as resolved. */
  get limits(): Readonly<RunnerLimits> {
    return this.#limits;
  }

  /** Whether {@linkcode TaskRunner.drain} has begun; no group is accepted then. */
  get draining(): boolean {
    return this.#backlog.draining;
  }

  /**
   * Accepts all of a group's tasks or none of them. Accepted tasks start once
   * `options.commit` resolved (if given; if it rejects, the group is dropped)
   * and `options.after` settled (resolved or rejected), or a turn after
   * `options.response` settled, else at once.
   *
   * @param group The tasks to run, in order; it cannot grow afterwards.
   * @param options When to start.
   * @throws {AdmissionError} If the backlog is full, the group alone is larger
   * than `maxPending`, or the runner is draining (unless `whileDraining`) or
   * drained; nothing of the group is accepted then.
   * @throws {Error} If the group was submitted before.
   */
  submit(group: TaskGroup, options: SubmitOptions = {}): void {
    if (group.started) {
      throw new Error(`Cannot submit group "${group.id}": it was submitted already`);
    }
    this.#backlog.admit(group.size, options.whileDraining);
    // A recovered group keeps the time the journal holds.
    if (group.acceptedAt < 0) acceptedField.set(group, this.#clock.now());
    const first = group[nextTask]();
    if (first !== undefined) this.#scheduler.start(first, options);
  }

  /**
   * Waits until no accepted task is left unfinished.
   *
   * @param options A signal that ends the wait early (the tasks go on).
   * @returns A promise that resolves when the runner is idle, or rejects
   * with the signal's reason.
   */
  idle(options: WaitOptions = {}): Promise<void> {
    return abortable(this.#backlog.idle(), options.signal);
  }

  /**
   * Stops accepting groups and waits for every accepted task. When
   * `options.signal` aborts first, running tasks' signals abort and every
   * unfinished task is abandoned to the dead letters with reason `shutdown`.
   *
   * @param options A deadline signal, e.g. `AbortSignal.timeout(30_000)`.
   * @returns How many tasks were abandoned (0 when everything finished).
   */
  async drain(options: DrainOptions = {}): Promise<{ abandoned: number }> {
    await this.#backlog.drain(options.signal);
    return { abandoned: this.#backlog.pending > 0 ? this.#scheduler.abandonAll() : 0 };
  }

  /** Drains without a deadline, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }
}
