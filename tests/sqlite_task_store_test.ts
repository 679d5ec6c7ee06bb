import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import {
  createHandler,
  type DeadLetter,
  defineTask,
  definitionsByName,
  DuplicateGroupError,
  recoverTasks,
  route,
  SqliteTaskStore,
  type StoredTask,
  systemClock,
  type TaskContext,
  type TaskEntry,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { fakeClock, recordingLogger, tempDir, TestRunner, turn } from "./_helpers.ts";
import { journalUntil, STORE_SCENARIOS } from "./_store_scenarios.ts";
import { storeMatchesModel } from "./_store_model.ts";

const send = defineTask("send", (to: string) => void to);

Deno.test("SqliteTaskStore: a 202 is sent only after the commit; a failed commit answers 503 and runs nothing", async () => {
  await using runner = new TestRunner();
  const gate = Promise.withResolvers<void>();
  const committing = Promise.withResolvers<void>();
  let fail = false;
  let ran = 0;
  const task = defineTask("count", () => void ran++);
  const handler = createHandler({
    runner,
    journal: {
      enqueue: async () => {
        committing.resolve();
        await gate.promise;
        if (fail) throw new Error("disk full");
      },
    },
    routes: [
      route("POST", "/work", (_request, { group }) => {
        group.add(task);
        return new Response(null, { status: 202 });
      }),
      route("GET", "/ping", () => new Response("pong")),
    ],
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/work`;
  let answered = false;
  const first = fetch(url, { method: "POST" }).then((r) => {
    answered = true;
    return r;
  });
  await committing.promise;
  // A whole round trip through the same server: an early 202 would be here by now.
  equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/ping`)).text(), "pong");
  equal(answered, false, "no 202 before the commit");
  gate.resolve();
  equal((await first).status, 202);
  fail = true;
  const refused = await fetch(url, { method: "POST" });
  equal(refused.status, 503);
  equal((await refused.json()).error, "journal_unavailable");
  await runner.idle();
  equal(ran, 1, "only the committed request's task ran");
});

Deno.test("SqliteTaskStore: retry state and task ids survive a restart", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const attempts: [string, number][] = [];
  const flaky = defineTask("flaky", function (this: TaskContext, to: string) {
    attempts.push([this.id, this.attempt]);
    if (this.attempt === 1) throw new Error(`cannot reach ${to}`);
  }, { retries: 3, retryDelay: 400, maxRetryDelay: 400 });
  {
    const store = SqliteTaskStore.open(path);
    const { journal, reached } = journalUntil(store, "retrying");
    const runner = new TaskRunner({ journal, clock: fakeClock() }); // its backoff never ends
    const group = new TaskGroup({ id: "g1" }).add(send, "first").add(flaky, "ada");
    await store.enqueue(group);
    runner.submit(group);
    await reached;
    store.close(); // the process dies during the backoff (closing commits what is queued)
    void runner;
  }
  const store = SqliteTaskStore.open(path);
  const recovered = store.recover();
  deepEqual(recovered.map((t) => [t.id, t.attempts]), [["g1/1", 1]]);
  // Journaled on the first runner's clock, which stood at 0: the backoff (400 ms, less jitter).
  const { nextAt } = recovered[0]!;
  ok(nextAt > 0 && nextAt <= 400, "the retry is still in the future");
  const clock = fakeClock();
  const runner = new TaskRunner({ journal: store, clock });
  const letters: DeadLetter[] = [];
  const result = await recoverTasks({
    store: { recover: () => recovered, fail: (task, error) => store.fail(task, error) },
    definitions: definitionsByName(send, flaky),
    runner,
    clock,
    deadLetter: (r) => void letters.push(r),
  });
  deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
  await clock.tickAsync(nextAt - 1);
  equal(attempts.length, 1, "not retried before its backoff ends");
  await clock.tickAsync(1);
  await runner.idle();
  deepEqual(attempts, [["g1/1", 1], ["g1/1", 2]]);
  store.close();
  using reopened = SqliteTaskStore.open(path);
  equal(reopened.status("g1"), undefined, "a group that succeeded leaves the journal");
  deepEqual(reopened.recover(), []);
});

