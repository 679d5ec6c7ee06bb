// Scenarios every durable TaskStore must pass, run by the SQLite and the
// PostgreSQL tests alike.
import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import {
  type Clock,
  type DeadLetter,
  defineTask,
  definitionsByName,
  DuplicateGroupError,
  type DurableTaskStore,
  idempotentGroupId,
  recoverTasks,
  RetryAfterError,
  systemClock,
  type TaskContext,
  type TaskEntry,
  TaskGroup,
  TaskRunner,
  type TaskState,
  type TaskStore,
} from "../lib/mod.ts";
import { fingerprints } from "../lib/_given_ids.ts";
import { counts, emails, post, quiet, spawnServer, TestRunner } from "./_helpers.ts";

/** Retention bounds a scenario opens a store with (the store's defaults otherwise). */
export type Retention = { retentionMs: number; retentionCount: number; pruneIntervalMs: number };

/** Opens the store afresh, as a restarted server would (on `clock`, with `retention`, if given). */
export type OpenStore = (clock?: Clock, retention?: Retention) => Promise<DurableTaskStore>;

/** The store as a runner's journal, and a promise of the first task it records as `state`. */
export function journalUntil(store: TaskStore, state: TaskState) {
  const reached = Promise.withResolvers<void>();
  const journal = {
    attempt: (entry: TaskEntry) => store.attempt(entry),
    record(entry: TaskEntry, nextAt?: number) {
      store.record(entry, nextAt);
      if (entry.state === state) reached.resolve();
    },
  };
  return { journal, reached: reached.promise };
}

