/**
 * Event-loop lag: how late a timer fires, sampled for as long as the server
 * runs. Tasks share the event loop with the requests, so a task that computes
 * for a second without awaiting holds every answer for that second.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, MAX_TIMER_MS, monotonicClock } from "./clock.ts";
import { Histogram, LATENCY_BUCKETS } from "./histogram.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * Options for {@linkcode EventLoopLag}.
 *
 * @example Sampling every 50 ms, warning from 250 ms
 * ```ts
 * import { EventLoopLag, type EventLoopLagOptions } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const options: EventLoopLagOptions = { intervalMs: 50, warnMs: 250 };
 * using lag = new EventLoopLag(options);
 * equal(lag.intervalMs, 50);
 * ```
 */
export interface EventLoopLagOptions {
  /** How long each sampling timer is set for; it is set again each time it fires. @default {100} */
  intervalMs?: number;
  /** A timer at least this late is logged as a warning. @default {1000} */
  warnMs?: number;
  /** The timers and the time they are measured on. @default {monotonicClock} */
  clock?: Clock;
  /** Where a late timer is reported. @default {getLogger(["posthaste", "event-loop"])} */
  logger?: StructuredLogger;
}

/**
 * Samples the event loop's lag: one timer at a time, each set for
 * `intervalMs`; how much later than that it fires is the time the loop was
 * busy with other work. Node's `monitorEventLoopDelay` and
 * `performance.eventLoopUtilization` would do this, but in Deno 2.9 they
 * report made-up figures (a 300 ms busy loop: a delay of 0.04 ms, a
 * utilization of 0). The timer lets the process end; disposing stops it.
 *
 * @example A loop held for 300 ms
 * ```ts
 * import { EventLoopLag } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const warnings: unknown[] = [];
 * const logger = { info() {}, error() {}, warn: (_: string, p: unknown) => void warnings.push(p) };
 * using lag = new EventLoopLag({ intervalMs: 10, warnMs: 200, logger });
 * const until = performance.now() + 300;
 * while (performance.now() < until); // a task that computes without awaiting
 * await new Promise((resolve) => setTimeout(resolve, 0)); // timers fire by deadline: the sample first
 * ok(lag.maxMs >= 250 && warnings.length === 1);
 * ```
 */
export class EventLoopLag implements Disposable {
  /** Each sample's lag, in seconds: `posthaste_event_loop_lag_seconds`. */
  readonly histogram: Histogram = new Histogram(LATENCY_BUCKETS);
  /** Milliseconds between samples, as resolved. */
  readonly intervalMs: number;
  #warnMs: number;
  #clock: Clock;
  #logger: StructuredLogger;
  #timer: unknown;
  #setAt = 0;
  #maxMs = 0;
  #disposed = false;

  /**
   * Starts sampling.
   *
   * @param options The interval, the warning's threshold, and injected sinks.
   * @throws {RangeError} If `intervalMs` or `warnMs` is not above 0 and at most
   * {@linkcode MAX_TIMER_MS}.
   */
  constructor(options: EventLoopLagOptions = {}) {
    const { intervalMs = 100, warnMs = 1_000 } = options;
    for (const [name, value] of [["intervalMs", intervalMs], ["warnMs", warnMs]] as const) {
      if (!(value > 0 && value <= MAX_TIMER_MS)) {
        throw new RangeError(
          `Cannot sample the event loop: ${name} must be above 0 and at most ${MAX_TIMER_MS} ms, got ${value}`,
        );
      }
    }
    this.intervalMs = intervalMs;
    this.#warnMs = warnMs;
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = options.logger ?? getLogger(["posthaste", "event-loop"]);
    this.#arm();
  }

  /** The largest lag sampled so far, in milliseconds. */
  get maxMs(): number {
    return this.#maxMs;
  }

  /** Stops sampling; the figures stay. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#timer);
  }

  #arm(): void {
    this.#setAt = this.#clock.now();
    this.#timer = this.#clock.setTimeout(this.#sample, this.intervalMs);
    // Sampling alone must not keep a script or a test alive.
    this.#clock.keepAlive?.(this.#timer, false);
  }

  #sample = (): void => {
    if (this.#disposed) return;
    const lagMs = Math.max(0, this.#clock.now() - this.#setAt - this.intervalMs);
    this.histogram.observe(lagMs / 1_000);
    if (lagMs > this.#maxMs) this.#maxMs = lagMs;
    if (lagMs >= this.#warnMs) {
      this.#logger.warn(
        "The event loop was held for {lagMs} ms: no request was answered and no task went on meanwhile; code that computes for that long without awaiting belongs in the worker pool",
        { lagMs: Math.round(lagMs) },
      );
    }
    this.#arm();
  };
}
