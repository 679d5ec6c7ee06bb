import { equal } from "node:assert/strict";
import { GroupRegistry, TaskGroup } from "../lib/mod.ts";
import { fakeClock } from "./_helpers.ts";

Deno.test("GroupRegistry keeps unfinished groups, and finished ones for a bounded time and count", async () => {
  const clock = fakeClock();
  const registry = new GroupRegistry({ maxFinished: 2, retentionMs: 1_000, clock });
  const groups = Array.from({ length: 4 }, () => new TaskGroup());
  for (const group of groups) registry.track(group);
  equal(registry.live, 4);
  for (const group of groups.slice(0, 3)) registry.settled(group);
  equal(registry.get(groups[0]!.id), undefined, "count bound: the oldest finished is evicted");
  equal(registry.get(groups[1]!.id), groups[1]);
  equal(registry.get(groups[3]!.id), groups[3], "unfinished groups stay");
  await clock.tickAsync(1_001);
  equal(registry.get(groups[2]!.id), undefined, "time bound");
  equal(registry.finished, 0);
  equal(registry.get(groups[3]!.id), groups[3]);
});
