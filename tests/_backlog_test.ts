import { equal, throws } from "node:assert/strict";
import { Backlog } from "../lib/_backlog.ts";
import type { AdmissionError } from "../lib/mod.ts";

Deno.test("Backlog admits all or nothing, wakes idle waiters at zero, and refuses while draining", async () => {
  const backlog = new Backlog(3);
  backlog.admit(2);
  throws(() => backlog.admit(2), (error: AdmissionError) => error.reason === "backlog_full");
  equal(backlog.pending, 2, "a refused group adds nothing");
  let idle = false;
  const waiting = backlog.idle().then(() => idle = true);
  backlog.settle();
  await Promise.resolve();
  equal(idle, false);
  const drained = backlog.drain();
  throws(() => backlog.admit(1), (error: AdmissionError) => error.reason === "draining");
  backlog.settle();
  await Promise.all([waiting, drained]);
  equal(idle, true);
});

Deno.test("Backlog refuses a group larger than the whole backlog as too_large, even when empty", () => {
  const backlog = new Backlog(3);
  throws(() => backlog.admit(4), (error: AdmissionError) => {
    equal(error.reason, "too_large");
    equal(error.message, "Cannot accept tasks: a group of 4 tasks is larger than the backlog (3)");
    return true;
  });
  backlog.admit(3);
  throws(() => backlog.admit(1), (error: AdmissionError) => error.reason === "backlog_full");
});

Deno.test("Backlog.drain() stops waiting when its signal aborts", async () => {
  const backlog = new Backlog(10);
  backlog.admit(1);
  const deadline = new AbortController();
  const drained = backlog.drain(deadline.signal);
  deadline.abort();
  await drained;
  equal(backlog.pending, 1, "the caller abandons what is left");
});

Deno.test("Backlog admits a follow-up while draining (whileDraining), and nothing once drained", async () => {
  const backlog = new Backlog(3);
  backlog.admit(1);
  const drained = backlog.drain();
  const draining = (error: AdmissionError) => error.reason === "draining";
  throws(() => backlog.admit(1), draining, "new work is refused");
  backlog.admit(1, true); // a follow-up of the accepted task: the drain waits for it too
  backlog.settle();
  equal(backlog.pending, 1);
  backlog.settle();
  throws(() => backlog.admit(1, true), draining, "drained: at zero, before the drain returns");
  await drained;
  throws(() => backlog.admit(1, true), draining);
  // Its message fits after the drain too (before: "runner is draining", with nothing left to drain).
  throws(
    () => backlog.admit(1, true),
    /^AdmissionError: Cannot accept tasks: runner is draining or has drained$/,
  );

  // A drain given up at its deadline ends admission too.
  const late = new Backlog(3);
  late.admit(1);
  await late.drain(AbortSignal.abort());
  throws(() => late.admit(1, true), draining);
});
