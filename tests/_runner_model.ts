// The runner's model, for tests/runner_model_test.ts: what a plan of random
// groups is (steps per attempt, limits, a journal, gates), how it runs on a
// fake clock, and what the model predicts.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  AdmissionError,
  type DeadLetter,
  defineTask,
  RetryAfterError,
  type SharedPlaces,
  type TaskContext,
  TaskGroup,
  type TaskOptions,
  TaskRunner,
  UnrecoverableError,
} from "../lib/mod.ts";
import { fakeClock, quiet } from "./_helpers.ts";

export const TIMEOUT = 10;
const RETRY_DELAY = 2;
const MAX_RETRY_DELAY = 10_000;
export const FINAL = new Set(["done", "failed", "abandoned"]);

/** Refused attempt marks in a row after which the runner counts a failed attempt (its MARK_TRIES). */
const MARK_TRIES = 60;

/**
 * One attempt: its journal mark (taking `markMs`, refused `markRefusals`
 * times first, each a second's pause and no attempt; MARK_TRIES refusals
 * fail the attempt before it runs), then what the task does: settle after
 * `ms` (synchronously when `sync`), failing as an error does (`throw`), for
 * good (`fatal`: an UnrecoverableError) or asking `waitMs` before the next
 * attempt (`later`: a RetryAfterError); hang until its signal aborts; or
 * ignore the signal and resolve long after the timeout.
 */
export type Step =
  & { markMs: number; markRefusals: number }
  & (
    | { kind: "ok" | "throw" | "fatal"; ms: number; sync: boolean }
    | { kind: "later"; ms: number; sync: boolean; waitMs: number }
    | { kind: "hang" }
    | { kind: "ignore" }
  );

const step: fc.Arbitrary<Step> = fc.record({
  markMs: fc.integer({ min: 0, max: 3 }),
  markRefusals: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 }) },
    { weight: 1, arbitrary: fc.constant(MARK_TRIES) },
  ),
}).chain((mark) => {
  const settles = { ms: fc.integer({ min: 0, max: TIMEOUT - 2 }), sync: fc.boolean() };
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constantFrom("ok", "throw"), ...settles })
        .map((s) => ({ ...mark, ...s })),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("fatal" as const), ...settles })
        .map((s) => ({ ...mark, ...s })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("later" as const),
        ...settles,
        waitMs: fc.integer({ min: 0, max: 20 }),
      }).map((s) => ({ ...mark, ...s })),
    },
    { weight: 4, arbitrary: fc.constantFrom("hang", "ignore").map((kind) => ({ ...mark, kind })) },
  );
});

/** A promise a group waits for, settled `at` ms after the submit. */
export interface Gate {
  at: number;
  ok: boolean;
}

export interface Plan {
  journaled: boolean;
  maxConcurrency: number;
  maxPending: number;
  retries: number;
  /**
   * If set, a group's task i is of name `n<i % 2>`, limited to this many
   * attempts at once (`concurrency`), shared across the groups.
   */
  laneLimit?: number;
  /**
   * If set with `laneLimit`, the limit is a `sharedConcurrency`: a journaled
   * runner takes its places from the journal's, each answer `ms` later, and
   * one take in three fails when `flaky`.
   */
  shared?: { ms: number; flaky: boolean };
  /** If set with `laneLimit`, both names count against one `concurrencyKey`. */
  keyed?: boolean;
  /**
   * Per group: when it is submitted, the journal commit and the delivery it
   * waits for (if any), and each task's steps (one per possible attempt).
   */
  groups: { at: number; commit?: Gate; after?: Gate; options?: TaskOptions; tasks: Step[][] }[];
}

/**
 * Ways to give a task the runner's own timeout and retry options, which must
 * all run alike: none (a plain function, or a definition without them), each
 * as undefined, or each spelled out.
 */