for (const [name, scenario] of STORE_SCENARIOS) {
  Deno.test(`SqliteTaskStore: ${name}`, async () => {
    await using dir = await tempDir();
    await scenario((clock, retention) =>
      Promise.resolve(
        SqliteTaskStore.open(`${dir.path}/tasks.db`, { ...(clock && { clock }), ...retention }),
      )
    );
  });
}

Deno.test("SqliteTaskStore: what a restart recovers matches a model of random progress", async () => {
  await using dir = await tempDir();
  let file = 0;
  await storeMatchesModel(
    () => Promise.resolve(SqliteTaskStore.open(`${dir.path}/tasks-${Math.floor(file++ / 2)}.db`)),
    100,
  );
});

Deno.test("SqliteTaskStore refuses a foreign or damaged file with a clear error naming it", async () => {
  await using dir = await tempDir();
  const text = `${dir.path}/notes.txt`;
  await Deno.writeTextFile(text, "not a database ".repeat(200));
  throws(() => SqliteTaskStore.open(text), (error: Error) => {
    match(error.message, /^Cannot open task journal ".*notes\.txt": file is not a database/);
    return true;
  });
  const other = `${dir.path}/other.db`;
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(other);
  db.exec("CREATE TABLE users (id INTEGER)");
  db.close();
  throws(
    () => SqliteTaskStore.open(other),
    /Cannot open task journal ".*other\.db": it is not a posthaste journal/,
  );
  equal((await Deno.readFile(other)).length > 0, true, "the foreign file is left as it was");
});

