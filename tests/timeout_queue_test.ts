import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  catchStrayErrors,
  type TimeoutHandle,
  TimeoutQueue,
  type TimeoutTarget,
} from "../lib/mod.ts";
import { fakeClock, recordingLogger } from "./_helpers.ts";

Deno.test("TimeoutQueue fires each timeout exactly at its deadline", async () => {
  const clock = fakeClock();
  const queue = new TimeoutQueue(clock);
  const fired: string[] = [];
  queue.add(100, () => fired.push("a@100"));
  await clock.tickAsync(30);
  queue.add(100, () => fired.push("b@130"));
  queue.add(50, () => fired.push("c@80"));
  await clock.tickAsync(49);
  deepEqual(fired, []);
  await clock.tickAsync(1);
  deepEqual(fired, ["c@80"]);
  await clock.tickAsync(19);
  deepEqual(fired, ["c@80"]);
  await clock.tickAsync(1);
  deepEqual(fired, ["c@80", "a@100"]);
  await clock.tickAsync(30);
  deepEqual(fired, ["c@80", "a@100", "b@130"]);
});

Deno.test("TimeoutQueue.remove() cancels any timeout, head, middle or tail, once", async () => {
  const clock = fakeClock();
  const queue = new TimeoutQueue(clock);
  const fired: number[] = [];
  const handles = [0, 1, 2, 3].map((i) => queue.add(10, () => fired.push(i)));
  queue.remove(handles[0]!);
  queue.remove(handles[2]!);
  queue.remove(handles[2]!);
  await clock.tickAsync(10);
  deepEqual(fired, [1, 3]);
  queue.remove(handles[1]!); // already fired: nothing happens
  queue.add(10, () => fired.push(4));
  await clock.tickAsync(10);
  deepEqual(fired, [1, 3, 4]);
});

Deno.test("TimeoutQueue uses one timer per duration, however many timeouts", async () => {
  const clock = fakeClock();
  let timers = 0;
  const queue = new TimeoutQueue({
    ...clock,
    setTimeout: (fn, ms) => {
      timers++;
      return clock.setTimeout(fn, ms);
    },
  });
  const handles = Array.from({ length: 1_000 }, () => queue.add(30_000, () => {}));
  for (const handle of handles) queue.remove(handle);
  equal(timers, 1);
  await clock.runAllAsync();
  equal(timers, 1, "an empty bucket does not re-arm");
});

Deno.test("TimeoutQueue: a step back of the wall clock does not stall a deadline", async () => {
  const queue = new TimeoutQueue();
  const wallNow = Date.now;
  const fired = Promise.withResolvers<void>();
  const start = performance.now();
  queue.add(10, () => fired.resolve());
  Date.now = () => wallNow() - 60_000; // e.g. NTP stepping the clock at boot
  try {
    await fired.promise;
  } finally {
    Date.now = wallNow;
  }
  // On the wall clock the deadline would still be a minute away.
  ok(performance.now() - start < 60_000);
});

Deno.test("TimeoutQueue: a callback that throws is reported; the others still fire", async () => {
  const clock = fakeClock();
  const queue = new TimeoutQueue(clock);
  const { logger, errors } = recordingLogger(1);
  using _strays = catchStrayErrors({ logger });
  const fired: string[] = [];
  queue.add(10, () => {
    throw new Error("broken callback");
  });
  queue.add(10, () => fired.push("same turn"));
  await clock.tickAsync(5);
  queue.add(10, () => fired.push("later"));
  await clock.tickAsync(5);
  deepEqual(fired, ["same turn"]);
  deepEqual(errors.map((e) => (e.properties.error as Error).message), ["broken callback"]);
  await clock.tickAsync(5);
  deepEqual(fired, ["same turn", "later"]);
});

