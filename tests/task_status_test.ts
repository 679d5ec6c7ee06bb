import { equal } from "node:assert/strict";
import fc from "fast-check";
import { type GroupState, groupStateOf, taskId, type TaskState } from "../lib/mod.ts";

const STATES: TaskState[] = ["queued", "running", "retrying", "done", "failed", "abandoned"];

// The rule as the README states it, written as plainly as possible.
function expected(states: TaskState[]): GroupState {
  const final = (s: TaskState) => s === "done" || s === "failed" || s === "abandoned";
  if (!states.every(final)) return states.every((s) => s === "queued") ? "queued" : "running";
  if (states.includes("abandoned")) return "abandoned";
  return states.includes("failed") ? "failed" : "done";
}

Deno.test("groupStateOf: queued until one starts, running until all are final, then abandoned > failed > done", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...STATES), { maxLength: 8 }), (states) => {
      equal(groupStateOf(states), expected(states));
    }),
  );
  equal(groupStateOf([]), "done", "an empty group has nothing left to do");
});

Deno.test("taskId: the group's id and the task's index", () => {
  equal(taskId("01a2-…", 0), "01a2-…/0");
});
