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
