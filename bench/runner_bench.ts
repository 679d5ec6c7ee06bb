// Runner: the cost of TaskGroup add + submit + run, per task. Baseline: the
// same function called through a bare microtask (no ordering, limits or state).
import { TaskGroup, TaskRunner } from "../lib/mod.ts";

const N = 1_000;
const runner = new TaskRunner({ maxConcurrency: 256 });
let sink = 0;
const work = (n: number): void => {
  sink += n;
};

Deno.bench({
  name: `${N} bare microtasks`,
  group: "1,000 one-task groups",
  baseline: true,
  async fn() {
    await Promise.all(Array.from({ length: N }, (_, i) => Promise.resolve().then(() => work(i))));
  },
});

Deno.bench({
  name: `${N} groups: add + submit + run`,
  group: "1,000 one-task groups",
  async fn() {
    for (let i = 0; i < N; i++) runner.submit(new TaskGroup().add(work, i));
    await runner.idle();
  },
});

Deno.bench({
  name: `${N} async tasks, concurrency 256`,
  group: "1,000 one-task groups",
  async fn() {
    for (let i = 0; i < N; i++) {
      runner.submit(new TaskGroup().add((n: number) => Promise.resolve(work(n)), i));
    }
    await runner.idle();
  },
});

Deno.bench({
  name: `1 group of ${N} ordered tasks`,
  group: "1,000 one-task groups",
  async fn() {
    const group = new TaskGroup();
    for (let i = 0; i < N; i++) group.add(work, i);
    runner.submit(group);
    await runner.idle();
  },
});
