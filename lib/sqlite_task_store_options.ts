/**
 * Options for the SQLite journal, {@linkcode SqliteTaskStore.open}.
 *
 * @module
 */
import type { SyncTarget } from "./_group_commit.ts";
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";

export type { SyncTarget };

/**
 * Options for {@linkcode SqliteTaskStore.open}.
 *
 * @example Keeping one failed task
 * ```ts
 * import { defineTask, SqliteTaskStore, systemClock, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * let now = Date.now();
 * using store = SqliteTaskStore.open(`${await Deno.makeTempDir()}/tasks.db`, {
 *   retentionCount: 1,
 *   pruneIntervalMs: 0,
 *   clock: { ...systemClock, now: () => now++ }, // the two failures a millisecond apart at least
 * });
 * const fail = defineTask("fail", () => {
 *   throw new Error("no");
 * }, { retries: 0 });
 * await using runner = new TaskRunner({ journal: store });
 * const groups = [new TaskGroup().add(fail), new TaskGroup().add(fail)];
 * for (const group of groups) {
 *   await store.enqueue(group);
 *   runner.submit(group);
 *   await runner.idle();
 * }
 * await store.enqueue(new TaskGroup().add(defineTask("noop", () => {}))); // commits the outcomes
 * const states = groups.map((group) => store.status(group.id)?.state);
 * deepEqual(states, [undefined, "failed"], "the older failure is pruned");
 * ```
 */
export interface SqliteTaskStoreOptions {
  /**
   * Opens the journal's WAL file, whose `syncData()` makes commits durable.
   * @default {Deno.openSync(file, { read: true })}
   */
  openWal?: (file: string) => SyncTarget;
  /**
   * Milliseconds a failed task stays in the journal after it failed, with
   * its group (once none of the group's tasks is left to run), so that its
   * status outlives a restart. A group whose tasks all succeed is deleted as
   * it finishes, unless an Idempotency-Key named it (a UUIDv8 id): such a
   * group is kept as long, so that a repeat of its key is known.
   * @default {600000}
   */
  retentionMs?: number;
  /** Failed tasks kept at most, and apart from them kept done tasks; the oldest groups go first. @default {10000} */
  retentionCount?: number;
  /** Milliseconds between two prunes of failed (and kept) groups, at least. @default {1000} */
  pruneIntervalMs?: number;
  /**
   * Time source for `updated_at` and retention (wall-clock milliseconds),
   * and the timers of the pause before an outcome whose commit failed is
   * written again and of the commit deadline. A finished task's row takes
   * the time its runner saw it end (its first attempt's start and its duration): give the
   * runner this clock.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Milliseconds the WAL's fdatasync may take before the enqueues waiting for
   * it fail (503 `journal_unavailable`, their rows undone) and health turns
   * 503: a disk that stalls must not hang every request. Until the sync
   * returns, enqueues fail at once.
   * @default {10000}
   */
  commitTimeoutMs?: number;
  /**
   * Where failures to journal (an outcome given up on, a prune) are logged.
   * @default {getLogger(["posthaste", "journal"])}
   */
  logger?: StructuredLogger;
}