const sameOptions = (retries: number): fc.Arbitrary<TaskOptions> =>
  fc.constantFrom(
    {},
    { timeout: undefined, retries: undefined, retryDelay: undefined, maxRetryDelay: undefined },
    { timeout: TIMEOUT, retries, retryDelay: RETRY_DELAY, maxRetryDelay: MAX_RETRY_DELAY },
  );

const gate: fc.Arbitrary<Gate> = fc.record({
  at: fc.integer({ min: 0, max: 30 }),
  ok: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
});

export const plan: fc.Arbitrary<Plan> = fc.integer({ min: 0, max: 2 }).chain((retries) =>
  fc.record({
    journaled: fc.boolean(),
    maxConcurrency: fc.integer({ min: 1, max: 4 }),
    maxPending: fc.integer({ min: 1, max: 12 }),
    retries: fc.constant(retries),
    laneLimit: fc.integer({ min: 1, max: 2 }),
    shared: fc.record({ ms: fc.integer({ min: 0, max: 20 }), flaky: fc.boolean() }),
    keyed: fc.boolean(),
    groups: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 40 }),
        commit: gate,
        after: gate,
        options: sameOptions(retries),
        tasks: fc.array(fc.array(step, { minLength: retries + 1, maxLength: retries + 1 }), {
          minLength: 1,
          maxLength: 4,
        }),
      }, { requiredKeys: ["at", "tasks"] }),
      { minLength: 1, maxLength: 8 },
    ),
  }, { requiredKeys: ["journaled", "maxConcurrency", "maxPending", "retries", "groups"] })
);

export interface Event {
  type: "start" | "end";
  group: number;
  index: number;
  attempt: number;
  at: number;
  /** The name of the signal's abort reason, if it had aborted. */
  aborted?: string | undefined;
}

/** What the model predicts for a task: the attempts that run, their count, its end. */
export function expected(
  p: Plan,
  steps: Step[],
): { runs: number[]; attempts: number; done: boolean } {
  const marked = (s: Step): boolean => !(p.journaled && s.markRefusals >= MARK_TRIES);
  // An attempt that runs and succeeds, or fails for good, is the last.
  const last = steps.findIndex((s) => marked(s) && (s.kind === "ok" || s.kind === "fatal"));
  const attempts = last < 0 ? steps.length : last + 1;
  const runs = steps.slice(0, attempts).flatMap((s, i) => marked(s) ? [i + 1] : []);
  return { runs, attempts, done: steps[last]?.kind === "ok" };
}

