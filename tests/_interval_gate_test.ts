import { deepEqual } from "node:assert/strict";
import { IntervalGate } from "../lib/_interval_gate.ts";

Deno.test("IntervalGate opens once per interval, and again at once if the clock steps back", () => {
  let now = 10_000;
  const gate = new IntervalGate(1_000, { now: () => now });
  const seen: boolean[] = [];
  const at = (time: number) => {
    now = time;
    seen.push(gate.due());
  };
  at(10_000); // first: open
  at(10_500);
  at(10_999);
  at(11_000); // an interval later: open
  at(5_000); // the clock stepped back 6 s: open, not shut until 12,000
  at(5_500);
  at(6_000);
  deepEqual(seen, [true, false, false, true, true, false, true]);
});

Deno.test("IntervalGate.tally() reports once an interval how many events it stands for", () => {
  let now = 0;
  const gate = new IntervalGate(1_000, { now: () => now });
  deepEqual([gate.tally(), gate.tally(), gate.tally()], [1, undefined, undefined]);
  now = 1_000;
  deepEqual([gate.tally(), gate.tally()], [3, undefined], "the two held back, and this one");
});

Deno.test("IntervalGate.each() calls its log once an interval, with how many it held back", () => {
  let now = 0;
  const gate = new IntervalGate(1_000, { now: () => now });
  const logged: number[] = [];
  for (let i = 0; i < 3; i++) gate.each((unlogged) => logged.push(unlogged));
  now = 1_000;
  gate.each((unlogged) => logged.push(unlogged));
  deepEqual(logged, [0, 2]);
});

Deno.test("IntervalGate.ended() tells a run's end once, with what no line told, a line a second at most", () => {
  let now = 0;
  const gate = new IntervalGate(1_000, { now: () => now });
  const ends: { count: number; unlogged: number; ms: number }[] = [];
  const end = () => gate.ended((run) => ends.push(run));
  end();
  deepEqual(ends, [], "nothing counted: nothing to end");
  gate.tally(); // logged at 0
  now = 300;
  gate.tally();
  gate.tally();
  end();
  deepEqual(ends, [], "the gate is shut until 1,000: the run goes on");
  now = 1_200;
  end();
  end();
  deepEqual(ends, [{ count: 3, unlogged: 2, ms: 1_200 }]);
  now = 1_500;
  deepEqual(gate.tally(), undefined, "a new run within the second: held");
  now = 2_200.665409000001; // a monotonic clock's fraction: the line says whole milliseconds
  end();
  deepEqual(ends.at(-1), { count: 1, unlogged: 1, ms: 701 });
});
