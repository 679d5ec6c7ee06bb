/**
 * A pool of Web Workers for CPU-bound tasks, so they do not stall requests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { WorkerFunction, WorkerModule } from "./cloneable.ts";
import type { StructuredLogger } from "./logging.ts";
import type { Described } from "./_worker_host.ts";
import { revived } from "./_worker_errors.ts";
import { checkWorkerReads, WORKER_HOST } from "./_worker_reads.ts";
import type { RunOptions, WorkerPoolOptions } from "./worker_pool_options.ts";
import type { TaskDefinition, TaskOptions } from "./task.ts";
import { workerTask } from "./_worker_task.ts";

interface Job {
  readonly id: number;
  readonly module: string;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
}

/** Numbers the pools, for their tasks' `concurrencyKey`. */
let pools = 0;

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
}

/**
 * Runs exported functions of modules in Web Workers, one job per worker at a
 * time. Workers inherit the server's permissions (never more). A worker that
 * throws, calls `self.close()` or `Deno.exit()`, or is terminated on abort
 * fails only its job and is replaced when next needed.
 *
 * @example Running a function in a worker
 * ```ts
 * import { WorkerPool } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * await using pool = new WorkerPool({ size: 1 });
 * const module = new URL("../tests/fixtures/worker_tasks.ts", import.meta.url);
 * equal(await pool.run(module, "square", [7]), 49);
 * ```
 */
export class WorkerPool implements AsyncDisposable {
  #size: number;
  readonly #key = `worker pool ${++pools}`;
  #logger: StructuredLogger;
  #slots: Slot[] = [];
  #queue: Job[] = [];
  #nextId = 0;
  #closed = false;
  #ended = 0;

