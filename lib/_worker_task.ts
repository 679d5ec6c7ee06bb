// WorkerPool.define's task: a definition whose function runs a module's
// export in the pool, with the pool's limits unless given its own. Internal.
import type { WorkerPool } from "./worker_pool.ts";
import { checkWorkerReads } from "./_worker_reads.ts";
import { defineTask, type TaskContext, type TaskDefinition, type TaskOptions } from "./task.ts";

/**
 * A task that runs `url`'s export `name` in `pool`.
 *
 * @param pool The pool.
 * @param taskName The task's name.
 * @param url The module's URL.
 * @param name The exported function's name.
 * @param options The task's options, as given to `define`.
 * @returns The definition.
 */
export function workerTask<A extends unknown[]>(
  pool: WorkerPool,
  taskName: string,
  url: URL | string,
  name: string,
  options: TaskOptions,
): TaskDefinition<A> {
  // At start-up, when the service defines it, rather than at each job.
  checkWorkerReads(String(url), "define", taskName);
  const { concurrency, sharedConcurrency, concurrencyKey } = options;
  // A task given a limit of its own keeps its lane; the others share the pool's.
  const limited = (concurrency ?? sharedConcurrency ?? concurrencyKey) === undefined
    ? { ...options, ...pool.taskOptions }
    : { ...options, concurrency: concurrency ?? pool.size };
  const run = function (this: TaskContext, ...args: unknown[]): Promise<unknown> {
    return pool.run(url, name, args, { signal: this.signal });
  };
  // The arguments are checked through the worker function's type; the definition is JSON-free by design.
  return defineTask(taskName, run as never, limited) as unknown as TaskDefinition<A>;
}
