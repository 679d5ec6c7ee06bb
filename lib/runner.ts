/**
 * The process-wide runner: ordered groups, a global concurrency limit, a
 * bounded backlog, timeouts that abort, retries, dead letters and drain.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Attempt, type AttemptDone, isThenable } from "./_attempt.ts";
import { abortable, type WaitOptions } from "./abortable.ts";
import { type Final, Outcomes } from "./_outcomes.ts";
import { Backlog } from "./_backlog.ts";
import { type GateTarget, startGate } from "./_start_gate.ts";
import {
  type DrainOptions,
  resolveLimits,
  type SubmitOptions,
  type TaskRunnerOptions,
} from "./runner_options.ts";
import { backoffDelay } from "./backoff.ts";
import { type Clock, monotonicClock, systemClock } from "./clock.ts";
import { Fifo } from "./fifo.ts";
import { RunnerStats } from "./runner_stats.ts";
import { TimeoutQueue } from "./timeout_queue.ts";
import type { TaskOptions } from "./task.ts";
import { nextTask, type TaskEntry, type TaskGroup } from "./task_group.ts";

// A refused attempt mark is tried again a second later, up to a minute of refusals.
const MARK_PAUSE_MS = 1_000;
const MARK_TRIES = 60;

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
  #maxConcurrency: number;
  #backlog: Backlog;
  #defaults: Required<TaskOptions>;
  /** Hooks and sinks, read where they are used. */
  #options: TaskRunnerOptions;
  #clock: Clock;
  #outcomes: Outcomes;

  #timeouts: TimeoutQueue;
  #ready = new Fifo<TaskEntry>();
  /** First tasks of groups whose response is not delivered yet. */
  #waiting = new Set<TaskEntry>();
  #active = new Map<TaskEntry, Attempt>();
  /** Attempts waiting for their start to be journaled; they hold a slot. */
  #journaling = new Set<TaskEntry>();
  #backoff = new Map<TaskEntry, unknown>();
  /** Tasks whose attempt marks the journal refused, by how many times in a row. */
  #refusedMarks = new Map<TaskEntry, number>();
  /** Where the start gate of every waiting group reports. */
  #gate: GateTarget<TaskEntry> = {
    start: (first) => this.#waiting.delete(first) && this.#enqueue(first),
    drop: (first) => this.#drop(first),
    lost: (first, error) => this.#outcomes.responseLost(first.group, error),
  };
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
    this.#maxConcurrency = maxConcurrency;
    this.#backlog = new Backlog(maxPending);
    this.#defaults = Object.freeze(defaults);
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    // Deadlines on a monotonic clock: a step of the wall clock must not move them.
    this.#timeouts = new TimeoutQueue(options.clock ?? monotonicClock);
    const logger = options.logger ?? getLogger(["posthaste", "runner"]);
    this.#outcomes = new Outcomes(options, this.stats, this.#clock, logger);
  }

  /** Tasks accepted and not yet finished. */
  get pending(): number {
    return this.#backlog.pending;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#active.size + this.#journaling.size;
  }

  /** The options of a task that sets none of its own. */
  get defaults(): Readonly<Required<TaskOptions>> {
    return this.#defaults;
  }

  /** Whether {@linkcode TaskRunner.drain} has begun; no group is accepted then. */
  get draining(): boolean {
    return this.#backlog.draining;
  }

  /**
   * Accepts all of a group's tasks or none of them. Accepted tasks start once
   * `options.commit` resolved (if given; if it rejects, the group is dropped)
   * and `options.after` settled (resolved or rejected), else at once.
   *
   * @param group The tasks to run, in order; it cannot grow afterwards.
   * @param options When to start.
   * @throws {AdmissionError} If the backlog is full or the runner is draining;
   * nothing of the group is accepted then.
   * @throws {Error} If the group was submitted before.
   */
  submit(group: TaskGroup, options: SubmitOptions = {}): void {
    if (group.started) {
      throw new Error(`Cannot submit group "${group.id}": it was submitted already`);
    }
    this.#backlog.admit(group.size);
    const first = group[nextTask]();
    if (first === undefined) return;
    this.#outcomes.hook("onGroupAccepted", group);
    const { after, commit } = options;
    if (after === undefined && commit === undefined) return this.#enqueue(first);
    this.#waiting.add(first);
    startGate(options, this.#gate, first);
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
    return { abandoned: this.#backlog.pending > 0 ? this.#abandonAll() : 0 };
  }

  /** Drains without a deadline, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  #enqueue(entry: TaskEntry): void {
    this.#ready.push(entry);
    this.#pump();
  }

  #pump(): void {
    while (this.running < this.#maxConcurrency) {
      const entry = this.#ready.shift();
      if (entry === undefined) return;
      this.#run(entry);
    }
  }

  /**
   * Starts one attempt. A task that returns no promise finishes right here,
   * with no timer, listener or promise; the caller's loop runs the next one.
   */
  #run(entry: TaskEntry): void {
    entry.state = "running";
    entry.attempts++;
    // The first attempt in this process (a resumed task may have tried before a restart).
    if (entry.startedAt < 0) {
      entry.startedAt = this.#clock.now();
      this.stats.started++;
    }
    const { journal } = this.#options;
    if (journal === undefined) return this.#call(entry);
    // Durable: the attempt runs only once its start is journaled, so that a
    // crash during it is counted at restart (the crash-loop guard).
    this.#journaling.add(entry);
    journal.attempt(entry).then(
      () => {
        if (!this.#journaled(entry)) return;
        this.#refusedMarks.delete(entry);
        this.#call(entry);
        this.#pump(); // outside the pump loop now: a sync task's successor must be started here
      },
      (error) => {
        if (!this.#journaled(entry)) return;
        this.#markRefused(entry, error);
        this.#pump();
      },
    );
  }

  #journaled(entry: TaskEntry): boolean {
    this.#journaling.delete(entry);
    return entry.state !== "abandoned";
  }

  #call(entry: TaskEntry): void {
    const attempt = new Attempt(entry, this.#options.tracer);
    let result: unknown;
    try {
      result = attempt.call();
    } catch (error) {
      attempt.end(true, error);
      return this.#attemptFailed(entry, error);
    }
    if (!isThenable(result)) {
      attempt.end(false);
      return this.#finish(entry, "done");
    }

    this.#active.set(entry, attempt);
    const timeout = entry.options?.timeout ?? this.#defaults.timeout;
    attempt.watchWithDeadline(result, this.#timeouts, timeout, this.#attemptDone);
  }

  /** Where every watched attempt reports: one function, not a closure per attempt. */
  #attemptDone: AttemptDone = (entry, attempt, failed, error) => {
    this.#active.delete(entry);
    // Shutdown gave up on this task while it ran; it is already reported.
    const abandoned = entry.state === "abandoned";
    attempt.end(failed, error, abandoned);
    if (abandoned) return;
    if (failed) this.#attemptFailed(entry, error);
    else this.#finish(entry, "done");
    this.#pump();
  };

  #attemptFailed(entry: TaskEntry, error: unknown): void {
    const { retries, retryDelay, maxRetryDelay } = { ...this.#defaults, ...entry.options };
    const willRetry = entry.attempts <= retries;
    this.#outcomes.attemptFailed(entry, error, willRetry);
    if (!willRetry) return this.#finish(entry, "failed");
    const delay = backoffDelay(entry.attempts, retryDelay, maxRetryDelay);
    this.#outcomes.retrying(entry, this.#clock.now() + delay);
    this.#later(entry, delay);
  }

  /**
   * The journal could not record an attempt's start (a database restarting,
   * a full disk): the task did not run, so that was no attempt, and it tries
   * again a second later. Past MARK_TRIES refusals in a row (a journal that
   * stays away, or a row it always refuses) the attempt counts as failed.
   */
  #markRefused(entry: TaskEntry, error: unknown): void {
    const refused = (this.#refusedMarks.get(entry) ?? 0) + 1;
    if (refused >= MARK_TRIES) {
      this.#refusedMarks.delete(entry);
      return this.#attemptFailed(entry, error);
    }
    this.#refusedMarks.set(entry, refused);
    entry.attempts--;
    entry.state = "queued";
    this.#outcomes.markRefused(entry, error, MARK_PAUSE_MS);
    this.#later(entry, MARK_PAUSE_MS);
  }

  /** Queues the task again after `ms` (shutdown abandons it meanwhile). */
  #later(entry: TaskEntry, ms: number): void {
    const retry = (): void => {
      this.#backoff.delete(entry);
      this.#enqueue(entry);
    };
    this.#backoff.set(entry, this.#clock.setTimeout(retry, ms));
  }

  /** Records a final state, then queues the group's next task (or abandons the rest). */
  #finish(entry: TaskEntry, state: Final): void {
    this.#settle(entry, state);
    const { group } = entry;
    let next = group[nextTask]();
    if (state === "abandoned") {
      for (; next !== undefined; next = group[nextTask]()) this.#settle(next, "abandoned");
    }
    if (next !== undefined) this.#ready.push(next);
    else this.#outcomes.hook("onGroupSettled", group);
  }

  #settle(entry: TaskEntry, state: Final): void {
    this.#backlog.settle();
    this.#outcomes.settled(entry, state);
  }

  #abandonAll(): number {
    const before = this.stats.abandoned;
    const reason = new DOMException("Shutdown deadline passed", "AbortError");
    const running = [...this.#active];
    this.#active.clear();
    // Marked abandoned before the abort, so the attempt's own settling ignores it.
    for (const [entry] of running) this.#finish(entry, "abandoned");
    for (const [, attempt] of running) attempt.abort(reason);
    for (const [entry, timer] of this.#backoff) {
      this.#clock.clearTimeout(timer);
      this.#finish(entry, "abandoned");
    }
    this.#backoff.clear();
    this.#refusedMarks.clear();
    for (let entry = this.#ready.shift(); entry !== undefined; entry = this.#ready.shift()) {
      this.#finish(entry, "abandoned");
    }
    for (const entry of this.#waiting) this.#finish(entry, "abandoned");
    this.#waiting.clear();
    for (const entry of this.#journaling) this.#finish(entry, "abandoned");
    this.#journaling.clear();
    return this.stats.abandoned - before;
  }

  /** A group whose journal commit failed: its client got no 202, so it never existed. */
  #drop(first: TaskEntry): void {
    if (!this.#waiting.delete(first)) return;
    const { group } = first;
    for (let entry = first; entry !== undefined; entry = group[nextTask]() as TaskEntry) {
      entry.state = "abandoned";
    }
    this.#backlog.settle(group.size);
    this.#outcomes.hook("onGroupSettled", group);
  }
}
