// deno-lint-ignore-file no-console -- a command-line benchmark that reports on stdout
/**
 * Heap bytes per pending task, exactly: 100,000 groups built as the
 * notification route builds them (a group, the defined task, an email and
 * the message), submitted behind an undelivered response, measured after a
 * forced GC. Run: `deno task memory`.
 *
 * @module
 */
import { TaskGroup, TaskRunner } from "../lib/mod.ts";
import { notificationTask } from "../lib/notification.ts";

const COUNT = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Cannot measure: run with --v8-flags=--expose-gc");
const task = notificationTask({ log: { append: () => Promise.resolve() } });
const runner = new TaskRunner({ maxPending: COUNT * 2 });
const delivered = Promise.withResolvers<void>();

gc();
const before = Deno.memoryUsage().heapUsed;
for (let i = 0; i < COUNT; i++) {
  const group = new TaskGroup().add(task, `user${i}@example.com`, "some notification");
  runner.submit(group, { after: delivered.promise });
}
gc();
const after = Deno.memoryUsage().heapUsed;
const perTask = (after - before) / COUNT;
console.log(
  `${COUNT} pending tasks: heap ${(before / 2 ** 20).toFixed(1)} → ${
    (after / 2 ** 20).toFixed(1)
  } MiB; ${perTask.toFixed(0)} B per pending task (target ≤ 1024)`,
);
delivered.resolve();
await runner.idle();
