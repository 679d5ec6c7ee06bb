import { equal } from "node:assert/strict";
import { DrainProgress } from "../lib/_drain_progress.ts";
import { fakeClock } from "./_helpers.ts";

Deno.test("DrainProgress says its line every interval, and none once disposed", async () => {
  const clock = fakeClock();
  let said = 0;
  const progress = new DrainProgress(() => said++, 5_000, clock);
  await clock.tickAsync(4_999);
  equal(said, 0);
  await clock.tickAsync(1);
  equal(said, 1);
  await clock.tickAsync(10_000);
  equal(said, 3);
  progress[Symbol.dispose]();
  await clock.tickAsync(60_000);
  equal(said, 3, "the drain ended: no more lines");
});
