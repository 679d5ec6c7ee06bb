import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import {
  createHandler,
  type DeadLetter,
  defineTask,
  recoverTasks,
  route,
  SqliteTaskStore,
  type TaskContext,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

const send = defineTask("send", (to: string) => void to);

Deno.test("SqliteTaskStore: a 202 is sent only after the commit; a failed commit answers 503 and runs nothing", async () => {
  await using runner = new TaskRunner();
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
    const runner = new TaskRunner({ journal: store });
    const group = new TaskGroup({ id: "g1" }).add(send, "first").add(flaky, "ada");
    await store.enqueue(group);
    runner.submit(group);
    while (group.tasks[1]?.state !== "retrying") await new Promise((r) => setTimeout(r, 5));
    store.close(); // the process dies during the backoff
    void runner;
  }
  const store = SqliteTaskStore.open(path);
  const recovered = store.recover();
  deepEqual(recovered.map((t) => [t.id, t.attempts]), [["g1/1", 1]]);
  ok(recovered[0]!.nextAt > Date.now() + 100, "the retry is still in the future");
  const runner = new TaskRunner({ journal: store });
  const letters: DeadLetter[] = [];
  const result = recoverTasks({
    store: { recover: () => recovered, fail: (task, error) => store.fail(task, error) },
    definitions: new Map([["send", send], ["flaky", flaky]] as never),
    runner,
    deadLetter: (r) => void letters.push(r),
  });
  deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
  equal(attempts.length, 1, "not retried before its backoff ends");
  await runner.idle();
  deepEqual(attempts, [["g1/1", 1], ["g1/1", 2]]);
  store.close();
  using reopened = SqliteTaskStore.open(path);
  equal(reopened.status("g1")?.state, "done");
  deepEqual(reopened.recover(), []);
});

