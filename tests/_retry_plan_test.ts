import { deepEqual, ok } from "node:assert/strict";
import {
  defineTask,
  RetryAfterError,
  type TaskEntry,
  TaskGroup,
  UnrecoverableError,
} from "../lib/mod.ts";
import { retryDelay } from "../lib/_retry_plan.ts";

const defaults = { timeout: 1_000, retries: 2, retryDelay: 100, maxRetryDelay: 150 };

function entryAfter(attempts: number, options = {}): TaskEntry {
  const group = new TaskGroup().add(defineTask("t", () => {}, options));
  const entry = group.tasks[0] as TaskEntry;
  entry.attempts = attempts;
  return entry;
}

Deno.test("retryDelay: the backoff while retries are left; none after, or after an UnrecoverableError", () => {
  const first = retryDelay(entryAfter(1), new Error("blip"), defaults) ?? -1;
  ok(first >= 50 && first <= 100, `first retry ${first}`);
  const second = retryDelay(entryAfter(2), new Error("blip"), defaults) ?? -1;
  ok(second >= 75 && second <= 150, `second retry, capped at maxRetryDelay: ${second}`);
  deepEqual(
    [
      retryDelay(entryAfter(3), new Error("blip"), defaults),
      retryDelay(entryAfter(1), new UnrecoverableError("no"), defaults),
      retryDelay(entryAfter(1, { retries: 0 }), new Error("blip"), defaults),
      retryDelay(entryAfter(1, { retries: undefined }), new RetryAfterError("429", 0), defaults),
    ],
    [undefined, undefined, undefined, 0],
  );
});

Deno.test("retryDelay: a RetryAfterError's wait, past maxRetryDelay, while retries are left", () => {
  deepEqual(
    [
      retryDelay(entryAfter(1), new RetryAfterError("429", 60_000), defaults),
      retryDelay(entryAfter(3), new RetryAfterError("429", 60_000), defaults),
      retryDelay(entryAfter(3, { retries: 5 }), new RetryAfterError("429", 5), defaults),
    ],
    [60_000, undefined, 5],
  );
});
