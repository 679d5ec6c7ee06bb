// The journal without HTTP: 1,000 groups journaled concurrently (one group
// commit) against the same groups one commit each.
import { defineTask, SqliteTaskStore, TaskGroup } from "../lib/mod.ts";

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

globalThis.addEventListener("unload", () => {
  store.close();
  Deno.removeSync(dir, { recursive: true });
});
