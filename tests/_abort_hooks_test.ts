import { deepEqual, equal } from "node:assert/strict";
import { abortWithHooks, hookableController, offAbort, onAbort } from "../lib/_abort_hooks.ts";

Deno.test("abort hooks run once, after the signal has its reason and its listeners ran", () => {
  const controller = hookableController();
  const { signal } = controller;
  const seen: unknown[] = [];
  signal.addEventListener("abort", () => seen.push("listener"));
  onAbort(signal, () => seen.push(["hook", signal.reason]));
  const removed = (): number => seen.push("removed hook");
  onAbort(signal, removed);
  offAbort(signal, removed);
  abortWithHooks(controller, "why");
  abortWithHooks(controller, "again");
  deepEqual(seen, ["listener", ["hook", "why"]]);
  onAbort(signal, () => seen.push("added after the abort"));
  equal(seen.length, 2);
});

Deno.test("a hook that throws is reported and the others still run", () => {
  const controller = hookableController();
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent): void => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    let ran = false;
    onAbort(controller.signal, () => {
      throw new Error("bad hook");
    });
    onAbort(controller.signal, () => ran = true);
    abortWithHooks(controller, "x");
    equal(ran, true);
    equal((reported[0] as Error).message, "bad hook");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("other signals get a plain abort listener", () => {
  const controller = new AbortController();
  let calls = 0;
  const hook = (): number => calls++;
  onAbort(controller.signal, hook);
  offAbort(controller.signal, hook);
  onAbort(controller.signal, () => calls += 10);
  controller.abort();
  controller.abort();
  equal(calls, 10);
});

Deno.test("an object's handleEvent is a hook, in the slot and as a plain listener", () => {
  const calls: string[] = [];
  const hook = (name: string) => ({ handleEvent: () => void calls.push(name) });
  const hookable = hookableController();
  const inSlot = hook("slot");
  onAbort(hookable.signal, inSlot);
  onAbort(hookable.signal, hook("listener on a hookable signal"));
  abortWithHooks(hookable, "x");
  const plain = new AbortController();
  const removed = hook("removed");
  onAbort(plain.signal, removed);
  offAbort(plain.signal, removed);
  onAbort(plain.signal, hook("plain listener"));
  plain.abort();
  deepEqual(calls, ["listener on a hookable signal", "slot", "plain listener"]);
});
