/**
 * The interface of a durable task journal. {@linkcode SqliteTaskStore}
 * implements it in one file for one server (synchronously where it can);
 * {@linkcode PostgresTaskStore} in one table that several servers share,
 * every call asynchronous. The runner, the recovery and the routes await
 * what may be a promise, so neither store changes them.
 *
 * Claims, as the interface maps them: `enqueue` claims a group for the
 * process that accepted it, `attempt` marks the claimed task running,
 * `record` completes it, fails it, or schedules its retry, and `recover`
 * takes over the unfinished work of processes that are gone. SQLite's claim
 * lasts as long as the process holds the file's exclusive lock, so at
 * start-up every unfinished row is an expired claim. PostgreSQL's is a
 * session lock per process, and `recover` adopts the rows of owners whose
 * lock is free.
 *
 * @module
 */
import type { WaitOptions } from "./abortable.ts";
import type { JsonValue } from "./task.ts";
import type { TaskGroup } from "./task_group.ts";
import type { SharedPlaces } from "./shared_places.ts";
import type { TaskEntry } from "./task_entry.ts";
import type { GroupStatus } from "./task_status.ts";

/**
 * An unfinished task found in the journal at start-up.
 *
 * @example What a restart finds in the journal
 * ```ts
 * import { defineTask, SqliteTaskStore, type StoredTask, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const file = `${await Deno.makeTempDir()}/tasks.db`;
 * {
 *   using store = SqliteTaskStore.open(file);
 *   const send = defineTask("send", (to: string) => void to);
 *   await store.enqueue(new TaskGroup({ id: "g" }).add(send, "ada@example.com"));
 * }
 * using store = SqliteTaskStore.open(file);
 * const [task]: StoredTask[] = store.recover();
 * equal(task?.id, "g/0");
 * equal(task?.args[0], "ada@example.com");
 * equal(task?.attempts, 0);
 * ```
 */
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
  /**
   * Clock time its row was last written by the server that ran it (when
   * `nextAt` was set, for a task waiting to retry): from the two, the wait
   * it was given, by one clock. Unknown, the wait is its `maxRetryDelay` at
   * most.
   */
  readonly updatedAt?: number;
  /** Attempts during which the process died. */
  readonly crashes: number;
  /**
   * Whether it crashed the process `crashLimit` times: it goes to the dead
   * letters, and is then failed with {@linkcode TaskStore.fail}.
   */
  readonly quarantined: boolean;
  /**
   * Whether it is one crash from quarantine (the process died during
   * `crashLimit - 1` of its attempts): it then runs only while no other such
   * task does, so that a crash counts against it alone of them.
   */
  readonly probation?: boolean;
  /**
   * Why its row cannot be run again (arguments that are not a JSON array:
   * a damaged or foreign row), with the start of the stored text; its
   * `args` are then empty, and recovery moves it to the dead letters.
   */
  readonly unreadable?: string;
  /**
   * A fingerprint of the request that made its group, if one was sent with
   * an `Idempotency-Key`: the same key sent again with other content is
   * answered 422 (see `DuplicateGroupError.fingerprint`).
   */
  readonly fingerprint?: string;
  /**
   * When its group was first accepted (wall-clock milliseconds), if the
   * journal holds it: a restored group keeps it (`TaskGroup.acceptedAt`).
   */
  readonly acceptedAt?: number;
}

/**
 * A value, or a promise of it: what a synchronous and an asynchronous store both return.
 *
 * @example Reading a synchronous and an asynchronous store alike
 * ```ts
 * import type { Awaitable } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * async function read(get: () => Awaitable<number>): Promise<number> {
 *   return await get();
 * }
 * equal(await read(() => 1), 1);
 * equal(await read(() => Promise.resolve(2)), 2);
 * ```
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * What the runner and server need from a durable journal.
 *
 * @example A runner journaling through a store
 * ```ts
 * import { defineTask, SqliteTaskStore, TaskGroup, TaskRunner, type TaskStore } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * using sqlite = SqliteTaskStore.open(`${await Deno.makeTempDir()}/tasks.db`);
 * const store: TaskStore = sqlite;
 * await using runner = new TaskRunner({ journal: store });
 * const group = new TaskGroup().add(defineTask("send", (to: string) => void to), "ada");
 * await store.enqueue(group); // durable: the 202 may go
 * runner.submit(group);
 * await runner.idle();
 * await store.enqueue(new TaskGroup().add(defineTask("noop", () => {}))); // commits the outcome
 * equal(await store.status(group.id), undefined, "a group that succeeded leaves the journal");
 * ```
 */
export interface TaskStore {
  /**
   * Journals a group's tasks; resolves once they are durable. Throws a
   * TypeError at once for a group it cannot journal (a task not made with
   * `defineTask`, a NUL in the id), before the group joins a commit; rejects
   * with a `DuplicateGroupError` a group whose chosen id
   * (`TaskGroupOptions.id`) the journal holds already, or is committing,
   * without failing the other groups of its commit.
   */
  enqueue(group: TaskGroup): Promise<void>;
  /** Marks an attempt as started; resolves once durable (the attempt waits for it). */
  attempt(entry: TaskEntry): Promise<void>;
  /**
   * The places of `sharedConcurrency` that the servers on this journal
   * share; absent where one server has the journal (the runner then keeps
   * the limit itself).
   */
  readonly sharedPlaces?: SharedPlaces | undefined;
  /**
   * Records an outcome, or a retry not before `nextAt`; durability may lag.
   * Not awaited: an asynchronous store handles (logs) its own failures.
   */
  record(entry: TaskEntry, nextAt?: number): void;
  /**
   * Returns unfinished tasks, a group's together and in order, groups in the
   * journal's order (generated ids: the order they came); counts crashes,
   * and returns a task at `crashLimit` as `quarantined`, still unfinished:
   * the caller fails it once its dead letter is written (as
   * {@linkcode recoverTasks} does), so a crash before then finds it again
   * (here, or in `list`). Given the `names` this server defines, a journal
   * that servers share leaves the groups holding any other name to a
   * server that defines it (an older version's, in a rolling deploy); a
   * journal of one server returns them, and they go to the dead letters.
   */
  recover(crashLimit?: number, names?: readonly string[]): Awaitable<StoredTask[]>;
  /**
   * Returns the unfinished tasks of the next `groups` groups after the group
   * `after` (its id; `""` for the first), in the order of `recover`,
   * changing nothing: how work deferred at start-up is read again once there
   * is room. A group neither on the last page nor in the journal any more
   * may be listed from the first again (PostgreSQL's, whose order is by
   * acceptance, not id): a walk skips the groups it has.
   */
  list(after: string, groups: number): Awaitable<StoredTask[]>;
  /** Marks a task failed without running it (e.g. its definition is gone). */
  fail(task: Pick<StoredTask, "groupId" | "index">, error: string): Awaitable<void>;
  /**
   * A group's status as the journal knows it. `signal` gives up the read (a
   * client that went away): it rejects with the signal's reason, and a
   * database read is cancelled.
   */
  status(groupId: string, options?: WaitOptions): Awaitable<GroupStatus | undefined>;
  /** Commits what is pending and closes. */
  close(): Awaitable<void>;
}