Deno.test("SqliteTaskStore: a task that crashes the process 3 times is quarantined", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const group = new TaskGroup({ id: "boom" }).add(send, "x");
  {
    using store = SqliteTaskStore.open(path);
    await store.enqueue(group);
  }
  const letters: DeadLetter[] = [];
  // Starts 1 to 3 each crash during the attempt; start 4 finds 3 crashes.
  for (let start = 1; start <= 4; start++) {
    using store = SqliteTaskStore.open(path);
    const runner = new TaskRunner({
      journal: { attempt: (entry) => store.attempt(entry), record: () => {} },
    });
    const hang = defineTask("send", () => new Promise(() => {})); // runs until the "crash"
    const result = recoverTasks({
      store,
      definitions: new Map([["send", hang]] as never),
      runner,
      deadLetter: (r) => void letters.push(r),
    });
    if (start < 4) {
      deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
      while (runner.running === 0 || store.status("boom")?.tasks[0]?.state !== "running") {
        await new Promise((r) => setTimeout(r, 5));
      }
    } else {
      deepEqual(result, { resumed: 0, deadLettered: 1, deferred: 0 });
    }
  }
  equal(letters.length, 1);
  equal(letters[0]?.reason, "crash_loop");
  equal(letters[0]?.taskId, "boom/0");
  using store = SqliteTaskStore.open(path);
  equal(store.status("boom")?.state, "failed");
  match(store.status("boom")?.tasks[0]?.error ?? "", /crashed during 3 attempts/);
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

Deno.test("durable: a plain function task is a 500 (it cannot be journaled by name) and leaves nothing pending", async () => {
  await using dir = await tempDir();
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`);
  await using runner = new TaskRunner({ journal: store });
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
  const hang = defineTask("note", (_what: string) => new Promise<void>(() => {}));
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
        group.add(hang, params.what ?? "");
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
    while (runner.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    store.close();
  }
  using store = SqliteTaskStore.open(path);
  const runner = new TaskRunner({ journal: store });
  const result = recoverTasks({
    store,
    definitions: new Map([["note", note]] as never),
    runner,
    deadLetter: () => {},
  });
  deepEqual(result, { resumed: 2, deadLettered: 0, deferred: 0 });
  await runner.idle();
  // At least once: the committed-but-unanswered task runs too; never a 202 without its commit.
  deepEqual(ran.sort(), ["after-response", "before-response"]);
});

Deno.test("durable: a task abandoned at shutdown during its backoff keeps its retry time", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const flaky = defineTask("flaky", function (this: TaskContext) {
    if (this.attempt === 1) throw new Error("first attempt fails");
  }, { retries: 2, retryDelay: 60_000, maxRetryDelay: 60_000 });
  {
    const store = SqliteTaskStore.open(path);
    const runner = new TaskRunner({ journal: store });
    const group = new TaskGroup({ id: "late" }).add(flaky);
    await store.enqueue(group);
    runner.submit(group);
    while (group.tasks[0]?.state !== "retrying") await new Promise((r) => setTimeout(r, 5));
    deepEqual(await runner.drain({ signal: AbortSignal.abort() }), { abandoned: 1 });
    store.close();
  }
  using store = SqliteTaskStore.open(path);
  const [task] = store.recover();
  equal(task?.attempts, 1);
  ok((task?.nextAt ?? 0) > Date.now() + 20_000, "the backoff carries on after the restart");
});

Deno.test("durable: more unfinished work than MAX_PENDING does not stop start-up; the rest waits in the journal", async () => {
  await using dir = await tempDir();
  using store = SqliteTaskStore.open(`${dir.path}/tasks.db`);
  for (let i = 0; i < 3; i++) await store.enqueue(new TaskGroup({ id: `g${i}` }).add(send, "x"));
  const ran: string[] = [];
  const gate = Promise.withResolvers<void>();
  const record = defineTask("send", async function (this: TaskContext) {
    await gate.promise; // pending until the assertion below
    ran.push(this.groupId);
  });
  await using runner = new TaskRunner({ maxPending: 2 });
  const result = recoverTasks({
    store,
    definitions: new Map([["send", record]] as never),
    runner,
    deadLetter: () => {},
  });
  deepEqual(result, { resumed: 2, deadLettered: 0, deferred: 1 });
  gate.resolve();
  await runner.idle();
  equal(ran.length, 2);
});

Deno.test("SqliteTaskStore upgrades a version 1 journal in place and refuses a newer one", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const { DatabaseSync } = await import("node:sqlite");
  const old = new DatabaseSync(path);
  // The version 1 schema, as the first release wrote it.
  old.exec(`
    CREATE TABLE tasks (
      id TEXT PRIMARY KEY, group_id TEXT NOT NULL, idx INTEGER NOT NULL,
      name TEXT NOT NULL, args TEXT NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,
      crashes INTEGER NOT NULL DEFAULT 0, error TEXT, duration_ms INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX tasks_open ON tasks (state) WHERE state NOT IN ('done', 'failed');
    CREATE INDEX tasks_group ON tasks (group_id, idx);
    INSERT INTO tasks (id, group_id, idx, name, args, state, attempts, updated_at) VALUES
      ('g/0', 'g', 0, 'send', '["ada@example.com"]', 'done', 1, 0),
      ('g/1', 'g', 1, 'send', '["bob@example.com"]', 'queued', 1, 0);
    PRAGMA user_version = 1;
  `);
  old.close();
  {
    using store = SqliteTaskStore.open(path);
    deepEqual(store.recover().map((task) => [task.id, task.args, task.attempts]), [
      ["g/1", ["bob@example.com"], 1],
    ]);
    deepEqual(store.status("g")?.tasks.map((task) => task.state), ["done", "queued"]);
  }
  const newer = new DatabaseSync(path);
  newer.exec("PRAGMA user_version = 3");
  newer.close();
  throws(() => SqliteTaskStore.open(path), /schema 3, expected 2/);
});

Deno.test("SqliteTaskStore: an enqueue whose sync fails rejects, and its committed rows are forgotten", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  let failSync = true;
  const openWal = (file: string) => {
    const wal = Deno.openSync(file, { read: true });
    return {
      syncData: () => failSync ? Promise.reject(new Error("EIO")) : wal.syncData(),
      syncDataSync: () => wal.syncDataSync(),
      close: () => wal.close(),
    };
  };
  {
    using store = SqliteTaskStore.open(path, { openWal });
    await rejects(
      store.enqueue(new TaskGroup({ id: "refused" }).add(send, "ada@example.com")),
      /EIO/,
    );
    failSync = false;
    await store.enqueue(new TaskGroup({ id: "accepted" }).add(send, "bob@example.com"));
    equal(store.status("refused"), undefined, "the refused group's rows are gone");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover().map((task) => task.id), ["accepted/0"]);
});

Deno.test("recovery dead-letters a journaled task whose name is no longer defined and marks it failed", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const gone = defineTask("gone", (to: string) => void to);
  {
    using store = SqliteTaskStore.open(path);
    await store.enqueue(new TaskGroup({ id: "old" }).add(gone, "ada@example.com"));
  }
  const letters: DeadLetter[] = [];
  {
    using store = SqliteTaskStore.open(path);
    await using runner = new TaskRunner({ journal: store });
    const result = recoverTasks({
      store,
      definitions: new Map([["send", send]] as never),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    deepEqual(result, { resumed: 0, deadLettered: 1, deferred: 0 });
    deepEqual(letters.map((l) => [l.taskId, l.reason]), [["old/0", "unknown_task"]]);
    equal(store.status("old")?.state, "failed");
  }
  using store = SqliteTaskStore.open(path);
  deepEqual(store.recover(), [], "it is not found again at the next start");
});