/** Runs `p` on a fake clock, with a drain whose deadline aborts at `at + grace` if given. */
export async function run(p: Plan, drain?: { at: number; grace: number }) {
  const clock = fakeClock();
  const letters: DeadLetter[] = [];
  const recorded = new Map<string, string>();
  const index = new Map<TaskGroup, number>();
  const stepOf = (entry: { group: TaskGroup; index: number; attempts: number }): Step =>
    p.groups[index.get(entry.group) as number]?.tasks[entry.index]?.[entry.attempts - 1] as Step;
  // Marks refused so far, by group, task and attempt.
  const refusals = new Map<string, number>();
  // The journal's shared places: one runner here, so they hold as its own limit would.
  const placesHeld = new Map<string, number>();
  let takes = 0;
  const places: SharedPlaces = {
    take: (name, limit) =>
      new Promise((resolve, reject) =>
        clock.setTimeout(() => {
          if (p.shared?.flaky && ++takes % 3 === 0) return reject(new Error("database away"));
          const held = placesHeld.get(name) ?? 0;
          if (held < limit) placesHeld.set(name, held + 1);
          resolve(held < limit);
        }, p.shared?.ms ?? 0)
      ),
    give(name) {
      placesHeld.set(name, (placesHeld.get(name) ?? 0) - 1);
      return Promise.resolve(false); // no other server
    },
  };
  const runner = new TaskRunner({
    clock,
    logger: quiet,
    maxConcurrency: p.maxConcurrency,
    maxPending: p.maxPending,
    retries: p.retries,
    retryDelay: RETRY_DELAY,
    maxRetryDelay: MAX_RETRY_DELAY,
    timeout: TIMEOUT,
    deadLetter: (letter) => void letters.push(letter),
    journal: p.journaled
      ? {
        attempt: (entry) =>
          new Promise((resolve, reject) => {
            const { markMs, markRefusals } = stepOf(entry);
            const key = `${entry.group.id}/${entry.index}/${entry.attempts}`;
            const refused = refusals.get(key) ?? 0;
            if (refused < markRefusals) refusals.set(key, refused + 1);
            const refuse = refused < markRefusals;
            clock.setTimeout(() => refuse ? reject(new Error("disk full")) : resolve(), markMs);
          }),
        record: (entry) => void recorded.set(`${entry.group.id}/${entry.index}`, entry.state),
        ...(p.shared && { sharedPlaces: places }),
      }
      : undefined,
  });
  const events: Event[] = [];
  let live = 0, most = 0;
  const liveByName = new Map<string, number>();
  const overLimit: string[] = [];
  const groups: TaskGroup[] = [];
  const accepted: boolean[] = [];
  const opensAt: number[] = []; // when an accepted group's gates have both settled
  const admission: string[] = [];

  const task = (group: number, index: number, steps: Step[]) =>
    function (this: TaskContext): unknown {
      const { attempt, signal, name } = this;
      const event = { group, index, attempt };
      events.push({ type: "start", ...event, at: clock.now() });
      most = Math.max(most, ++live);
      const lane = p.keyed ? "the key" : name;
      const ofName = (liveByName.get(lane) ?? 0) + 1;
      liveByName.set(lane, ofName);
      // Noted, not asserted here: a task's throw would be its failure.
      if (ofName > (p.laneLimit ?? Infinity)) overLimit.push(`${ofName} of ${lane}`);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        live--;
        liveByName.set(lane, (liveByName.get(lane) ?? 0) - 1);
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
        if (now.kind === "fatal") throw new UnrecoverableError(`gives up ${group}/${index}`);
        if (now.kind === "later") throw new RetryAfterError(`later ${group}/${index}`, now.waitMs);
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
  for (const [g, { at, commit, after, options, tasks }] of p.groups.entries()) {
    const group = new TaskGroup({ id: `g${g}` });
    for (const [i, steps] of tasks.entries()) {
      const fn = task(g, i, steps);
      if (p.laneLimit !== undefined) {
        const limit = p.shared ? { sharedConcurrency: p.laneLimit } : { concurrency: p.laneLimit };
        const key = p.keyed ? { concurrencyKey: "k" } : {};
        group.add(defineTask(`n${i % 2}`, fn, { ...options, ...limit, ...key }));
      } else group.add(options === undefined ? fn : defineTask(`t${g}.${i}`, fn, options));
    }
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
        if (error.reason === "too_large") ok(group.size > p.maxPending);
        if (error.reason === "backlog_full") {
          ok(before + group.size > p.maxPending);
          ok(group.size <= p.maxPending, "a group that never fits says so");
        }
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
  equal(overLimit.length, 0, `ran at once: ${overLimit.join(", ")}, limit ${p.laneLimit}`);
  equal(live, 0, "every attempt ended, or was aborted");
  deepEqual([...placesHeld.values()].filter((n) => n !== 0), [], "every shared place given back");
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
export function assertGated(r: Awaited<ReturnType<typeof run>>, p: Plan, g: number): void {
  const first = r.events.find((e) => e.group === g && e.type === "start");
  if (first === undefined) return;
  ok(p.groups[g]?.commit?.ok !== false, `g${g} started though its commit failed`);
  ok(
    first.at >= (r.opensAt[g] as number),
    `g${g} started at ${first.at}, gates open at ${r.opensAt[g]}`,
  );
}

/** A group's attempts ran one at a time; returns their starts as `index.attempt`. */
export function starts(events: Event[], group: number): string[] {
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
