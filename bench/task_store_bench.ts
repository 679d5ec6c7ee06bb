// The journal without HTTP: 1,000 groups journaled concurrently (one group
// commit) against the same groups one commit each; and their whole life
// through a runner (enqueue, attempt mark, outcome) against memory mode.
import { setImmediate } from "node:timers";
import { defineTask, SqliteTaskStore, TaskGroup, TaskRunner } from "../lib/mod.ts";

const N = 1_000;
const dir = await Deno.makeTempDir({ prefix: "posthaste_store_bench_" });
const store = SqliteTaskStore.open(`${dir}/tasks.db`);
const send = defineTask(
  "send-notification",
  (email: string, message: string) => void [email, message],
);
const group = (i: number): TaskGroup =>
  new TaskGroup().add(send, `user${i}@example.com`, "some notification");

Deno.bench({
  name: `${N} groups, each awaited before the next (a commit each)`,
  group: "journal 1,000 one-task groups",
  baseline: true,
  n: 5,
  async fn() {
    for (let i = 0; i < N; i++) await store.enqueue(group(i));
  },
});

Deno.bench({
  name: `${N} groups at once (group commit)`,
  group: "journal 1,000 one-task groups",
  n: 20,
  async fn() {
    await Promise.all(Array.from({ length: N }, (_, i) => store.enqueue(group(i))));
  },
});

const journaled = new TaskRunner({ journal: store, maxPending: N });
const inMemory = new TaskRunner({ maxPending: N });

Deno.bench({
  name: `${N} groups in memory mode: add + submit + run`,
  group: "whole life of 1,000 one-task groups",
  baseline: true,
  n: 20,
  async fn() {
    for (let i = 0; i < N; i++) inMemory.submit(group(i));
    await inMemory.idle();
  },
});

Deno.bench({
  name: `${N} groups journaled: enqueue, attempt mark, run, outcome committed`,
  group: "whole life of 1,000 one-task groups",
  n: 20,
  async fn() {
    const groups = Array.from({ length: N }, (_, i) => group(i));
    await Promise.all(groups.map((g) => store.enqueue(g)));
    for (const g of groups) journaled.submit(g);
    await journaled.idle();
    // The outcomes' commit was queued for the next macrotask: let it run.
    await new Promise((resolve) => setImmediate(resolve));
  },
});

globalThis.addEventListener("unload", () => {
  store.close();
  Deno.removeSync(dir, { recursive: true });
});
