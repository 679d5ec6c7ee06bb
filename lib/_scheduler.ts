// What runs an accepted group: the ready queue, the lanes of limited names,
// the running attempts with their deadlines, retries, journaled starts, and
// shutdown's abandoning. Internal to TaskRunner, which admits the groups.
import { getLogger } from "@logtape/logtape";
import { Attempt, type AttemptDone, isThenable } from "./_attempt.ts";
import { readable } from "./_thrown.ts";
import { type Final, Outcomes } from "./_outcomes.ts";
import { Overruns } from "./_overruns.ts";
import type { Backlog } from "./_backlog.ts";
import { JournaledStarts } from "./_journaled_starts.ts";
import { WaitingItems } from "./_start_gate.ts";
import type { RunnerLimits, SubmitOptions, TaskRunnerOptions } from "./runner_options.ts";
import { retryDelay } from "./_retry_plan.ts";
import { type Clock, monotonicClock } from "./clock.ts";
import { Fifo } from "./fifo.ts";
import { Lanes } from "./_lanes.ts";
import { isOnProbation, Probation } from "./_probation.ts";
import { Slots } from "./_slots.ts";
import { RetryWaits } from "./_retry_waits.ts";
import type { RunnerStats } from "./runner_stats.ts";
import { TimeoutQueue } from "./timeout_queue.ts";
import type { TaskOptions } from "./task.ts";
import { nextTask, type TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";

/** Whether a task has a lane: a `concurrency` or `sharedConcurrency` of its own. */
function limited(options: TaskOptions): boolean {
  return options.concurrency !== undefined || options.sharedConcurrency !== undefined;
}

/** Whether a task waits for a place before it runs: in its lane, or on probation. */
function laned(options: TaskOptions | undefined): options is TaskOptions {
  return options !== undefined && (limited(options) || isOnProbation(options));
}

/** What a scheduler is given by its runner. */
export interface SchedulerParts {
  options: TaskRunnerOptions;
  limits: Readonly<RunnerLimits>;
  /** Settled as each task ends. */
  backlog: Backlog;
  stats: RunnerStats;
  clock: Clock;
  /** A task's `this.submit`. */
  submitFollowUp: (group: TaskGroup) => Promise<void>;
}

/**
 * Runs accepted groups: each group's next task joins the ready queue once
 * the one before it ended, and starts when a slot (and its lane) allows.
 */
export class Scheduler {
  readonly #parts: SchedulerParts;
  readonly #maxConcurrency: number;
  readonly #clock: Clock;
  readonly #outcomes: Outcomes;
  readonly #overruns: Overruns;
  readonly #timeouts: TimeoutQueue;
  readonly #ready = new Fifo<TaskEntry>();
  /** Tasks with a `concurrency` of their own: their running counts, and those waiting. */
  readonly #lanes: Lanes;
  /** Recovered tasks one crash from quarantine, which run one at a time. */
  readonly #probation = new Probation();
  /** First tasks of groups whose response is not delivered yet. */
  readonly #waiting = new WaitingItems<TaskEntry>({
    start: (first) => this.#enqueue(first),
    drop: (first, error) => this.#drop(first, error),
    lost: (first, error) => this.#outcomes.responseLost(first.group, error),
  });
  // Not a Map: an attempt comes and goes with each task (see _slots.ts).
  readonly #active = new Slots<Attempt>();
  /** Durable mode: attempts waiting for their start to be journaled. */
  readonly #starts: JournaledStarts | undefined;
  /** Tasks waiting out a backoff, or a pause the journal asked for. */
  readonly #retries: RetryWaits;

  constructor(parts: SchedulerParts) {
    const { options, clock } = parts;
    this.#parts = parts;
    this.#maxConcurrency = parts.limits.maxConcurrency;
    this.#clock = clock;
    this.#retries = new RetryWaits(clock, (entry) => this.#enqueue(entry));
    this.#lanes = new Lanes(options.journal?.sharedPlaces, (entry) => {
      this.#ready.push(entry);
      this.#pump();
    }, clock);
    // Deadlines on a monotonic clock: a step of the wall clock must not move them.
    const monotonic = options.clock ?? monotonicClock;
    this.#timeouts = new TimeoutQueue(monotonic);
    const logger = options.logger ?? getLogger(["posthaste", "runner"]);
    this.#outcomes = new Outcomes(options, parts.stats, clock, logger);
    this.#overruns = new Overruns(monotonic, logger);
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

  /** See {@linkcode TaskRunner.running}. */
  get running(): number {
    return this.#active.size + (this.#starts?.size ?? 0);
  }

  /** See {@linkcode TaskRunner.queued}. */
  get queued(): number {
    return this.#ready.length + this.#lanes.waiting + this.#probation.waiting;
  }

  /** The task first in line for a slot, a lane or probation: the oldest group's. */
  get firstInLine(): TaskEntry | undefined {
    let first = this.#ready.peek();
    for (const waiting of [this.#lanes.oldest(), this.#probation.oldest()]) {
      if (waiting && (!first || waiting.group.acceptedAt < first.group.acceptedAt)) first = waiting;
    }
    return first;
  }

  /** See {@linkcode TaskRunner.overrunning}. */
  get overrunning(): number {
    return this.#overruns.size;
  }

  /** Starts an admitted group's first task, at once or once `options`' gates open. */
  start(first: TaskEntry, options: SubmitOptions): void {
    this.#outcomes.accepted(first.group);
    const { after, commit, response } = options;
    if (after === undefined && commit === undefined && response === undefined) {
      return this.#enqueue(first);
    }
    this.#waiting.add(options, first);
  }

  /**
   * Shutdown's deadline: aborts what runs and abandons every unfinished task.
   *
   * @returns How many were abandoned.
   */
  abandonAll(): number {
    const { stats } = this.#parts;
    const before = stats.abandoned;
    const reason = new DOMException("Shutdown deadline passed", "AbortError");
    this.#lanes.close(); // the places the running give back are not asked for again
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
    for (const entry of this.#probation.takeAll()) this.#finish(entry, "abandoned");
    return stats.abandoned - before;
  }

  #enqueue(entry: TaskEntry): void {
    // With nothing ahead and room, straight to its run: a queue that
    // empties on every task would give up its array each time.
    if (this.#ready.length > 0 || this.running >= this.#maxConcurrency) {
      this.#ready.push(entry);
    } else this.#run(entry);
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
    // A name's lane full, or another task on probation running: the task waits there.
    const options = entry.options;
    if (laned(options) && !this.#takePlaces(entry, options)) return;
    entry.state = "running";
    entry.attempts++;
    // The first attempt in this process (a resumed task may have tried before a restart).
    if (entry.startedAt < 0) {
      entry.startedAt = this.#clock.now();
      this.#parts.stats.started++;
    }
    if (this.#starts === undefined) return this.#call(entry);
    this.#starts.start(entry);
  }

  #call(entry: TaskEntry): void {
    const { options, submitFollowUp, limits } = this.#parts;
    const attempt = new Attempt(entry, options.tracer, submitFollowUp);
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
    const timeout = entry.options?.timeout ?? limits.defaults.timeout;
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
    const delay = retryDelay(entry, error, this.#parts.limits.defaults);
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

  /** Probation's place first: a task holds it while it waits in its lane. */
  #takePlaces(entry: TaskEntry, options: TaskOptions): boolean {
    if (isOnProbation(options) && !this.#probation.take(entry)) return false;
    return !limited(options) || this.#lanes.take(entry, options);
  }

  /** A running task stops (ends, or waits): the next of its lane, and on probation, are queued. */
  #leaveLane(entry: TaskEntry): void {
    const options = entry.options;
    if (!laned(options)) return; // no lane: most tasks
    const next = limited(options) ? this.#lanes.release(entry) : undefined;
    if (next !== undefined) this.#ready.push(next);
    const probation = isOnProbation(options) ? this.#probation.release(entry) : undefined;
    if (probation !== undefined) this.#ready.push(probation);
  }

  #settle(entry: TaskEntry, state: Final): void {
    this.#parts.backlog.settle();
    this.#outcomes.settled(entry, state);
  }

  /** A group whose journal commit failed: its client got no 202, so it never existed. */
  #drop(first: TaskEntry, error: unknown): void {
    const { group } = first;
    for (let entry = first; entry !== undefined; entry = group[nextTask]() as TaskEntry) {
      entry.state = "abandoned";
    }
    this.#parts.backlog.settle(group.size);
    this.#outcomes.dropped(group, error);
  }
}
