import { deepEqual, equal, match } from "node:assert/strict";
import { catchStrayErrors } from "../lib/mod.ts";
import { recordingLogger } from "./_helpers.ts";

Deno.test("catchStrayErrors() logs a floating rejection and a throw in a timer; the process goes on", async () => {
  const { logger, errors, enough } = recordingLogger(2);
  using strays = catchStrayErrors({ logger });
  void Promise.reject(new Error("nobody awaited me"));
  setTimeout(() => {
    throw new Error("thrown in a timer");
  }, 0);
  await enough;
  equal(strays.count, 2);
  // Which comes first is the event loop's choice (under load the timer may): not asserted.
  const logged = new Map(errors.map((e) => [(e.properties.error as Error).message, e]));
  deepEqual([...logged.keys()].sort(), ["nobody awaited me", "thrown in a timer"]);
  equal(
    logged.get("nobody awaited me")?.message,
    "Unhandled promise rejection; the server goes on: {error}",
  );
  const thrown = logged.get("thrown in a timer");
  equal(thrown?.message, "Uncaught exception; the server goes on: {error}");
  match(String(thrown?.properties.stack), /thrown in a timer\n\s+at /);
});

Deno.test("catchStrayErrors(): disposing removes the guard", () => {
  const target = new EventTarget();
  const { logger, errors } = recordingLogger(1);
  const strays = catchStrayErrors({ logger, target });
  const event = () => new ErrorEvent("error", { error: new Error("x"), cancelable: true });
  const first = event();
  target.dispatchEvent(first);
  equal(first.defaultPrevented, true);
  strays[Symbol.dispose]();
  const second = event();
  target.dispatchEvent(second);
  equal(second.defaultPrevented, false);
  equal(strays.count, 1);
  equal(errors.length, 1);
});

Deno.test("catchStrayErrors(): a revoked Proxy left unhandled is logged once as what it is", () => {
  const target = new EventTarget();
  const { logger, errors } = recordingLogger(1);
  using strays = catchStrayErrors({ logger, target });
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const promise = Promise.resolve(); // the event's own; nothing rejects
  target.dispatchEvent(
    new PromiseRejectionEvent("unhandledrejection", { promise, reason: proxy, cancelable: true }),
  );
  equal(strays.count, 1, "before: instanceof threw in the guard, itself a stray error");
  match(String(errors[0]?.properties.error), /Cannot read the object that was thrown/);
});
