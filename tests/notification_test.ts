// The demo task on a disk that stalls past its timeout: the line is written
// once, whether the timed-out attempt's line still waited or was being written
// when the retry came.
import { deepEqual } from "node:assert/strict";
import { LogWriter, notificationTask, TaskGroup, TaskRunner } from "../lib/mod.ts";
import { fakeClock, stalledDisk } from "./_helpers.ts";

const LINE = "notification for ada@example.com: hi\n";

function stalledRun() {
  const disk = stalledDisk();
  const clock = fakeClock();
  const log = new LogWriter(disk.target, { clock });
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

Deno.test("notificationTask: a retry joins the line a timed-out attempt left waiting", async () => {
  await using run = stalledRun();
  const { disk, clock, log, runner, group } = run;
  const earlier = log.append("earlier");
  await disk.writing(); // the disk stalls on an earlier batch
  runner.submit(group);
  await clock.tickAsync(1_000); // attempt 1 times out, its line queued behind
  await clock.tickAsync(50); // attempt 2 runs
  disk.recover();
  await Promise.all([earlier, runner.idle()]);
  deepEqual(disk.written, ["earlier\n", LINE]);
  deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["done", 2]]);
});

Deno.test("notificationTask: the line a timed-out attempt was writing is written once, landing before its retry or after", async () => {
  for (const landsInBackoff of [false, true]) {
    await using run = stalledRun();
    const { disk, clock, log, runner, group } = run;
    runner.submit(group);
    await disk.writing(); // attempt 1's line is being written, and stalls
    await clock.tickAsync(1_000); // attempt 1 times out; its retry waits for the backoff
    if (landsInBackoff) {
      disk.recover();
      await log.flush();
    }
    await clock.tickAsync(50); // attempt 2 joins the line, or finds it written
    disk.recover();
    await runner.idle();
    deepEqual(disk.written, [LINE], landsInBackoff ? "landed in the backoff" : "joined");
    deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["done", 2]]);
  }
});

Deno.test("notificationTask: a disk stalled past every attempt: the task failed; its line lands once when the disk recovers", async () => {
  await using run = stalledRun();
  const { disk, clock, log, runner, group } = run;
  const earlier = log.append("earlier");
  await disk.writing();
  runner.submit(group);
  await clock.tickAsync(5_000); // three attempts time out; the retries joined the first's line
  await runner.idle();
  deepEqual(group.tasks.map((t) => [t.state, t.attempts]), [["failed", 3]]);
  disk.recover();
  await earlier;
  await log.flush();
  deepEqual(disk.written, ["earlier\n", LINE], "as a timed-out task's work may go on: once");
});
