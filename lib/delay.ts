/**
 * An abortable delay.
 *
 * @module
 */
import { offAbort, onAbort } from "./_abort_hooks.ts";
import {
  sharedTimeouts,
  type TimeoutHandle,
  type TimeoutQueue,
  type TimeoutTarget,
} from "./timeout_queue.ts";

/**
 * Options for {@linkcode delay}.
 *
 * @example A delay on a fake clock, given up on
 * ```ts
 * import { delay, TimeoutQueue } from "./mod.ts";
 * import { fakeClock } from "./testing.ts";
 * import { rejects } from "node:assert/strict";
 *
 * const stop = new AbortController();
 * const waiting = delay(60_000, { timeouts: new TimeoutQueue(fakeClock()), signal: stop.signal });
 * stop.abort(new Error("enough"));
 * await rejects(waiting, /enough/);
 * ```
 */
export interface DelayOptions {
  /** Aborting it ends the delay early with the signal's reason. */
  signal?: AbortSignal;
  /** Where the wait is kept. @default {a queue shared by all delays} */
  timeouts?: TimeoutQueue;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon
 * as the signal aborts (at once if it already has). An aborted delay holds
 * nothing.
 *
 * @param ms Milliseconds to wait.
 * @param options The abort signal.
 * @returns A promise that resolves after the delay, or rejects with a
 * RangeError at once if `ms` is over {@linkcode MAX_TIMER_MS} or not a number.
 *
 * @example Waiting, and giving up
 * ```ts
 * import { delay } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await delay(1);
 * await rejects(delay(60_000, { signal: AbortSignal.abort(new Error("stop")) }), /stop/);
 * ```
 */
export function delay(ms: number, options?: DelayOptions): Promise<void> {
  // Many tasks wait the same time: one timer per duration, not one per delay
  // (a timer costs about 2 us to arm; thousands wait at once under load).
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const timeouts = options?.timeouts ?? sharedTimeouts;
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const wait = new Wait(resolve, reject, signal, timeouts);
  try {
    wait.handle = timeouts.add(ms, wait);
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal) onAbort(signal, wait);
  return promise;
}

/**
 * One delay: its own timeout and abort hook. An object, not closures: under
 * load thousands wait at once, each copied by every scavenge it survives, and
 * one object here replaces 2 closures and the 3 contexts they kept (with the
 * attempt's deadline, heap per running task 2,188 -> 1,878 B: `deno task memory`).
 */
class Wait implements TimeoutTarget {
  handle: TimeoutHandle | undefined;

  constructor(
    readonly resolve: () => void,
    readonly reject: (reason: unknown) => void,
    readonly signal: AbortSignal | undefined,
    readonly timeouts: TimeoutQueue,
  ) {}

  onTimeout(): void {
    if (this.signal) offAbort(this.signal, this);
    this.resolve();
  }

  /** The signal aborted (the name `addEventListener` calls an object by). */
  handleEvent(): void {
    if (this.handle) this.timeouts.remove(this.handle);
    this.reject(this.signal?.reason);
  }
}
