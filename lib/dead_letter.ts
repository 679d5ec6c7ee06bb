/**
 * Dead letters: the record of a task that did not succeed.
 *
 * @module
 */
import { isThenable } from "./_attempt.ts";
import type { StructuredLogger } from "./logging.ts";
import type { TaskEntry } from "./task_entry.ts";
import { isoOrNull } from "./_status_times.ts";
import { taskId } from "./task_status.ts";

/**
 * One task that failed its last attempt or was abandoned at shutdown.
 *
 * @example Reading a dead-letter line back
 * ```ts
 * import { type DeadLetter, deadLetterLine, deadLetterOf, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const group = new TaskGroup({ id: "g" }).add((to: string) => void to, 'say "hi"');
 * const line = deadLetterLine(deadLetterOf(group.tasks[0] as never, "shutdown", 0));
 * const record: DeadLetter = JSON.parse(line);
 * equal(record.reason, "shutdown");
 * equal(record.args[0], 'say "hi"');
 * ```
 */
export interface DeadLetter {
  /**
   * `failed`: every attempt failed; `shutdown`: the drain deadline passed
   * first; `crash_loop`: the process died during too many of its attempts;
   * `unknown_task`: after a restart, no task is defined with its name;
   * `unreadable`: after a restart, its journaled arguments cannot be read.
   */
  readonly reason: "failed" | "shutdown" | "crash_loop" | "unknown_task" | "unreadable";
  /** The task's name. */
  readonly task: string;
  /** The task's stable id. */
  readonly taskId: string;
  /** Its group's (request's) id. */
  readonly groupId: string;
  /** Its arguments. */
  readonly args: readonly unknown[];
  /** Attempts started. */
  readonly attempts: number;
  /** The last attempt's error message, or null if none ran or failed. */
  readonly error: string | null;
  /**
   * When its group was accepted (ISO 8601), or null if that is not known (a
   * group no runner took, or journaled by an earlier version).
   */
  readonly acceptedAt: string | null;
  /** When the first attempt started (ISO 8601), or null if none did. */
  readonly startedAt: string | null;
  /** When the task was given up (ISO 8601). */
  readonly endedAt: string;
}

/**
 * Builds the dead letter for a task.
 *
 * @param entry The task as the runner keeps it.
 * @param reason Why it is a dead letter.
 * @param now The clock's current time in milliseconds.
 * @returns The record.
 *
 * @example A record for a task abandoned at shutdown
 * ```ts
 * import { deadLetterOf, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const group = new TaskGroup({ id: "g" }).add((n: number) => n, 1);
 * const record = deadLetterOf(group.tasks[0] as never, "shutdown", 0);
 * equal(record.taskId, "g/0");
 * equal(record.acceptedAt, null); // no runner took it
 * equal(record.startedAt, null);
 * ```
 */
export function deadLetterOf(
  entry: TaskEntry,
  reason: DeadLetter["reason"],
  now: number,
): DeadLetter {
  return {
    reason,
    task: entry.name,
    taskId: taskId(entry.group.id, entry.index),
    groupId: entry.group.id,
    args: entry.args,
    attempts: entry.attempts,
    error: entry.error ?? null,
    acceptedAt: isoOrNull(entry.group.acceptedAt),
    startedAt: isoOrNull(entry.startedAt),
    endedAt: new Date(now).toISOString(),
  };
}

/**
 * Serializes a dead letter as one JSON line (without the newline). Arguments
 * JSON cannot hold (functions, bigints, cycles) are written as strings.
 *
 * @param record The dead letter.
 * @returns Its JSON text.
 *
 * @example One JSON line, whatever the arguments
 * ```ts
 * import { deadLetterLine } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const record = {
 *   reason: "failed", task: "t", taskId: "g/0", groupId: "g", args: [1n], attempts: 1,
 *   error: "boom", acceptedAt: null, startedAt: null, endedAt: "2026-01-01T00:00:00.000Z",
 * } as const;
 * equal(JSON.parse(deadLetterLine(record)).args[0], "1");
 * ```
 */
export function deadLetterLine(record: DeadLetter): string {
  try {
    return JSON.stringify(
      record,
      (_key, value) => typeof value === "bigint" ? String(value) : value,
    );
  } catch {
    return JSON.stringify({ ...record, args: record.args.map((arg) => String(arg)) });
  }
}

/**
 * Hands a dead letter to its sink; a sink that throws or rejects is logged
 * with the record, so that nothing fails silently.
 *
 * @param sink Where dead letters go, e.g. a log writer's append.
 * @param record The dead letter.
 * @param logger Where a failing sink is reported.
 * @returns For a sink that returns a promise or other thenable (a write on
 * its way), a promise that settles with it and never rejects; else undefined.
 *
 * @example Reporting to a sink
 * ```ts
 * import { deadLetterOf, sendDeadLetter, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const group = new TaskGroup({ id: "g" }).add(() => {});
 * const record = deadLetterOf(group.tasks[0] as never, "shutdown", 0);
 * const seen: string[] = [];
 * sendDeadLetter((r) => void seen.push(r.taskId), record, console);
 * equal(seen[0], "g/0");
 * ```
 */
export function sendDeadLetter(
  sink: (record: DeadLetter) => unknown,
  record: DeadLetter,
  logger: StructuredLogger,
): Promise<void> | undefined {
  const failed = (error: unknown): void =>
    logger.error("Cannot write dead letter for task {taskId}: {error}", {
      taskId: record.taskId,
      error,
      record,
    });
  try {
    const sent = sink(record);
    // Any thenable, as before: a custom sink's rejection must still be logged.
    if (isThenable(sent)) return Promise.resolve(sent).then(() => {}, failed);
  } catch (error) {
    failed(error);
  }
  return undefined;
}