/** A task stopped at shutdown while it waits out a retry's backoff keeps its retry time. */
export async function abandonedTaskKeepsItsBackoff(open: OpenStore): Promise<void> {
  const flaky = defineTask("flaky", function (this: TaskContext) {
    if (this.attempt === 1) throw new Error("first attempt fails");
  }, { retries: 2, retryDelay: 60_000, maxRetryDelay: 60_000 });
  const first = await open();
  const { journal, reached } = journalUntil(first, "retrying");
  const runner = new TaskRunner({ journal });
  const group = new TaskGroup({ id: "late" }).add(flaky);
  await first.enqueue(group);
  runner.submit(group);
  await reached;
  // GET /tasks/{id} says when the next attempt is due: live, then from the journal.
  const due = Date.parse(group.toJSON().tasks[0]?.retryAt ?? "");
  ok(due > Date.now() + 20_000 && due <= Date.now() + 60_000, `retryAt ${due}`);
  deepEqual(await runner.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
  await first.close();
  const store = await open();
  const journaled = (await store.status("late"))?.tasks[0];
  deepEqual([journaled?.state, journaled?.retryAt], ["queued", new Date(due).toISOString()]);
  const [task] = await store.recover();
  equal(task?.attempts, 1);
  ok((task?.nextAt ?? 0) > Date.now() + 20_000, "the backoff carries on after the restart");
  await store.close();
}

/**
 * A group whose chosen id the journal holds already is refused alone: the
 * other groups of its commit are journaled, and the first group is unchanged.
 */
export async function duplicateGroupIsRefusedAlone(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const keyed = (group: TaskGroup) => (fingerprints.set(group, "fp-2"), group);
  const store = await open();
  await store.enqueue(new TaskGroup({ id: "key-1" }).add(send, "first"));
  const others = [new TaskGroup().add(send, "other"), new TaskGroup().add(send, "third")];
  const outcomes = await Promise.allSettled([
    store.enqueue(others[0] as TaskGroup),
    store.enqueue(new TaskGroup({ id: "key-1" }).add(send, "retry").add(send, "retry")),
    store.enqueue(keyed(new TaskGroup({ id: "key-2" }).add(send, "new"))),
    store.enqueue(new TaskGroup({ id: "key-2" }).add(send, "same commit")),
    store.enqueue(others[1] as TaskGroup),
  ]);
  deepEqual(
    outcomes.map((outcome) =>
      outcome.status === "fulfilled"
        ? "journaled"
        : `${outcome.reason.constructor.name}: ${outcome.reason.message}`
    ),
    [
      "journaled",
      'DuplicateGroupError: Cannot journal group "key-1": a group with this id is journaled',
      "journaled",
      'DuplicateGroupError: Cannot journal group "key-2": a group with this id is journaled',
      "journaled",
    ],
  );
  // The refusal names the fingerprint of the group that holds the id: none
  // journaled with key-1; key-2's, refused while its commit was on its way.
  deepEqual(
    [outcomes[1], outcomes[3]].map((outcome) =>
      (outcome as PromiseRejectedResult).reason.fingerprint
    ),
    [undefined, "fp-2"],
  );
  await store.close();
  const reopened = await open();
  const found = (await reopened.recover()).map((task) => `${task.groupId} ${task.args[0]}`);
  deepEqual(found.filter((task) => task.startsWith("key-")), ["key-1 first", "key-2 new"]);
  for (const group of others) ok(found.includes(`${group.id} ${group.tasks[0]?.args[0]}`));
  await reopened.close();
}

/**
 * A group named by an Idempotency-Key (a UUIDv8 id) that succeeded stays in
 * the journal as done, through a restart (and, on PostgreSQL, the adoption
 * of its gone owner's work), so a repeat of its key is refused as a
 * duplicate; one with any other id leaves as it succeeds.
 */
export async function keyedGroupIsKeptAfterSuccess(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const gate = Promise.withResolvers<void>();
  const wait = defineTask("wait", () => gate.promise);
  const keyed = await idempotentGroupId(
    new Request("http://x/send", { method: "POST", headers: { "idempotency-key": "k" } }),
  ) as string;
  const store = await open();
  const runner = new TaskRunner({ journal: store });
  const groups = [
    new TaskGroup({ id: keyed }).add(send, "a").add(send, "b"),
    new TaskGroup({ id: "plain" }).add(send, "c"),
    new TaskGroup().add(send, "d"),
  ];
  // As createHandler keeps what a keyed request carried.
  fingerprints.set(groups[0] as TaskGroup, "fp-keyed");
  for (const group of groups) {
    await store.enqueue(group);
    runner.submit(group);
  }
  await runner.idle();
  const open_ = new TaskGroup({ id: "open" }).add(wait); // left unfinished: its owner is gone
  fingerprints.set(open_, "fp-open");
  await store.enqueue(open_);
  runner.submit(open_);
  await runner.drain({ signal: AbortSignal.abort() });
  await store.close();
  const reopened = await open();
  deepEqual(
    (await reopened.recover()).map(({ groupId, fingerprint }) => [groupId, fingerprint]),
    [["open", "fp-open"]],
  );
  const states = await Promise.all(
    groups.map(async (group) => (await reopened.status(group.id))?.state ?? "gone"),
  );
  deepEqual(states, ["done", "gone", "gone"]);
  deepEqual(
    (await reopened.status(keyed))?.tasks.map(({ state, attempts }) => [state, attempts]),
    [["done", 1], ["done", 1]],
  );
  await rejects(
    reopened.enqueue(new TaskGroup({ id: keyed }).add(send, "a").add(send, "b")),
    (error) => error instanceof DuplicateGroupError && error.fingerprint === "fp-keyed",
  );
  gate.resolve();
  await reopened.close();
}

/** A group id longer than a journal's key can hold is refused at once; the commit goes on. */
export async function longGroupIdIsRefused(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const store = await open();
  const other = store.enqueue(new TaskGroup({ id: "short" }).add(send, "other"));
  // Random hex: PostgreSQL compresses a repetitive key under its limit.
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(257)), (b) => b.toString(16));
  const long = new TaskGroup({ id: hex.join("").padEnd(513, "0").slice(0, 513) }).add(send, "x");
  throws(() => store.enqueue(long), /^TypeError: Cannot journal group: its id has 513 characters/);
  await other;
  const fits = new TaskGroup({ id: long.id.slice(0, 512) }).add(send, "y");
  await store.enqueue(fits);
  await store.close();
  const reopened = await open();
  deepEqual(
    (await reopened.recover()).map((task) => task.groupId).sort(),
    [fits.id, "short"].sort(),
  );
  await reopened.close();
}

/**
 * A chosen id starting as the health probe's is refused before its commit:
 * a group "~probe" made every probe's insert fail, and with it the commit
 * that other requests' rows shared.
 */
