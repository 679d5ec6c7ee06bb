import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import {
  AdmissionError,
  catchStrayErrors,
  type DeadLetter,
  defineTask,
  delay,
  systemClock,
  type TaskContext,
  TaskGroup,
  TaskRunner,
  TimeoutQueue,
} from "../lib/mod.ts";
import { captureLogs, fakeClock, recordingLogger, TestRunner } from "./_helpers.ts";

Deno.test("TaskRunner runs a group's tasks in order, sync and async", async () => {
  const seen: string[] = [];
  await using runner = new TestRunner();
  const group = new TaskGroup()
    .add(async (x: string) => {
      await Promise.resolve();
      seen.push(x);
    }, "a")
    .add((x: string) => void seen.push(x), "b")
    .add((x: string) => Promise.resolve().then(() => void seen.push(x)), "c");
  runner.submit(group);
  await group.settled();
  deepEqual(seen, ["a", "b", "c"]);
  equal(group.state, "done");
});

Deno.test("TaskRunner reports a throwing task with name, error and stack, and runs the next", async () => {
  await using logs = await captureLogs();
  const seen: string[] = [];
  await using runner = new TestRunner({ retries: 0 });
  const group = new TaskGroup()
    .add(function explode() {
      throw new Error("boom");
    })
    .add((x: string) => void seen.push(x), "after");
  runner.submit(group);
  await group.settled();
  deepEqual(seen, ["after"]);
  deepEqual(group.tasks.map((t) => [t.name, t.state, t.error]), [
    ["explode", "failed", "boom"],
    ["anonymous", "done", undefined],
  ]);
  equal(group.state, "failed");
  const record = logs.records.find((r) => r.properties.taskName === "explode");
  ok(record);
  const error = record.properties.error as Error;
  equal(error.message, "boom");
  match(error.stack ?? "", /explode/);
});

Deno.test("TaskRunner: a thrown value whose text cannot be read fails its task alone; the runner goes on", async () => {
  await using logs = await captureLogs();
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const unreadable =
    "Cannot read the object that was thrown: it has no usable message or string form";
  const message = Object.assign(new Error(), { message: Object.create(null) });
  const seen: string[] = [];
  await using runner = new TestRunner({ retries: 1, retryDelay: 1 });
  const group = new TaskGroup()
    .add(function bare() {
      throw Object.create(null); // before: String() threw inside submit(), the task stayed running
    })
    .add(async function toStringThrows() {
      await Promise.resolve();
      throw {
        toString: () => {
          throw new Error("no");
        },
      };
    })
    .add(function revoked() {
      throw proxy;
    })
    .add(function badMessage() {
      throw message;
    })
    .add(function thenThrows(): PromiseLike<void> {
      return {
        then: () => {
          throw new Error("then threw");
        },
      };
    })
    .add(function thenGetterThrows() {
      return {
        get then() {
          throw new Error("then getter threw");
        },
      };
    })
    .add((x: string) => void seen.push(x), "after");
  runner.submit(group);
  await runner.idle();
  deepEqual(seen, ["after"], "the group went on after each");
  equal(runner.pending, 0);
  equal(runner.running, 0);
  deepEqual(group.tasks.map((t) => [t.name, t.state, t.attempts, t.error]), [
    ["bare", "failed", 2, unreadable],
    ["toStringThrows", "failed", 2, unreadable],
    ["revoked", "failed", 2, unreadable],
    ["badMessage", "failed", 2, unreadable],
    ["thenThrows", "failed", 2, "then threw"],
    ["thenGetterThrows", "failed", 2, "then getter threw"],
    ["anonymous", "done", 1, undefined],
  ]);
  const failures = logs.records.filter((r) => r.properties.taskName === "bare");
  equal(failures.length, 2, "each attempt logged");
});

Deno.test("TaskRunner: a timeout aborts the task's signal with a TimeoutError", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, retries: 0 });
  const aborted: { reason?: unknown } = {};
  const started = Promise.withResolvers<void>();
  const wait = defineTask("wait", function (this: TaskContext) {
    started.resolve();
    return new Promise<void>((_, reject) =>
      this.signal.addEventListener("abort", () => {
        aborted.reason = this.signal.reason;
        reject(this.signal.reason);
      })
    );
  }, { timeout: 100 });
  const group = new TaskGroup().add(wait);
  runner.submit(group);
  await started.promise;
  await clock.tickAsync(99);
  equal("reason" in aborted, false, "not aborted before the deadline");
  await clock.tickAsync(1);
  await group.settled();
  ok(aborted.reason instanceof DOMException);
  equal(aborted.reason.name, "TimeoutError");
  equal(group.tasks[0]?.state, "failed");
  equal(runner.stats.timedOut, 1);
});

