import type { Logger } from "@logtape/logtape";
import { deepEqual, equal, match, notEqual, rejects, throws } from "node:assert/strict";
import { type TaskDefinition, TaskGroup, WorkerPool } from "../lib/mod.ts";
import { TestRunner } from "./_helpers.ts";
import type * as Tasks from "./fixtures/worker_tasks.ts";

const MODULE = new URL("./fixtures/worker_tasks.ts", import.meta.url);

Deno.test("WorkerPool: a worker crashed by an error nothing caught fails the job it ran, or none", async () => {
  const logged: { message: string; properties: Record<string, unknown> }[] = [];
  const logger = {
    error: (message: string, properties: Record<string, unknown>) =>
      void logged.push({ message, properties }),
  } as unknown as Logger;
  await using pool = new WorkerPool({ size: 1, logger });
  await rejects(
    pool.run(MODULE, "forgetRejection", [], { signal: AbortSignal.timeout(10_000) }),
    /^Error: Cannot run worker task "forgetRejection": its worker crashed: Error: forgotten$/,
  );
  equal(logged.length, 0, "a crash during a job is that job's failure");
  // Crashed between jobs: before, the job sent next failed as "its worker
  // crashed" though it had not started, and Deno printed the stack to stderr.
  equal(await pool.run(MODULE, "closeAfterwards", ["reject"]), 1);
  const next = pool.run(MODULE, "square", [7], { signal: AbortSignal.timeout(10_000) });
  equal(await next, 49, "the job after the crash runs in another worker");
  equal(logged.length, 1);
  equal(logged[0]?.message, "A worker crashed between jobs and was replaced: {name}: {message}");
  equal(logged[0]?.properties.message, "forgotten after answering");
  // One that the task's module handles itself (its own listener) crashes nothing.
  equal(await pool.run(MODULE, "rejectHandled", [], { signal: AbortSignal.timeout(10_000) }), 1);
  equal(logged.length, 1);
});

Deno.test("WorkerPool: a job whose arguments cannot be cloned rejects alone; the worker takes the next", async () => {
  await using pool = new WorkerPool({ size: 1 });
  // Before: run() threw, and the worker kept the job for good: the next never ran.
  const uncloneable = pool.run(MODULE, "square", [() => 1]);
  await rejects(uncloneable, (error: Error) => error.name === "DataCloneError");
  equal(await pool.run(MODULE, "square", [3], { signal: AbortSignal.timeout(10_000) }), 9);
});

Deno.test("WorkerPool runs a function in a worker (another global scope) and returns its result", async () => {
  await using pool = new WorkerPool({ size: 2 });
  equal(pool.workers, 0, "workers start lazily");
  equal(await pool.run(MODULE, "square", [12]), 144);
  match(await pool.run<string>(MODULE, "scope", []), /^function:/);
  equal(typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope, "undefined");
  equal(pool.workers, 1, "one worker reused for jobs one after another");
  deepEqual(await Promise.all([1, 2, 3].map((n) => pool.run(MODULE, "square", [n]))), [1, 4, 9]);
  equal(pool.workers, 2);
});

Deno.test("WorkerPool: a throwing task or one that closes its worker fails only itself", async () => {
  await using pool = new WorkerPool({ size: 1 });
  await rejects(pool.run(MODULE, "fail", ["bad input"]), (error: Error) => {
    equal(error.message, "bad input");
    match(error.stack ?? "", /worker_tasks\.ts/);
    return true;
  });
  equal(await pool.run(MODULE, "square", [3]), 9);
  await rejects(
    pool.run(MODULE, "closeSelf", []),
    /Cannot run worker task "closeSelf": it closed its worker/,
  );
  equal(await pool.run(MODULE, "square", [4]), 16, "the pool replaced the worker");
  // Deno.exit in a worker ends that worker alone; before, its job never settled.
  await rejects(
    pool.run(MODULE, "exitSelf", [], { signal: AbortSignal.timeout(10_000) }),
    /Cannot run worker task "exitSelf": it closed its worker \(or called Deno.exit\)/,
  );
  equal(await pool.run(MODULE, "square", [6]), 36, "the pool replaced that worker too");
  // Closed between jobs: before, the pool kept the dead worker, and the next job never settled.
  for (const how of ["close", "exit"]) {
    equal(await pool.run(MODULE, "closeAfterwards", [how]), 1);
    const next = pool.run(MODULE, "square", [7], { signal: AbortSignal.timeout(10_000) });
    equal(await next, 49, `the job after one whose worker then ended (${how}) runs`);
  }
  await rejects(
    pool.run(MODULE, "crashLater", []),
    /^Error: Cannot run worker task "crashLater": its worker crashed: Error: uncaught in worker$/,
  );
  equal(await pool.run(MODULE, "square", [5]), 25);
  await rejects(pool.run(MODULE, "missing", []), /has no function "missing"/);
  // Before: String() of it threw in the worker, which crashed ("its worker crashed").
  await rejects(
    pool.run(MODULE, "throwBare", []),
    /^TypeError: Cannot read the object that was thrown: it has no usable message or string form$/,
  );
});

