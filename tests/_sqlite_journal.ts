// A SQLite journal for the recovery tests: filled with unfinished groups, and
// read back once its outcomes are committed.
import { defineTask, SqliteTaskStore, TaskGroup } from "../lib/mod.ts";

const send = defineTask("send", (to: string) => void to);

/** A journal holding `sizes.length` unfinished groups `g0`, `g1`, … of the given sizes. */
export async function journalWith(path: string, sizes: number[]): Promise<void> {
  using store = SqliteTaskStore.open(path);
  for (const [i, size] of sizes.entries()) {
    const group = new TaskGroup({ id: `g${i}` });
    for (let t = 0; t < size; t++) group.add(send, `to ${t}`);
    await store.enqueue(group);
  }
}

/** What is left unfinished in the journal once its outcomes are committed (on close). */
export function unfinished(store: SqliteTaskStore): string[] {
  store.close();
  using reopened = SqliteTaskStore.open(store.path);
  return reopened.list("", 100).map((task) => task.id);
}
