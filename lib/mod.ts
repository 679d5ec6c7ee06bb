/**
 * posthaste: a Deno HTTP server with a typed background-task runner.
 *
 * Answer the request now; run the slow work right after the response is
 * delivered, in order, with timeouts that abort, retries, limits and drain.
 * Where to start: {@linkcode route}, {@linkcode createHandler} and
 * {@linkcode TaskRunner} are the core; {@linkcode createApp} adds durable
 * mode, the drain, dead letters, status, metrics and the log files, read from
 * the configuration ({@linkcode readConfig}); {@linkcode runServer} runs it as
 * a process, signals included. Tasks are {@linkcode defineTask}s (or plain
 * functions in memory mode), added with {@linkcode TaskGroup.add}; one steers
 * its retries by throwing {@linkcode RetryAfterError} or
 * {@linkcode UnrecoverableError}.
 *
 * @example A route that leaves a task behind
 * ```ts
 * import { createHandler, route, TaskRunner } from "./mod.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * const sent: string[] = [];
 * await using runner = new TaskRunner();
 * const handler = createHandler({
 *   runner,
 *   routes: [route("POST", "/greet/:name", (_request, { params, group }) => {
 *     group.add((name: string) => void sent.push(`hello, ${name}`), params.name);
 *     return new Response(null, { status: 202 }); // answered before the task runs
 *   })],
 * });
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/greet/ada`, { method: "POST" });
 * equal(response.status, 202);
 * await runner.idle();
 * deepEqual(sent, ["hello, ada"]);
 * ```
 *
 * @module
 */
export * from "./abortable.ts";
export * from "./admission_error.ts";
export * from "./backoff.ts";
export * from "./clock.ts";
export * from "./cloneable.ts";
export * from "./dead_letter.ts";
export * from "./duplicate_group_error.ts";
export * from "./escape_line.ts";
export * from "./fifo.ts";
export * from "./group_registry.ts";
export * from "./file_watch.ts";
export * from "./log_writer.ts";
export * from "./log_writer_options.ts";
export * from "./runner.ts";
export * from "./runner_options.ts";
export * from "./runner_stats.ts";
export * from "./task.ts";
export * from "./task_group_options.ts";
export * from "./task_entry.ts";
export * from "./task_group.ts";
export * from "./task_status.ts";
export * from "./shared_places.ts";
export * from "./task_store.ts";
export * from "./task_tracing.ts";
export * from "./time_ordered_id.ts";
export * from "./timeout_queue.ts";
export * from "./version.ts";
export * from "./worker_pool.ts";
export * from "./worker_pool_options.ts";
export * from "./app.ts";
export * from "./app_options.ts";
export * from "./body.ts";
export * from "./config.ts";
export * from "./deferred_recovery.ts";
export * from "./delay.ts";
export * from "./http_error.ts";
export * from "./idempotency_key.ts";
export * from "./journal_takeover.ts";
export * from "./non_blocking_lines.ts";
export * from "./logging.ts";
export * from "./histogram.ts";
export * from "./metrics.ts";
export * from "./process_readings.ts";
export * from "./notification.ts";
export * from "./notification_input.ts";
export * from "./open_task_store.ts";
export * from "./ops_routes.ts";
export * from "./postgres_task_store.ts";
export * from "./postgres_task_store_options.ts";
export * from "./recovery.ts";
export * from "./report_work.ts";
export * from "./resilient_server.ts";
export * from "./reports.ts";
export * from "./path_params.ts";
export * from "./router.ts";
export * from "./run_replay.ts";
export * from "./run_server.ts";
export * from "./handler_options.ts";
export * from "./server.ts";
export * from "./service.ts";
export * from "./server_url.ts";
export * from "./sqlite_task_store.ts";
export * from "./sqlite_task_store_options.ts";
export * from "./stray_errors.ts";
export * from "./event_loop_lag.ts";
export * from "./unrecoverable_error.ts";
export * from "./retry_after_error.ts";
