// Property tests of the runner against a model. Random groups of tasks that
// succeed, throw, hang until their timeout or ignore it, submitted at random
// times on a fake clock, with random limits; with or without a journal whose
// attempt marks are slow or fail; some groups wait for a journal commit that
// may fail, or for a response delivery that may fail; in the second property,
// with a drain whose deadline passes mid-run. Whatever happens: each group's attempts start in
// the model's order, one at a time; the concurrency limit and the backlog
// rule hold; attempts and final states are the model's; every failed or
// abandoned task gets its dead letter, and the journal its final state.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  AdmissionError,
  type DeadLetter,
  type StructuredLogger,
  type TaskContext,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { fakeClock } from "./_helpers.ts";

const TIMEOUT = 10;
const FINAL = new Set(["done", "failed", "abandoned"]);
const quiet: StructuredLogger = { info() {}, warn() {}, error() {} };

/**
 * One attempt: its journal mark (taking `markMs`, or failing, which fails
 * the attempt before it runs), then what the task does: settle after `ms`
 * (synchronously when `sync`), hang until its signal aborts, or ignore the
 * signal and resolve long after the timeout.
 */
type Step =
  & { markMs: number; markFails: boolean }
  & (
    | { kind: "ok"; ms: number; sync: boolean }
    | { kind: "throw"; ms: number; sync: boolean }
    | { kind: "hang" }
    | { kind: "ignore" }
  );

const step: fc.Arbitrary<Step> = fc.record({
  markMs: fc.integer({ min: 0, max: 3 }),
  markFails: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
}).chain((mark) =>
  fc.oneof(
    fc.record({
      kind: fc.constantFrom("ok", "throw"),
      ms: fc.integer({ min: 0, max: TIMEOUT - 2 }),
      sync: fc.boolean(),
    }).map((s) => ({ ...mark, ...s })),
    fc.constantFrom("hang", "ignore").map((kind) => ({ ...mark, kind })),
  )
);

/** A promise a group waits for, settled `at` ms after the submit. */
interface Gate {
  at: number;
  ok: boolean;
}

interface Plan {
  journaled: boolean;
  maxConcurrency: number;
  maxPending: number;
  retries: number;
  /**
   * Per group: when it is submitted, the journal commit and the delivery it
   * waits for (if any), and each task's steps (one per possible attempt).
   */
  groups: { at: number; commit?: Gate; after?: Gate; tasks: Step[][] }[];
}

const gate: fc.Arbitrary<Gate> = fc.record({
  at: fc.integer({ min: 0, max: 30 }),
  ok: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
});

const plan: fc.Arbitrary<Plan> = fc.integer({ min: 0, max: 2 }).chain((retries) =>
  fc.record({
    journaled: fc.boolean(),
    maxConcurrency: fc.integer({ min: 1, max: 4 }),
    maxPending: fc.integer({ min: 1, max: 12 }),
    retries: fc.constant(retries),
    groups: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 40 }),
        commit: gate,
        after: gate,
        tasks: fc.array(fc.array(step, { minLength: retries + 1, maxLength: retries + 1 }), {
          minLength: 1,
          maxLength: 4,
        }),
      }, { requiredKeys: ["at", "tasks"] }),
      { minLength: 1, maxLength: 8 },
    ),
  })
);

interface Event {
  type: "start" | "end";
  group: number;
  index: number;
  attempt: number;
  at: number;
  /** The name of the signal's abort reason, if it had aborted. */
  aborted?: string | undefined;
}

/** What the model predicts for a task: the attempts that run, their count, its end. */
function expected(p: Plan, steps: Step[]): { runs: number[]; attempts: number; done: boolean } {
  const marked = (s: Step): boolean => !(p.journaled && s.markFails);
  const first = steps.findIndex((s) => marked(s) && s.kind === "ok");
  const attempts = first < 0 ? steps.length : first + 1;
  const runs = steps.slice(0, attempts).flatMap((s, i) => marked(s) ? [i + 1] : []);
  return { runs, attempts, done: first >= 0 };
}