Deno.test("TimeoutQueue model: any mix of adds, removes (also from callbacks) and waits fires each live timeout once, at its deadline", async () => {
  type Add = { kind: "add"; ms: number; removes: number | undefined; adds: number | undefined };
  type Step = Add | { kind: "remove"; which: number } | { kind: "wait"; ms: number };
  const ms = fc.constantFrom(0, 1, 5, 10, 30);
  const add = fc.record({
    kind: fc.constant("add"),
    ms,
    // What its callback does: cancel another timeout, add one.
    removes: fc.option(fc.nat(30), { nil: undefined }),
    // Not 0: fake-timers runs a 0 ms timer set during a tick 1 ms later.
    adds: fc.option(fc.constantFrom(1, 5, 10, 30), { nil: undefined }),
  });
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 3, arbitrary: add },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove"), which: fc.nat(30) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("wait"), ms: fc.integer({ min: 0, max: 12 }) }),
    },
  ) as fc.Arbitrary<Step>;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
      const clock = fakeClock();
      let armed = 0;
      const queue = new TimeoutQueue({
        ...clock,
        setTimeout: (fn, ms) => (armed++, clock.setTimeout(() => (armed--, fn()), ms)),
      });
      const timeouts: {
        handle?: TimeoutHandle;
        deadline: number;
        fired: number[];
        removed: boolean;
      }[] = [];
      const remove = (which: number): void => {
        const timeout = timeouts[which % Math.max(1, timeouts.length)];
        if (timeout?.handle === undefined || timeout.fired.length > 0) return;
        timeout.removed = true;
        queue.remove(timeout.handle);
      };
      const addTimeout = ({ ms, removes, adds }: Omit<Add, "kind">): void => {
        const timeout = { deadline: clock.now() + ms, fired: [] as number[], removed: false };
        timeouts.push(timeout);
        Object.assign(timeout, {
          handle: queue.add(ms, () => {
            timeout.fired.push(clock.now());
            // Even one due at this very moment, or in this very bucket.
            if (removes !== undefined) remove(removes);
            if (adds !== undefined) addTimeout({ ms: adds, removes: undefined, adds: undefined });
          }),
        });
      };
      for (const s of steps) {
        if (s.kind === "add") addTimeout(s);
        else if (s.kind === "remove") remove(s.which);
        else await clock.tickAsync(s.ms);
      }
      await clock.runAllAsync();
      for (const [i, t] of timeouts.entries()) {
        deepEqual(t.fired, t.removed ? [] : [t.deadline], `timeout ${i}`);
      }
      equal(armed, 0, "no timer left armed");
    }),
    { numRuns: 300 },
  );
});

Deno.test("TimeoutQueue calls a TimeoutTarget's onTimeout on the target itself, unless removed", async () => {
  const clock = fakeClock();
  const queue = new TimeoutQueue(clock);
  const calls: string[] = [];
  class Target implements TimeoutTarget {
    constructor(readonly name: string) {}
    onTimeout(): void {
      calls.push(this.name);
    }
  }
  queue.add(10, new Target("kept"));
  queue.remove(queue.add(10, new Target("removed")));
  queue.add(5, () => calls.push("function"));
  await clock.tickAsync(10);
  deepEqual(calls, ["function", "kept"]);
});

Deno.test("TimeoutQueue lets go of its timer when the last wait is taken back, and holds it again for the next", async () => {
  const clock = fakeClock();
  const kept: boolean[] = [];
  const queue = new TimeoutQueue({ ...clock, keepAlive: (_handle, keep) => kept.push(keep) });
  const first = queue.add(100, () => {});
  const second = queue.add(100, () => {});
  queue.remove(first);
  deepEqual(kept, [], "one still waits");
  queue.remove(second);
  deepEqual(kept, [false]);
  let fired = 0;
  queue.add(100, () => fired++);
  deepEqual(kept, [false, true]);
  await clock.tickAsync(100);
  equal(fired, 1);
  queue.remove(queue.add(100, () => {}));
  deepEqual(kept, [false, true, false], "a timer armed anew, let go the same way");
});

Deno.test("a process whose waits were all taken back, or whose tasks ended before their deadline, ends at once", async () => {
  const script = new URL("./fixtures/aborted_waits.ts", import.meta.url);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", script.pathname],
    stdout: "null",
    stderr: "inherit",
    // Were it kept alive, it would end in 600 s; the test gives up long before.
    signal: AbortSignal.timeout(30_000),
  }).output();
  equal(code, 0);
});
