/**
 * What {@linkcode createApp} serves: routes and the task definitions they
 * add. The notification demo is one; your own service is another.
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { LogWriter } from "./log_writer.ts";
import { notificationRoutes, notificationTask } from "./notification.ts";
import { reportRoutes, reportTask } from "./reports.ts";
import type { Route } from "./router.ts";
import type { TaskDefinition } from "./task.ts";
import type { TaskGroup } from "./task_group.ts";
import type { WorkerPool } from "./worker_pool.ts";

/**
 * The parts of an app that a service is made from.
 *
 * @example A service that reads the configuration and writes to the log
 * ```ts
 * import { LogWriter, readConfig, route, type Service, type ServiceParts } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const greeter = ({ config, log }: ServiceParts): Service => ({
 *   routes: [route("GET", "/port", () => {
 *     void log.append(`asked for the port`);
 *     return Response.json({ port: config.port });
 *   })],
 *   tasks: [],
 * });
 * await using log = await LogWriter.open(await Deno.makeTempFile());
 * const service = greeter({
 *   config: readConfig(() => undefined),
 *   log,
 *   pool: undefined,
 *   submit: () => Promise.resolve(),
 *   stopping: new AbortController().signal,
 * });
 * equal(service.routes.length, 1);
 * ```
 */
export interface ServiceParts {
  /** The configuration the app was made with. */
  readonly config: Config;
  /** The app's line log (`LOG_FILE`); it is flushed and closed at shutdown. */
  readonly log: LogWriter;
  /** Workers for CPU-bound tasks (`WORKERS`), or none when it is 0; closed at shutdown. */
  readonly pool: WorkerPool | undefined;
  /**
   * Runs a group outside a request (a timer's work, a queue's messages) as
   * a request's group runs: `App.submit`. A task reaches the same through
   * its `this.submit`, which alone is not held to half the backlog while
   * work deferred in the journal waits: it continues accepted work.
   */
  readonly submit: (group: TaskGroup) => Promise<void>;
  /**
   * Aborts when the app's shutdown begins (or its start fails): a service
   * that brings work of its own (a timer, a queue it consumes) stops then;
   * what it submitted still runs in the drain. A route that streams ends its
   * streams then too: the listener closes once every response is done.
   * Already aborted when the service is made for `runReplay`, which
   * serves nothing and runs only the letters: start such work only if not.
   */
  readonly stopping: AbortSignal;
  /**
   * The start's signal (`createApp`'s `signal` option), for a service made
   * asynchronously (a database it connects to) to give up with the start.
   */
  readonly signal?: AbortSignal;
}

/**
 * Makes a service from the app's parts, at once or asynchronously (a client
 * it connects first). If it throws or rejects, the start fails, and what the
 * app had opened is closed.
 *
 * @example A service that connects before it serves
 * ```ts
 * import { createApp, readConfig, route, type ServiceFactory } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const connect = (signal?: AbortSignal) => {
 *   signal?.throwIfAborted();
 *   return Promise.resolve({ greeting: "hi", close: () => Promise.resolve() });
 * };
 * const service: ServiceFactory = async ({ signal }) => {
 *   const client = await connect(signal);
 *   return {
 *     routes: [route("GET", "/hello", () => new Response(client.greeting))],
 *     tasks: [],
 *     [Symbol.asyncDispose]: () => client.close(),
 *   };
 * };
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * await using app = await createApp(readConfig((name) => env[name]), { service });
 * equal(await (await app.handler(new Request("http://x/hello"), undefined as never)).text(), "hi");
 * ```
 */
export type ServiceFactory = (parts: ServiceParts) => Service | Promise<Service>;

/**
 * A service: its routes, and every task definition they add. The app adds
 * `/healthz`, `/livez`, `/tasks/:id` and `/metrics` to the routes.
 *
 * @example A service of one route and one task
 * ```ts
 * import { defineTask, route, type Service } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const welcome = defineTask("send-welcome", (email: string) => void email);
 * const service: Service = {
 *   routes: [route("POST", "/users/:email", (_request, { params, group }) => {
 *     group.add(welcome, params.email);
 *     return Response.json({ id: group.id }, { status: 202 });
 *   })],
 *   tasks: [welcome],
 * };
 * equal(service.tasks[0]?.name, "send-welcome");
 * ```
 */
export interface Service {
  /** The service's routes. */
  readonly routes: readonly Route[];
  /**
   * Every task definition the routes add. In durable mode a journaled task
   * is found again by its name after a restart (or by another server), so a
   * route that adds one missing here is answered 500 before anything is
   * journaled.
   */
  readonly tasks: readonly TaskDefinition<never>[];
  /**
   * Closes what the service opened (a database client its tasks use): called
   * once the app's tasks are done or given up, before its files and journal
   * are closed, and when the start fails after the service was made.
   * @default {nothing to close}
   */
  [Symbol.asyncDispose]?(): PromiseLike<void>;
}

/**
 * The demo: `POST /send-notification/:email` and `POST /reports`, as
 * configured by `SEND_DELAY_MS`, `BODY_TIMEOUT_MS` and `REPORT_WORK_MS`.
 *
 * @param parts The app's configuration, log and worker pool.
 * @returns Its routes and its two task definitions.
 *
 * @example The demo's routes and tasks
 * ```ts
 * import { LogWriter, notificationService, readConfig } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await using log = await LogWriter.open(path);
 * const service = notificationService({
 *   config: readConfig(() => undefined),
 *   log,
 *   pool: undefined,
 *   submit: () => Promise.resolve(),
 *   stopping: new AbortController().signal,
 * });
 * deepEqual(service.routes.map((route) => route.pattern.pathname), [
 *   "/send-notification/:email",
 *   "/reports",
 * ]);
 * deepEqual(service.tasks.map((task) => task.name), ["send-notification", "build-report"]);
 * ```
 */
export function notificationService(parts: ServiceParts): Service {
  const { config, log, pool } = parts;
  const notifications = { log, sendDelayMs: config.sendDelayMs, bodyTimeout: config.bodyTimeoutMs };
  const reports = { log, pool, workMs: config.reportWorkMs };
  return {
    routes: [...notificationRoutes(notifications), ...reportRoutes(reports)],
    tasks: [notificationTask(notifications), reportTask(reports)],
  };
}