export async function probeIdIsRefused(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const store = await open();
  for (const id of ["~probe", "~probe-x"]) {
    throws(
      () => store.enqueue(new TaskGroup({ id }).add(send, "x")),
      /^TypeError: Cannot journal group "~probe(-x)?": ids starting with "~probe" are the health probe's/,
    );
  }
  const other = store.enqueue(new TaskGroup({ id: "other" }).add(send, "y"));
  equal(await store.health(), true, "a probe in the same commit as another group");
  await other;
  await store.close();
  const reopened = await open();
  deepEqual((await reopened.recover()).map((task) => task.groupId), ["other"]);
  await reopened.close();
}

/** A retry's time and the abandon at shutdown journaled in one commit: the retry time is kept. */
export async function retryAndAbandonInOneCommit(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const first = await open();
  const group = new TaskGroup({ id: "both" }).add(send, "x");
  await first.enqueue(group);
  const entry = Object.assign(group.tasks[0] as TaskEntry, { state: "running", attempts: 1 });
  await first.attempt(entry);
  entry.state = "retrying";
  first.record(entry, 4_000_000_000_000);
  entry.state = "abandoned";
  first.record(entry);
  await first.close();
  const store = await open();
  deepEqual((await store.recover()).map(({ id, attempts, nextAt }) => [id, attempts, nextAt]), [
    ["both/0", 1, 4_000_000_000_000],
  ]);
  await store.close();
}

/**
 * A start that dies between quarantining a task and writing its dead letter
 * (the store counted the crash) finds it quarantined again at the next: its
 * letter is written then, and only then is it failed.
 */
export async function quarantineOutlivesCrashBeforeLetter(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const first = await open();
  const group = new TaskGroup({ id: "loop" }).add(send, "x");
  await first.enqueue(group);
  await first.attempt(
    Object.assign(group.tasks[0] as TaskEntry, { state: "running", attempts: 1 }),
  );
  await first.close(); // the server dies, its task running: with a crash limit of 1, a crash loop
  const second = await open();
  deepEqual((await second.recover(1)).map((task) => [task.id, task.quarantined]), [[
    "loop/0",
    true,
  ]]);
  const listed = await second.list("", 10); // as the walk of deferred work reads it
  deepEqual(listed.map((task) => [task.id, task.quarantined]), [["loop/0", true]]);
  await second.close(); // and dies again before the letter is written
  const third = await open();
  const letters: DeadLetter[] = [];
  deepEqual(
    await recoverTasks({
      store: third,
      definitions: definitionsByName(send),
      runner: new TaskRunner(),
      deadLetter: (letter) => void letters.push(letter),
      crashLimit: 1,
    }),
    { resumed: 0, deadLettered: 1, deferred: 0 },
  );
  deepEqual(letters.map((letter) => [letter.reason, letter.taskId]), [["crash_loop", "loop/0"]]);
  await third.close();
  const fourth = await open();
  deepEqual(await fourth.recover(1), [], "failed once its letter was written");
  equal((await fourth.status("loop"))?.state, "failed");
  await fourth.close();
}

