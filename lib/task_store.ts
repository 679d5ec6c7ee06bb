/**
 * The interface of a durable task journal. SQLite implements it today
 * ({@linkcode SqliteTaskStore}, synchronously where it can); a PostgreSQL
 * store (claims with `FOR UPDATE SKIP LOCKED`, several servers sharing one
 * queue), whose every call is asynchronous, can implement it without changing
 * the runner, the recovery or the routes: they await what may be a promise.
 *
 * @module
 */
import type { JsonValue } from "./task.ts";
import type { TaskEntry, TaskGroup } from "./task_group.ts";
import type { GroupStatus } from "./task_status.ts";

/** An unfinished task found in the journal at start-up. */
export interface StoredTask {
  /** Its stable id, `<group id>/<index>`. */
  readonly id: string;
  /** Its group's id. */
  readonly groupId: string;
  /** Its position in the group. */
  readonly index: number;
  /** The definition's name. */
  readonly name: string;
  /** Its arguments. */
  readonly args: JsonValue[];
  /** Attempts started before the restart. */
  readonly attempts: number;
  /** Clock time before which it must not run again (a retry's backoff), or 0. */
  readonly nextAt: number;
  /** Attempts during which the process died. */
  readonly crashes: number;
  /** Whether it crashed the process too often and was moved to the dead letters. */
  readonly quarantined: boolean;
}

/** A value, or a promise of it: what a synchronous and an asynchronous store both return. */
export type Awaitable<T> = T | Promise<T>;

/** What the runner and server need from a durable journal. */
export interface TaskStore {
  /** Journals a group's tasks; resolves once they are durable. */
  enqueue(group: TaskGroup): Promise<void>;
  /** Marks an attempt as started; resolves once durable (the attempt waits for it). */
  attempt(entry: TaskEntry): Promise<void>;
  /**
   * Records an outcome, or a retry not before `nextAt`; durability may lag.
   * Not awaited: an asynchronous store handles (logs) its own failures.
   */
  record(entry: TaskEntry, nextAt?: number): void;
  /** Returns unfinished tasks in group order, counting crashes and quarantining crash loops. */
  recover(crashLimit?: number): Awaitable<StoredTask[]>;
  /**
   * Returns the unfinished tasks of the next `groups` groups after the group
   * id `after` (`""` for the first), in group order, changing nothing: how
   * work deferred at start-up is read again once there is room.
   */
  list(after: string, groups: number): Awaitable<StoredTask[]>;
  /** Marks a task failed without running it (e.g. its definition is gone). */
  fail(task: Pick<StoredTask, "groupId" | "index">, error: string): Awaitable<void>;
  /** A group's status as the journal knows it. */
  status(groupId: string): Awaitable<GroupStatus | undefined>;
  /** Commits what is pending and closes. */
  close(): Awaitable<void>;
}