Deno.test("TaskRunner: a timeout that starts the next task does not delay the timeouts already waiting", async () => {
  const clock = fakeClock();
  await using _logs = await captureLogs();
  await using runner = new TestRunner({ clock, retries: 0, timeout: 100, maxConcurrency: 2 });
  const abortedAt: [string, number][] = [];
  const hang = (name: string) =>
    defineTask(name, function (this: TaskContext) {
      return new Promise<void>((_, reject) =>
        this.signal.addEventListener("abort", () => {
          abortedAt.push([name, clock.now()]);
          reject(this.signal.reason);
        })
      );
    });
  runner.submit(new TaskGroup().add(hang("a"))); // due at 100
  await clock.tickAsync(50);
  runner.submit(new TaskGroup().add(hang("b"))); // due at 150
  runner.submit(new TaskGroup().add(hang("c"))); // waits for a slot: starts at 100, due at 200
  await clock.runAllAsync();
  await runner.idle();
  // Before the fix, c's deadline armed the shared timer for 200, and b timed out then too.
  deepEqual(abortedAt, [["a", 100], ["b", 150], ["c", 200]]);
});

Deno.test("TaskRunner: a task that ignores its signal is reported timed out and the group goes on", async () => {
  const clock = fakeClock();
  await using logs = await captureLogs();
  await using runner = new TestRunner({ clock, retries: 0, timeout: 50 });
  const seen: string[] = [];
  const group = new TaskGroup()
    .add(function stuck() {
      return new Promise(() => {});
    })
    .add(() => void seen.push("next"));
  runner.submit(group);
  await clock.tickAsync(50);
  await group.settled();
  deepEqual(seen, ["next"]);
  match(group.tasks[0]?.error ?? "", /timed out after 50 ms/);
  ok(
    logs.records.some((r) =>
      r.properties.taskName === "stuck" && r.properties.outcome === "timed out"
    ),
  );
});

Deno.test("TaskRunner: a task's context names it; a signal first read after its timeout is aborted already", async () => {
  const clock = fakeClock();
  await using _logs = await captureLogs();
  await using runner = new TestRunner({ clock, retries: 1, timeout: 50 });
  const gate = Promise.withResolvers<void>();
  const seen: { id: string; groupId: string; name: string; attempt: number; reason?: unknown }[] =
    [];
  const slow = defineTask("slow", async function (this: TaskContext) {
    const { id, groupId, name, attempt } = this;
    // The signal is made on first use: this attempt looks only once it has timed out.
    if (attempt === 1) await gate.promise;
    seen.push({ id, groupId, name, attempt, reason: this.signal.aborted && this.signal.reason });
  });
  const group = new TaskGroup({ id: "g" }).add(() => {}).add(slow);
  runner.submit(group);
  await clock.tickAsync(50); // the first attempt times out
  await clock.tickAsync(10_000); // past the backoff: the second runs and succeeds
  gate.resolve();
  await group.settled();
  equal(group.tasks[1]?.state, "done");
  deepEqual(seen.map(({ reason: _, ...context }) => context), [
    { id: "g/1", groupId: "g", name: "slow", attempt: 2 },
    { id: "g/1", groupId: "g", name: "slow", attempt: 1 },
  ]);
  equal(seen[0]?.reason, false, "the retry's signal is its own, not aborted");
  equal((seen[1]?.reason as DOMException).name, "TimeoutError");
});

Deno.test("TaskRunner: an attempt that finished in time is not aborted when its timeout comes", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, retries: 0, timeout: 50 });
  const signals: AbortSignal[] = [];
  const group = new TaskGroup().add(async function quick(this: TaskContext) {
    signals.push(this.signal); // a task may keep its signal after it returns
    await Promise.resolve();
  });
  runner.submit(group);
  await group.settled();
  await clock.tickAsync(100);
  equal(group.tasks[0]?.state, "done");
  equal(signals[0]?.aborted, false, "its deadline left the timeout queue when it finished");
});

Deno.test("TaskRunner: a step back of the wall clock neither stalls a timeout nor makes a duration negative", async () => {
  await using _logs = await captureLogs();
  await using runner = new TestRunner({ retries: 0, timeout: 10 });
  const wallNow = Date.now;
  const started = Promise.withResolvers<void>();
  const group = new TaskGroup().add(function stuck() {
    started.resolve();
    return new Promise(() => {});
  });
  const start = performance.now();
  runner.submit(group);
  await started.promise; // its deadline is set
  Date.now = () => wallNow() - 60_000; // NTP steps the clock back while it runs
  try {
    await group.settled();
  } finally {
    Date.now = wallNow;
  }
  ok(performance.now() - start < 60_000, "the timeout waited for the wall clock");
  match(group.tasks[0]?.error ?? "", /timed out after 10 ms/);
  equal(group.tasks[0]?.durationMs, 0);
});