  /**
   * Makes a pool; no worker starts until the first job.
   *
   * @param options The pool's size.
   * @throws {RangeError} If `size` is not a positive integer.
   */
  constructor(options: WorkerPoolOptions = {}) {
    const { size = Math.max(1, navigator.hardwareConcurrency - 1) } = options;
    this.#logger = options.logger ?? getLogger(["posthaste", "worker-pool"]);
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create worker pool: size must be a positive integer, got ${size}`,
      );
    }
    this.#size = size;
  }

  /** How many workers it runs at most: jobs beyond them wait in its queue. */
  get size(): number {
    return this.#size;
  }

  /**
   * Options that make a task wait for one of this pool's workers before its
   * attempt, not inside one (its timeout counts from when a worker can take
   * it, it holds none of the runner's `maxConcurrency` meanwhile, and a crash
   * then does not count towards its quarantine): `concurrency` its size, and
   * a `concurrencyKey` all its tasks share.
   *
   * @example A task of your own that runs a job in the pool
   * ```ts
   * import { defineTask, WorkerPool } from "./mod.ts";
   * import { equal } from "node:assert/strict";
   *
   * await using pool = new WorkerPool({ size: 2 });
   * const module = new URL("../tests/fixtures/worker_tasks.ts", import.meta.url);
   * const square = defineTask("log-square", async function (n: number) {
   *   console.log(await pool.run(module, "square", [n], { signal: this.signal }));
   * }, { ...pool.taskOptions, timeout: 5_000 });
   * equal(square.options.concurrency, 2);
   * ```
   */
  get taskOptions(): Pick<TaskOptions, "concurrency" | "concurrencyKey"> {
    return { concurrency: this.#size, concurrencyKey: this.#key };
  }

  /** Workers started and alive. */
  get workers(): number {
    return this.#slots.length;
  }

  /** Jobs running in a worker now. */
  get running(): number {
    let running = 0;
    for (const slot of this.#slots) if (slot.job !== undefined) running++;
    return running;
  }

  /** Jobs waiting for a free worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Workers ended before the pool closed, each replaced on demand: terminated
   * at a job's timeout or abort (a CPU loop cannot see a signal), crashed, or
   * closed by their own code. Each costs a new worker's start.
   */
  get ended(): number {
    return this.#ended;
  }

  /**
   * Runs `module`'s export `name` with `args` in a worker.
   *
   * @param module The module's URL (typically `new URL("./x.ts", import.meta.url)`).
   * @param name The exported function's name.
   * @param args Its arguments (structured-cloned).
   * @param options The abort signal.
   * @returns Its result (structured-cloned).
   * @throws {Error} What the function threw (name, message and stack kept),
   * or the signal's reason.
   */
  run<R = unknown>(
    module: URL | string,
    name: string,
    args: readonly unknown[],
    options: RunOptions = {},
  ): Promise<R> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(new Error("Cannot run worker task: pool is closed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    try {
      checkWorkerReads(String(module), "run", name);
    } catch (error) {
      return Promise.reject(error);
    }
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const job: Job = {
      id: this.#nextId++,
      module: String(module),
      name,
      args,
      resolve: resolve as (value: unknown) => void,
      reject,
      signal,
    };
    if (signal) {
      job.onAbort = () => this.#abort(job, signal.reason);
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    this.#queue.push(job);
    this.#dispatch();
    return promise;
  }

  /**
   * Defines a task that runs `module`'s export `name` in this pool; its
   * arguments are typed from `F`, e.g. `typeof import("./report.ts").build`.
   *
   * It has the pool's {@linkcode WorkerPool.taskOptions} unless given a
   * `concurrency`, `sharedConcurrency` or `concurrencyKey` of its own (its
   * `concurrency` then defaults to the pool's size).
   *
   * @param taskName The task's name.
   * @param module The module's URL.
   * @param name The exported function's name.
   * @param options Timeout, retries and concurrency; at the timeout the worker is terminated.
   * @returns A definition to add to a group.
   */
  define<F extends WorkerFunction>(
    taskName: string,
    module: WorkerModule<F, URL | string>,
    name: string,
    options: TaskOptions = {},
  ): TaskDefinition<Parameters<F>> {
    return workerTask(this, taskName, module as URL | string, name, options);
  }

  /** Terminates every worker; queued and running jobs reject. */
  close(): Promise<void> {
    this.#closed = true;
    const error = new Error("Cannot finish worker task: pool is closed");
    for (const job of this.#queue.splice(0)) this.#settle(job, error, false);
    for (const slot of this.#slots.splice(0)) {
      slot.worker.terminate();
      if (slot.job) this.#settle(slot.job, error, false);
    }
    return Promise.resolve();
  }

  /** Same as {@linkcode WorkerPool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (slot === undefined && this.#slots.length < this.#size) slot = this.#spawn();
      if (slot === undefined) return;
      const job = this.#queue.shift() as Job;
      try {
        slot.worker.postMessage({ id: job.id, module: job.module, name: job.name, args: job.args });
      } catch (error) {
        // An argument that cannot be cloned (a function): the job fails, the
        // worker stays free. Before, run() threw and the worker kept the job for good.
        this.#settle(job, error, false);
        continue;
      }
      slot.job = job;
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_HOST, { type: "module" });
    const slot: Slot = { worker, job: undefined };
    worker.onmessage = ({ data }: MessageEvent) => {
      if (data.closed) return this.#workerClosed(slot, data.id, data.crash);
      const job = slot.job;
      if (job === undefined || data.id !== job.id) return;
      slot.job = undefined;
      if (data.ok) this.#settle(job, data.value, true);
      else {
        this.#settle(job, revived(data.error), false);
      }
      this.#dispatch();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#lose(slot, `its worker crashed: ${event.message}`);
    };
    this.#slots.push(slot);
    return slot;
  }

  /**
   * A worker closed itself (`self.close()` or `Deno.exit()`) or crashed on an
   * error nothing caught: during job `id`, which fails, or between jobs (from
   * a timer), when a job sent to it since has not started and goes to
   * another worker.
   */
  #workerClosed(slot: Slot, id: number | undefined, crash: Described | undefined): void {
    if (slot.job !== undefined && slot.job.id === id) {
      return this.#lose(
        slot,
        crash === undefined
          ? "it closed its worker (or called Deno.exit)"
          : `its worker crashed: ${crash.name}: ${crash.message}`,
      );
    }
    this.#lose(slot, undefined);
    if (crash !== undefined) {
      this.#logger.error("A worker crashed between jobs and was replaced: {name}: {message}", {
        ...crash,
      });
    }
  }

  /** Drops an ended worker: its job fails saying `why`, or (no `why`: not begun) waits. */
  #lose(slot: Slot, why: string | undefined): void {
    this.#drop(slot);
    const job = slot.job;
    slot.job = undefined;
    if (job === undefined) return this.#dispatch();
    if (why === undefined) this.#queue.unshift(job);
    else this.#settle(job, new Error(`Cannot run worker task "${job.name}": ${why}`), false);
    this.#dispatch();
  }

  #abort(job: Job, reason: unknown): void {
    const queued = this.#queue.indexOf(job);
    if (queued !== -1) this.#queue.splice(queued, 1);
    const slot = this.#slots.find((s) => s.job === job);
    // A CPU-bound function cannot see a signal: terminating is the only way to stop it.
    if (slot) this.#drop(slot);
    this.#settle(job, reason, false);
    this.#dispatch();
  }

  #drop(slot: Slot): void {
    slot.worker.terminate();
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    this.#slots.splice(index, 1);
    this.#ended++;
  }

  #settle(job: Job, value: unknown, ok: boolean): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (ok) job.resolve(value);
    else job.reject(value);
  }
}
