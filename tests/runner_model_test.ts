// Property tests of the runner against its model (tests/_runner_model.ts).
// Random groups of tasks that succeed, throw, hang until their timeout or
// ignore it, submitted at random times on a fake clock, with random limits;
// with or without a journal whose attempt marks are slow or fail; some groups
// wait for a journal commit or a response delivery that may fail; in the
// second property, a drain whose deadline passes mid-run. Whatever happens:
// each group's attempts start in the model's order, one at a time; the
// concurrency limit and the backlog rule hold; attempts and final states are
// the model's; every failed or abandoned task gets its dead letter, and the
// journal its final state.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  assertGated,
  type Event,
  expected,
  FINAL,
  type Plan,
  plan,
  run,
  starts,
  type Step,
  TIMEOUT,
} from "./_runner_model.ts";

// Every attempt of six tasks refused its journal mark 60 times: some 2,000
// fake timers, past fake-timers' default loop limit (a CI run's random seed
// found it, as a TypeError inside fake-timers).
const refusedThroughout: Plan = {
  journaled: true,
  maxConcurrency: 1,
  maxPending: 6,
  retries: 2,
  groups: [0, 1].map(() => ({
    at: 0,
    tasks: Array.from(
      { length: 3 },
      () => Array.from({ length: 3 }, (): Step => ({ markMs: 0, markRefusals: 60, kind: "hang" })),
    ),
  })),
};

Deno.test("TaskRunner model: order, limits, backlog, attempts and dead letters hold for any mix of outcomes", async () => {
  await fc.assert(
    fc.asyncProperty(plan, async (p) => {
      const r = await run(p);
      ok(r.admission.every((reason) => reason === "backlog_full" || reason === "too_large"));
      const failed: string[] = [];
      for (const [g, group] of r.groups.entries()) {
        const tasks = p.groups[g]?.tasks ?? [];
        const runs: string[] = [];
        assertGated(r, p, g);
        // A failed commit drops the group: its client heard no 202.
        const dropped = r.accepted[g] && p.groups[g]?.commit?.ok === false;
        for (const [i, entry] of group.tasks.entries()) {
          const model = expected(p, tasks[i] as Step[]);
          runs.push(...model.runs.map((attempt) => `${i}.${attempt}`));
          if (!r.accepted[g]) continue;
          if (dropped) {
            equal(entry.state, "abandoned");
            equal(r.recorded.get(`g${g}/${i}`), undefined, "a dropped group is not journaled");
            continue;
          }
          const state = model.done ? "done" : "failed";
          deepEqual([entry.state, entry.attempts], [state, model.attempts], `g${g}/${i}`);
          if (p.journaled) equal(r.recorded.get(`g${g}/${i}`), state, "journaled final state");
          if (!model.done) failed.push(`g${g}/${i}`);
        }
        deepEqual(starts(r.events, g), r.accepted[g] && !dropped ? runs : [], `g${g}'s attempts`);
        if (r.accepted[g] && !dropped) {
          equal(group.state, group.tasks.some((t) => t.state === "failed") ? "failed" : "done");
        }
      }
      deepEqual(
        r.letters.map((l) => `${l.taskId} ${l.reason}`).sort(),
        failed.map((id) => `${id} failed`).sort(),
      );
      // An attempt that hung or ignored its signal was aborted exactly at its timeout.
      for (const end of r.events.filter((e) => e.type === "end")) {
        const start = r.events.find((e) =>
          e.type === "start" && e.group === end.group && e.index === end.index &&
          e.attempt === end.attempt
        ) as Event;
        const step = p.groups[end.group]?.tasks[end.index]?.[end.attempt - 1] as Step;
        if (step.kind === "hang" || step.kind === "ignore") {
          equal(end.at - start.at, TIMEOUT, "aborted at its deadline, not later");
          equal(end.aborted, "TimeoutError");
        } else equal(end.aborted, undefined, "an attempt that settled in time is not aborted");
        // A RetryAfterError's wait, not the backoff's (2-4 ms), comes before the next attempt.
        const next = r.events.find((e) =>
          e.type === "start" && e.group === end.group && e.index === end.index &&
          e.attempt === end.attempt + 1
        );
        if (step.kind === "later" && next !== undefined) {
          ok(next.at >= end.at + step.waitMs, `waited ${next.at - end.at} of ${step.waitMs} ms`);
        }
      }
    }),
    { numRuns: 200, examples: [[refusedThroughout]] },
  );
});

Deno.test("TaskRunner model: a drain whose deadline passes abandons exactly the unfinished tasks", async () => {
  const drain = fc.record({
    at: fc.integer({ min: 0, max: 40 }),
    grace: fc.integer({ min: 0, max: 30 }),
  });
  await fc.assert(
    fc.asyncProperty(plan, drain, async (p, d) => {
      const r = await run(p, d);
      equal(r.abandoned, r.unfinishedAtDeadline, "abandoned = unfinished at the deadline");
      // Each attempt ends (or is aborted) by the deadline, and none starts after it.
      ok(r.events.every((e) => e.at <= r.deadlineAt), "nothing runs past the deadline");
      const shutdown = r.letters.filter((l) => l.reason === "shutdown").map((l) => l.taskId);
      const abandoned: string[] = [];
      for (const [g, group] of r.groups.entries()) {
        const started = starts(r.events, g);
        if (!r.accepted[g]) continue;
        assertGated(r, p, g);
        // Dropped by its failed commit before the deadline, or abandoned by the drain.
        const dropped = p.groups[g]?.commit?.ok === false &&
          !shutdown.some((id) => id.startsWith(`g${g}/`));
        const tasks = p.groups[g]?.tasks ?? [];
        const runs: string[] = [];
        for (const [i, entry] of group.tasks.entries()) {
          const id = `g${g}/${i}`;
          const model = expected(p, tasks[i] as Step[]);
          runs.push(...model.runs.map((attempt) => `${i}.${attempt}`));
          ok(FINAL.has(entry.state), `${id} ended ${entry.state}`);
          if (dropped) {
            equal(entry.state, "abandoned");
            continue;
          }
          if (p.journaled) equal(r.recorded.get(id), entry.state, "journaled state");
          if (entry.state === "abandoned") abandoned.push(id);
          else if (abandoned.at(-1)?.startsWith(`g${g}/`)) ok(false, `${id} after abandon`);
          else {
            const final = model.done ? "done" : "failed";
            deepEqual([entry.state, entry.attempts], [final, model.attempts], id);
          }
        }
        deepEqual(started, runs.slice(0, started.length), `g${g}'s attempts, cut by the deadline`);
      }
      deepEqual(shutdown.sort(), abandoned.sort(), "a shutdown dead letter per abandoned task");
      equal(abandoned.length, r.abandoned);
    }),
    { numRuns: 200 },
  );
});
