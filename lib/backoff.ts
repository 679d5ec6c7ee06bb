/**
 * Retry delays: exponential backoff with jitter.
 *
 * @module
 */

/**
 * The delay before retry number `retry` (1 for the first retry): the base
 * doubles each retry up to `max`, then "equal jitter" picks a delay between
 * half of that and all of it, so that tasks failing together do not retry
 * together.
 *
 * @param retry Which retry this is, from 1.
 * @param base Milliseconds for the first retry, before jitter.
 * @param max Upper bound in milliseconds.
 * @param random A source of numbers in [0, 1).
 * @returns Milliseconds to wait.
 *
 * @example Bounds of the third retry's delay
 * ```ts
 * import { backoffDelay } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(backoffDelay(3, 100, 10_000, () => 0), 200);
 * equal(backoffDelay(3, 100, 10_000, () => 1), 400);
 * equal(backoffDelay(30, 100, 10_000, () => 1), 10_000);
 * ```
 */
export function backoffDelay(
  retry: number,
  base: number,
  max: number,
  random: () => number = Math.random,
): number {
  // Past 2 ** 1023 the power is Infinity, and 0 * Infinity NaN: a NaN delay
  // would be journaled as the retry time, failing the commit it shares.
  const ceiling = base === 0 ? 0 : Math.min(max, base * 2 ** (retry - 1));
  // Capped: with a subnormal base (7.4e-323) the halves round up past it.
  return Math.min(ceiling, ceiling / 2 + random() * (ceiling / 2));
}
