import { equal, rejects } from "node:assert/strict";
import { abortable } from "../lib/mod.ts";

Deno.test("abortable settles as the promise does while the signal stays quiet", async () => {
  const { signal } = new AbortController();
  equal(await abortable(Promise.resolve("value"), signal), "value");
  await rejects(abortable(Promise.reject(new Error("own failure")), signal), /own failure/);
  equal(await abortable(Promise.resolve(1)), 1);
});

Deno.test("abortable rejects with the reason at the abort, or at once if already aborted", async () => {
  const gate = Promise.withResolvers<string>();
  const controller = new AbortController();
  const waiting = abortable(gate.promise, controller.signal);
  controller.abort(new Error("gave up"));
  await rejects(waiting, /gave up/);
  await rejects(abortable(gate.promise, AbortSignal.abort(new Error("early"))), /early/);
  gate.resolve("late"); // the work behind the promise is not stopped
  equal(await gate.promise, "late");
});

Deno.test("abortable removes its abort listener once the promise settles", async () => {
  const controller = new AbortController();
  let listening = 0;
  const { signal } = controller;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => (listening++, add(...args));
  signal.removeEventListener = (
    ...args: Parameters<typeof remove>
  ) => (listening--, remove(...args));
  for (let i = 0; i < 100; i++) await abortable(Promise.resolve(i), signal);
  await rejects(abortable(Promise.reject(new Error("x")), signal));
  equal(listening, 0);
});
