/**
 * The app that {@linkcode createApp} makes, and the options of both.
 *
 * @module
 */
import type { GroupRegistry } from "./group_registry.ts";
import type { LogWriter } from "./log_writer.ts";
import type { Metrics } from "./metrics.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskGroup } from "./task_group.ts";
import type { ServiceFactory } from "./service.ts";

/**
 * Options for {@linkcode App.shutdown}.
 *
 * @example Shutting down without waiting
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * const app = await createApp(readConfig((name) => env[name]));
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.handler);
 * // Given up at once: tasks still unfinished would be abandoned (there are none), the
 * // files are closed; the listener is left to its owner (main.ts exits the process).
 * equal(await app.shutdown(server, { signal: AbortSignal.abort() }), 0, "nothing was left");
 * ```
 */
export interface ShutdownOptions {
  /** Aborting it gives up waiting at once, as the deadline would (a second signal). */
  signal?: AbortSignal;
  /** Milliseconds between two lines saying how the drain goes, while it lasts. @default {5000} */
  progressMs?: number;
}

/**
 * Options for {@linkcode createApp}.
 *
 * @example Giving up starting
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * const signal = AbortSignal.abort(new Error("start-up took too long"));
 * await rejects(createApp(readConfig(() => undefined), { signal }), /took too long/);
 * ```
 */
export interface CreateAppOptions {
  /**
   * Gives up starting (a database that does not answer, a long recovery):
   * `createApp` rejects with its reason, as it does on any failure, after
   * closing what it had opened.
   */
  signal?: AbortSignal;
  /**
   * What to serve, made from the app's parts: your routes and the task
   * definitions they add. The app adds its `/healthz`, `/livez`, `/tasks/:id` and
   * `/metrics`, and gives them its runner, journal, drain and dead letters.
   * @default {notificationService}
   */
  service?: ServiceFactory;
  /**
   * How long, at shutdown after the drain, the service may take to close,
   * and then the files and journal: a service or disk that stalls must not
   * hold the exit for good.
   * @default {5000}
   */
  closeTimeoutMs?: number;
}

/**
 * The running service's parts, and its shutdown.
 *
 * @example The parts of a running app
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * await using app = await createApp(readConfig((name) => env[name]));
 * equal(app.inFlight, 0);
 * equal(app.runner.pending, 0);
 * equal(app.registry.live, 0);
 * ```
 */
export interface App extends AsyncDisposable {
  /** The `Deno.serve` handler. */
  readonly handler: Deno.ServeHandler;
  /**
   * The task runner: its `idle()`, `pending`, `stats`. Submit through
   * {@linkcode App.submit}: in durable mode `runner.submit` does not journal.
   */
  readonly runner: TaskRunner;
  /** The notification log. */
  readonly log: LogWriter;
  /** The dead-letter file. */
  readonly deadLetters: LogWriter;
  /** Task groups by id, for `GET /tasks/{id}`. */
  readonly registry: GroupRegistry;
  /** What `GET /metrics` renders. */
  readonly metrics: Metrics;
  /** Requests being handled now (their tasks not yet handed to the runner). */
  readonly inFlight: number;
  /**
   * Runs a group outside a request (a follow-up a task submits, a timer's
   * work), as a request's group runs: in order, with the limits, in
   * `GET /tasks/{id}` and the metrics, and in durable mode journaled first,
   * so that it survives a crash once the promise resolved. It is accepted
   * while the shutdown drains, which waits for it too (up to its deadline;
   * in durable mode what is left stays journaled): a task's follow-up is part
   * of the work; a service stops its own sources of work on `stopping`. A
   * service gets it as `ServiceParts.submit`. It takes no signal: a group
   * sent to the journal cannot be taken back (`abortable` ends the wait alone).
   *
   * @param group The tasks; durable mode takes only the service's `tasks`.
   * @returns A promise that resolves once the group is accepted (journaled),
   * or rejects with nothing of it run: an `AdmissionError` (the backlog is
   * full, or in durable mode above half while work deferred in the journal
   * waits, as a request is refused, though not a task's follow-up; or the
   * shutdown's drain has ended: a task's follow-up should let it throw, so
   * that its retry or the restart submits it again), a
   * `DuplicateGroupError` (its given id is known: see `groupIdForKey`), the
   * journal's error, or a `TypeError` (durable mode: a task not in the
   * service's `tasks`, or submitted while the service is being made).
   *
   * @example Work from a timer, journaled
   * ```ts
   * import { createApp, defineTask, readConfig, TaskGroup } from "./mod.ts";
   * import { equal } from "node:assert/strict";
   *
   * const tidied: number[] = [];
   * const tidy = defineTask("tidy", (days: number) => void tidied.push(days));
   * const service = () => ({ routes: [], tasks: [tidy] });
   * const dir = await Deno.makeTempDir();
   * const env: Record<string, string> = {
   *   TASK_STORE: `sqlite:${dir}/tasks.db`,
   *   LOG_FILE: `${dir}/log.txt`,
   *   DEAD_LETTER_FILE: `${dir}/dl.jsonl`,
   * };
   * await using app = await createApp(readConfig((name) => env[name]), { service });
   * const group = new TaskGroup().add(tidy, 30);
   * await app.submit(group); // journaled: from here on a crash does not lose it
   * await group.settled();
   * equal(tidied.join(), "30");
   * ```
   */
  submit(group: TaskGroup): Promise<void>;
  /**
   * Reopens the notification log and the dead-letter file at their paths,
   * after logrotate renamed them (`main.ts` calls it on SIGUSR2). A file that
   * cannot be opened is logged and keeps receiving lines at its old handle.
   *
   * @returns A promise that resolves once later lines go to the files at the
   * paths (it never rejects).
   */
  reopenFiles(): Promise<void>;
  /**
   * Turns health to 503 and refuses new work (503 `shutting_down`), lets
   * requests already in the handler finish, waits for every accepted task
   * until `shutdownTimeoutMs` (or `options.signal`) ends the wait, abandoning
   * what is unfinished, then closes the listener (unless the wait was cut
   * short: its open connections could hold it, so the caller, which is
   * exiting, owns it then) and flushes the files, giving them 5 s (a disk
   * that stalls must not hold the exit for good).
   *
   * @returns The exit code: 0 if every task finished, 1 if any was abandoned
   * or a step failed (it never rejects: the failure is logged).
   */
  shutdown(server: { shutdown(): Promise<void> }, options?: ShutdownOptions): Promise<number>;
}