Deno.test("SqliteTaskStore.recover() on a full disk names the journal, and changes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  {
    using store = SqliteTaskStore.open(path);
    const group = new TaskGroup({ id: "g" }).add(send, "ada@example.com");
    await store.enqueue(group);
    await store.attempt(group.tasks[0] as TaskEntry); // then the process died
  }
  const { DatabaseSync } = await import("node:sqlite");
  {
    using db = new DatabaseSync(path);
    db.exec(`CREATE TRIGGER full BEFORE UPDATE ON tasks
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
  }
  {
    using store = SqliteTaskStore.open(path);
    throws(
      () => store.recover(),
      /^Error: Cannot recover task journal ".*tasks\.db": database or disk is full$/,
    );
  }
  {
    using db = new DatabaseSync(path);
    db.exec("DROP TRIGGER full");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(
    store.recover().map((task) => [task.id, task.crashes]),
    [["g/0", 1]],
    "one crash, once",
  );
});

Deno.test("SqliteTaskStore: a journal open in one store cannot be opened again until closed", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const first = SqliteTaskStore.open(path);
  throws(
    () => SqliteTaskStore.open(path),
    /Cannot open task journal ".*tasks\.db": another process or connection has it open/,
  );
  first.close();
  using second = SqliteTaskStore.open(path);
  equal(second.recover().length, 0);
});

Deno.test("SqliteTaskStore: a WAL file that cannot be opened fails the open and releases the journal", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  throws(
    () =>
      SqliteTaskStore.open(path, {
        openWal: () => {
          throw new Error("no such device");
        },
      }),
    /Cannot open task journal ".*tasks\.db": cannot open its WAL file: Error: no such device/,
  );
  // Had the failed open kept its connection, its lock would refuse this one.
  using store = SqliteTaskStore.open(path);
  equal(store.recover().length, 0);
});

Deno.test("durable: a plain function task is a 500 (it cannot be journaled by name) and leaves nothing pending", async () => {
  await using dir = await tempDir();
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`);
  await using runner = new TestRunner({ journal: store });
  const handler = createHandler({
    runner,
    journal: store,
    routes: [
      route("POST", "/sync", (_request, { group }) => {
        group.add(() => {});
        return new Response(null, { status: 202 });
      }),
      route("POST", "/async", async (request, { group }) => {
        await request.arrayBuffer();
        group.add(() => {});
        return new Response(null, { status: 202 });
      }),
    ],
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  for (const path of ["/sync", "/async"]) {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}${path}`, { method: "POST" });
    equal(response.status, 500);
    equal((await response.json()).error, "internal_error");
  }
  await runner.idle();
  equal(runner.pending, 0);
});

Deno.test("durable: a fault between commit and response, or after the response, loses no committed task", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const ran: string[] = [];
  const started = Promise.withResolvers<void>();
  const hang = defineTask(
    "note",
    (_what: string) => (started.resolve(), new Promise<void>(() => {})),
  );
  const note = defineTask("note", (what: string) => void ran.push(what));
  {
    const store = SqliteTaskStore.open(path);
    const runner = new TaskRunner({ journal: store });
    let faultAfterCommit = true;
    const handler = createHandler({
      runner,
      journal: {
        async enqueue(group) {
          await store.enqueue(group); // committed...
          if (faultAfterCommit) throw new Error("fault between commit and response");
        },
      },
      routes: [route("POST", "/note/:what", (_request, { params, group }) => {
        group.add(hang, params.what);
        return new Response(null, { status: 202 });
      })],
    });
    await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    const url = `http://127.0.0.1:${server.addr.port}/note`;
    const before = await fetch(`${url}/before-response`, { method: "POST" });
    equal(before.status, 503, "no 202 was promised");
    await before.body?.cancel();
    faultAfterCommit = false;
    const after = await fetch(`${url}/after-response`, { method: "POST" });
    equal(after.status, 202);
    // The fault after the response: the process dies while the task runs.
    await started.promise;
    store.close();
  }
  using store = SqliteTaskStore.open(path);
  const runner = new TaskRunner({ journal: store });
  const result = await recoverTasks({
    store,
    definitions: definitionsByName(note),
    runner,
    deadLetter: () => {},
  });
  deepEqual(result, { resumed: 2, deadLettered: 0, deferred: 0 });
  await runner.idle();
  // At least once: the committed-but-unanswered task runs too; never a 202 without its commit.
  deepEqual(ran.sort(), ["after-response", "before-response"]);
});

/**
 * A WAL stand-in, counting its syncs: they fail with EIO while `failing` is
 * set, and wait for `release` while `stalls` is (`returned` once such a sync
 * has synced after all).
 */
function testDisk({ failing = false, stalls = false } = {}) {
  const disk = {
    failing,
    stalls,
    syncs: 0,
    release: Promise.withResolvers<void>(),
    returned: Promise.withResolvers<void>(),
    openWal: (file: string) => {
      const wal = Deno.openSync(file, { read: true });
      return {
        syncData: async () => {
          disk.syncs++;
          if (disk.failing) throw new Error("EIO");
          if (!disk.stalls) return wal.syncData();
          await disk.release.promise;
          await wal.syncData();
          disk.returned.resolve();
        },
        syncDataSync: () => wal.syncDataSync(),
        close: () => wal.close(),
      };
    },
  };
  return disk;
}

Deno.test("SqliteTaskStore: an enqueue whose sync fails rejects, and its committed rows are forgotten", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const disk = testDisk({ failing: true });
  {
    using store = SqliteTaskStore.open(path, { openWal: disk.openWal });
    // Also a group kept for its Idempotency-Key (its rows under another id).
    const keyed = "5b1ef0c2-0000-8000-8000-000000000000";
    await rejects(
      store.enqueue(new TaskGroup({ id: "refused" }).add(send, "ada@example.com")),
      /EIO/,
    );
    await rejects(store.enqueue(new TaskGroup({ id: keyed }).add(send, "kim@example.com")), /EIO/);
    disk.failing = false;
    await store.enqueue(new TaskGroup({ id: "accepted" }).add(send, "bob@example.com"));
    equal(store.status("refused"), undefined, "the refused group's rows are gone");
    equal(store.status(keyed), undefined, "the refused keyed group's rows are gone");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover().map((task) => task.id), ["accepted/0"]);
});

