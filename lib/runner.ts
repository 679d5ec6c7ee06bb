/**
 * The process-wide runner: ordered groups, a global concurrency limit, a
 * bounded backlog, timeouts that abort, retries, dead letters and drain.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Attempt, type AttemptDone, isThenable } from "./_attempt.ts";
import { readable } from "./_thrown.ts";
import { abortable, type WaitOptions } from "./abortable.ts";
import { type Final, Outcomes } from "./_outcomes.ts";
import { Overruns } from "./_overruns.ts";
import { Backlog } from "./_backlog.ts";
import { JournaledStarts } from "./_journaled_starts.ts";
import { followUpsOf } from "./_submit.ts";
import { acceptedField } from "./_status_times.ts";
import { WaitingItems } from "./_start_gate.ts";
import {
  type DrainOptions,
  resolveLimits,
  type RunnerLimits,
  type SubmitOptions,
  type TaskRunnerOptions,
} from "./runner_options.ts";
import { retryDelay } from "./_retry_plan.ts";
import { type Clock, monotonicClock, systemClock } from "./clock.ts";
import { Fifo } from "./fifo.ts";
import { Lanes } from "./_lanes.ts";
import { Slots } from "./_slots.ts";
import { RetryWaits } from "./_retry_waits.ts";
import { RunnerStats } from "./runner_stats.ts";
import { TimeoutQueue } from "./timeout_queue.ts";
import type { TaskOptions } from "./task.ts";
import { nextTask, type TaskEntry, type TaskGroup } from "./task_group.ts";

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
  #backlog: Backlog;
  #limits: Readonly<RunnerLimits>;
  /** Hooks and sinks, read where they are used. */
  #options: TaskRunnerOptions;
  #clock: Clock;
  #outcomes: Outcomes;
  #overruns: Overruns;

  #timeouts: TimeoutQueue;
  #ready = new Fifo<TaskEntry>();
  /** Tasks with a `concurrency` of their own: their running counts, and those waiting. */
  #lanes = new Lanes();
  /** First tasks of groups whose response is not delivered yet. */
  #waiting = new WaitingItems<TaskEntry>({
    start: (first) => this.#enqueue(first),
    drop: (first) => this.#drop(first),
    lost: (first, error) => this.#outcomes.responseLost(first.group, error),
  });
  // Not a Map: an attempt comes and goes with each task (see _slots.ts).
  #active = new Slots<Attempt>();
  /** Durable mode: attempts waiting for their start to be journaled. */
  #starts: JournaledStarts | undefined;
  /** Tasks waiting out a backoff, or a pause the journal asked for. */
  #retries: RetryWaits;
  /** A task's `this.submit`: one function for every attempt. */
  readonly #submitFollowUp: (group: TaskGroup) => Promise<void>;
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
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#retries = new RetryWaits(this.#clock, (entry) => this.#enqueue(entry));
    // Deadlines on a monotonic clock: a step of the wall clock must not move them.
    const monotonic = options.clock ?? monotonicClock;
    this.#timeouts = new TimeoutQueue(monotonic);
    const logger = options.logger ?? getLogger(["posthaste", "runner"]);
    this.#outcomes = new Outcomes(options, this.stats, this.#clock, logger);
    this.#overruns = new Overruns(monotonic, logger);
    this.#submitFollowUp = options.submitFollowUp ??
      followUpsOf(this, options.journal !== undefined);
    if (options.journal === undefined) return;
    this.#starts = new JournaledStarts(options.journal, {
      call: (entry) => {
        this.#outcomes.markJournaled();
        this.#call(entry);
      },
      pause: (entry, error, pauseMs) => {
        this.#outcomes.markRefused(entry, error, pauseMs);
        this.#leaveLane(entry);
        this.#retries.add(entry, pauseMs);
      },
      fail: (entry, error) => this.#attemptFailed(entry, error),
      pump: () => this.#pump(),
    });
  }

  /** Tasks accepted and not yet finished. */
  get pending(): number {
    return this.#backlog.pending;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#active.size + (this.#starts?.size ?? 0);
  }

  /**
   * Tasks ready to run that wait for a free slot (`maxConcurrency` are
   * running) or for one of their name's (its `concurrency` are running).
   */
  get queued(): number {
    return this.#ready.length + this.#lanes.waiting;
  }

  /**
   * Milliseconds since the group of the task first in line for a free slot
   * was accepted, or 0 if none waits: how far behind the runner is.
   */
  get queueLatencyMs(): number {
    let first = this.#ready.peek();
    const laned = this.#lanes.oldest();
    if (laned && (!first || laned.group.acceptedAt < first.group.acceptedAt)) first = laned;
    return first === undefined ? 0 : Math.max(0, this.#clock.now() - first.group.acceptedAt);
  }

  /**
   * Attempts stopped at their timeout or at shutdown whose code has not
   * ended: tasks that ignore their signal, running past every limit.
   */
  get overrunning(): number {
    return this.#overruns.size;
  }

  /** The options of a task that sets none of its own. */
  get defaults(): Readonly<Record<Exclude<keyof TaskOptions, "concurrency">, number>> {
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
   * and `options.after` settled (resolved or rejected), else at once.
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
    if (first === undefined) return;
    this.#outcomes.accepted(group);
    const { after, commit } = options;
    if (after === undefined && commit === undefined) return this.#enqueue(first);
    this.#waiting.add(options, first);
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
    // With nothing ahead and room, straight to its run: a queue that
    // empties on every task would give up its array each time.
    if (this.#ready.length > 0 || this.running >= this.#limits.maxConcurrency) {
      this.#ready.push(entry);
    } else this.#run(entry);
    this.#pump();
  }

  #pump(): void {
    while (this.running < this.#limits.maxConcurrency) {
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
    // A name's lane full: the task waits there.
    const limit = entry.options?.concurrency;
    if (limit !== undefined && !this.#lanes.take(entry, limit)) return;
    entry.state = "running";
    entry.attempts++;
    // The first attempt in this process (a resumed task may have tried before a restart).
    if (entry.startedAt < 0) {
      entry.startedAt = this.#clock.now();
      this.stats.started++;
    }
    if (this.#starts === undefined) return this.#call(entry);
    this.#starts.start(entry);
  }

  #call(entry: TaskEntry): void {
    const attempt = new Attempt(entry, this.#options.tracer, this.#submitFollowUp);
    let result: PromiseLike<unknown> | undefined;
    try {
      const value = attempt.call();
      result = isThenable(value) ? value : undefined; // reads its then, which may throw too
    } catch (thrown) {
      const error = readable(thrown);
      attempt.end(true, error);
      return this.#attemptFailed(entry, error);
    }
    if (result === undefined) {
      attempt.end(false);
      return this.#finish(entry, "done");
    }

    attempt.slot = this.#active.add(attempt);
    const timeout = entry.options?.timeout ?? this.#limits.defaults.timeout;
    attempt.watchWithDeadline(result, this.#timeouts, timeout, this.#attemptDone);
  }

  /** Where every watched attempt reports: one function, not a closure per attempt. */
  #attemptDone: AttemptDone = (entry, attempt, failed, error, late) => {
    if (late) return this.#overruns.ended(entry, attempt);
    if (attempt.stopped) this.#overruns.stopped(attempt);
    this.#active.take(attempt.slot);
    // Shutdown gave up on this task while it ran; it is already reported.
    const abandoned = entry.state === "abandoned";
    attempt.end(failed, error, abandoned);
    if (abandoned) return;
    if (failed) this.#attemptFailed(entry, error);
    else this.#finish(entry, "done");
    this.#pump();
  };

  #attemptFailed(entry: TaskEntry, error: unknown): void {
    const delay = retryDelay(entry, error, this.#limits.defaults);
    this.#outcomes.attemptFailed(entry, error, delay !== undefined);
    if (delay === undefined) return this.#finish(entry, "failed");
    this.#leaveLane(entry); // the wait holds no place in its lane
    this.#outcomes.retrying(entry, this.#clock.now() + delay);
    this.#retries.add(entry, delay);
  }

  /** Records a final state, then queues the group's next task (or abandons the rest). */
  #finish(entry: TaskEntry, state: Final): void {
    // Before its state changes: an attempt that ran gives its place back.
    if (entry.state === "running") this.#leaveLane(entry);
    this.#settle(entry, state);
    const { group } = entry;
    let next = group[nextTask]();
    if (state === "abandoned") {
      for (; next !== undefined; next = group[nextTask]()) this.#settle(next, "abandoned");
    }
    if (next !== undefined) this.#ready.push(next);
    else this.#outcomes.hook("onGroupSettled", group);
  }

  /** A running task stops (ends, or waits): the next of its name in its lane is queued. */
  #leaveLane(entry: TaskEntry): void {
    if (entry.options?.concurrency === undefined) return; // no lane: most tasks
    const next = this.#lanes.release(entry);
    if (next !== undefined) this.#ready.push(next);
  }

  #settle(entry: TaskEntry, state: Final): void {
    this.#backlog.settle();
    this.#outcomes.settled(entry, state);
  }

  #abandonAll(): number {
    const before = this.stats.abandoned;
    const reason = new DOMException("Shutdown deadline passed", "AbortError");
    const running = this.#active.takeAll();
    // Marked abandoned before the abort, so the attempt's own settling ignores it.
    for (const attempt of running) this.#finish(attempt.entry, "abandoned");
    for (const attempt of running) attempt.abort(reason);
    for (const entry of this.#retries.takeAll()) this.#finish(entry, "abandoned");
    const abandonReady = (): void => {
      for (let entry = this.#ready.shift(); entry !== undefined; entry = this.#ready.shift()) {
        this.#finish(entry, "abandoned");
      }
    };
    abandonReady();
    for (const entry of this.#waiting.takeAll()) this.#finish(entry, "abandoned");
    for (const entry of this.#starts?.takeAll() ?? []) this.#finish(entry, "abandoned");
    abandonReady(); // queued from a lane as the starts above gave their places back
    for (const entry of this.#lanes.takeAll()) this.#finish(entry, "abandoned");
    return this.stats.abandoned - before;
  }

  /** A group whose journal commit failed: its client got no 202, so it never existed. */
  #drop(first: TaskEntry): void {
    const { group } = first;
    for (let entry = first; entry !== undefined; entry = group[nextTask]() as TaskEntry) {
      entry.state = "abandoned";
    }
    this.#backlog.settle(group.size);
    this.#outcomes.dropped(group);
  }
}
