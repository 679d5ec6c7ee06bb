// deno-lint-ignore-file no-console -- a command-line benchmark that reports on stdout
/**
 * Heap bytes per task, exactly, measured after a forced GC. Pending: 100,000
 * groups built as the notification route builds them (a group, the defined
 * task, an email and the message), submitted behind an undelivered response.
 * Running: 20,000 such tasks started, each waiting in the task's own
 * `delay` (scenario 2's tasks, whose bytes every scavenge copies). Run:
 * `deno task memory`.
 *
 * @module
 */
import { TaskGroup, TaskRunner } from "../lib/mod.ts";
import { notificationTask } from "../lib/notification.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Cannot measure: run with --v8-flags=--expose-gc");
const collect = gc;

/** Heap bytes per task for `count` one-task groups that `submit` hands to a runner. */
async function perTask(
  label: string,
  count: number,
  submit: (group: TaskGroup) => void,
  sendDelayMs = 0,
): Promise<number> {
  const task = notificationTask({ log: { append: () => Promise.resolve() }, sendDelayMs });
  collect();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    submit(new TaskGroup().add(task, `user${i}@example.com`, "some notification"));
  }
  // Started tasks reach their delay a few turns later.
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  collect();
  const after = Deno.memoryUsage().heapUsed;
  const bytes = (after - before) / count;
  console.log(
    `${count} ${label} tasks: heap ${(before / 2 ** 20).toFixed(1)} → ${
      (after / 2 ** 20).toFixed(1)
    } MiB; ${bytes.toFixed(0)} B per ${label} task`,
  );
  return bytes;
}

const PENDING = 100_000;
const delivered = Promise.withResolvers<void>();
const pending = new TaskRunner({ maxPending: PENDING * 2 });
const pendingBytes = await perTask("pending", PENDING, (group) => {
  pending.submit(group, { after: delivered.promise });
});
console.log(`(target ≤ 1024 B per pending task: ${pendingBytes <= 1024 ? "met" : "missed"})`);
delivered.resolve();
await pending.idle();

const RUNNING = 20_000;
await using running = new TaskRunner({ maxPending: RUNNING * 2, maxConcurrency: RUNNING * 2 });
await perTask("running", RUNNING, (group) => running.submit(group), 600_000);
await running.drain({ signal: AbortSignal.abort() });
