// What the runner tells the world about attempts and outcomes: the log,
// the counters, the journal and the dead letters. Internal to the runner.
import { IntervalGate, journalBackLine, type Run } from "./_interval_gate.ts";
import type { Clock } from "./clock.ts";
import { deadLetterOf, sendDeadLetter } from "./dead_letter.ts";
import type { StructuredLogger } from "./logging.ts";
import type { TaskRunnerOptions } from "./runner_options.ts";
import type { RunnerStats } from "./runner_stats.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId } from "./task_status.ts";
import { recordedErrorText } from "./_thrown.ts";

/** A task's final state. */
export type Final = "done" | "failed" | "abandoned";

/** What every log record about a task carries, so that a search by any of them finds it. */
export function taskLogFields(entry: TaskEntry): Record<string, string> {
  const groupId = entry.group.id;
  return {
    requestId: groupId,
    groupId,
    taskId: taskId(groupId, entry.index),
    taskName: entry.name,
  };
}

/** Reports attempts and outcomes; decides nothing about scheduling. */
export class Outcomes {
  readonly #options: TaskRunnerOptions;
  readonly #stats: RunnerStats;
  readonly #clock: Clock;
  readonly #logger: StructuredLogger;
  /** A journal that is away refuses every task's mark, each second: one line a second. */
  readonly #refusals: IntervalGate;
  /** The line that ends them: made once, as every journaled start asks. */
  readonly #startsBack: (run: Run) => void;
  /** Debug records, if that level is kept: asked once, as a record per task costs. */
  readonly #debug: StructuredLogger["debug"];

  constructor(
    options: TaskRunnerOptions,
    stats: RunnerStats,
    clock: Clock,
    logger: StructuredLogger,
  ) {
    this.#options = options;
    this.#stats = stats;
    this.#clock = clock;
    this.#logger = logger;
    this.#refusals = new IntervalGate(1_000, clock);
    this.#startsBack = journalBackLine(logger, "attempt starts");
    this.#debug = logger.isEnabledFor?.("debug") === false ? undefined : logger.debug?.bind(logger);
  }

  /** A group was accepted: its hook, and a debug record. */
  accepted(group: TaskGroup): void {
    this.hook("onGroupAccepted", group);
    this.#debug?.("Accepted group {groupId} of {tasks} tasks", {
      requestId: group.id,
      groupId: group.id,
      tasks: group.size,
    });
  }

  /**
   * Records and logs a failed attempt (with its number and stack): a warning
   * while a retry is to come, an error for the last, so that an alert on
   * errors means work that finally failed, not a blip a retry got past.
   */
  attemptFailed(entry: TaskEntry, error: unknown, willRetry: boolean): void {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    if (timedOut) this.#stats.timedOut++;
    entry.error = recordedErrorText(error);
    const log = willRetry ? this.#logger.warn : this.#logger.error;
    log.call(this.#logger, "Task {taskName} attempt {attempt} {outcome}: {errorMessage}", {
      ...taskLogFields(entry),
      attempt: entry.attempts,
      outcome: timedOut ? "timed out" : "failed",
      errorMessage: entry.error,
      error,
      willRetry,
    });
  }

  /** The journal refused an attempt's start: not an attempt; the task goes again after `pauseMs`. */
  markRefused(entry: TaskEntry, error: unknown, pauseMs: number): void {
    this.#refusals.each((unlogged) =>
      this.#logger.warn(
        "Cannot journal the start of task {taskName}; it has not run, and tries again in {pauseMs} ms: {error} ({unlogged} more refused since the last such line)",
        {
          ...taskLogFields(entry),
          pauseMs,
          error,
          unlogged,
        },
      )
    );
  }

  /** An attempt's start was journaled: if marks were refused before, says the journal is back. */
  markJournaled(): void {
    this.#refusals.ended(this.#startsBack);
  }

  /**
   * A group's journal commit failed with `error` (its client got a 503): its
   * hooks, and a debug record saying why (a journal's error, or a refusal
   * before the journal, such as the room kept for deferred work).
   */
  dropped(group: TaskGroup, error: unknown): void {
    this.#debug?.("Dropped group {groupId}: its journal commit failed: {error}", {
      requestId: group.id,
      groupId: group.id,
      error,
    });
    this.hook("onGroupDropped", group);
    this.hook("onGroupSettled", group);
  }

  /** Calls a group hook; one that throws is logged and never breaks the runner's state. */
  hook(name: "onGroupAccepted" | "onGroupSettled" | "onGroupDropped", group: TaskGroup): void {
    try {
      this.#options[name]?.(group);
    } catch (error) {
      this.#logger.error("{hook} failed for group {groupId}; the runner goes on: {error}", {
        hook: name,
        groupId: group.id,
        error,
      });
    }
  }

  /** The group's response was not delivered (the client went away); its tasks run anyway. */
  responseLost(group: TaskGroup, error: unknown): void {
    this.#logger.warn(
      "Client went away before response {groupId} was delivered; its {tasks} tasks run anyway",
      { requestId: group.id, groupId: group.id, tasks: group.size, error: String(error) },
    );
  }

  /** A retry is scheduled for `at` (clock time). */
  retrying(entry: TaskEntry, at: number): void {
    this.#stats.retried++;
    entry.state = "retrying";
    entry.retryAt = at;
    this.#options.journal?.record(entry, at);
  }

  /** A task reached its final state: duration, counters, journal, dead letter. */
  settled(entry: TaskEntry, state: Final): void {
    entry.state = state;
    // Wall-clock times (they are shown as dates): a step back must not make it negative.
    const now = this.#clock.now();
    entry.durationMs = entry.startedAt < 0 ? 0 : Math.max(0, now - entry.startedAt);
    this.#stats.record(state, entry.name, entry.durationMs);
    this.#debug?.("Task {taskName} {state} after {attempts} attempts in {durationMs} ms", {
      ...taskLogFields(entry),
      state,
      attempts: entry.attempts,
      durationMs: entry.durationMs,
    });
    const { deadLetter, journal } = this.#options;
    const letter = state === "done" || deadLetter === undefined ? undefined : sendDeadLetter(
      deadLetter,
      deadLetterOf(entry, state === "failed" ? "failed" : "shutdown", now),
      this.#logger,
    );
    // Journaled once its letter is written: a crash between the two then runs
    // the task again (at least once), instead of leaving it failed with no letter.
    if (letter === undefined) journal?.record(entry);
    else void letter.then(() => journal?.record(entry));
  }
}
