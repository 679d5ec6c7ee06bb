/**
 * What may cross to a Web Worker and back, checked by the types: a worker
 * task whose arguments or result cannot be structured-cloned fails `deno check`.
 *
 * @module
 */

/**
 * A value `postMessage` can copy to a worker and back (structured clone).
 *
 * @example What may cross to a worker
 * ```ts
 * import type { Cloneable } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const report: Cloneable = { when: new Date(0), bytes: new Uint8Array([1]), tags: new Set(["a"]) };
 * deepEqual(structuredClone(report), report);
 * // @ts-expect-error: a function cannot be copied to a worker
 * const refused: Cloneable = () => {};
 * void refused;
 * ```
 */
export type Cloneable =
  | string
  | number
  | boolean
  | null
  | undefined
  | bigint
  | Date
  | RegExp
  | ArrayBuffer
  | SharedArrayBuffer // shared with the worker, not copied
  | ArrayBufferView
  | readonly Cloneable[]
  | ReadonlyMap<Cloneable, Cloneable>
  | ReadonlySet<Cloneable>
  | { readonly [key: string]: Cloneable };

/**
 * Any function; {@linkcode WorkerModule} checks it can run in a worker.
 *
 * @example A worker task typed from its module
 * ```ts
 * import { TaskGroup, WorkerPool } from "./mod.ts";
 * import type { square } from "../tests/fixtures/worker_tasks.ts";
 *
 * await using pool = new WorkerPool({ size: 1 });
 * const module = new URL("../tests/fixtures/worker_tasks.ts", import.meta.url);
 * const squareTask = pool.define<typeof square>("square", module, "square");
 * new TaskGroup().add(squareTask, 7);
 * // @ts-expect-error: square takes a number
 * const refused = () => new TaskGroup().add(squareTask, "7");
 * void refused;
 * ```
 */
export type WorkerFunction = (...args: never[]) => unknown;

/**
 * `T` if `F`'s arguments and result are structured-cloneable, else an
 * error message type, so that a bad worker function fails `deno check`.
 *
 * @example A function whose result cannot cross fails `deno check`
 * ```ts
 * import { WorkerPool } from "./mod.ts";
 *
 * await using pool = new WorkerPool({ size: 1 });
 * const module = new URL("../tests/fixtures/worker_tasks.ts", import.meta.url);
 * // @ts-expect-error: the result must be structured-cloneable, and a function is not
 * pool.define<() => () => void>("callback", module, "callback");
 * ```
 */
export type WorkerModule<F extends WorkerFunction, T> = Parameters<F> extends Cloneable[]
  ? Awaited<ReturnType<F>> extends Cloneable ? T
  : "Cannot run in a worker: the result must be structured-cloneable"
  : "Cannot run in a worker: the arguments must be structured-cloneable";
