// The demo task on a disk that stalls past its timeout: a retry writes the
// line once, whether the timed-out attempt's line still waited or was being
// written.
import { deepEqual } from "node:assert/strict";
import { LogWriter, notificationTask, TaskGroup, TaskRunner } from "../lib/mod.ts";
import { fakeClock, stalledDisk } from "./_helpers.ts";

const LINE = "notification for ada@example.com: hi\n";

function stalledRun() {
  const disk = stalledDisk();
  const clock = fakeClock();
  const log = new LogWriter(disk.target);
  const runner = new TaskRunner({ clock, timeout: 1_000, retries: 2, retryDelay: 10 });
  const group = new TaskGroup().add(notificationTask({ log }), "ada@example.com", "hi");
  return {
    disk,
    clock,
    log,
    runner,
    group,
    async [Symbol.asyncDispose]() {
      await runner[Symbol.asyncDispose]();
      await log.close();
    },
  };
}

Deno.test("notificationTask: a line still waiting at the timeout is withdrawn; the retry writes it once", async () => {
  await using run = stalledRun();
  const { disk, clock, log, runner, group } = run;
  const earlier = log.append("earlier");
  await disk.writing(); // the disk stalls on an earlier batch
  runner.submit(group);
  await clock.tickAsync(1_000); // attempt 1 times out, its line queued behind
  await clock.tickAsync(50); // attempt 2 runs
  disk.release();
  await earlier;
  await disk.writing();
  disk.release();
  await runner.idle();
  deepEqual(disk.written, ["earlier\n", LINE]);
  deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["done", 2]]);
});

Deno.test("notificationTask: a retry joins the line a timed-out attempt is still writing", async () => {
  await using run = stalledRun();
  const { disk, clock, runner, group } = run;
  runner.submit(group);
  await disk.writing(); // attempt 1's line is being written, and stalls
  await clock.tickAsync(1_000);
  await clock.tickAsync(50); // attempt 2 joins it
  disk.release();
  await runner.idle();
  deepEqual(disk.written, [LINE]);
  deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["done", 2]]);
});

Deno.test("notificationTask: a disk stalled past every attempt: no line, the task failed", async () => {
  await using run = stalledRun();
  const { disk, clock, log, runner, group } = run;
  const earlier = log.append("earlier");
  await disk.writing();
  runner.submit(group);
  await clock.tickAsync(5_000); // three attempts time out, their lines withdrawn
  await runner.idle();
  disk.release();
  await earlier;
  await log.flush();
  deepEqual(disk.written, ["earlier\n"], "a dead letter, and no line that says otherwise");
  deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["failed", 3]]);
});
