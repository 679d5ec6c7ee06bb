import { deepEqual, throws } from "node:assert/strict";
import { resolveLimits } from "../lib/runner_options.ts";

Deno.test("resolveLimits applies the documented defaults", () => {
  deepEqual(resolveLimits({}), {
    maxConcurrency: 256,
    maxPending: 100_000,
    defaults: { timeout: 30_000, retries: 2, retryDelay: 100, maxRetryDelay: 10_000 },
  });
  deepEqual(resolveLimits({ maxConcurrency: 4, retries: 0 }).maxConcurrency, 4);
});

Deno.test("resolveLimits refuses limits that are not positive integers", () => {
  throws(() => resolveLimits({ maxConcurrency: 0 }), /Cannot create runner: maxConcurrency/);
  throws(() => resolveLimits({ maxPending: 1.5 }), /Cannot create runner: maxPending/);
  throws(() => resolveLimits({ timeout: -1 }), /Cannot create runner: timeout/);
});

Deno.test("resolveLimits refuses retry numbers a timer or a journal cannot take", () => {
  const refused: [Parameters<typeof resolveLimits>[0], RegExp][] = [
    [
      { retries: -1 },
      /^RangeError: Cannot create runner: retries must be an integer >= 0, got -1$/,
    ],
    [{ retries: 0.5 }, /retries must be an integer >= 0, got 0.5/],
    [{ retryDelay: NaN }, /retryDelay must be a number from 0 to 2147483647, got NaN/],
    [{ maxRetryDelay: Infinity }, /maxRetryDelay must be a number from 0 to 2147483647, got Inf/],
    [{ retryDelay: -10 }, /retryDelay must be a number from 0 to 2147483647, got -10/],
    [{ timeout: 2 ** 31 }, /timeout must be a positive integer <= 2147483647/],
  ];
  for (const [options, message] of refused) throws(() => resolveLimits(options), message);
  deepEqual(resolveLimits({ retries: 0, retryDelay: 0 }).defaults.retryDelay, 0, "0 is fine");
});
