// What the SQLite journal writes as a task's attempt ends: its outcome (tried
// again while commits fail, see OutcomeRetry), its group's deletion once all
// of it succeeded, and, once a second, the pruning of old failed and kept
// groups. Internal to SqliteTaskStore.
import type { JournalRetention } from "./_journal_retention.ts";
import { journalError, outcomeAt } from "./_journal_rows.ts";
import type { JournalStatements } from "./_journal_schema.ts";
import type { JournalWriter } from "./_journal_batch.ts";
import { keptWhenDone } from "./_given_ids.ts";
import { outcomeFailureLogs, OutcomeRetry } from "./_outcome_retry.ts";
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId, type TaskState } from "./task_status.ts";

/** What {@linkcode SqliteOutcomes} writes with. */
export interface SqliteOutcomesDeps {
  writer: JournalWriter;
  /** A group's row statements, by its id. */
  sql: (groupId: string) => JournalStatements;
  retention: JournalRetention;
  clock: Clock;
  logger: StructuredLogger;
}

/** Writes attempts' outcomes to one SQLite journal. */
export class SqliteOutcomes {
  readonly #writer: JournalWriter;
  readonly #sql: (groupId: string) => JournalStatements;
  readonly #retention: JournalRetention;
  readonly #clock: Clock;
  readonly #logger: StructuredLogger;
  readonly #retry: OutcomeRetry;
  readonly #failures: ReturnType<typeof outcomeFailureLogs>;

  constructor({ writer, sql, retention, clock, logger }: SqliteOutcomesDeps) {
    this.#writer = writer;
    this.#sql = sql;
    this.#retention = retention;
    this.#clock = clock;
    this.#logger = logger;
    const retry = this.#retry = new OutcomeRetry({
      clock,
      onGiveUp: (id, error) => failures.givenUp(id, error),
      onWritten: () => failures.written(),
    });
    const failures = this.#failures = outcomeFailureLogs(logger, clock, retry.pauseMs);
  }

  /** A newer write of the task went another way (its next attempt mark). */
  supersede(taskId: string): void {
    this.#retry.supersede(taskId);
  }

  /** Writes every outcome still waiting once more, now; for closing. */
  flush(): void {
    this.#retry.flush();
  }

  /** See `TaskStore.record`. */
  record(entry: TaskEntry, nextAt: number): void {
    const { group, state, index } = entry;
    const succeeded = state === "done" && group.tasks.every((task) => task.state === "done");
    // Written again a second later if the commit fails (a full disk), up to
    // a minute: a finished task left unfinished would run again after a restart.
    // Abandoned at shutdown: queued again, to run after the restart, keeping
    // its retry time if it was waiting out a backoff (also one whose
    // retrying outcome is still waiting to be written: it goes first).
    const abandoned = state === "abandoned";
    const written = this.#retry.write(
      succeeded ? group.id : taskId(group.id, index),
      abandoned
        ? () =>
          this.#writer.write(() =>
            this.#sql(group.id).requeue.run(entry.attempts, this.#clock.now(), group.id, index)
          )
        : succeeded
        // A keyed group that succeeded is kept, done: a repeat of its key is known.
        ? () => keptWhenDone(group.id) ? this.#kept(entry) : this.#succeeded(entry)
        : () => this.#writer.write(() => this.#save(entry, state, nextAt)),
      abandoned,
    );
    // Not awaited by anyone: say so.
    written.catch((error) => this.#failures.refused(taskId(group.id, index), error));
    // Once a second while tasks finish, failed and kept groups age out on time.
    const finished = entry.state === "done" || entry.state === "failed";
    if (finished && this.#retention.due()) {
      this.#writer.write(() => this.#retention.prune()).catch((error) => {
        // Retried at the next interval.
        this.#logger.error("Cannot prune failed tasks: {error}", { error });
      });
    }
  }

  #save(entry: TaskEntry, state: TaskState, nextAt: number): void {
    this.#sql(entry.group.id).update.run(
      state,
      entry.attempts,
      Math.ceil(nextAt),
      journalError(entry.error),
      Math.round(entry.durationMs),
      outcomeAt(entry) ?? this.#clock.now(),
      entry.group.id,
      entry.index,
    );
  }

  /** A kept group's last task succeeded: marked done with the others' batched rows. */
  #kept(last: TaskEntry): Promise<void> {
    const { pending, batch } = this.#writer.rows(false);
    pending.mark("done", last, outcomeAt(last) ?? this.#clock.now());
    return batch;
  }

  /** A group's last task succeeded: nothing is left to run or to report. */
  #succeeded(last: TaskEntry): Promise<void> {
    const { group } = last;
    // A group restored after a restart lacks the tasks that had finished
    // before it (its first is then not task 0); one of them may have failed,
    // and its row stays.
    const partial = (group.tasks as readonly TaskEntry[])[0]?.index !== 0;
    if (partial) {
      return this.#writer.write(() => {
        if (Number(this.#sql(group.id).forgetDone.run(group.id).changes) === 0) {
          this.#save(last, "done", 0);
        }
      });
    }
    const { pending, batch } = this.#writer.rows(false);
    pending.forget(group.id);
    return batch;
  }
}