Deno.test("SqliteTaskStore.health(): probes an idle journal, false after a failed sync, probing at most once a second until a write goes through", async () => {
  await using dir = await tempDir();
  const disk = testDisk();
  let now = 1_000_000;
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`, {
    openWal: disk.openWal,
    clock: { ...systemClock, now: () => now },
  });
  equal(await store.health(), true);
  equal(disk.syncs, 1, "nothing on its way: a probe write answers");
  disk.failing = true;
  await rejects(
    store.enqueue(new TaskGroup({ id: "refused" }).add(send, "ada@example.com")),
    /EIO/,
  );
  equal(await store.health(), false, "the failed sync answers within the second");
  equal(disk.syncs, 2);
  now += 1_000;
  equal(await store.health(), false, "the probe's own sync fails too");
  equal(disk.syncs, 3);
  equal(await store.health(), false);
  equal(disk.syncs, 3, "no second probe within the second");
  disk.failing = false; // the disk is back
  now += 1_000;
  equal(await store.health(), true);
  equal(disk.syncs, 4);
  equal(await store.health(), true);
  equal(disk.syncs, 4);
  equal(store.status("~probe"), undefined, "the probe leaves no row");
});

Deno.test("SqliteTaskStore.health() waits for the sync on its way: a stall shows before commitTimeoutMs", async () => {
  await using dir = await tempDir();
  const disk = testDisk({ stalls: true });
  const clock = fakeClock(); // commitTimeoutMs (10 s) never passes here
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`, { openWal: disk.openWal, clock });
  const enqueued = store.enqueue(new TaskGroup({ id: "g" }).add(send, "ada@example.com"));
  await turn(); // committed; its sync waits for the disk
  equal(disk.syncs, 1);
  let healthy: boolean | undefined;
  const health = store.health().then((answer) => (healthy = answer));
  await turn();
  await turn();
  equal(healthy, undefined, "no answer while the disk holds the sync: health's deadline times it");
  disk.release.resolve();
  equal(await health, true, "the sync returned");
  await enqueued;
  disk.release = Promise.withResolvers();
  const idle = store.health().then((answer) => (healthy = answer));
  healthy = undefined;
  await turn();
  await turn();
  equal(disk.syncs, 2, "nothing on its way: a probe write");
  equal(healthy, undefined, "an idle journal on a stalled disk gives no answer either");
  disk.release.resolve();
  equal(await idle, true);
});

Deno.test("SqliteTaskStore.watchFiles(): once a journal file is deleted or replaced while open, new work is refused", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const clock = fakeClock();
  const { logger, errors } = recordingLogger(1);
  // What each path names now, by inode; a missing one is gone.
  const inodes = new Map([[path, 1], [`${path}-wal`, 2]]);
  const stat = (file: string) => {
    const ino = inodes.get(file);
    return ino === undefined
      ? Promise.reject(new Deno.errors.NotFound(file))
      : Promise.resolve({ dev: 1, ino });
  };
  using store = SqliteTaskStore.open(path, { clock, logger });
  await using _watch = await store.watchFiles({ clock, stat });
  await store.enqueue(new TaskGroup({ id: "before" }).add(send, "ada@example.com"));
  await clock.tickAsync(1_000);
  equal(await store.health(), true, "the same files: nothing to say");

  inodes.delete(`${path}-wal`); // e.g. a cleanup script
  await clock.tickAsync(1_000);
  const lost =
    /Cannot journal new work: ".*tasks\.db-wal" was deleted or replaced while the journal was open/;
  await rejects(store.enqueue(new TaskGroup({ id: "after" }).add(send, "bob@example.com")), lost);
  equal(await store.health(), false);
  await clock.tickAsync(1_000);
  equal(await store.health(), false, "no probe brings it back: the file is still gone");
  inodes.set(path, 3); // the journal itself replaced too
  await clock.tickAsync(2_000);
  equal(errors.length, 1, "logged once");
  equal(errors[0]?.properties.file, `${path}-wal`);
  match(errors[0]?.message ?? "", /a crash would lose what is journaled now; new work is refused/);
  equal(store.status("before")?.state, "queued", "what was accepted is still there to run");
  equal(store.status("after"), undefined);
});

