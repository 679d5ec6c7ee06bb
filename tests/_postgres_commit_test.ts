// The commit streams: their deadlines, and outcomes tried again after a failed
// commit (PostgresCommit, mostly through PostgresTaskStore).
import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import type { Sql } from "postgres";
import { defineTask, Histogram, PostgresTaskStore, type TaskEntry, TaskGroup } from "../lib/mod.ts";
import { PostgresCommit } from "../lib/_postgres_commit.ts";
import type { CommitOptions } from "../lib/_postgres_commit_options.ts";
import { checkCommitTimeout } from "../lib/_postgres_streams.ts";
import type { SaveRow } from "../lib/_postgres_batch.ts";
import type { NewRow } from "../lib/_journal_rows.ts";
import { type FakeClock, fakeClock, recordingLogger, turn } from "./_helpers.ts";
import {
  connectTimeout,
  fakeSql,
  lockTable,
  postgresTest,
  proxyTo,
  refusal,
  savedRow,
} from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);

/** A commit stream on a fake clock: statements time out at 1 s, outcomes go again for 5 s (or `options`). */
function streamOn(
  connect: () => Sql,
  clock: FakeClock,
  options: Partial<CommitOptions> = {},
): PostgresCommit {
  const now = () => clock.now();
  return new PostgresCommit({
    connect,
    owner: "me",
    now,
    timeoutMs: 1_000,
    timers: clock,
    retryForMs: 5_000,
    ...options,
  });
}

/** A new task's row, of a group no runner took. */
const newRow = (groupId: string): NewRow => ({
  groupId,
  index: 0,
  name: "send",
  args: "[]",
  fingerprint: null,
  acceptedAt: -1,
});

/** A task's progress as the store saves it. */
const saveRow = (index: number, state: string): SaveRow => savedRow("g", index, state);

Deno.test("PostgresCommit carries failed outcomes over, a second apart, for retryForMs; attempt marks not", async () => {
  const clock = fakeClock();
  const sent: string[] = [];
  // A database that refuses every statement.
  const refusing = fakeSql((text, values) => {
    const kind = text.split(" ")[0];
    sent.push(JSON.stringify(values).includes('"running"') ? `${kind} running` : kind!);
    return Promise.reject(new Error("refused"));
  });
  const commit = streamOn(() => refusing, clock);
  const row = saveRow;
  await rejects(Promise.all([commit.save(row(0, "done"), true), commit.save(row(1, "running"))]));
  // One statement: the finished group's delete with the outcomes of the others.
  deepEqual(sent, ["WITH running"]);
  await clock.tickAsync(999);
  equal(sent.length, 1, "a pause first");
  await clock.tickAsync(1);
  deepEqual(sent.slice(1), ["WITH"], "the outcome and the delete again; the mark not");
  await clock.tickAsync(10_000);
  equal(sent.length, 6, "at 1 to 5 s, then given up: it had failed for retryForMs");
  await rejects(commit.save(row(2, "running")));
  await clock.tickAsync(10_000);
  equal(sent.length, 6 + 1, "a failed batch of attempt marks alone: nothing to carry over");
  await commit.flush();
});

Deno.test("checkCommitTimeout(): a batch's deadline, four statements' timeouts and a second, fits a timer", () => {
  const max = Math.floor((2 ** 31 - 1 - 1_000) / 4);
  checkCommitTimeout(max);
  ok(max * 4 + 1_000 <= 2 ** 31 - 1);
  throws(() => checkCommitTimeout(max + 1), /commitTimeoutMs must be an integer from 1 to/);
  throws(() => checkCommitTimeout(0));
});

Deno.test("PostgresCommit: after a batch got no answer, inserts are refused at once while one batch looks whether the database is back", async () => {
  const clock = fakeClock();
  // A database that answers nothing until thawed; every connection to it alike.
  let thawed = Promise.withResolvers<void>();
  let connections = 0;
  let statements = 0;
  const frozen = () => fakeSql(() => (statements++, thawed.promise.then(() => [])));
  const commit = streamOn(() => (connections++, frozen()), clock);
  const outcome = (p: Promise<unknown>) => p.then(() => "committed", (e: Error) => e.message);
  const first = outcome(commit.insert([newRow("a")]));
  await turn(); // sent
  const behind = outcome(commit.insert([newRow("b")])); // queued behind it
  await clock.tickAsync(2_000); // one statement's timeout, then a second
  const noAnswer = "Cannot commit to the task journal: no answer in 2000 ms";
  deepEqual(await Promise.all([first, behind]), [noAnswer, noAnswer], "behind it: refused with it");
  equal(statements, 1, "the batch behind was never sent");

  const probe = outcome(commit.insert([newRow("c")])); // nothing on its way: this one looks
  await turn();
  equal(connections, 2, "on a new connection");
  equal(await outcome(commit.insert([newRow("d")])), noAnswer, "refused at once while it looks");
  equal(await outcome(commit.insertNew([newRow("e")])), noAnswer);
  equal(statements, 2);

  thawed.resolve(); // the database is back
  equal(await probe, "committed");
  await turn();
  equal(await outcome(commit.insert([newRow("f")])), "committed", "inserts queue again");
  thawed = Promise.withResolvers();
  await commit.flush();
});

