import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { backoffDelay, MAX_TIMER_MS } from "../lib/mod.ts";

Deno.test("backoffDelay() doubles from the base up to the cap, jittered down to half", () => {
  const delays = [1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, 100, 1_000, () => 0.5));
  equal(delays.join(), "75,150,300,600,750");
  equal(backoffDelay(1, 100, 1_000, () => 0), 50);
  equal(backoffDelay(9, 100, 1_000, () => 0), 500);
});

Deno.test("backoffDelay() with a base of 0 stays 0 however many retries came before", () => {
  // 2 ** 1024 is Infinity and 0 * Infinity NaN: the 1025th retry would be
  // journaled with a NaN time, which fails the shared commit.
  for (const retry of [1, 1_024, 1_025, 1e6]) equal(backoffDelay(retry, 0, 1_000), 0);
});

Deno.test("backoffDelay() is a number from half the capped ceiling to the ceiling", () => {
  const ms = fc.integer({ min: 0, max: MAX_TIMER_MS });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1e6 }),
      fc.oneof(ms, fc.double({ min: 0, max: 1, noNaN: true })),
      ms,
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (retry, base, max, random) => {
        const delay = backoffDelay(retry, base, max, () => random);
        const ceiling = base === 0 ? 0 : Math.min(max, base * 2 ** (retry - 1));
        ok(Number.isFinite(delay), `${delay}`);
        ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} outside ${ceiling / 2}..${ceiling}`);
      },
    ),
    { examples: [[1, 7.4e-323, 1, 0.9375]] },
  ); // found in CI: 8e-323 above its ceiling
});
