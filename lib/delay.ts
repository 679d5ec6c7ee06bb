/**
 * An abortable delay.
 *
 * @module
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborting it ends the delay early with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon
 * as the signal aborts (at once if it already has). The timer is cleared on
 * abort, so an aborted delay holds nothing.
 *
 * @param ms Milliseconds to wait; 0 resolves on the next macrotask.
 * @param options The abort signal.
 * @returns A promise that resolves after the delay.
 *
 * @example
 * ```ts
 * import { delay } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await delay(1);
 * await rejects(delay(60_000, { signal: AbortSignal.abort(new Error("stop")) }), /stop/);
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
