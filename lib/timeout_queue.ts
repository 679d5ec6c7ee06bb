/**
 * Many timeouts on few timers.
 *
 * @module
 */
import { type Clock, MAX_TIMER_MS, monotonicClock } from "./clock.ts";

/**
 * A pending timeout, as returned by {@linkcode TimeoutQueue.add}.
 *
 * @example Adding a timeout and taking it back
 * ```ts
 * import { type TimeoutHandle, TimeoutQueue } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const queue = new TimeoutQueue({ now: () => 100, setTimeout: () => 0, clearTimeout: () => {} });
 * const handle: TimeoutHandle = queue.add(500, () => {});
 * equal(handle.deadline, 600);
 * queue.remove(handle);
 * ```
 */
export interface TimeoutHandle {
  /** The time on the queue's clock at which it fires. */
  readonly deadline: number;
}

/**
 * An object that {@linkcode TimeoutQueue.add} calls instead of a function:
 * an object that keeps its own state can be its own callback, so that what
 * waits holds no closure (each one a waiting task keeps is copied by every
 * scavenge it survives).
 *
 * @example An object as its own timeout
 * ```ts
 * import { TimeoutQueue, type TimeoutTarget } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * class Reminder implements TimeoutTarget {
 *   readonly done = Promise.withResolvers<string>();
 *   constructor(readonly text: string) {}
 *   onTimeout(): void {
 *     this.done.resolve(this.text);
 *   }
 * }
 * const reminder = new Reminder("tea");
 * new TimeoutQueue().add(1, reminder);
 * equal(await reminder.done.promise, "tea");
 * ```
 */
export interface TimeoutTarget {
  /** Called at most once, when the timeout fires. */
  onTimeout(): void;
}

interface Node extends TimeoutHandle {
  readonly bucket: Bucket;
  readonly onTimeout: (() => void) | TimeoutTarget;
  prev: Node | undefined;
  next: Node | undefined;
}

interface Bucket {
  readonly ms: number;
  head: Node | undefined;
  tail: Node | undefined;
  timer: unknown;
  /** Whether its callbacks are running: a timeout they add waits for the re-arm after them. */
  firing: boolean;
}

/**
 * Timeouts grouped by duration: within one duration, deadlines are added in
 * time order, so each duration needs only one armed timer, for its earliest
 * deadline. Adding and removing cost O(1) and touch no timer in the common
 * case; a real timer costs microseconds, which is more than a whole task.
 *
 * @example Adding, removing and firing
 * ```ts
 * import { TimeoutQueue } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const queue = new TimeoutQueue();
 * const fired: string[] = [];
 * const done = Promise.withResolvers<void>();
 * queue.remove(queue.add(5, () => fired.push("removed")));
 * queue.add(5, () => {
 *   fired.push("kept");
 *   done.resolve();
 * });
 * await done.promise;
 * deepEqual(fired, ["kept"]);
 * ```
 */
export class TimeoutQueue {
  #clock: Clock;
  #buckets = new Map<number, Bucket>();

  /**
   * Makes an empty queue.
   *
   * @param clock The time source and timers; its `now()` must never go back
   * (deadlines of one duration are kept in the order they were added).
   */
  constructor(clock: Clock = monotonicClock) {
    this.#clock = clock;
  }

  /**
   * Calls `onTimeout` once `ms` milliseconds have passed, unless removed first.
   *
   * @param ms Milliseconds from now.
   * @param onTimeout Called at most once: a function, or a
   * {@linkcode TimeoutTarget} whose `onTimeout` is.
   * @returns A handle for {@linkcode TimeoutQueue.remove}.
   * @throws {RangeError} If `ms` is over {@linkcode MAX_TIMER_MS} or not a number.
   */
  add(ms: number, onTimeout: (() => void) | TimeoutTarget): TimeoutHandle {
    // NaN fails this too; a negative wait is a wait of 0.
    if (!(ms <= MAX_TIMER_MS)) {
      throw new RangeError(`Cannot add timeout: ${ms} ms is over ${MAX_TIMER_MS} or not a number`);
    }
    let bucket = this.#buckets.get(ms);
    if (bucket === undefined) {
      bucket = { ms, head: undefined, tail: undefined, timer: undefined, firing: false };
      this.#buckets.set(ms, bucket);
    }
    const node: Node = {
      deadline: this.#clock.now() + ms,
      bucket,
      onTimeout,
      prev: bucket.tail,
      next: undefined,
    };
    if (bucket.tail) bucket.tail.next = node;
    else {
      bucket.head = node;
      // A timer that an empty bucket let go of holds the process again.
      if (bucket.timer !== undefined) this.#clock.keepAlive?.(bucket.timer, true);
    }
    bucket.tail = node;
    if (bucket.timer === undefined && !bucket.firing) this.#arm(bucket, ms);
    return node;
  }

  /**
   * Cancels a timeout; removing one that fired or was removed does nothing.
   *
   * @param handle What {@linkcode TimeoutQueue.add} returned.
   */
  remove(handle: TimeoutHandle): void {
    const node = handle as Node;
    const { bucket } = node;
    if (node.prev === undefined && bucket.head !== node) return;
    if (node.prev) node.prev.next = node.next;
    else bucket.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else bucket.tail = node.prev;
    node.prev = node.next = undefined;
    // The bucket's timer stays armed; when it fires early it re-arms for the
    // new head, which is cheaper than re-arming on every removal. The last
    // one out lets go of it, so that a process whose waits were all taken
    // back can end at once, not when the longest of them would have fired.
    if (bucket.head === undefined && bucket.timer !== undefined && !bucket.firing) {
      this.#clock.keepAlive?.(bucket.timer, false);
    }
  }

  #arm(bucket: Bucket, ms: number): void {
    bucket.timer = this.#clock.setTimeout(() => this.#fire(bucket), Math.max(0, ms));
  }

  #fire(bucket: Bucket): void {
    bucket.timer = undefined;
    bucket.firing = true;
    const now = this.#clock.now();
    for (let node = bucket.head; node !== undefined && node.deadline <= now; node = bucket.head) {
      this.remove(node);
      try {
        const { onTimeout } = node;
        if (typeof onTimeout === "function") onTimeout();
        else onTimeout.onTimeout();
      } catch (error) {
        // Reported like any uncaught error, but the other timeouts still fire.
        reportError(error);
      }
    }
    bucket.firing = false;
    // For the earliest deadline left, not for one a callback just added: it
    // was due after the ones already waiting (a timed-out attempt starts the
    // next, whose deadline joins this bucket).
    if (bucket.head) this.#arm(bucket, bucket.head.deadline - now);
    else this.#buckets.delete(bucket.ms);
  }
}

/**
 * The queue that {@linkcode delay} and {@linkcode readBody} use unless given
 * another: one timer per distinct duration for the whole process.
 *
 * @example The shared queue
 * ```ts
 * import { sharedTimeouts } from "./mod.ts";
 * sharedTimeouts.remove(sharedTimeouts.add(1_000, () => {}));
 * ```
 */
export const sharedTimeouts: TimeoutQueue = new TimeoutQueue();
