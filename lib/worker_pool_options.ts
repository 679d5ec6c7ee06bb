/**
 * The options of {@linkcode WorkerPool} and of its jobs.
 *
 * @module
 */
import type { StructuredLogger } from "./logging.ts";

/**
 * Options for {@linkcode WorkerPool}.
 *
 * @example Workers start on first use
 * ```ts
 * import { WorkerPool } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * await using pool = new WorkerPool({ size: 2 });
 * equal(pool.workers, 0);
 * ```
 */
export interface WorkerPoolOptions {
  /** Workers at most; they start on first use and are reused. @default {max(1, cores - 1)} */
  size?: number;
  /**
   * Where a worker that crashed between jobs (a timer's throw, a forgotten
   * rejection) is reported; a crash during a job fails that job instead.
   * @default {getLogger(["posthaste", "worker-pool"])}
   */
  logger?: StructuredLogger;
}

/**
 * Options for {@linkcode WorkerPool.run}.
 *
 * @example A job given up before it ran
 * ```ts
 * import { WorkerPool } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await using pool = new WorkerPool({ size: 1 });
 * const module = new URL("../tests/fixtures/worker_tasks.ts", import.meta.url);
 * const signal = AbortSignal.abort(new Error("not needed"));
 * await rejects(pool.run(module, "square", [7], { signal }), /not needed/);
 * ```
 */
export interface RunOptions {
  /** Aborting it drops a queued job, or terminates the worker running it. */
  signal?: AbortSignal;
}
