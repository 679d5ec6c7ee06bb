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

Deno.test("GroupRegistry tells apart ids that share a bucket, and finds the later of two equal ids", () => {
  const registry = new GroupRegistry({ maxFinished: 1 });
  // Same length and last 12 characters: the same bucket.
  const [a, b, c] = ["a-000000000000", "b-000000000000", "c-000000000000"].map((id) =>
    new TaskGroup({ id })
  ) as [TaskGroup, TaskGroup, TaskGroup];
  const again = new TaskGroup({ id: a.id });
  for (const group of [a, b, c, again]) registry.track(group);
  equal(registry.get(b.id), b);
  equal(registry.get("d-000000000000"), undefined);
  equal(registry.get(a.id), again, "the later group with an id is found");
  registry.settled(a);
  registry.settled(b); // evicts a: the bound is one finished group
  equal(registry.get(a.id), again, "evicting one group leaves another with its id");
  equal(registry.get(b.id), b);
  registry.settled(c);
  equal(registry.get(b.id), undefined);
  equal(registry.get(c.id), c);
  equal(registry.live, 1);
  // A group that was never tracked, evicted: its bucket's groups stay.
  registry.settled(new TaskGroup({ id: "e-000000000000" }));
  registry.settled(new TaskGroup({ id: "f-000000000000" }));
  equal(registry.get(again.id), again);
});