Deno.test("WorkerPool: a timeout terminates a worker stuck in an infinite loop; the next task runs", async () => {
  await using pool = new WorkerPool({ size: 1 });
  await using runner = new TestRunner({ retries: 0 });
  const spin = pool.define<typeof Tasks.spin>("spin", MODULE, "spin", { timeout: 200 });
  const square = pool.define<typeof Tasks.square>("square", MODULE, "square");
  const group = new TaskGroup().add(spin).add(square, 6);
  runner.submit(group);
  await group.settled();
  deepEqual(group.tasks.map((t) => [t.name, t.state]), [["spin", "failed"], ["square", "done"]]);
  match(group.tasks[0]?.error ?? "", /timed out after 200 ms/);
});

Deno.test("WorkerPool.define() types arguments from the worker function", () => {
  const pool = new WorkerPool({ size: 1 });
  const square = pool.define<typeof Tasks.square>("square", MODULE, "square");
  new TaskGroup().add(square, 2);
  // @ts-expect-error a string where the worker function takes a number
  new TaskGroup().add(square, "2");
  // @ts-expect-error a function cannot be cloned to a worker
  pool.define<(callback: () => void) => number>("bad", MODULE, "square");
  // @ts-expect-error nor can a function be returned from one
  pool.define<() => () => void>("bad", MODULE, "square");
  throws(() => new WorkerPool({ size: 0 }), RangeError);
});

/**
 * Runs a group of each task (each `hold`s its worker) on `pool`, of one
 * worker: while the first holds it, the others have not begun an attempt (no
 * timeout runs, and no crash would count) nor wait in the pool's queue.
 */
async function onlyFirstBegins(
  pool: WorkerPool,
  tasks: TaskDefinition<[SharedArrayBuffer]>[],
  message?: string,
): Promise<void> {
  await using runner = new TestRunner();
  const flags = new SharedArrayBuffer(8);
  const view = new Int32Array(flags);
  const groups = tasks.map((task) => new TaskGroup().add(task, flags));
  for (const group of groups) runner.submit(group);
  await Atomics.waitAsync(view, 1, 0).value; // the first has reached its worker
  deepEqual([pool.running, pool.queued], [1, 0], message);
  deepEqual(groups.map((group) => group.tasks[0]?.attempts), [1, 0, 0], message);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  await runner.idle();
  deepEqual(groups.map((group) => group.tasks[0]?.state), ["done", "done", "done"]);
}

Deno.test("WorkerPool.define(): tasks beyond the workers wait before their attempt, not in the pool's queue", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const hold = pool.define<typeof Tasks.hold>("hold", MODULE, "hold");
  equal(hold.options.concurrency, 1, "the pool's size");
  equal(
    pool.define<typeof Tasks.square>("many", MODULE, "square", { concurrency: 3 }).options
      .concurrency,
    3,
  );
  await onlyFirstBegins(pool, [hold, hold, hold]);
});

Deno.test("WorkerPool.define(): tasks of several names share the pool's workers' places", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const hold = pool.define<typeof Tasks.hold>("hold", MODULE, "hold");
  const again = pool.define<typeof Tasks.hold>("hold-again", MODULE, "hold");
  equal(again.options.concurrencyKey, hold.options.concurrencyKey);
  await using other = new WorkerPool({ size: 1 });
  notEqual(other.taskOptions.concurrencyKey, pool.taskOptions.concurrencyKey);
  const own = pool.define<typeof Tasks.square>("own", MODULE, "square", { concurrencyKey: "k" });
  deepEqual([own.options.concurrency, own.options.concurrencyKey], [1, "k"]);
  await onlyFirstBegins(pool, [hold, again, again], "the second name waits before its attempt too");
});

Deno.test("WorkerPool: an aborted queued job never runs; close() rejects what is left", async () => {
  const pool = new WorkerPool({ size: 1 });
  const busy = pool.run(MODULE, "spin", []);
  const controller = new AbortController();
  const queued = pool.run(MODULE, "square", [2], { signal: controller.signal });
  controller.abort(new Error("not needed"));
  await rejects(queued, /not needed/);
  await pool.close();
  await rejects(busy, /pool is closed/);
  await rejects(pool.run(MODULE, "square", [2]), /pool is closed/);
});

Deno.test("WorkerPool counts running and queued jobs, and the workers it ended", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const counts = () => [pool.workers, pool.running, pool.queued, pool.ended];
  const stop = new AbortController();
  const spinning = pool.run(MODULE, "spin", [], { signal: stop.signal });
  const squared = pool.run(MODULE, "square", [3]);
  deepEqual(counts(), [1, 1, 1, 0]);
  stop.abort(new Error("enough"));
  await rejects(spinning, /enough/);
  deepEqual(counts(), [1, 1, 0, 1], "terminated, and a new worker took the queued job");
  equal(await squared, 9);
  await rejects(pool.run(MODULE, "fail", ["no"]), /no/);
  deepEqual(counts(), [1, 0, 0, 1], "a job that throws leaves its worker alive");
});
