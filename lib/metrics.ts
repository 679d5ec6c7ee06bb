/**
 * Prometheus metrics in the text exposition format (version 0.0.4).
 *
 * @module
 */
import type { RefusalCode } from "./handler_options.ts";
import type { LogWriterStats } from "./log_writer_options.ts";
import { DURATION_BUCKETS, Histogram, REQUEST_BUCKETS } from "./histogram.ts";
import { denoProcess, type ProcessReadings } from "./process_readings.ts";
import { header, labels, processFamilies, series, single } from "./_exposition.ts";
import type { TaskRunner } from "./runner.ts";

/**
 * Counts requests and task durations and renders them, with the runner's
 * counters and the log writers' statistics, as Prometheus text.
 *
 * @example Counting a request
 * ```ts
 * import { Metrics, TaskRunner } from "./mod.ts";
 * import { match } from "node:assert/strict";
 *
 * const runner = new TaskRunner();
 * const metrics = new Metrics(runner);
 * metrics.request("/healthz", 200, 0.0002);
 * match(metrics.render(), /posthaste_http_requests_total\{route="\/healthz",status="200"\} 1/);
 * match(metrics.render(), /request_duration_seconds_bucket\{route="\/healthz",le="0.00025"\} 1/);
 * ```
 */
export class Metrics {
  #runner: TaskRunner;
  #logs: Record<string, { readonly stats: Readonly<LogWriterStats> }>;
  /**
   * Errors nothing handled, counted by the process's `catchStrayErrors()`
   * guard: exported as `posthaste_stray_errors_total` once set.
   * @default {undefined (not exported)}
   */
  strayErrors: { readonly count: number } | undefined;
  /**
   * Times the listener stopped accepting connections and was served again
   * ({@linkcode ResilientServer}): exported as
   * `posthaste_accept_failures_total` once set.
   * @default {undefined (not exported)}
   */
  acceptFailures: { readonly count: number } | undefined;
  /**
   * Requests sent again with their `Idempotency-Key` and answered as the
   * first was: exported as `posthaste_idempotent_replays_total` once set.
   * @default {undefined (not exported)}
   */
  replays: { readonly count: number } | undefined;
  /**
   * How long the durable journal's writes took (`journalSyncs` of
   * {@linkcode SqliteTaskStore} or {@linkcode PostgresTaskStore}): exported as
   * `posthaste_journal_sync_seconds` once set.
   * @default {undefined (not exported)}
   */
  journalSyncs: Histogram | undefined;
  /**
   * How late the event loop ran its timers ({@linkcode EventLoopLag}'s
   * `histogram`): exported as `posthaste_event_loop_lag_seconds` once set.
   * @default {undefined (not exported)}
   */
  eventLoopLag: Histogram | undefined;
  /**
   * The worker pool ({@linkcode WorkerPool}): exported as `posthaste_workers`,
   * `posthaste_worker_jobs` and `posthaste_workers_ended_total` once set.
   * @default {undefined (not exported)}
   */
  workerPool:
    | {
      readonly workers: number;
      readonly running: number;
      readonly queued: number;
      readonly ended: number;
    }
    | undefined;
  /**
   * What the process reports of itself: exported as `process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `process_heap_bytes` and
   * `process_start_time_seconds`.
   * @default {denoProcess}
   */
  processReadings: ProcessReadings = denoProcess;
  #requests = new Map<string, Map<number, { route: string; status: string; count: number }>>();
  #requestDurations = new Map<string, Histogram>();
  // Each known from the start, at 0: a rate over a series that appears only
  // with its first refusal misses that one.
  #refusals: Record<RefusalCode, number> = {
    backlog_full: 0,
    shutting_down: 0,
    journal_unavailable: 0,
    too_many_tasks: 0,
  };
  #durations = new Map<string, Histogram>();

  /**
   * Observes a runner and, by name, some log writers.
   *
   * @param runner Its counters and gauges are exported; its task durations observed.
   * @param logs Log writers to export, by file label (e.g. `{ notifications: log }`).
   */
  constructor(
    runner: TaskRunner,
    logs: Record<string, { readonly stats: Readonly<LogWriterStats> }> = {},
  ) {
    this.#runner = runner;
    this.#logs = logs;
    runner.stats.observe((state, name, durationMs) => {
      if (state !== "abandoned") this.#observeDuration(name, durationMs / 1_000);
    });
  }

  /**
   * Counts one answered request.
   *
   * @param route The matched route's pattern, or `unmatched`.
   * @param status The response status.
   * @param seconds How long the answer took, if timed.
   */
  request(route: string, status: number, seconds?: number): void {
    // Keyed by the route's own string and the status number: a key built per
    // request would be a fresh string, and V8 hashes those slowly (~0.5 us).
    let byStatus = this.#requests.get(route);
    if (byStatus === undefined) this.#requests.set(route, byStatus = new Map());
    const entry = byStatus.get(status);
    if (entry) entry.count++;
    else byStatus.set(status, { route, status: String(status), count: 1 });
    if (seconds === undefined) return;
    let histogram = this.#requestDurations.get(route);
    if (histogram === undefined) {
      this.#requestDurations.set(route, histogram = new Histogram(REQUEST_BUCKETS));
    }
    histogram.observe(seconds);
  }

  /**
   * Counts one request whose tasks were refused.
   *
   * @param code The answer's code.
   */
  refused(code: RefusalCode): void {
    this.#refusals[code]++;
  }

  /**
   * Renders every metric.
   *
   * @returns The exposition text; serve it as `text/plain; version=0.0.4`.
   */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => header(out, name, type, help);
    const histograms = (name: string, help: string, label: string, by: Map<string, Histogram>) => {
      family(name, "histogram", help);
      for (const [value, histogram] of by) series(out, name, { [label]: value }, histogram);
    };
    family(
      "posthaste_http_requests_total",
      "counter",
      "HTTP requests answered, by route and status.",
    );
    for (const byStatus of this.#requests.values()) {
      for (const { route, status, count } of byStatus.values()) {
        out.push(`posthaste_http_requests_total${labels({ route, status })} ${count}`);
      }
    }
    histograms(
      "posthaste_http_request_duration_seconds",
      "Time from a request reaching the handler to its response being ready (body read, tasks journaled), by route.",
      "route",
      this.#requestDurations,
    );
    family(
      "posthaste_http_refusals_total",
      "counter",
      "Requests whose tasks were refused, by the answer's code (503 backlog_full, shutting_down, journal_unavailable; 413 too_many_tasks).",
    );
    for (const [code, count] of Object.entries(this.#refusals)) {
      out.push(`posthaste_http_refusals_total${labels({ code })} ${count}`);
    }
    const { stats } = this.#runner;
    const counters: [string, number, string][] = [
      ["started", stats.started, "Tasks whose first attempt started."],
      ["succeeded", stats.succeeded, "Tasks that succeeded."],
      ["failed", stats.failed, "Tasks whose last attempt failed."],
      ["retried", stats.retried, "Retries scheduled."],
      ["timed_out", stats.timedOut, "Attempts that timed out."],
      ["abandoned", stats.abandoned, "Tasks abandoned at shutdown."],
    ];
    for (const [name, value, help] of counters) {
      single(out, `posthaste_tasks_${name}_total`, "counter", help, value);
    }
    const runner = this.#runner, { limits } = runner;
    const gauges: [string, number, string][] = [
      ["pending", runner.pending, "Tasks accepted and not finished."],
      ["pending_limit", limits.maxPending, "Tasks that may be pending (MAX_PENDING)."],
      ["running", runner.running, "Tasks running now."],
      ["running_limit", limits.maxConcurrency, "Tasks that may run at once (MAX_CONCURRENCY)."],
      [
        "queued",
        runner.queued,
        "Tasks ready to run that wait for a free slot, for their name's or key's (a task's concurrency), or for their turn on probation.",
      ],
      [
        "queue_latency_seconds",
        runner.queueLatencyMs / 1_000,
        "Seconds since the group of the task first in line for a free slot was accepted; 0 if none waits.",
      ],
      [
        "overrunning",
        runner.overrunning,
        "Attempts stopped (timed out or abandoned) whose code has not ended: tasks that ignore their signal.",
      ],
    ];
    for (const [name, value, help] of gauges) {
      single(out, `posthaste_tasks_${name}`, "gauge", help, value);
    }
    histograms(
      "posthaste_task_duration_seconds",
      "Task duration, first attempt to outcome.",
      "task",
      this.#durations,
    );
    const logFamilies: [string, keyof LogWriterStats, string][] = [
      ["posthaste_log_lines_total", "lines", "Lines written."],
      ["posthaste_log_bytes_total", "bytes", "Bytes written."],
      [
        "posthaste_log_write_batches_total",
        "batches",
        "Write batches (one or more writes for many lines).",
      ],
    ];
    for (const [name, field, help] of logFamilies) {
      family(name, "counter", help);
      for (const [file, writer] of Object.entries(this.#logs)) {
        out.push(`${name}${labels({ file })} ${writer.stats[field]}`);
      }
    }
    const processCounters = [
      [
        this.strayErrors,
        "posthaste_stray_errors_total",
        "Unhandled rejections and uncaught exceptions caught; the server went on.",
      ],
      [
        this.acceptFailures,
        "posthaste_accept_failures_total",
        "Times the listener stopped accepting connections (e.g. out of file descriptors) and served again.",
      ],
      [
        this.replays,
        "posthaste_idempotent_replays_total",
        "Requests sent again with their Idempotency-Key, answered as the first was; their tasks not added again.",
      ],
    ] as const;
    for (const [counter, name, help] of processCounters) {
      if (counter !== undefined) single(out, name, "counter", help, counter.count);
    }
    const pool = this.workerPool;
    if (pool !== undefined) {
      const alive = "Worker threads started and alive (WORKERS at most).";
      single(out, "posthaste_workers", "gauge", alive, pool.workers);
      family("posthaste_worker_jobs", "gauge", "Worker jobs running, or queued for a free worker.");
      out.push(`posthaste_worker_jobs{state="running"} ${pool.running}`);
      out.push(`posthaste_worker_jobs{state="queued"} ${pool.queued}`);
      single(
        out,
        "posthaste_workers_ended_total",
        "counter",
        "Workers ended and replaced: terminated at a job's timeout or abort, crashed, or closed by their own code.",
        pool.ended,
      );
    }
    const unlabelled = [
      [
        this.journalSyncs,
        "posthaste_journal_sync_seconds",
        "Time a durable journal write took: SQLite's WAL fdatasync, PostgreSQL's insert of new tasks.",
      ],
      [
        this.eventLoopLag,
        "posthaste_event_loop_lag_seconds",
        "How much later than set a sampling timer fired: time the event loop was busy, answering no request and moving no task on.",
      ],
    ] as const;
    for (const [histogram, name, help] of unlabelled) {
      if (histogram === undefined) continue;
      family(name, "histogram", help);
      series(out, name, {}, histogram);
    }
    processFamilies(out, this.processReadings);
    return out.join("\n") + "\n";
  }

  #observeDuration(task: string, seconds: number): void {
    let histogram = this.#durations.get(task);
    if (histogram === undefined) {
      this.#durations.set(task, histogram = new Histogram(DURATION_BUCKETS));
    }
    histogram.observe(seconds);
  }
}
