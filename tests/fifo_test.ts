import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { Fifo } from "../lib/fifo.ts";

Deno.test("Fifo hands items back in the order they came, across its compactions", () => {
  // Runs long enough (more than 1,024 shifts) to cross the compaction threshold.
  const operation = fc.oneof(fc.constant("shift" as const), fc.nat({ max: 1_000 }));
  fc.assert(
    fc.property(
      fc.array(operation, { maxLength: 5_000 }),
      fc.nat({ max: 3_000 }),
      (ops, prefill) => {
        const fifo = new Fifo<number>();
        const model: number[] = [];
        for (let i = 0; i < prefill; i++) {
          fifo.push(-i);
          model.push(-i);
        }
        for (const op of ops) {
          if (op === "shift") {
            equal(fifo.shift(), model.shift());
          } else {
            fifo.push(op);
            model.push(op);
          }
          equal(fifo.length, model.length);
          equal(fifo.peek(), model[0]);
        }
        const rest: number[] = [];
        for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) rest.push(item);
        deepEqual(rest, model);
        equal(fifo.length, 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("Fifo keeps its order when it compacts after many shifts", () => {
  const fifo = new Fifo<number>();
  for (let i = 0; i < 3_000; i++) fifo.push(i);
  for (let i = 0; i < 2_000; i++) equal(fifo.shift(), i); // compacts at 1,500
  for (let i = 3_000; i < 3_500; i++) fifo.push(i);
  equal(fifo.length, 1_500);
  equal(fifo.peek(), 2_000);
  for (let i = 2_000; i < 3_500; i++) equal(fifo.shift(), i);
  equal(fifo.length, 0);
});

Deno.test("Fifo empty: peek() and shift() give undefined and change nothing", () => {
  const fifo = new Fifo<string>();
  equal(fifo.peek(), undefined);
  equal(fifo.shift(), undefined);
  equal(fifo.length, 0);
  fifo.push("a");
  equal(fifo.shift(), "a");
  equal(fifo.shift(), undefined);
  fifo.push("b");
  equal(fifo.peek(), "b");
  equal(fifo.length, 1);
});