Deno.test("PostgresCommit: a batch that failed on its connection (not by the database) ends it, so that the rest of the batch is never sent late", async () => {
  const clock = fakeClock();
  const ended: number[] = [];
  let connections = 0;
  // The driver fails the first statement waiting for a connection that cannot
  // be made, and would send the others on its next one; this database, the
  // first time, fails the first so and never answers the second.
  const connect = () => {
    const id = ++connections;
    let sent = 0;
    const sql = fakeSql(() =>
      id > 1
        ? Promise.resolve([])
        : ++sent === 1
        ? Promise.reject(connectTimeout())
        : new Promise(() => {})
    );
    return Object.assign(sql, { end: () => (ended.push(id), Promise.resolve()) }) as Sql;
  };
  const commit = streamOn(connect, clock);
  const failed = rejects(
    Promise.all([commit.save(saveRow(0, "done"), true), commit.withdraw(["x"])]),
    /CONNECT_TIMEOUT/,
  );
  await failed;
  deepEqual(ended, [1], "its connection ended: the statement it still held goes with it");
  await clock.tickAsync(1_000); // the outcome and delete go again, a second later
  await commit.flush();
  equal(connections, 2, "on a new connection");
  // A failure of the database's own keeps the connection.
  const refusing = fakeSql(() => Promise.reject(refusal("no")));
  const kept = streamOn(() => (connections++, refusing), clock, { retryForMs: 0 });
  await rejects(kept.save(saveRow(0, "done")), /no/);
  await rejects(kept.save(saveRow(1, "done")), /no/);
  equal(connections, 3, "the same connection");
});

Deno.test("PostgresCommit.answered(): waits for the batch on its way, to whether it committed", async () => {
  const clock = fakeClock();
  let answer = Promise.withResolvers<unknown>();
  const database = fakeSql(() => answer.promise);
  const commit = streamOn(() => database, clock);
  const row = newRow("g");
  equal(commit.answered(), undefined, "nothing on its way");
  const inserted = commit.insert([row]).catch(() => {});
  await turn(); // sent
  let answered: boolean | undefined;
  const health = commit.answered()?.then((committed) => (answered = committed));
  await turn();
  equal(answered, undefined, "no answer from the database yet: none here either");
  answer.resolve([]);
  equal(await health, true);
  await inserted;

  answer = Promise.withResolvers();
  const refused = commit.insert([row]).catch(() => {});
  await turn();
  const failed = commit.answered();
  answer.reject(new Error("refused"));
  equal(await failed, false);
  await refused;
  await commit.flush();
});

Deno.test("PostgresCommit observes each batch's seconds to its answer, or to its failure", async () => {
  const clock = fakeClock();
  let answer = Promise.withResolvers<unknown>();
  const database = fakeSql(() => answer.promise);
  const batches = new Histogram([0.01, 1]);
  const commit = streamOn(() => database, clock, { retryForMs: 0, batches, monotonic: clock });
  const row = newRow("g");
  const first = commit.insert([row]);
  await turn(); // sent
  await clock.tickAsync(4);
  answer.resolve([]);
  await first;
  answer = Promise.withResolvers();
  const second = commit.insert([row]).catch(() => {});
  await turn();
  await clock.tickAsync(1_500);
  answer.reject(new Error("refused"));
  await second;
  deepEqual([batches.cumulative(), batches.count, batches.sum], [[1, 1], 2, 1.504]);
  await commit.flush();
});

Deno.test("PostgresCommit: progress queued behind a batch that got no answer is not refused with it", async () => {
  const clock = fakeClock();
  const sent: string[] = [];
  let answers = false;
  // Answers nothing until `answers` is set; records what it was sent.
  const database = fakeSql((text) => {
    sent.push(text.split(" ")[0]!);
    return answers ? Promise.resolve([]) : new Promise(() => {});
  });
  const commit = streamOn(() => database, clock);
  const stuck = commit.save(saveRow(0, "done")).catch((e: Error) => e.message);
  await turn(); // sent
  const withdrawn = commit.withdraw(["refused-group"]);
  await clock.tickAsync(2_000);
  equal(await stuck, "Cannot commit to the task journal: no answer in 2000 ms");
  answers = true;
  await clock.tickAsync(1_000); // the pause before the carried-over outcome goes again
  await withdrawn;
  deepEqual(sent, ["WITH", "WITH", "DELETE"], "the outcome again, with the withdrawal");
  await commit.flush();
});

