/**
 * A Prometheus histogram: counts of observations per bucket, their sum and count.
 *
 * @module
 */

/**
 * Upper bounds (seconds) of the task duration histogram's buckets, ascending.
 *
 * @example Bucket bounds increase
 * ```ts
 * import { DURATION_BUCKETS } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(DURATION_BUCKETS.every((bound, i) => i === 0 || bound > DURATION_BUCKETS[i - 1]!));
 * ```
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/**
 * Upper bounds (seconds) for latencies from a millisecond to ten seconds,
 * e.g. of the journal's syncs: two finer buckets, then the task durations' up to 10 s.
 *
 * @example Ten seconds at most
 * ```ts
 * import { LATENCY_BUCKETS } from "./mod.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * deepEqual(LATENCY_BUCKETS.slice(0, 4), [0.001, 0.0025, 0.005, 0.01]);
 * equal(LATENCY_BUCKETS.at(-1), 10);
 * ```
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  ...DURATION_BUCKETS.filter((le) => le <= 10),
];

/**
 * Upper bounds (seconds) for the time a server takes to answer a request:
 * from 100 µs, since a handler that only queues work answers in less than a
 * millisecond, then {@linkcode LATENCY_BUCKETS} up to ten seconds.
 *
 * @example A tenth of a millisecond at the least
 * ```ts
 * import { REQUEST_BUCKETS } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * deepEqual(REQUEST_BUCKETS.slice(0, 4), [0.0001, 0.00025, 0.0005, 0.001]);
 * ```
 */
export const REQUEST_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, ...LATENCY_BUCKETS];

/**
 * Cumulative buckets of observed values (seconds, say), rendered in the
 * Prometheus text format by {@linkcode Metrics}.
 *
 * @example Observing and reading the buckets
 * ```ts
 * import { Histogram } from "./mod.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 *
 * const latency = new Histogram([0.01, 0.1, 1]);
 * latency.observe(0.004);
 * latency.observe(0.05);
 * latency.observe(3);
 * deepEqual(latency.cumulative(), [1, 2, 2]);
 * equal(latency.count, 3);
 * equal(latency.sum, 3.054);
 * ```
 */
export class Histogram {
  /** Upper bounds of the buckets, ascending; `+Inf` is implied. */
  readonly bounds: readonly number[];
  /** Observations so far. */
  count = 0;
  /** Their sum. */
  sum = 0;
  readonly #counts: number[];

  /**
   * Makes an empty histogram.
   *
   * @param bounds Upper bounds of the buckets, ascending.
   * @throws {RangeError} If the bounds are not finite and ascending.
   */
  constructor(bounds: readonly number[]) {
    if (
      bounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && !(bound > bounds[i - 1]!)))
    ) {
      throw new RangeError(
        `Cannot make histogram: bounds must be finite and ascend, got ${bounds.join(", ")}`,
      );
    }
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  /** Counts one value in the first bucket whose bound it does not pass. */
  observe(value: number): void {
    // A loop, not findIndex: no closure made on every request's path.
    const { bounds } = this;
    let bucket = 0;
    while (bucket < bounds.length && !(value <= bounds[bucket]!)) bucket++; // NaN: none
    if (bucket < bounds.length) this.#counts[bucket]!++;
    this.sum += value;
    this.count++;
  }

  /** Observations at or below each bound, as Prometheus's `_bucket` series give them. */
  cumulative(): number[] {
    let total = 0;
    return this.#counts.map((count) => (total += count));
  }
}