/** A task during which the server dies 3 times is quarantined at the 4th start. */
export async function crashLoopIsQuarantined(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const first = await open();
  await first.enqueue(new TaskGroup({ id: "boom" }).add(send, "x"));
  await first.close();
  const letters: DeadLetter[] = [];
  // Starts 1 to 3 each die during the attempt; start 4 finds 3 crashes.
  for (let start = 1; start <= 4; start++) {
    const store = await open();
    const runner = new TaskRunner({
      journal: { attempt: (entry) => store.attempt(entry), record: () => {} },
    });
    const started = Promise.withResolvers<void>();
    // Runs until the "crash"; starts only once its attempt is journaled.
    const hang = defineTask("send", (_to: string) => (started.resolve(), new Promise(() => {})));
    const result = await recoverTasks({
      store,
      definitions: definitionsByName(hang),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    if (start < 4) {
      deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
      await started.promise;
      equal((await store.status("boom"))?.tasks[0]?.state, "running");
    } else {
      deepEqual(result, { resumed: 0, deadLettered: 1, deferred: 0 });
    }
    await store.close(); // the server dies, its task still running
  }
  deepEqual(letters.map((letter) => [letter.reason, letter.taskId]), [["crash_loop", "boom/0"]]);
  const store = await open();
  equal((await store.status("boom"))?.state, "failed");
  match((await store.status("boom"))?.tasks[0]?.error ?? "", /crashed during 3 attempts/);
  await store.close();
}

/**
 * Four tasks run at two deaths of the server; at the third start they are on
 * probation and run one at a time: the two before the poison end, the poison
 * runs alone when the server dies again, and only it is quarantined, where
 * before the two still running beside it were too.
 */
export async function probationQuarantinesOnlyOne(open: OpenStore): Promise<void> {
  const names = ["a", "b", "poison", "c"];
  const first = await open();
  for (const [i, name] of names.entries()) {
    const group = new TaskGroup({ id: `p${i}-${name}` });
    await first.enqueue(group.add(defineTask("send", (_to: string) => {}), name));
  }
  await first.close();
  const letters: DeadLetter[] = [];
  const ran: string[][] = [];
  for (let start = 1; start <= 4; start++) {
    const store = await open();
    const runner = new TaskRunner({
      maxConcurrency: 8,
      journal: {
        attempt: (entry) => store.attempt(entry),
        record: (entry, nextAt) => store.record(entry, nextAt),
      },
    });
    const gate = () => Promise.withResolvers<void>();
    const started = new Map(names.map((name) => [name, gate()]));
    const ended = new Map(names.map((name) => [name, gate()]));
    const order: string[] = [];
    // Each runs until the test lets it end, or the server "dies" (its store closes).
    const send = defineTask("send", (to: string) => {
      order.push(to);
      started.get(to)?.resolve();
      return ended.get(to)?.promise;
    });
    await recoverTasks({
      store,
      definitions: definitionsByName(send),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    if (start <= 2) await Promise.all(names.map((name) => started.get(name)?.promise));
    else if (start === 3) {
      for (const name of ["a", "b"]) {
        await started.get(name)?.promise;
        ended.get(name)?.resolve();
      }
      await started.get("poison")?.promise;
    } else {
      ended.get("c")?.resolve();
      await runner.idle();
    }
    ran.push(order);
    await store.close();
  }
  deepEqual(ran, [names, names, ["a", "b", "poison"], ["c"]]);
  deepEqual(letters.map((letter) => [letter.reason, letter.taskId]), [[
    "crash_loop",
    "p2-poison/0",
  ]]);
  const store = await open();
  equal((await store.status("p2-poison"))?.state, "failed");
  deepEqual(await store.recover(), []); // the others ended
  await store.close();
}

/**
 * A death once the store was marked stopping (an orchestrator's kill at the
 * end of a drain) counts no crash, however often; the mark is the last
 * process's only: a death after the next start without it counts one.
 */
export async function killWhileStoppingIsNoCrash(open: OpenStore): Promise<void> {
  // No finished group kept, pruned at every outcome: the stop's row is not one.
  const retention = { retentionMs: 0, retentionCount: 0, pruneIntervalMs: 0 };
  const first = await open(undefined, retention);
  await first.enqueue(new TaskGroup({ id: "drained" }).add(defineTask("send", () => {})));
  await first.close();
  const crashes: (number | undefined)[] = [];
  for (const stopping of [true, true, true, false, false]) {
    const store = await open(undefined, retention);
    const runner = new TaskRunner({
      journal: { attempt: (entry) => store.attempt(entry), record: () => {} },
    });
    const started = Promise.withResolvers<void>();
    const hang = defineTask("send", () => (started.resolve(), new Promise<void>(() => {})));
    const recover: TaskStore["recover"] = async (...args) => {
      const tasks = await store.recover(...args);
      crashes.push(tasks[0]?.crashes);
      return tasks;
    };
    const result = await recoverTasks({
      store: { recover, fail: (task, error) => store.fail(task, error) },
      definitions: definitionsByName(hang),
      runner,
      deadLetter: () => {},
    });
    deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
    await started.promise;
    if (stopping) await store.markStopping();
    // An outcome after the mark: it prunes (and commits before the close).
    const other = new TaskGroup().add(defineTask("other", () => {}));
    await store.enqueue(other);
    await store.attempt(Object.assign(other.tasks[0] as TaskEntry, { state: "running" }));
    store.record(Object.assign(other.tasks[0] as TaskEntry, { state: "failed", error: "x" }));
    await store.close(); // the server dies, its task still running
  }
  const store = await open(undefined, retention);
  crashes.push((await store.recover())[0]?.crashes);
  deepEqual(crashes, [0, 0, 0, 0, 1, 2]);
  await store.close();
}

/**
 * Two journaled one-task groups, `<prefix>-a` and `<prefix>-b`, the first
 * one's attempt marked: an outcome recorded for it, then the second's
 * attempt mark, share one commit.
 */
async function twoRunning(store: TaskStore, prefix: string): Promise<[TaskEntry, TaskEntry]> {
  const send = defineTask("send", (to: string) => void to);
  const groups = ["a", "b"].map((x) => new TaskGroup({ id: `${prefix}-${x}` }).add(send, x));
  await Promise.all(groups.map((group) => store.enqueue(group)));
  const [first, second] = groups.map((group) =>
    Object.assign(group.tasks[0] as TaskEntry, { state: "running", attempts: 1 })
  ) as [TaskEntry, TaskEntry];
  await store.attempt(first);
  return [first, second];
}

/**
 * A NUL in a task's error is stored as U+FFFD and fails no other task's write
 * (PostgreSQL's text refuses NUL, and a commit carries many tasks' rows); a
 * group whose id holds one is refused before it joins a commit.
 */
export async function nulStaysOutOfTheJournal(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const store = await open();
  const [first, second] = await twoRunning(store, "nul");
  // One commit: the failure with a NUL in its error, and the other's attempt mark.
  Object.assign(first, { state: "failed", error: "bad\0byte" });
  store.record(first);
  await store.attempt(second);
  await rejects(
    async () => await store.enqueue(new TaskGroup({ id: "x\0y" }).add(send, "z")),
    /^TypeError: Cannot journal group "x\\u0000y": its id holds a NUL character$/,
  );
  // Not NUL, but a journal would change it too (to U+FFFD): the group would come back renamed.
  await rejects(
    async () => await store.enqueue(new TaskGroup({ id: "x\uDC00" }).add(send, "z")),
    /^TypeError: Cannot journal group "x\\udc00": its id holds a lone surrogate$/,
  );
  await store.close();
  const reopened = await open();
  const task = async (id: string) => (await reopened.status(id))?.tasks[0];
  deepEqual([(await task("nul-a"))?.state, (await task("nul-a"))?.error], [
    "failed",
    "bad\uFFFDbyte",
  ]);
  equal((await task("nul-b"))?.state, "running");
  await reopened.close();
}

/**
 * A task that took longer than PostgreSQL's `integer` holds (24.8 days, with
 * retries): its outcome is journaled, not refused with its whole commit.
 */
export async function longDurationFailsNoCommit(open: OpenStore): Promise<void> {
  const store = await open();
  const [first, second] = await twoRunning(store, "long");
  // One commit: the outcome after 30 days, and the other's attempt mark.
  Object.assign(first, { state: "failed", error: "gave up", durationMs: 30 * 86_400_000 });
  store.record(first);
  await store.attempt(second);
  await store.close();
  const reopened = await open();
  const task = async (id: string) => (await reopened.status(id))?.tasks[0];
  const long = await task("long-a");
  equal(long?.state, "failed");
  ok((long?.durationMs ?? 0) >= 2 ** 31 - 1, "at least what the column holds");
  equal((await task("long-b"))?.state, "running");
  await reopened.close();
}

/**
 * A task's status from the journal says when the runner saw it begin and
 * end, as the live one does, also when the write came later; one running its
 * first attempt, since its mark, and no end.
 */
export async function finishedTaskSaysWhen(open: OpenStore): Promise<void> {
  const store = await open();
  const [first, second] = await twoRunning(store, "ended");
  const finishedAt = Date.now() - 1_234.5; // ended a while before this write
  const startedAt = finishedAt - 5;
  Object.assign(first, { state: "failed", error: "gave up", startedAt, durationMs: 5 });
  store.record(first);
  const marked = Math.floor(Date.now());
  await store.attempt(second);
  await store.close();
  const reopened = await open();
  const task = async (id: string) => (await reopened.status(id))?.tasks[0];
  const ended = await task("ended-a");
  const iso = (at: number) => new Date(at).toISOString();
  deepEqual([ended?.startedAt, ended?.finishedAt], [iso(startedAt), iso(finishedAt)]);
  // Running its first attempt: since its mark; its end not yet.
  const running = await task("ended-b");
  deepEqual([running?.state, running?.finishedAt], ["running", null]);
  const since = Date.parse(running?.startedAt ?? "");
  ok(marked <= since && since <= Date.now(), `${running?.startedAt}, marked at ${marked}`);
  await reopened.close();
}

/**
 * When a group was accepted is journaled with it: its status says so after a
 * restart, and the group recovered and run again keeps it.
 */
export async function acceptedAtSurvivesRestart(open: OpenStore): Promise<void> {
  const send = defineTask("send", (to: string) => void to);
  const acceptedAt = Math.floor(Date.now() - 60_000); // a minute before the restart
  const first = await open();
  const runner = new TaskRunner({ clock: { ...systemClock, now: () => acceptedAt } });
  const group = new TaskGroup({ id: "accepted" }).add(send, "a");
  runner.submit(group, { after: Promise.withResolvers<void>().promise }); // accepted, not run
  equal(group.acceptedAt, acceptedAt);
  await first.enqueue(group);
  await first.close();
  const store = await open();
  const iso = new Date(acceptedAt).toISOString();
  equal((await store.status("accepted"))?.acceptedAt, iso);
  const accepted: TaskGroup[] = [];
  await using restarted = new TestRunner({ onGroupAccepted: (g) => void accepted.push(g) });
  await recoverTasks({
    store,
    definitions: definitionsByName(send),
    runner: restarted,
    deadLetter: () => {},
  });
  await restarted.idle();
  deepEqual(accepted.map((g) => [g.id, g.toJSON().acceptedAt]), [["accepted", iso]]);
  await store.close();
}

/**
 * A RetryAfterError's wait, longer than the task's `maxRetryDelay`, is kept
 * through a restart (and PostgreSQL's takeover), not cut to the backoff; and
 * journaled by a wall clock a day ahead (stepped back since, or a peer's),
 * it is the wait given, not a day.
 */
export async function retryAfterWaitSurvivesRestart(open: OpenStore): Promise<void> {
  const limited = defineTask("limited", function (this: TaskContext) {
    if (this.attempt === 1) throw new RetryAfterError("429 from the mail API", 60_000);
  }, { retries: 2, retryDelay: 10, maxRetryDelay: 1_000 });
  const aDayAhead: Clock = { ...systemClock, now: () => Date.now() + 86_400_000 };
  const first = await open(aDayAhead);
  const { journal, reached } = journalUntil(first, "retrying");
  const runner = new TaskRunner({ journal, clock: aDayAhead });
  const group = new TaskGroup({ id: "limited" }).add(limited);
  await first.enqueue(group);
  runner.submit(group);
  await reached;
  const wait = Date.parse(group.toJSON().tasks[0]?.retryAt ?? "") - aDayAhead.now();
  await runner.drain({ signal: AbortSignal.abort() });
  await first.close();
  const store = await open();
  const accepted: TaskGroup[] = [];
  const restarted = new TaskRunner({ onGroupAccepted: (g) => void accepted.push(g) });
  await recoverTasks({
    store,
    definitions: definitionsByName(limited),
    runner: restarted,
    deadLetter: () => {},
  });
  const left = Date.parse(accepted[0]?.toJSON().tasks[0]?.retryAt ?? "") - Date.now();
  ok(left > wait - 5_000 && left <= wait, `${left} ms left of the ${wait} ms given`);
  await restarted.drain({ signal: AbortSignal.abort() });
  await store.close();
}

/** Recovered tasks run within their definition's `concurrency`, as accepted ones do. */
export async function recoveredTasksKeepTheirConcurrency(open: OpenStore): Promise<void> {
  const started: string[] = [];
  const gate = Promise.withResolvers<void>();
  let live = 0, most = 0;
  const send = defineTask("send", async (to: string) => {
    started.push(to);
    most = Math.max(most, ++live);
    await gate.promise;
    live--;
  }, { concurrency: 2 });
  const first = await open();
  for (const to of ["a", "b", "c", "d", "e"]) {
    await first.enqueue(new TaskGroup({ id: `limited-${to}` }).add(send, to));
  }
  await first.close();
  const store = await open();
  await using restarted = new TestRunner({ logger: quiet });
  await recoverTasks({
    store,
    definitions: definitionsByName(send),
    runner: restarted,
    deadLetter: () => {},
  });
  deepEqual([started.length, restarted.queued], [2, 3], "two run, three wait for their name");
  gate.resolve();
  await restarted.idle();
  deepEqual([started.toSorted(), most], [["a", "b", "c", "d", "e"], 2]);
  await store.close();
}

/**
 * An argument JSON cannot hold (NaN, an infinity: JSON writes null) is
 * refused when the group is enqueued, not changed on its way to a restart.
 */
export async function nonFiniteArgumentIsRefused(open: OpenStore): Promise<void> {
  const charge = defineTask(
    "charge",
    (amounts: number[], note: string | null) => void [amounts, note],
  );
  const store = await open();
  for (const amount of [NaN, Infinity, -Infinity]) {
    const group = new TaskGroup().add(charge, [1, amount], null);
    throws(() => store.enqueue(group), new RegExp(`"charge": an argument holds ${amount},`));
  }
  const fine = new TaskGroup({ id: "fine" }).add(charge, [1, -0], null);
  await store.enqueue(fine);
  await store.close();
  const reopened = await open();
  deepEqual((await reopened.recover()).map((task) => task.args), [[[1, 0], null]]);
  await reopened.close();
}

/**
 * A defined task's optional parameters: left out, or undefined at the end,
 * they come back undefined after a restart; an undefined before a value,
 * which JSON would write as null, is refused.
 */
export async function optionalArgumentsComeBackUndefined(open: OpenStore): Promise<void> {
  const send = defineTask(
    "send",
    (to: string, cc?: string, bcc?: string | undefined) => void [to, cc, bcc],
  );
  const store = await open();
  await store.enqueue(new TaskGroup({ id: "left-out" }).add(send, "ada"));
  await store.enqueue(new TaskGroup({ id: "undefined" }).add(send, "ada", "bob", undefined));
  const gap = new TaskGroup().add(send, "ada", undefined, "eve");
  throws(
    () => store.enqueue(gap),
    /"send": an argument holds undefined in a list \(before a value that is not\)/,
  );
  await store.close();
  const reopened = await open();
  deepEqual((await reopened.recover()).map((task) => [task.groupId, task.args]), [
    ["left-out", ["ada"]],
    ["undefined", ["ada", "bob"]],
  ]);
  await reopened.close();
}

/** The scenarios above, by what each shows: every store's tests run them all. */
export const STORE_SCENARIOS: readonly [string, (open: OpenStore) => Promise<void>][] = [
  [
    "a task abandoned at shutdown during its backoff keeps its retry time",
    abandonedTaskKeepsItsBackoff,
  ],
  [
    "a retry and the abandon at shutdown in one commit keep the retry time",
    retryAndAbandonInOneCommit,
  ],
  ["a task during which the server dies 3 times is quarantined", crashLoopIsQuarantined],
  ["a death once the store is marked stopping counts no crash", killWhileStoppingIsNoCrash],
  ["tasks one crash from quarantine run one at a time", probationQuarantinesOnlyOne],
  [
    "a quarantine is found again after a crash before its dead letter",
    quarantineOutlivesCrashBeforeLetter,
  ],
  ["a chosen group id already journaled is refused alone", duplicateGroupIsRefusedAlone],
  ["a keyed group that succeeded stays journaled; another leaves", keyedGroupIsKeptAfterSuccess],
  ["a group id too long for the journal is refused before its commit", longGroupIdIsRefused],
  ["a group id starting as the health probe's is refused before its commit", probeIdIsRefused],
  [
    "a NUL in an error is stored as U+FFFD, failing no other write; one or a lone surrogate in a group id is refused",
    nulStaysOutOfTheJournal,
  ],
  ["an outcome after more than 24.8 days fails no other write", longDurationFailsNoCommit],
  ["a task's status from the journal says when it began and ended", finishedTaskSaysWhen],
  ["when a group was accepted is journaled, and kept by its recovery", acceptedAtSurvivesRestart],
  ["recovered tasks run within their definition's concurrency", recoveredTasksKeepTheirConcurrency],
  [
    "a RetryAfterError's wait past maxRetryDelay is kept through a restart",
    retryAfterWaitSurvivesRestart,
  ],
  ["an argument JSON would turn into null (NaN, Infinity) is refused", nonFiniteArgumentIsRefused],
  [
    "optional arguments left out or undefined at the end come back undefined; one before a value is refused",
    optionalArgumentsComeBackUndefined,
  ],
];

/**
 * The issue's process test: 200 requests answered 202 by a server whose
 * tasks wait 2 s, SIGKILL, restart: every email is logged, at most
 * MAX_CONCURRENCY of them twice.
 */
export async function acceptedWorkSurvivesSigkill(
  dir: string,
  taskStore: string,
): Promise<void> {
  const env = { TASK_STORE: taskStore, SEND_DELAY_MS: "2000" };
  const sent = emails(200);
  {
    await using server = await spawnServer(dir, env);
    deepEqual(new Set(await post(server.url, sent)), new Set([202]));
    server.child.kill("SIGKILL");
    equal((await server.status()).code, 137);
  }
  await using restarted = await spawnServer(dir, { ...env, SEND_DELAY_MS: "0" });
  await restarted.stderrMatches(/200 unfinished tasks resumed/);
  // The service's own view of "all done": a clean SIGTERM drains every task.
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  const seen = counts(await Deno.readTextFile(`${dir}/log.txt`));
  for (const email of sent) ok((seen.get(email) ?? 0) >= 1, `${email} was lost`);
  const twice = [...seen.values()].filter((n) => n > 1).length;
  ok(twice <= 256, `${twice} ran twice; at most MAX_CONCURRENCY may`);
}

/**
 * SIGKILL in the middle of a burst of 400 requests, once 100 were answered
 * 202: after a restart every 202's line is in the log (a 202 never precedes
 * its commit).
 */
export async function burstSurvivesSigkill(dir: string, taskStore: string): Promise<void> {
  const env = { TASK_STORE: taskStore, SEND_DELAY_MS: "5000" };
  const sent = emails(400, "burst");
  const accepted: string[] = [];
  {
    await using server = await spawnServer(dir, env);
    const killed = Promise.withResolvers<void>();
    const requests = sent.map(async (email) => {
      try {
        const response = await fetch(`${server.url}/send-notification/${email}`, {
          method: "POST",
        });
        await response.body?.cancel();
        if (response.status === 202) accepted.push(email);
        if (accepted.length === 100) killed.resolve();
      } catch {
        // the connection died with the process: no 202, no promise made
      }
    });
    // Every request answered before 100 were accepted: the check below says how many were.
    await Promise.race([killed.promise, Promise.all(requests)]);
    server.child.kill("SIGKILL");
    await Promise.all(requests);
    await server.status();
  }
  ok(accepted.length >= 100, `${accepted.length} of ${sent.length} requests got a 202`);
  await using restarted = await spawnServer(dir, { ...env, SEND_DELAY_MS: "0" });
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  const seen = counts(await Deno.readTextFile(`${dir}/log.txt`));
  for (const email of accepted) ok(seen.has(email), `${email} got a 202 but was lost`);
}

/**
 * Killed at the end of its drain three times (SIGTERM, then SIGKILL, as an
 * orchestrator whose grace period ends), a server's running task counts no
 * crash: the fourth start runs it rather than dead-letter a crash loop.
 * `journaledRunning` resolves once the journal says the task runs; without
 * it, the journal's order must (SQLite's one commit queue: the attempt's
 * mark is queued before the signal's).
 */
export async function drainKillsCountNoCrash(
  dir: string,
  taskStore: string,
  journaledRunning = (): Promise<void> => Promise.resolve(),
): Promise<void> {
  const env = { TASK_STORE: taskStore, SEND_DELAY_MS: "60000", LOG_LEVEL: "debug" };
  const [email = ""] = emails(1, "drained");
  for (let deploy = 1; deploy <= 3; deploy++) {
    await using server = await spawnServer(dir, env);
    // The first start accepts it; each later one resumes it at start-up.
    if (deploy === 1) deepEqual(await post(server.url, [email]), [202]);
    else await server.stderrMatches(/1 unfinished tasks resumed/);
    await journaledRunning();
    server.child.kill("SIGTERM");
    // An orchestrator's grace period ends: the drain still waits for the task.
    await server.stderrMatches(/Journaled that the server stops/);
    server.child.kill("SIGKILL");
    equal((await server.status()).code, 137);
  }
  await using restarted = await spawnServer(dir, { ...env, SEND_DELAY_MS: "0" });
  await restarted.stderrMatches(/unfinished tasks resumed/);
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  // Counted as crashes, the three kills would have made it a crash loop, dead-lettered here.
  deepEqual([...counts(await Deno.readTextFile(`${dir}/log.txt`))], [[email, 1]]);
  equal(await Deno.readTextFile(`${dir}/dead-letter.jsonl`).catch(() => ""), "");
}