postgresTest(
  "PostgresTaskStore: a commit that gets no answer fails at its deadline; the next goes through on a new connection",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const store = await PostgresTaskStore.open(proxy.url, { clock, commitTimeoutMs: 1_000 });
    try {
      const [first, lost, next] = [new TaskGroup(), new TaskGroup(), new TaskGroup()];
      await store.enqueue(first.add(send, "first"));
      proxy.silenceNewest(); // the intake stream's, opened by that enqueue
      const stuck = rejects(
        store.enqueue(lost.add(send, "lost")),
        /Cannot commit to the task journal: no answer in 2000 ms/,
      );
      // The batch is sent at the end of this turn, and its deadline armed.
      await turn();
      await clock.tickAsync(1_000 + 1_000); // one statement, then a second
      await stuck;
      equal(await store.health(), true, "a probe through new connections succeeds");
      await store.enqueue(next.add(send, "next"));
      // The lost group never reached the database; the probe deleted its row.
      const rows = await db.admin`
        SELECT group_id FROM ${db.admin(db.name)}.posthaste_tasks ORDER BY group_id
      `;
      deepEqual(rows.map((row) => row.group_id), [first.id, next.id].sort());
    } finally {
      await store.close();
    }
  },
);

postgresTest(
  "PostgresTaskStore: the database cancels a commit that waits past commitTimeoutMs",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url, { commitTimeoutMs: 50 });
    await store.enqueue(new TaskGroup().add(send, "warm"));
    const lock = await lockTable(db); // the insert waits for it
    try {
      await rejects(store.enqueue(new TaskGroup().add(send, "waits")), /statement timeout/);
    } finally {
      await lock.release();
    }
  },
);

postgresTest(
  "PostgresTaskStore: outcomes whose commit failed are committed with a later one, until close; only those given up are logged",
  async (db) => {
    const clock = fakeClock();
    // One prune, at the first outcome: a later one would wait on the lock at close.
    const { logger, errors } = recordingLogger(2);
    const options = { clock, commitTimeoutMs: 50, pruneIntervalMs: 60_000, logger };
    const store = await PostgresTaskStore.open(db.url, options);
    const state = async (group: TaskGroup) =>
      (await db.admin`
        SELECT state, error FROM ${db.admin(db.name)}.posthaste_tasks WHERE group_id = ${group.id}
      `).map((row) => `${row.state} ${row.error}`);
    // Its attempt in the same batch: rejected when the batch is, committed when one is.
    const marker = () => store.attempt(new TaskGroup().add(send, "marker").tasks[0] as TaskEntry);
    const finish = (group: TaskGroup, error: string) => {
      const entry = group.tasks[0] as TaskEntry;
      Object.assign(entry, { state: "failed", attempts: 1, error });
      store.record(entry);
    };
    const [kept, given] = [new TaskGroup().add(send, "kept"), new TaskGroup().add(send, "given")];
    let lock: { release(): Promise<void> } | undefined;
    try {
      await Promise.all([store.enqueue(kept), store.enqueue(given)]);
      lock = await lockTable(db);
      finish(kept, "first outcome");
      await rejects(marker(), /statement timeout/);
      await lock.release();
      await clock.tickAsync(1_000); // the pause before it goes again
      await marker();
      deepEqual(await state(kept), ["failed first outcome"]);
      deepEqual(errors.map((e) => e.message), [], "one committed by its second try: not given up");

      lock = await lockTable(db);
      finish(given, "at close");
      await rejects(marker(), /statement timeout/);
      await store.close(); // one more try, refused too: given up, not retried for good
      await lock.release();
      deepEqual(await state(given), ["queued null"]);
      const refused = errors.filter((e) => e.message.startsWith("Cannot journal task"));
      deepEqual(refused.map((e) => e.properties.taskId), [`${given.id}/0`]);
    } finally {
      await lock?.release();
      await store.close();
    }
  },
);

Deno.test("PostgresCommit: a batch is watched once its connection answered one (a first may wait for the connection to be made), and the watch can fail it before its deadline", async () => {
  const clock = fakeClock();
  let answering = true;
  const database = fakeSql(() => answering ? Promise.resolve([]) : new Promise(() => {}));
  const watched: ((why: string) => void)[] = [];
  const commit = streamOn(() => database, clock, {
    retryForMs: 0,
    watch: (_sql, giveUp) => (watched.push(giveUp), () => {}),
  });
  await commit.insert([newRow("first")]);
  equal(watched.length, 0, "the connection's first batch: left to its deadline");
  answering = false;
  const stuck = rejects(commit.insert([newRow("second")]), {
    message: "Cannot commit to the task journal: its session idles",
  });
  await turn(); // the batch goes at the end of the turn
  equal(watched.length, 1, "its connection answered before: watched");
  watched[0]!("its session idles"); // long before the 2 s deadline, which the clock never reaches
  await stuck;
});
