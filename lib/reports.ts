/**
 * The CPU-bound demo: `POST /reports`.
 *
 * @module
 */
import { checkWorkerReads } from "./_worker_reads.ts";
import type { LineSink } from "./notification.ts";
import { buildReport } from "./report_work.ts";
import { type Route, route } from "./router.ts";
import { defineTask, type TaskContext, type TaskDefinition } from "./task.ts";
import type { WorkerPool } from "./worker_pool.ts";

const REPORT_WORK = new URL("./report_work.ts", import.meta.url);

/**
 * Options for {@linkcode reportRoutes}.
 *
 * @example A report built on the event loop
 * ```ts
 * import { reportTask, TaskGroup, TaskRunner } from "./mod.ts";
 * import { match } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const log = { append: (line: string) => (lines.push(line), Promise.resolve()) };
 * await using runner = new TaskRunner();
 * runner.submit(new TaskGroup().add(reportTask({ log, workMs: 1 }), "r1"));
 * await runner.idle();
 * match(lines[0] ?? "", /^report r1: /);
 * ```
 */
export interface ReportOptions {
  /** Where `report {id}: {result}` lines go. */
  log: LineSink;
  /** Runs the work off the event loop; without one it runs on it. @default {undefined} */
  pool?: WorkerPool | undefined;
  /** Milliseconds of CPU work per report. @default {50} */
  workMs?: number;
}

/**
 * The `build-report` task: computes a report in the pool (or on the event
 * loop without one) and appends `report {id}: {result}`. With a pool, it
 * has the pool's `taskOptions`: as many attempts start at once as it has
 * workers, the rest waiting for one before their attempt.
 *
 * @param options The log, the pool and the amount of work.
 * @returns The task definition.
 * @throws {Error} With a pool, if this process may not read the modules its
 * workers import (`Cannot define worker task "build-report": no read access to …`).
 *
 * @example The report task's name
 * ```ts
 * import { reportTask } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(reportTask({ log: { append: async () => {} } }).name, "build-report");
 * ```
 */
export function reportTask(options: ReportOptions): TaskDefinition<[string]> {
  const { log, pool, workMs = 50 } = options;
  // At start-up, as pool.define does: a server whose workers cannot import
  // their modules would answer 202 to every report and fail each.
  if (pool) checkWorkerReads(REPORT_WORK.href, "define", "build-report");
  return defineTask("build-report", async function (this: TaskContext, id: string) {
    const result = pool
      ? await pool.run<string>(REPORT_WORK, "buildReport", [id, workMs], { signal: this.signal })
      : buildReport(id, workMs);
    await log.append(`report ${id}: ${result}`);
  }, pool?.taskOptions);
}

/**
 * `POST /reports`: answers 202 with the report's id at once; a task then
 * computes the report in a worker and appends `report {id}: {result}`.
 *
 * @param options The log, the pool and the amount of work.
 * @returns The routes.
 *
 * @example The report route
 * ```ts
 * import { reportRoutes } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(reportRoutes({ log: { append: async () => {} } })[0]?.pattern.pathname, "/reports");
 * ```
 */
export function reportRoutes(options: ReportOptions): Route[] {
  const report = reportTask(options);
  return [
    route("POST", "/reports", (_request, { group }) => {
      group.add(report, group.id);
      return Response.json({ message: "Report queued", id: group.id }, {
        status: 202,
        headers: { location: `/tasks/${group.id}` },
      });
    }),
  ];
}