Deno.test("TaskRunner: hooks and observers that throw are logged; every task still runs and is recorded", async () => {
  await using logs = await captureLogs();
  const strays = recordingLogger(3);
  using _strays = catchStrayErrors({ logger: strays.logger });
  const recorded: string[] = [];
  await using runner = new TestRunner({
    onGroupAccepted: () => {
      throw new Error("accepted hook");
    },
    onGroupSettled: () => {
      throw new Error("settled hook");
    },
    journal: {
      attempt: () => Promise.resolve(),
      record: (entry) => void recorded.push(entry.state),
    },
  });
  runner.stats.observe(() => {
    throw new Error("observer");
  });
  const ran: number[] = [];
  for (let i = 0; i < 3; i++) {
    runner.submit(new TaskGroup().add((n: number) => void ran.push(n), i));
  }
  await runner.idle();
  deepEqual(ran, [0, 1, 2]);
  equal(runner.pending, 0);
  deepEqual(recorded, ["done", "done", "done"]);
  const hooks = logs.records.map((r) => r.properties.hook).filter((hook) => hook !== undefined);
  deepEqual(hooks.sort(), [
    ...Array(3).fill("onGroupAccepted"),
    ...Array(3).fill("onGroupSettled"),
  ]);
  await strays.enough;
  deepEqual(
    strays.errors.map((e) => (e.properties.error as Error).message),
    Array(3).fill("observer"),
  );
});

Deno.test("TaskRunner retries with exponential backoff and jitter, then dead-letters", async () => {
  const clock = fakeClock();
  await using logs = await captureLogs();
  const letters: DeadLetter[] = [];
  await using runner = new TestRunner({ clock, deadLetter: (r) => void letters.push(r) });
  const attempts: number[] = [];
  const times: number[] = [];
  const flaky = defineTask("flaky", function (this: TaskContext, email: string) {
    attempts.push(this.attempt);
    times.push(clock.now());
    throw new Error(`cannot reach ${email}`);
  }, { retries: 3, retryDelay: 100, maxRetryDelay: 250 });
  const group = new TaskGroup({ id: "req-1" }).add(flaky, "ada@example.com");
  runner.submit(group);
  await clock.runAllAsync();
  await group.settled();
  deepEqual(attempts, [1, 2, 3, 4]);
  // Retry n waits between half and all of min(250, 100 * 2^(n-1)).
  const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
  for (const [i, ceiling] of [100, 200, 250].entries()) {
    const gap = gaps[i] as number;
    ok(gap >= ceiling / 2 && gap <= ceiling, `retry ${i + 1} waited ${gap} ms, ceiling ${ceiling}`);
  }
  equal(runner.stats.retried, 3);
  equal(letters.length, 1);
  const letter = letters[0] as DeadLetter;
  deepEqual(
    {
      ...letter,
      acceptedAt: typeof letter.acceptedAt,
      startedAt: typeof letter.startedAt,
      endedAt: typeof letter.endedAt,
    },
    {
      reason: "failed",
      task: "flaky",
      taskId: "req-1/0",
      groupId: "req-1",
      args: ["ada@example.com"],
      attempts: 4,
      error: "cannot reach ada@example.com",
      acceptedAt: "string",
      startedAt: "string",
      endedAt: "string",
    },
  );
  deepEqual(
    logs.records.filter((r) => r.properties.taskName === "flaky").map((r) => r.properties.attempt),
    [1, 2, 3, 4],
  );
});

Deno.test("TaskRunner: a task option given as undefined takes the runner's default", async () => {
  const clock = fakeClock();
  await using _logs = await captureLogs();
  await using runner = new TestRunner({ clock, retries: 2, retryDelay: 100, maxRetryDelay: 100 });
  const times: number[] = [];
  // What `{ retries: settings.retries }` makes when the setting is absent.
  const unset = { retries: undefined, retryDelay: undefined, maxRetryDelay: undefined };
  const flaky = defineTask("flaky", () => {
    times.push(clock.now());
    throw new Error("down");
  }, unset);
  const group = new TaskGroup().add(flaky);
  runner.submit(group);
  await clock.runAllAsync();
  await group.settled();
  equal(times.length, 3, "the first attempt and the runner's 2 retries");
  const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
  ok(gaps.every((gap) => gap >= 50 && gap <= 100), `waited ${gaps} ms, between 50 and 100`);
});