Deno.test("SqliteTaskStore keeps exactly the newest retentionCount failures when they share a millisecond", async () => {
  await using dir = await tempDir();
  const options = {
    retentionCount: 2,
    pruneIntervalMs: 0,
    clock: { ...systemClock, now: () => 1_000 },
  };
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`, options);
  const fail = defineTask("fail", () => {
    throw new Error("no");
  }, { retries: 0 });
  const runner = new TaskRunner({ journal: store });
  for (const id of ["a", "b", "c"]) {
    const group = new TaskGroup({ id }).add(fail);
    await store.enqueue(group);
    runner.submit(group);
    await group.settled();
  }
  await store.enqueue(new TaskGroup().add(send, "x")); // commits the outcomes and prunes
  // Told apart by group id: a tie in time had pruned all three.
  deepEqual(["a", "b", "c"].map((id) => store.status(id)?.state ?? "gone"), [
    "gone",
    "failed",
    "failed",
  ]);
});

Deno.test("SqliteTaskStore keeps keyed groups that succeeded within the retention, by count and by age", async () => {
  await using dir = await tempDir();
  let now = 1_000_000;
  const clock = { ...systemClock, now: () => now };
  const options = { retentionMs: 60_000, retentionCount: 2, pruneIntervalMs: 0, clock };
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`, options);
  await using runner = new TestRunner({ journal: store, clock }); // its outcomes' times
  const keyed = ["1", "2", "3"].map((n) => `00000000-0000-8000-8000-00000000000${n}`);
  // Runs a group to its end; committing the next enqueue commits its outcome and a prune.
  const run = async (id?: string) => {
    now += 1;
    const group = new TaskGroup({ id }).add(send, "x");
    await store.enqueue(group);
    runner.submit(group);
    await group.settled();
    await store.enqueue(new TaskGroup().add(send, "flush"));
  };
  for (const id of keyed) await run(id);
  const states = () => keyed.map((id) => store.status(id)?.state ?? "gone");
  deepEqual(states(), ["gone", "done", "done"], "beyond the newest 2: the oldest goes");
  now += 60_000;
  await run(); // a group of a generated id: deleted as it succeeds; its outcome prunes
  deepEqual(states(), ["gone", "gone", "gone"], "older than the retention");
});

