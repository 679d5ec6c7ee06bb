import { deepEqual, equal, throws } from "node:assert/strict";
import { type Clock, EventLoopLag, type StructuredLogger } from "../lib/mod.ts";

/** A clock whose time the test sets: a timer fires when the test says, as late as it says. */
function handClock() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { fn: () => void; at: number }>();
  const kept: boolean[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(next, { fn, at: now + ms });
      return next++;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    keepAlive: (_handle, keep) => void kept.push(keep),
  };
  return {
    clock,
    timers,
    kept,
    /** The loop gets to the only timer at `lateMs` past its time: it fires then. */
    fire(lateMs: number) {
      const [id, timer] = only(timers);
      timers.delete(id);
      now = timer.at + lateMs;
      timer.fn();
    },
  };
}

function only<K, V>(map: Map<K, V>): [K, V] {
  equal(map.size, 1, "one timer at a time");
  return [...map][0]!;
}

function warnings() {
  const seen: Record<string, unknown>[] = [];
  const logger: StructuredLogger = {
    info() {},
    error() {},
    warn: (_message, properties) => void seen.push(properties),
  };
  return { logger, seen };
}

Deno.test("EventLoopLag samples how late each timer fires and warns of a sample at warnMs or more", () => {
  const hand = handClock();
  const { logger, seen } = warnings();
  using lag = new EventLoopLag({ intervalMs: 100, warnMs: 1_000, clock: hand.clock, logger });
  hand.fire(0);
  hand.fire(1_150.4); // a task computed for over a second
  hand.fire(5);
  hand.fire(1_000);
  deepEqual(seen, [{ lagMs: 1_150 }, { lagMs: 1_000 }]);
  equal(lag.maxMs, 1_150.4);
  const { count, sum } = lag.histogram;
  deepEqual([count, Math.round(sum * 1e4) / 1e4], [4, 2.1554]);
  deepEqual(lag.histogram.cumulative().slice(0, 3), [1, 1, 2], "le 0.001, 0.0025, 0.005");
  deepEqual(lag.histogram.cumulative().slice(-3), [4, 4, 4], "le 2.5, 5, 10");
});

Deno.test("EventLoopLag keeps one timer, which lets the process end, and none once disposed", () => {
  const hand = handClock();
  const lag = new EventLoopLag({ clock: hand.clock, logger: warnings().logger });
  equal(lag.intervalMs, 100, "the default");
  for (let i = 0; i < 3; i++) {
    equal(hand.timers.size, 1);
    hand.fire(1);
  }
  deepEqual(hand.kept, [false, false, false, false]);
  const [, last] = only(hand.timers);
  lag[Symbol.dispose]();
  equal(hand.timers.size, 0);
  last.fn(); // a timer that was already firing as it was disposed
  deepEqual([hand.timers.size, lag.histogram.count], [0, 3], "nothing sampled, nothing set");
});

Deno.test("EventLoopLag refuses an interval or threshold that is not a positive timer length", () => {
  for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31]) {
    throws(() => new EventLoopLag({ intervalMs: bad }), {
      name: "RangeError",
      message:
        `Cannot sample the event loop: intervalMs must be above 0 and at most 2147483647 ms, got ${bad}`,
    });
    throws(() => new EventLoopLag({ warnMs: bad }), /warnMs must be above 0/);
  }
});