Deno.test("TaskRunner keeps at most 4,096 characters of a failure's text, in its status and dead letter", async () => {
  await using _logs = await captureLogs();
  const letters: DeadLetter[] = [];
  await using runner = new TestRunner({ retries: 0, deadLetter: (r) => void letters.push(r) });
  // An error that quotes a whole response body, say.
  const group = new TaskGroup().add(() => {
    throw new Error(`HTTP 500: ${"<html>".repeat(50_000)}`);
  });
  runner.submit(group);
  await group.settled();
  const error = group.tasks[0]?.error ?? "";
  equal(error.length < 4_200, true, `kept ${error.length} characters`);
  match(error, /^HTTP 500: <html><html>.*… \(295914 more characters\)$/);
  equal(letters[0]?.error, error);
});

Deno.test("TaskRunner: a task that succeeds on a retry is done", async () => {
  const clock = fakeClock();
  await using runner = new TestRunner({ clock, retryDelay: 10 });
  const group = new TaskGroup().add(function (this: TaskContext) {
    if (this.attempt < 2) throw new Error("once");
  });
  runner.submit(group);
  await clock.runAllAsync();
  await group.settled();
  deepEqual([group.state, group.tasks[0]?.attempts], ["done", 2]);
});

Deno.test("TaskRunner never runs more than maxConcurrency tasks at once", async () => {
  await using runner = new TestRunner({ maxConcurrency: 3 });
  const gate = Promise.withResolvers<void>();
  let running = 0, most = 0, finished = 0;
  const gated = async (): Promise<void> => {
    most = Math.max(most, ++running);
    await gate.promise;
    running--;
    finished++;
  };
  for (let i = 0; i < 10; i++) runner.submit(new TaskGroup().add(gated).add(gated));
  await Promise.resolve();
  equal(runner.running, 3);
  equal(runner.pending, 20);
  gate.resolve();
  await runner.idle();
  equal(most, 3);
  equal(finished, 20);
});

Deno.test("TaskRunner holds no timer for queued tasks", async () => {
  const clock = fakeClock();
  const counting = { ...clock, timers: 0 };
  counting.setTimeout = (fn, ms) => {
    counting.timers++;
    return clock.setTimeout(fn, ms);
  };
  await using runner = new TestRunner({ clock: counting, maxConcurrency: 1 });
  const gate = Promise.withResolvers<void>();
  for (let i = 0; i < 1_000; i++) runner.submit(new TaskGroup().add(() => gate.promise));
  await Promise.resolve();
  equal(counting.timers, 1);
  gate.resolve();
  await runner.idle();
});

Deno.test("TaskRunner refuses a whole group when the backlog would overflow", () => {
  const runner = new TaskRunner({ maxPending: 5 });
  const ran: number[] = [];
  const gate = Promise.withResolvers<void>();
  runner.submit(new TaskGroup().add(() => gate.promise).add(() => {}).add(() => {}));
  const second = new TaskGroup().add(() => void ran.push(1)).add(() => void ran.push(2)).add(
    () => {},
  );
  throws(() => runner.submit(second), AdmissionError);
  equal(runner.pending, 3);
  deepEqual(ran, []);
  equal(second.state, "queued");
  gate.resolve();
  return runner.idle();
});

Deno.test("TaskRunner starts a group only after `after` settles, even if it rejects", async () => {
  await using logs = await captureLogs();
  await using runner = new TestRunner();
  const delivered = Promise.withResolvers<void>();
  const seen: string[] = [];
  const group = new TaskGroup().add(() => void seen.push("ran"));
  runner.submit(group, { after: delivered.promise });
  await Promise.resolve();
  deepEqual(seen, []);
  equal(group.state, "queued");
  delivered.reject(new Error("connection reset"));
  await group.settled();
  deepEqual(seen, ["ran"]);
  ok(logs.records.some((r) => String(r.rawMessage).startsWith("Client went away")));
});