Deno.test("SqliteTaskStore journals a kept group under a time-ordered id, and finds it by its own", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  // Ids as idempotentGroupId makes them: hashes, in no order (by id: 3, 1, 2, 0).
  const keys = ["f0", "30", "c0", "00"].map((hex) => `${hex}000000-0000-8000-8000-000000000000`);
  const flush = (store: SqliteTaskStore) => store.enqueue(new TaskGroup().add(send, "flush"));
  // The flushes' groups stay queued (nothing runs them): left out.
  const ids = (tasks: StoredTask[]) =>
    tasks.filter((task) => keys.includes(task.groupId)).map((task) => task.id);
  const both = (...of: number[]) => of.flatMap((k) => [`${keys[k]}/0`, `${keys[k]}/1`]);
  {
    // Each enqueue in a millisecond of its own: ids of one millisecond are in no order.
    let now = Date.now();
    const clock = { ...systemClock, now: () => now++ };
    using store = SqliteTaskStore.open(path, { retentionCount: 2, pruneIntervalMs: 0, clock });
    await using runner = new TestRunner({ journal: store });
    const groups = keys.map((id) => new TaskGroup({ id }).add(send, id).add(send, "then"));
    for (const group of groups) await store.enqueue(group);
    deepEqual(ids(store.list("", 1)), both(0), "paged in the order they came");
    for (const group of groups.slice(0, 2)) {
      runner.submit(group);
      await group.settled();
      await flush(store); // commits its outcomes, and a prune
    }
    equal(store.status(keys[0] as string), undefined, "beyond the newest 2 tasks kept: pruned");
    deepEqual(store.status(keys[1] as string)?.tasks.map((t) => [t.state, t.attempts]), [
      ["done", 1],
      ["done", 1],
    ]);
    deepEqual(ids(store.list(keys[0] as string, 5)), both(2, 3), "on after a group that is gone");
  }
  {
    using store = SqliteTaskStore.open(path);
    deepEqual(ids(store.recover()), both(2, 3), "in the order they came");
    equal(store.status(keys[1] as string)?.state, "done");
    await rejects(
      store.enqueue(new TaskGroup({ id: keys[1] }).add(send, "again")),
      DuplicateGroupError,
    );
  }
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  const rows = db.prepare(
    "SELECT group_id, key_id FROM tasks WHERE idx = 0 AND key_id IS NOT NULL ORDER BY group_id",
  )
    .all();
  db.close();
  deepEqual(rows.map((row) => row.key_id), keys.slice(1), "in the order they came");
  for (const row of rows) match(String(row.group_id), /^[0-9a-f]{8}-[0-9a-f]{4}-7/, "a UUIDv7");
});

Deno.test("SqliteTaskStore deletes groups that succeeded, keeps failed ones within the retention, never open ones", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  let now = 1_000_000;
  const options = {
    retentionMs: 60_000,
    retentionCount: 2,
    pruneIntervalMs: 0,
    clock: { ...systemClock, now: () => now },
  };
  const fail = defineTask("fail", (to: string) => {
    throw new Error(`cannot reach ${to}`);
  }, { retries: 0 });
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const wait = defineTask("wait", () => (started.resolve(), gate.promise));
  const states = (store: SqliteTaskStore, ids: string[]) =>
    ids.map((id) => store.status(id)?.tasks.map((task) => task.state).join(",") ?? "gone");
  const run = async (runner: TaskRunner, store: SqliteTaskStore, group: TaskGroup) => {
    now += 1;
    await store.enqueue(group);
    runner.submit(group);
  };
  {
    using store = SqliteTaskStore.open(path, options);
    const runner = new TaskRunner({ journal: store, clock: options.clock }); // its outcomes' times
    for (const group of ["f1", "f2", "f3"].map((id) => new TaskGroup({ id }).add(fail, id))) {
      await run(runner, store, group);
      await group.settled();
    }
    await run(runner, store, new TaskGroup({ id: "mixed" }).add(fail, "a").add(wait));
    await started.promise;
    const ok = new TaskGroup({ id: "ok" }).add(send, "b").add(send, "c");
    await run(runner, store, ok);
    await ok.settled();
    // Committing the next group commits the outcomes above and the prunes.
    await store.enqueue(new TaskGroup({ id: "queued" }).add(send, "later"));
    deepEqual(states(store, ["ok", "f1", "f2", "f3", "mixed", "queued"]), [
      "gone", // succeeded: deleted as it finished
      "gone", // beyond the count of failures kept: the oldest go first
      "gone",
      "failed",
      "failed,running",
      "queued",
    ]);
    await runner.drain({ signal: AbortSignal.abort() }); // the process stops
  }
  {
    using store = SqliteTaskStore.open(path, options);
    await using runner = new TestRunner({ journal: store, clock: options.clock });
    gate.resolve();
    await recoverTasks({
      store,
      definitions: definitionsByName(send, wait),
      runner,
      deadLetter: () => {},
    });
    await runner.idle();
    await store.enqueue(new TaskGroup({ id: "flush" }).add(send, "x"));
    // The restored group lacked its failed task: finishing it keeps the failure.
    deepEqual(states(store, ["f3", "mixed", "queued"]), ["failed", "failed,done", "gone"]);
  }
  now += 60_001; // down past the retention: the next start prunes
  using store = SqliteTaskStore.open(path, options);
  deepEqual(states(store, ["f3", "mixed", "flush"]), ["gone", "gone", "queued"]);
  deepEqual(store.recover().map((task) => task.id), ["flush/0"]);
});