/** Runs `p` on a fake clock, with a drain whose deadline aborts at `at + grace` if given. */
async function run(p: Plan, drain?: { at: number; grace: number }) {
  const clock = fakeClock();
  const letters: DeadLetter[] = [];
  const recorded = new Map<string, string>();
  const index = new Map<TaskGroup, number>();
  const stepOf = (entry: { group: TaskGroup; index: number; attempts: number }): Step =>
    p.groups[index.get(entry.group) as number]?.tasks[entry.index]?.[entry.attempts - 1] as Step;
  const runner = new TaskRunner({
    clock,
    logger: quiet,
    maxConcurrency: p.maxConcurrency,
    maxPending: p.maxPending,
    retries: p.retries,
    retryDelay: 2,
    timeout: TIMEOUT,
    deadLetter: (letter) => void letters.push(letter),
    journal: p.journaled
      ? {
        attempt: (entry) =>
          new Promise((resolve, reject) => {
            const { markMs, markFails } = stepOf(entry);
            clock.setTimeout(() => markFails ? reject(new Error("disk full")) : resolve(), markMs);
          }),
        record: (entry) => void recorded.set(`${entry.group.id}/${entry.index}`, entry.state),
      }
      : undefined,
  });
  const events: Event[] = [];
  let live = 0, most = 0;
  const groups: TaskGroup[] = [];
  const accepted: boolean[] = [];
  const opensAt: number[] = []; // when an accepted group's gates have both settled
  const admission: string[] = [];

  const task = (group: number, index: number, steps: Step[]) =>
    function (this: TaskContext): unknown {
      const { attempt, signal } = this;
      const event = { group, index, attempt };
      events.push({ type: "start", ...event, at: clock.now() });
      most = Math.max(most, ++live);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        live--;
        const aborted = signal.aborted ? (signal.reason as Error).name : undefined;
        events.push({ type: "end", ...event, at: clock.now(), aborted });
      };
      // The runner frees the slot when it aborts, whatever the task does next.
      signal.addEventListener("abort", end);
      const now = steps[attempt - 1] as Step;
      if (now.kind === "hang") return new Promise((_, reject) => signal.onabort = reject);
      if (now.kind === "ignore") {
        return new Promise<void>((resolve) => clock.setTimeout(resolve, TIMEOUT * 3));
      }
      const settle = (): void => {
        end();
        if (now.kind === "throw") throw new Error(`fails ${group}/${index}`);
      };
      if (now.sync) return settle();
      return new Promise<void>((resolve) => clock.setTimeout(resolve, now.ms)).then(settle);
    };

  const unfinished = (): number =>
    groups.reduce(
      (sum, group, g) =>
        accepted[g] ? sum + group.tasks.filter((task) => !FINAL.has(task.state)).length : sum,
      0,
    );

  const settleAt = ({ at, ok }: Gate): Promise<void> =>
    new Promise((resolve, reject) =>
      clock.setTimeout(() => ok ? resolve() : reject(new Error("gone")), at)
    );
  for (const [g, { at, commit, after, tasks }] of p.groups.entries()) {
    const group = new TaskGroup({ id: `g${g}` });
    for (const [i, steps] of tasks.entries()) group.add(task(g, i, steps));
    groups.push(group);
    index.set(group, g);
    accepted.push(false);
    clock.setTimeout(() => {
      const before = runner.pending;
      equal(before, unfinished(), "pending counts the unfinished accepted tasks");
      let gates: (Promise<void> | undefined)[] = [];
      try {
        gates = [commit && settleAt(commit), after && settleAt(after)];
        const [committed, delivered] = gates;
        runner.submit(group, {
          ...(committed && { commit: committed }),
          ...(delivered && { after: delivered }),
        });
        accepted[g] = true;
        opensAt[g] = at + Math.max(commit?.at ?? 0, after?.at ?? 0);
        ok(before + group.size <= p.maxPending, "accepted within the backlog");
      } catch (error) {
        for (const gate of gates) gate?.catch(() => {}); // the runner never saw them
        ok(error instanceof AdmissionError);
        admission.push(error.reason);
        if (error.reason === "backlog_full") ok(before + group.size > p.maxPending);
        equal(runner.pending, before, "a refused group takes no room");
      }
    }, at);
  }

  let drained: Promise<{ abandoned: number }> | undefined;
  let deadlineAt = Infinity;
  let unfinishedAtDeadline = 0;
  if (drain !== undefined) {
    const deadline = new AbortController();
    clock.setTimeout(() => drained = runner.drain({ signal: deadline.signal }), drain.at);
    clock.setTimeout(() => {
      deadlineAt = clock.now();
      unfinishedAtDeadline = unfinished();
      deadline.abort();
    }, drain.at + drain.grace);
  }
  await clock.runAllAsync();
  await runner.idle();
  const abandoned = drained === undefined ? 0 : (await drained).abandoned;
  ok(most <= p.maxConcurrency, `${most} ran at once, limit ${p.maxConcurrency}`);
  equal(live, 0, "every attempt ended, or was aborted");
  equal(runner.pending, 0);
  return {
    events,
    groups,
    accepted,
    admission,
    letters,
    recorded,
    opensAt,
    deadlineAt,
    abandoned,
    unfinishedAtDeadline,
  };
}

/** A group started no sooner than its gates opened, and never if its commit failed. */
function assertGated(r: Awaited<ReturnType<typeof run>>, p: Plan, g: number): void {
  const first = r.events.find((e) => e.group === g && e.type === "start");
  if (first === undefined) return;
  ok(p.groups[g]?.commit?.ok !== false, `g${g} started though its commit failed`);
  ok(
    first.at >= (r.opensAt[g] as number),
    `g${g} started at ${first.at}, gates open at ${r.opensAt[g]}`,
  );
}

/** A group's attempts ran one at a time; returns their starts as `index.attempt`. */
function starts(events: Event[], group: number): string[] {
  let open: Event | undefined;
  const started: string[] = [];
  for (const event of events.filter((e) => e.group === group)) {
    if (event.type === "start") {
      equal(open, undefined, `g${group}: an attempt started while another ran`);
      started.push(`${event.index}.${event.attempt}`);
      open = event;
    } else if (open?.index === event.index && open.attempt === event.attempt) {
      open = undefined;
    }
  }
  return started;
}

Deno.test("TaskRunner model: order, limits, backlog, attempts and dead letters hold for any mix of outcomes", async () => {
  await fc.assert(
    fc.asyncProperty(plan, async (p) => {
      const r = await run(p);
      ok(r.admission.every((reason) => reason === "backlog_full"));
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
      }
    }),
    { numRuns: 200 },
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