Deno.test("TaskRunner: a group the drain deadline abandoned before its delivery stays abandoned, unlogged, when the delivery ends", async () => {
  await using logs = await captureLogs();
  const runner = new TaskRunner();
  const seen: string[] = [];
  const delivered = Promise.withResolvers<void>();
  const waiting = new TaskGroup().add(() => void seen.push("waiting"));
  runner.submit(waiting, { after: delivered.promise });
  deepEqual(await runner.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
  equal(waiting.state, "abandoned");
  delivered.reject(new Error("connection reset"));
  await delivered.promise.catch(() => {});
  await Promise.resolve();
  deepEqual(seen, []);
  equal(waiting.state, "abandoned");
  equal(runner.pending, 0);
  ok(!logs.records.some((r) => String(r.rawMessage).startsWith("Client went away")));
});

Deno.test("TaskRunner: a delivery that fails while the commit is pending, or after it failed, is handled", async () => {
  await using logs = await captureLogs();
  await using runner = new TestRunner();
  const seen: string[] = [];
  const committed = Promise.withResolvers<void>();
  // Rejected before the commit settles: no handler may be missing meanwhile.
  const first = new TaskGroup().add(() => void seen.push("first"));
  runner.submit(first, { commit: committed.promise, after: Promise.reject(new Error("gone")) });
  const refused = Promise.withResolvers<void>();
  const second = new TaskGroup().add(() => void seen.push("second"));
  runner.submit(second, { commit: refused.promise, after: Promise.reject(new Error("gone")) });
  refused.reject(new Error("disk full")); // dropped: its delivery is never waited for
  await second.settled();
  committed.resolve();
  await first.settled();
  deepEqual(seen, ["first"]);
  equal(second.state, "abandoned");
  ok(logs.records.some((r) => String(r.rawMessage).startsWith("Client went away")));
});

Deno.test("TaskRunner: a group whose commit failed is reported dropped, then settled; one committed only settled", async () => {
  const hooks: string[] = [];
  const hook = (name: string) => (group: TaskGroup) => void hooks.push(`${name} ${group.id}`);
  await using runner = new TestRunner({
    onGroupAccepted: hook("accepted"),
    onGroupDropped: hook("dropped"),
    onGroupSettled: hook("settled"),
  });
  const refused = Promise.withResolvers<void>();
  const lost = new TaskGroup({ id: "lost" }).add(() => {});
  runner.submit(lost, { commit: refused.promise });
  runner.submit(new TaskGroup({ id: "kept" }).add(() => {}), { commit: Promise.resolve() });
  refused.reject(new Error("disk full"));
  await runner.idle();
  deepEqual(hooks, [
    "accepted lost",
    "accepted kept",
    "settled kept", // its commit had resolved already
    "dropped lost",
    "settled lost",
  ]);
});

Deno.test("TaskRunner.drain() waits for work; then refuses new groups", async () => {
  await using runner = new TestRunner();
  const gate = Promise.withResolvers<void>();
  let done = false;
  runner.submit(new TaskGroup().add(async () => {
    await gate.promise;
    done = true;
  }));
  const drained = runner.drain();
  throws(() => runner.submit(new TaskGroup().add(() => {})), { reason: "draining" });
  gate.resolve();
  deepEqual(await drained, { abandoned: 0 });
  equal(done, true);
});

Deno.test("TaskRunner.drain({ signal }) aborts running tasks and abandons the rest at the deadline", async () => {
  const letters: DeadLetter[] = [];
  const runner = new TaskRunner({ maxConcurrency: 1, deadLetter: (r) => void letters.push(r) });
  const started = Promise.withResolvers<void>();
  let aborted = false;
  const hang = function (this: TaskContext): Promise<void> {
    started.resolve();
    this.signal.addEventListener("abort", () => aborted = true);
    return new Promise(() => {});
  };
  const first = new TaskGroup({ id: "g1" }).add(hang).add(() => {});
  const second = new TaskGroup({ id: "g2" }).add(() => {});
  const undelivered = new TaskGroup({ id: "g3" }).add(() => {});
  runner.submit(first);
  runner.submit(second);
  runner.submit(undelivered, { after: new Promise(() => {}) });
  await started.promise;
  const deadline = new AbortController();
  const drained = runner.drain({ signal: deadline.signal });
  deadline.abort();
  deepEqual(await drained, { abandoned: 4 });
  equal(aborted, true);
  equal(runner.pending, 0);
  deepEqual(letters.map((l) => [l.taskId, l.reason]).sort(), [
    ["g1/0", "shutdown"],
    ["g1/1", "shutdown"],
    ["g2/0", "shutdown"],
    ["g3/0", "shutdown"],
  ]);
  deepEqual([first.state, second.state, undelivered.state], [
    "abandoned",
    "abandoned",
    "abandoned",
  ]);
});

Deno.test("TaskRunner refuses a group submitted twice", async () => {
  await using runner = new TestRunner();
  const group = new TaskGroup().add(() => {});
  runner.submit(group);
  throws(() => runner.submit(group), /Cannot submit group .* submitted already/);
});

Deno.test("TaskRunner rejects bad limits with RangeError", () => {
  throws(() => new TaskRunner({ maxConcurrency: 0 }), RangeError);
  throws(() => new TaskRunner({ maxPending: 1.5 }), /Cannot create runner: maxPending/);
});

Deno.test("TaskRunner.idle({ signal }) stops waiting at the abort; the tasks go on", async () => {
  const gate = Promise.withResolvers<void>();
  await using runner = new TestRunner();
  runner.submit(new TaskGroup().add(() => gate.promise));
  await rejects(runner.idle({ signal: AbortSignal.abort(new Error("at once")) }), /at once/);
  const controller = new AbortController();
  const waiting = runner.idle({ signal: controller.signal });
  controller.abort(new Error("stop waiting"));
  await rejects(waiting, /stop waiting/);
  equal(runner.pending, 1);
  gate.resolve();
  await runner.idle();
  equal(runner.stats.succeeded, 1);
});

Deno.test("TaskRunner: a delay on the task's signal ends at the timeout, and what follows never runs", async () => {
  const clock = fakeClock();
  const timeouts = new TimeoutQueue(clock);
  await using runner = new TestRunner({ clock, retries: 0 });
  const sent: string[] = [];
  let caught: unknown;
  const send = defineTask("send", async function (to: string) {
    try {
      await delay(10_000, { signal: this.signal, timeouts });
    } catch (error) {
      caught = error;
      throw error;
    }
    sent.push(to);
  }, { timeout: 100 });
  const group = new TaskGroup().add(send, "ada@example.com");
  runner.submit(group);
  await clock.tickAsync(100);
  await group.settled();
  ok(caught instanceof DOMException && caught.name === "TimeoutError", String(caught));
  equal(group.tasks[0]?.state, "failed");
  await clock.tickAsync(10_000);
  deepEqual(sent, []);
});

Deno.test("TaskRunner: an attempt mark the journal refuses is no attempt; the task runs once one is taken", async () => {
  const clock = fakeClock();
  const marks: string[] = [];
  let refusals = 2; // a database restarting
  const ran: number[] = [];
  await using runner = new TestRunner({
    clock,
    retries: 0,
    journal: {
      attempt(entry) {
        marks.push(`attempt ${entry.attempts} at ${clock.now()}`);
        return refusals-- > 0 ? Promise.reject(new Error("connection refused")) : Promise.resolve();
      },
      record() {},
    },
  });
  const group = new TaskGroup().add(function (this: TaskContext) {
    ran.push(this.attempt);
  });
  runner.submit(group);
  await clock.tickAsync(2_000);
  await runner.idle();
  deepEqual(marks, ["attempt 1 at 0", "attempt 1 at 1000", "attempt 1 at 2000"]);
  deepEqual(ran, [1], "with no retries left, it still ran");
  equal(group.tasks[0]?.state, "done");
});

Deno.test("TaskRunner: a journal refusing every task's mark is logged a line a second, with the count, and its end once", async () => {
  const clock = fakeClock();
  const warnings: Record<string, unknown>[] = [];
  const infos: [string, Record<string, unknown>][] = [];
  const logger = {
    info: (message: string, p?: Record<string, unknown>) => void infos.push([message, p ?? {}]),
    error() {},
    warn: (_: string, p?: Record<string, unknown>) => void warnings.push(p ?? {}),
  };
  let full = true;
  const attempt = () => full ? Promise.reject(new Error("disk full")) : Promise.resolve();
  const runner = new TaskRunner({
    clock,
    logger,
    maxConcurrency: 1_000,
    journal: { attempt, record() {} },
  });
  let ran = 0;
  for (let i = 0; i < 1_000; i++) runner.submit(new TaskGroup().add(() => void ran++));
  await clock.tickAsync(2_000); // each task refused at 0, 1,000 and 2,000 ms
  // It was one line per refusal: 3,000 here, and 21,000 a second in a run with 26,450 tasks.
  deepEqual(warnings.map((p) => p.unlogged), [0, 999, 999]);
  deepEqual(infos, []);
  full = false;
  await clock.tickAsync(1_000);
  await runner.idle();
  equal(ran, 1_000);
  deepEqual(infos, [[
    "The journal takes attempt starts again: {count} refused in the {ms} ms since the first ({unlogged} since the last such line)",
    { count: 3_000, ms: 3_000, unlogged: 999 }, // those refused at 2,000 after its line
  ]]);
});

Deno.test("TaskRunner marks a group accepted on its clock as it takes it; a refused one is not", async () => {
  let now = Date.UTC(2026, 11, 3, 10);
  await using runner = new TestRunner({ maxPending: 1, clock: { ...systemClock, now: () => now } });
  const gate = Promise.withResolvers<void>();
  const taken = new TaskGroup().add(() => gate.promise);
  equal(taken.acceptedAt, -1);
  runner.submit(taken);
  now += 1_000;
  const refused = new TaskGroup().add(() => {});
  throws(() => runner.submit(refused), AdmissionError); // the backlog is full
  deepEqual([taken.acceptedAt, refused.acceptedAt], [Date.UTC(2026, 11, 3, 10), -1]);
  deepEqual([taken.toJSON().acceptedAt, refused.toJSON().acceptedAt], [
    "2026-12-03T10:00:00.000Z",
    null,
  ]);
  gate.resolve();
  await runner.idle();
  equal(taken.acceptedAt, Date.UTC(2026, 11, 3, 10), "kept as it runs");
});

Deno.test("TaskRunner.defaults and .limits: as resolved, frozen", () => {
  const runner = new TaskRunner({ retries: 5, timeout: 1_000, maxPending: 50 });
  deepEqual(runner.defaults, {
    timeout: 1_000,
    retries: 5,
    retryDelay: 100,
    maxRetryDelay: 10_000,
  });
  ok(Object.isFrozen(runner.defaults));
  deepEqual(runner.limits, { maxConcurrency: 256, maxPending: 50, defaults: runner.defaults });
  ok(Object.isFrozen(runner.limits));
});

Deno.test("TaskRunner: a task that ignores its signal counts as overrunning until its code ends, and a late end is logged", async () => {
  const clock = fakeClock();
  const warnings: [string, Record<string, unknown>][] = [];
  const logger = {
    info() {},
    error() {},
    warn: (message: string, p: Record<string, unknown>) => void warnings.push([message, p]),
  };
  await using runner = new TestRunner({ clock, logger, retries: 0, timeout: 100 });
  const stuck = Promise.withResolvers<void>();
  const deaf = defineTask("deaf", () => stuck.promise); // never looks at its signal
  const heedful = defineTask("heedful", function (this: TaskContext) {
    return new Promise<void>((_, reject) =>
      this.signal.addEventListener("abort", () => reject(this.signal.reason))
    );
  });
  const groups = [new TaskGroup().add(deaf), new TaskGroup().add(heedful)];
  for (const group of groups) runner.submit(group);
  await clock.tickAsync(100);
  await Promise.all(groups.map((group) => group.settled()));
  deepEqual(groups.map((group) => group.tasks[0]?.state), ["failed", "failed"]);
  equal(runner.running, 0, "their slots are free");
  equal(runner.overrunning, 1, "the deaf task's code still runs; the heedful one ended");
  await clock.tickAsync(2_500);
  stuck.resolve();
  await stuck.promise;
  equal(runner.overrunning, 0);
  deepEqual(warnings.map(([, p]) => [p.taskName, p.lateMs, p.unlogged]), [["deaf", 2_500, 0]]);
  match(warnings[0]?.[0] ?? "", /it ignores its signal/);
});

Deno.test("TaskRunner: at debug level, each accepted group and each finished task is logged; above it, debug is never called", async () => {
  const records: [string, Record<string, unknown>][] = [];
  const keep = (message: string, properties: Record<string, unknown>) =>
    void records.push([message, properties]);
  const quiet = () => {};
  const debugging = {
    debug: keep,
    isEnabledFor: () => true,
    info: quiet,
    warn: quiet,
    error: quiet,
  };
  await using runner = new TestRunner({ logger: debugging, retries: 1, retryDelay: 1 });
  let calls = 0;
  const group = new TaskGroup({ id: "g" })
    .add(function send(_to: string) {}, "ada")
    .add(function flaky() {
      if (++calls < 2) throw new Error("once");
    });
  runner.submit(group);
  await runner.idle();
  deepEqual(records.map(([message]) => message), [
    "Accepted group {groupId} of {tasks} tasks",
    "Task {taskName} {state} after {attempts} attempts in {durationMs} ms",
    "Task {taskName} {state} after {attempts} attempts in {durationMs} ms",
  ]);
  deepEqual(records[0]?.[1], { requestId: "g", groupId: "g", tasks: 2 });
  const { durationMs, ...flaky } = records[2]?.[1] ?? {};
  equal(typeof durationMs, "number");
  deepEqual(flaky, {
    requestId: "g",
    groupId: "g",
    taskId: "g/1",
    taskName: "flaky",
    state: "done",
    attempts: 2,
  });

  // The level is asked once: a runner made while debug is off costs nothing per task.
  let debugCalls = 0, asked = 0;
  const above = {
    debug: () => void debugCalls++,
    isEnabledFor: () => (asked++, false),
    info: quiet,
    warn: quiet,
    error: quiet,
  };
  await using quietRunner = new TestRunner({ logger: above });
  for (let i = 0; i < 3; i++) quietRunner.submit(new TaskGroup().add(() => {}));
  await quietRunner.idle();
  deepEqual([debugCalls, asked], [0, 1]);
});

Deno.test("TaskRunner: a group dropped at its failed commit is logged at debug level with why", async () => {
  const records: [string, Record<string, unknown>][] = [];
  const quiet = () => {};
  const logger = {
    debug: (message: string, properties: Record<string, unknown>) =>
      void records.push([message, properties]),
    isEnabledFor: () => true,
    info: quiet,
    warn: quiet,
    error: quiet,
  };
  const dropped = Promise.withResolvers<void>();
  await using runner = new TestRunner({ logger, onGroupDropped: () => dropped.resolve() });
  const refusal = new Error("Cannot accept tasks: half the backlog is kept for deferred work");
  const commit = Promise.reject(refusal);
  runner.submit(new TaskGroup({ id: "g" }).add(() => {}), { commit });
  await dropped.promise;
  deepEqual(records.at(-1), ["Dropped group {groupId}: its journal commit failed: {error}", {
    requestId: "g",
    groupId: "g",
    error: refusal,
  }]);
});

Deno.test("a task's this.submit: a follow-up runs, accepted while the runner drains; a journaled runner needs submitFollowUp", async () => {
  const seen: string[] = [];
  const release = Promise.withResolvers<void>();
  const receipt = (order: string) => void seen.push(`receipt ${order}`);
  async function charge(this: TaskContext, order: string) {
    await release.promise;
    seen.push(`charge ${order}`);
    await this.submit(new TaskGroup().add(receipt, order));
  }
  const runner = new TaskRunner();
  runner.submit(new TaskGroup().add(charge, "o-1"));
  const drained = runner.drain(); // the follow-up comes while it waits: part of the work
  release.resolve();
  deepEqual(await drained, { abandoned: 0 });
  deepEqual(seen, ["charge o-1", "receipt o-1"]);

  // A drain that has ended refuses it: here a task abandoned at the drain's deadline that goes on.
  await using held = new TestRunner();
  const go = Promise.withResolvers<void>();
  const refused = Promise.withResolvers<unknown>();
  held.submit(
    new TaskGroup().add(async function (this: TaskContext) {
      await go.promise;
      await this.submit(new TaskGroup().add(() => {})).catch(refused.resolve);
    }),
  );
  deepEqual(await held.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
  go.resolve();
  const error = await refused.promise;
  ok(error instanceof AdmissionError && error.reason === "draining", String(error));

  // A runner with a journal would run the follow-up unjournaled: it is refused unless given a way.
  const journal = { attempt: () => Promise.resolve(), record: () => {} };
  const errors: unknown[] = [];
  await using journaled = new TestRunner({
    journal,
    retries: 0,
    deadLetter: (r) => errors.push(r.error),
  });
  journaled.submit(
    new TaskGroup().add(async function (this: TaskContext) {
      await this.submit(new TaskGroup().add(() => {}));
    }),
  );
  await journaled.idle();
  match(
    String(errors[0]),
    /Cannot submit group ".+": a runner with a journal needs submitFollowUp/,
  );
  const given: TaskGroup[] = [];
  await using routed = new TestRunner({
    journal,
    submitFollowUp: (group) => Promise.resolve(void given.push(group)),
  });
  const followUp = new TaskGroup();
  routed.submit(new TaskGroup().add(function (this: TaskContext) {
    const { submit } = this; // as a task may take signal and id
    return submit(followUp);
  }));
  await routed.idle();
  deepEqual(given, [followUp]);
});

Deno.test("TaskRunner logs an attempt a retry follows as a warning, the last failed one as an error", async () => {
  const logged: string[] = [];
  const record = (level: string) => (_message: string, properties?: Record<string, unknown>) =>
    void logged.push(`${level} ${properties?.taskName} attempt ${properties?.attempt}`);
  const logger = { info() {}, warn: record("warn"), error: record("error") };
  await using runner = new TestRunner({ logger, retries: 2, retryDelay: 0 });
  const flaky = defineTask("flaky", function () {
    if (this.attempt < 3) throw new Error("blip");
  });
  const broken = defineTask("broken", () => {
    throw new Error("down");
  });
  runner.submit(new TaskGroup().add(flaky).add(broken));
  await runner.idle();
  deepEqual(logged, [
    "warn flaky attempt 1",
    "warn flaky attempt 2",
    "warn broken attempt 1",
    "warn broken attempt 2",
    "error broken attempt 3",
  ]);
});
