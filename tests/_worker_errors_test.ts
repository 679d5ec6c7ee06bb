import { deepEqual, equal, ok } from "node:assert/strict";
import { RetryAfterError, UnrecoverableError } from "../lib/mod.ts";
import { revived } from "../lib/_worker_errors.ts";

Deno.test("revived: a worker's error comes back with its name, message and stack, its class by name", () => {
  const stack = "Error: x\n    at task (file:///w.ts:1:1)";
  const unrecoverable = revived({ name: "UnrecoverableError", message: "refused", stack });
  ok(unrecoverable instanceof UnrecoverableError);
  deepEqual([unrecoverable.message, unrecoverable.stack], ["refused", stack]);
  const later = revived({ name: "RetryAfterError", message: "429", delayMs: 30_000 });
  ok(later instanceof RetryAfterError);
  equal(later.delayMs, 30_000);
  const plain = revived({ name: "TypeError", message: "x is not a function", stack });
  deepEqual([plain.constructor, plain.name, plain.message, plain.stack], [
    Error,
    "TypeError",
    "x is not a function",
    stack,
  ]);
});

Deno.test("revived: a RetryAfterError without a delay a timer can wait is an error as any other", () => {
  for (const delayMs of [undefined, -1, Number.NaN, 2 ** 31]) {
    const error = revived({
      name: "RetryAfterError",
      message: "429",
      ...delayMs !== undefined && { delayMs },
    });
    equal(error instanceof RetryAfterError, false, `delayMs ${delayMs}`);
    equal(error.name, "RetryAfterError");
  }
});