Deno.test("SqliteTaskStore: a sync that stalls fails its enqueues at commitTimeoutMs and health until it returns; their rows are undone", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const clock = fakeClock();
  const disk = testDisk({ stalls: true });
  const { release, returned, openWal } = disk;
  {
    using store = SqliteTaskStore.open(path, { openWal, clock, commitTimeoutMs: 5_000 });
    const refused = store.enqueue(new TaskGroup({ id: "stalled" }).add(send, "ada@example.com"));
    const outcome = refused.then(() => "accepted", (e: Error) => e.message);
    await clock.tickAsync(4_999);
    let early: boolean | undefined;
    const waiting = store.health().then((answer) => (early = answer));
    await turn();
    equal(
      early,
      undefined,
      "within the deadline: it waits for the sync (health's second times it)",
    );
    await clock.tickAsync(1);
    match(await outcome, /fdatasync has not returned in 5000 ms/);
    equal(await store.health(), false, "503 while the sync hangs");
    await rejects(
      store.enqueue(new TaskGroup({ id: "meanwhile" }).add(send, "bob@example.com")),
      /fdatasync has not returned/,
      "refused at once",
    );
    disk.stalls = false;
    release.resolve(); // the disk is back
    await returned.promise;
    equal(await waiting, true, "the wait ends when the sync returns");
    await turn();
    await clock.tickAsync(1_000); // the next probe is due
    equal(await store.health(), true);
    await store.enqueue(new TaskGroup({ id: "accepted" }).add(send, "eve@example.com"));
    equal(store.status("stalled"), undefined, "the refused groups' rows are gone");
    equal(store.status("meanwhile"), undefined);
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover().map((task) => task.id), ["accepted/0"]);
});

Deno.test("SqliteTaskStore.open(): commitTimeoutMs must be a timer's integer", async () => {
  await using dir = await tempDir();
  for (const commitTimeoutMs of [0, 1.5, 2 ** 31, Number.NaN]) {
    throws(
      () => SqliteTaskStore.open(`${dir.path}/tasks.db`, { commitTimeoutMs }),
      /commitTimeoutMs must be an integer from 1 to 2147483647/,
    );
  }
});

Deno.test("SqliteTaskStore.close() while a sync stalls returns at once; the database closes when the sync returns", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const clock = fakeClock();
  const disk = testDisk({ stalls: true });
  const store = SqliteTaskStore.open(path, {
    openWal: disk.openWal,
    clock,
    commitTimeoutMs: 5_000,
  });
  disk.stalls = false;
  await store.enqueue(new TaskGroup({ id: "before" }).add(send, "ada@example.com"));
  disk.stalls = true;
  const refused = store.enqueue(new TaskGroup({ id: "stalled" }).add(send, "bob@example.com"));
  await clock.tickAsync(5_000);
  await rejects(refused, /fdatasync has not returned/);
  store.close(); // SQLite's own close would checkpoint and wait for the disk
  throws(() => SqliteTaskStore.open(path), /another process or connection has it open/);
  disk.stalls = false;
  disk.release.resolve();
  await disk.returned.promise;
  await turn();
  using reopened = SqliteTaskStore.open(path);
  const groups = reopened.recover().map((task) => task.groupId);
  deepEqual(groups, ["before"], "the accepted group is there, the refused one undone");
});

Deno.test("SqliteTaskStore: closing again does nothing (a DisposableStack and a close by hand)", async () => {
  await using dir = await tempDir();
  const store = SqliteTaskStore.open(`${dir.path}/tasks.db`);
  store.close();
  store.close(); // before: BadResource
  store[Symbol.dispose]();
});
