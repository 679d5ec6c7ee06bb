import { deepEqual } from "node:assert/strict";
import { type GateTarget, WaitingItems } from "../lib/_start_gate.ts";
import { turn } from "./_helpers.ts";

function recording(): GateTarget<string> & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    start: (item) => void seen.push(`start ${item}`),
    drop: (item) => void seen.push(`drop ${item}`),
    lost: (item) => void seen.push(`lost ${item}`),
  };
}

Deno.test("WaitingItems: a group after its response starts a turn after the response settled; after, at once", async () => {
  const target = recording();
  const waiting = new WaitingItems(target);
  const settled = Promise.withResolvers<void>();
  waiting.add({ response: settled.promise }, "a");
  waiting.add({ response: settled.promise }, "b");
  waiting.add({ after: settled.promise }, "c");
  settled.resolve();
  await settled.promise;
  await Promise.resolve(); // every reaction to the settled promise has run
  deepEqual(target.seen, ["start c"]);
  await turn(); // the runtime has written the responses
  deepEqual(target.seen, ["start c", "start a", "start b"]);
});

Deno.test("WaitingItems: a response that failed is reported lost, and its group still starts a turn later", async () => {
  const target = recording();
  const waiting = new WaitingItems(target);
  waiting.add({ response: Promise.reject(new Error("reset")) }, "a");
  await Promise.resolve();
  await Promise.resolve();
  deepEqual(target.seen, ["lost a"]);
  await turn();
  deepEqual(target.seen, ["lost a", "start a"]);
});

Deno.test("WaitingItems: takeAll takes a group whose response settled but that has not started", async () => {
  const target = recording();
  const waiting = new WaitingItems(target);
  waiting.add({ response: Promise.resolve() }, "a");
  await Promise.resolve();
  deepEqual(waiting.takeAll(), ["a"]);
  await turn();
  deepEqual(target.seen, [], "taken by the shutdown: it never starts");
});
