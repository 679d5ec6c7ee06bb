// PostgresTaskStore against a real PostgreSQL (POSTHASTE_TEST_POSTGRES; .ci/run starts one).
import { deepEqual, doesNotMatch, equal, match, ok, rejects } from "node:assert/strict";
import {
  defineTask,
  definitionsByName,
  DuplicateGroupError,
  JournalTakeover,
  PostgresTaskStore,
  recoverTasks,
  systemClock,
  type TaskContext,
  type TaskEntry,
  TaskGroup,
  TaskRunner,
} from "../lib/mod.ts";
import { configure, reset } from "@logtape/logtape";
import { fingerprints } from "../lib/_given_ids.ts";
import { acceptedField } from "../lib/_status_times.ts";
import { pruneFinished } from "../lib/_postgres_journal.ts";
import { ensureTable } from "../lib/_postgres_schema.ts";
import { connect } from "../lib/_postgres_pool.ts";
import { fakeClock, keepingLogger, TestRunner } from "./_helpers.ts";
import { lockTable, postgresTest, proxyTo, type TestSchema } from "./_postgres.ts";
import { journalUntil, STORE_SCENARIOS } from "./_store_scenarios.ts";
import { storeMatchesModel } from "./_store_model.ts";

const send = defineTask("send", (to: string) => void to);

postgresTest(
  "PostgresTaskStore: a dead server's groups are adopted oldest first, whatever their ids",
  async (db) => {
    await using live = await PostgresTaskStore.open(db.url);
    const dying = await PostgresTaskStore.open(db.url);
    // Ids that sort unlike the groups' acceptance, as an Idempotency-Key's hash does.
    for (const [id, at] of [["z", 1_000], ["a", 3_000], ["m", 2_000]] as const) {
      const group = new TaskGroup({ id }).add(send, `${id}0`).add(send, `${id}1`);
      acceptedField.set(group, Date.UTC(2026, 11, 1) + at);
      await dying.enqueue(group);
    }
    await dying.close(); // its claim ends with its session, as when its process dies
    const adopted = await live.recover();
    deepEqual(adopted.map((task) => task.id), ["z/0", "z/1", "m/0", "m/1", "a/0", "a/1"]);
  },
);

postgresTest(
  "PostgresTaskStore: a live server's work stays its own; a dead one's is adopted once",
  async (db) => {
    await using live = await PostgresTaskStore.open(db.url);
    const dying = await PostgresTaskStore.open(db.url);
    const started = Promise.withResolvers<void>();
    const hang = defineTask(
      "send",
      (_to: string) => (started.resolve(), new Promise<void>(() => {})),
    );
    const runner = new TaskRunner({ journal: dying });
    const group = new TaskGroup({ id: "g1" }).add(hang, "a").add(send, "b");
    await dying.enqueue(group);
    await dying.enqueue(new TaskGroup({ id: "g2" }).add(send, "c"));
    await live.enqueue(new TaskGroup({ id: "g0" }).add(send, "mine"));
    runner.submit(group);
    await started.promise;
    deepEqual(await live.recover(), [], "nothing is adopted from a live owner");
    await dying.close(); // its claim ends with its session, as when its process dies
    // Two servers look at once: each task goes to exactly one of them.
    await using other = await PostgresTaskStore.open(db.url);
    const [a, b] = await Promise.all([live.recover(), other.recover()]);
    const adopted = [...a, ...b].map((task) => `${task.id}:${task.crashes}`).sort();
    deepEqual(adopted, ["g1/0:1", "g1/1:0", "g2/0:0"], "the running task counts a crash");
    ok(a.length === 0 || b.length === 0, "one owner's work is adopted by one server");
    deepEqual(await live.recover(), [], "and only once");
    equal((await live.status("g1"))?.tasks[0]?.state, "queued");
    const mine = a.length > 0 ? live : other;
    deepEqual(
      (await mine.list("", 10)).map((task) => task.id).sort(),
      ["g0/0", "g1/0", "g1/1", "g2/0"]
        .filter((id) => mine === live || !id.startsWith("g0")),
    );
    void runner;
  },
);

postgresTest(
  "PostgresTaskStore: retry state survives a restart; a group that succeeds leaves the table",
  async (db) => {
    const attempts: [string, number][] = [];
    const flaky = defineTask("flaky", function (this: TaskContext, to: string) {
      attempts.push([this.id, this.attempt]);
      if (this.attempt === 1) throw new Error(`cannot reach ${to}`);
    }, { retries: 3, retryDelay: 400, maxRetryDelay: 400 });
    {
      const store = await PostgresTaskStore.open(db.url);
      const { journal, reached } = journalUntil(store, "retrying");
      const runner = new TaskRunner({ journal, clock: fakeClock() }); // its backoff never ends
      const group = new TaskGroup({ id: "g1" }).add(send, "first").add(flaky, "ada");
      await store.enqueue(group);
      runner.submit(group);
      await reached;
      await store.close(); // the process stops during the backoff
      void runner;
    }
    await using store = await PostgresTaskStore.open(db.url);
    const recovered = await store.recover();
    deepEqual(recovered.map((task) => [task.id, task.attempts]), [["g1/1", 1]]);
    // Journaled on the first runner's clock, which stood at 0: the backoff (400 ms, less jitter).
    const { nextAt } = recovered[0]!;
    ok(nextAt > 0 && nextAt <= 400, "the retry is still in the future");
    const clock = fakeClock();
    const runner = new TaskRunner({ journal: store, clock });
    const result = await recoverTasks({
      store: { recover: () => recovered, fail: (task, error) => store.fail(task, error) },
      definitions: definitionsByName(send, flaky),
      runner,
      clock,
      deadLetter: () => {},
    });
    deepEqual(result, { resumed: 1, deadLettered: 0, deferred: 0 });
    await clock.tickAsync(nextAt - 1);
    equal(attempts.length, 1, "not retried before its backoff ends");
    await clock.tickAsync(1);
    await runner.idle();
    deepEqual(attempts, [["g1/1", 1], ["g1/1", 2]]);
    await store.enqueue(new TaskGroup({ id: "g2" }).add(send, "x")); // commits the outcome before it
    equal(await store.status("g1"), undefined);
    equal((await store.status("g2"))?.state, "queued");
  },
);

postgresTest(
  "PostgresTaskStore: a clean close leaves no row saying it stopped, unless a task still runs",
  async (db) => {
    const markers = async () =>
      (await db.admin.unsafe(
        `SELECT owner FROM ${db.name}.posthaste_tasks WHERE name = 'stopping' ORDER BY owner`,
      )).map((row) => String(row.owner));
    const running = await PostgresTaskStore.open(db.url);
    const idle = await PostgresTaskStore.open(db.url);
    const group = new TaskGroup().add(send, "a");
    await running.enqueue(group);
    await running.attempt(Object.assign(group.tasks[0] as TaskEntry, { state: "running" }));
    await idle.enqueue(new TaskGroup().add(send, "b")); // queued, as a drain's abandon leaves it
    await Promise.all([running.markStopping(), idle.markStopping()]);
    deepEqual(await markers(), [running.owner, idle.owner].sort());
    await Promise.all([running.close(), idle.close()]);
    deepEqual(await markers(), [running.owner], "the other's task runs in no process now");
    // Whoever adopts the work reads the row, and deletes it.
    await using adopter = await PostgresTaskStore.open(db.url);
    deepEqual((await adopter.recover()).map((task) => [task.args, task.crashes]), [
      [["a"], 0],
      [["b"], 0],
    ]);
    deepEqual(await markers(), []);
  },
);

for (const [name, scenario] of STORE_SCENARIOS) {
  postgresTest(
    `PostgresTaskStore: ${name}`,
    (db) =>
      scenario((clock, retention) =>
        PostgresTaskStore.open(db.url, { ...(clock && { clock }), ...retention })
      ),
  );
}

postgresTest(
  "PostgresTaskStore: what a restart recovers matches a model of random progress",
  async (db) => {
    await storeMatchesModel(() => PostgresTaskStore.open(db.url), 25);
  },
);

postgresTest(
  "JournalTakeover with a shared journal runs the work of a server that died meanwhile",
  async (db) => {
    await using survivor = await PostgresTaskStore.open(db.url);
    const ran = Promise.withResolvers<string>();
    const runner = new TaskRunner({ journal: survivor });
    using takeover = new JournalTakeover({
      store: survivor,
      name: "test",
      definitions: definitionsByName(defineTask("send", (to: string) => ran.resolve(to))),
      runner,
      deadLetter: () => {},
      known: () => false,
      intervalMs: 5,
    });
    deepEqual(await takeover.start(), { resumed: 0, deadLettered: 0, deferred: 0 });
    const dying = await PostgresTaskStore.open(db.url);
    await dying.enqueue(new TaskGroup().add(send, "orphan@example.com"));
    await dying.close();
    equal(await ran.promise, "orphan@example.com");
    await runner.idle();
  },
);

postgresTest(
  "PostgresTaskStore refuses a foreign table or a missing schema, and names the database without its password",
  async (db) => {
    const { password } = new URL(db.url);
    await db.admin.unsafe(`CREATE TABLE ${db.name}.posthaste_tasks (id int)`);
    await rejects(PostgresTaskStore.open(db.url), (error: Error) => {
      match(error.message, /^Cannot open task store "postgres:\/\/[^"]*": table posthaste_tasks/);
      match(error.message, /is not a posthaste journal this version reads \(no column group_id/);
      ok(password === "" || !error.message.includes(`:${password}@`), "no password");
      return true;
    });
    // Before, PostgreSQL's "no schema has been selected to create in".
    const missing = new URL(db.url);
    missing.searchParams.set("search_path", `${db.name}_missing`);
    await rejects(PostgresTaskStore.open(missing.href), (error: Error) => {
      match(error.message, /: no schema of the search_path \(test_\w+_missing\) exists to hold/);
      return true;
    });
    const unreachable = "postgres://someone:secret@127.0.0.1:1/nothing";
    await rejects(PostgresTaskStore.open(unreachable), (error: Error) => {
      match(
        error.message,
        /^Cannot open task store "postgres:\/\/someone@127\.0\.0\.1:1\/nothing": /,
      );
      ok(!error.message.includes("secret"));
      return true;
    });
  },
);

Deno.test("PostgresTaskStore: a URL the driver cannot parse is refused without its password, as any other", async () => {
  // Before: "Invalid URL: 'postgres://u:s3cret@/db?host=/run/pg'", thrown past the naming, into the start's log line.
  await rejects(PostgresTaskStore.open("postgres://u:s3cret@/db?host=/run/pg"), (error: Error) => {
    equal(
      error.message,
      `Cannot open task store "postgres://u@/db?host=/run/pg": Invalid URL: 'postgres://u@/db?host=/run/pg'`,
    );
    equal(error.cause, undefined, "the driver's error, which quotes it whole, is not kept");
    return true;
  });
});

postgresTest(
  "PostgresTaskStore: a table made before request fingerprints and acceptance times gets their columns as it opens",
  async (db) => {
    const before = await PostgresTaskStore.open(db.url);
    await before.enqueue(new TaskGroup({ id: "older" }).add(send, "o"));
    await before.close();
    for (const column of ["fingerprint", "created_at"]) {
      await db.admin.unsafe(`ALTER TABLE ${db.name}.posthaste_tasks DROP COLUMN ${column}`);
    }
    await using store = await PostgresTaskStore.open(db.url);
    equal((await store.status("older"))?.acceptedAt, null, "journaled before: not known");
    const group = new TaskGroup({ id: "keyed" }).add(send, "a");
    fingerprints.set(group, "fp");
    await store.enqueue(group);
    await rejects(
      store.enqueue(new TaskGroup({ id: "keyed" }).add(send, "a")),
      (error) => error instanceof DuplicateGroupError && error.fingerprint === "fp",
    );
  },
);

/** Passes posthaste's log messages (info and up) to `watch`, for a test that waits for one. */
function watchLogs(watch: (message: string) => void): Promise<void> {
  return configure({
    reset: true,
    sinks: { watch: (record) => watch(String(record.rawMessage)) },
    loggers: [
      { category: ["posthaste"], lowestLevel: "info", sinks: ["watch"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
}

/** `store`, which journaled group "g", holds its claim: another store adopts nothing, and it goes on. */
async function claimHeld(db: TestSchema, store: PostgresTaskStore): Promise<void> {
  await using other = await PostgresTaskStore.open(db.url);
  deepEqual(await other.recover(), [], "the claim holds again: nothing to adopt");
  await store.enqueue(new TaskGroup({ id: "h" }).add(send, "b"));
  deepEqual((await store.list("", 10)).map((task) => task.id), ["g/0", "h/0"]);
}

postgresTest(
  "PostgresTaskStore: a claim whose connection is lost is taken again; the store goes on",
  async (db) => {
    const retaken = Promise.withResolvers<void>();
    await watchLogs((message) => {
      if (message.startsWith("Took the journal claim")) retaken.resolve();
    });
    try {
      await using store = await PostgresTaskStore.open(db.url);
      await store.enqueue(new TaskGroup({ id: "g" }).add(send, "a"));
      await db.kill(store.owner);
      await retaken.promise;
      await claimHeld(db, store);
    } finally {
      await reset();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a claim the database refuses to take again is tried once a second until it is back",
  async (db) => {
    // The database takes no new sessions for a while (one restarting, say):
    // sessions already open go on, the claim's new ones are refused.
    let refusals = 0;
    const [refusedTwice, retaken] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    await watchLogs((message) => {
      if (message.startsWith("Cannot take the journal claim again") && ++refusals === 2) {
        refusedTwice.resolve();
      }
      if (message.startsWith("Took the journal claim")) retaken.resolve();
    });
    const [{ database }] = await db.admin<[{ database: string }]>`
      SELECT current_database() AS database`;
    const limit = (n: 0 | -1) =>
      db.admin`ALTER DATABASE ${db.admin(database)} CONNECTION LIMIT ${db.admin.unsafe(String(n))}`;
    try {
      await using store = await PostgresTaskStore.open(db.url);
      await store.enqueue(new TaskGroup({ id: "g" }).add(send, "a"));
      try {
        await limit(0);
        await db.kill(store.owner);
        await refusedTwice.promise;
      } finally {
        await limit(-1);
      }
      await retaken.promise;
      // The third try, a second after the second, finds the database back.
      equal(refusals, 2, "one try a second, not a loop hammering the database");
      await claimHeld(db, store);
    } finally {
      await reset();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a server leaves a gone server's groups holding tasks it does not define to one that does",
  async (db) => {
    const dying = await PostgresTaskStore.open(db.url);
    const newer = defineTask("newer", (to: string) => void to); // a newer version's task
    await dying.enqueue(new TaskGroup({ id: "g1" }).add(send, "a").add(newer, "b"));
    await dying.enqueue(new TaskGroup({ id: "g2" }).add(send, "c"));
    await dying.close(); // its claim ends with its session, as when its process dies
    const warnings: { message: string; properties: Record<string, unknown> }[] = [];
    const logger = {
      info() {},
      error() {},
      warn: (message: string, properties: Record<string, unknown>) =>
        void warnings.push({ message, properties }),
    };
    // An older server, in a rolling deploy: before, it adopted g1 and, with
    // no definition of "newer", dead-lettered that task.
    await using older = await PostgresTaskStore.open(db.url, { logger });
    await using runner = new TestRunner({ journal: older });
    const letters: unknown[] = [];
    const result = await recoverTasks({
      store: older,
      definitions: definitionsByName(send),
      runner,
      deadLetter: (letter) => void letters.push(letter),
    });
    deepEqual([result, letters], [{ resumed: 1, deadLettered: 0, deferred: 0 }, []]);
    await runner.idle(); // g2 ran, here
    equal(warnings.length, 1);
    match(warnings[0]?.message ?? "", /^Left tasks of gone servers in the journal/);
    deepEqual(warnings[0]?.properties, { left: '1 "newer", 1 "send"', unknown: ["newer"] });
    deepEqual(await older.recover(3, ["send"]), [], "still left");
    equal(warnings.length, 1, "said once while it stays the same");
    await using current = await PostgresTaskStore.open(db.url);
    deepEqual(
      (await current.recover(3, ["send", "newer"])).map((task) => task.id),
      ["g1/0", "g1/1"],
      "a server that defines it takes the whole group",
    );
    deepEqual(await older.recover(3, ["send"]), []);
    equal(warnings.length, 1);
    // Without names (a caller of its own), everything is adopted as before.
    const gone = await PostgresTaskStore.open(db.url);
    await gone.enqueue(new TaskGroup({ id: "g3" }).add(newer, "d"));
    await gone.close();
    deepEqual((await older.recover()).map((task) => task.id), ["g3/0"]);
  },
);

postgresTest(
  "PostgresTaskStore: adoption deletes a dead owner's group that finished but was not deleted, and its probe row",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    // An owner died between its last outcome's UPDATE and its group's DELETE
    // (two statements before 2026-12-04: a journal may still hold such groups).
    const table = `${db.name}.posthaste_tasks`;
    await db.admin.unsafe(`
      INSERT INTO ${table} (group_id, idx, name, args, state, updated_at, owner) VALUES
        ('done', 0, 'send', '["a"]', 'done', 0, 'gone'), ('done', 1, 'send', '["b"]', 'done', 0, 'gone'),
        ('open', 0, 'send', '["c"]', 'done', 0, 'gone'), ('open', 1, 'send', '["d"]', 'queued', 0, 'gone'),
        ('~probe-gone', 0, 'probe', '[]', 'queued', 0, 'gone')
    `);
    deepEqual((await store.recover()).map((task) => task.id), ["open/1"]);
    equal(await store.status("~probe-gone"), undefined, "a probe is no task to run or report");
    equal(await store.status("done"), undefined);
    deepEqual((await store.status("open"))?.tasks.map((task) => task.state), ["done", "queued"]);
  },
);

postgresTest(
  "PostgresTaskStore.status gives up at its signal, and the database stops the query",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url, { connections: 1 });
    const group = new TaskGroup().add(send, "ada");
    await store.enqueue(group);
    const gone = new Error("the client went away");
    await rejects(store.status(group.id, { signal: AbortSignal.abort(gone) }), gone);
    const lock = await lockTable(db);
    try {
      const controller = new AbortController();
      const reading = store.status(group.id, { signal: controller.signal });
      await lock.waiters(1); // the read waits for the lock
      controller.abort(gone);
      await rejects(reading, gone);
      await lock.waiters(0); // cancelled in the database, while the lock is still held
    } finally {
      await lock.release();
    }
    equal((await store.status(group.id))?.state, "queued", "the connection reads again");
  },
);

postgresTest(
  "PostgresTaskStore: a row whose arguments cannot be read is adopted as unreadable, not as a failure of the rest",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    await db.admin.unsafe(`
      INSERT INTO ${db.name}.posthaste_tasks (group_id, idx, name, args, state, updated_at, owner)
      VALUES ('bad', 0, 'send', '["cut', 'queued', 0, 'gone'), ('ok', 0, 'send', '["a"]', 'queued', 0, 'gone')
    `);
    const found = await store.recover();
    deepEqual(found.map((task) => [task.id, task.args, task.unreadable !== undefined]), [
      ["bad/0", [], true],
      ["ok/0", ["a"], false],
    ]);
    match(found[0]?.unreadable ?? "", /^its arguments are not JSON \(.+\): \["cut$/);
  },
);

postgresTest(
  "PostgresTaskStore: after another server adopted its rows, a store's writes to them change nothing",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    const group = new TaskGroup({ id: "g" }).add(send, "a").add(send, "b").add(send, "c");
    await store.enqueue(group);
    const [a, b, c] = group.tasks as TaskEntry[];
    await store.attempt(Object.assign(a as TaskEntry, { state: "running", attempts: 1 }));
    // Adopted meanwhile: its claim's connection was lost, and another server took the rows.
    await db.admin.unsafe(`UPDATE ${db.name}.posthaste_tasks SET owner = 'other'`);
    store.record(Object.assign(a as TaskEntry, { state: "failed", error: "x" }));
    await store.attempt(Object.assign(b as TaskEntry, { state: "running", attempts: 1 }));
    // A task whose definition it lacks, read before the adoption (a deferred recovery).
    await store.fail({ groupId: "g", index: 2 }, "no task is defined");
    // Every task done here: the group is not deleted under the server running it now.
    store.record(Object.assign(a as TaskEntry, { state: "done", error: undefined }));
    store.record(Object.assign(b as TaskEntry, { state: "done" }));
    await store.attempt(Object.assign(c as TaskEntry, { state: "running", attempts: 1 }));
    store.record(Object.assign(c as TaskEntry, { state: "done" }));
    // Awaited through the same stream as the outcomes: they are committed before it.
    const later = new TaskGroup({ id: "h" }).add(send, "d");
    await store.enqueue(later);
    await store.attempt(Object.assign(later.tasks[0] as TaskEntry, { state: "running" }));
    const rows = await db.admin.unsafe(
      `SELECT idx, state, attempts, error, owner FROM ${db.name}.posthaste_tasks
      WHERE group_id = 'g' ORDER BY idx`,
    );
    deepEqual(
      rows.map((row) => [row.idx, row.state, row.attempts, row.error, row.owner]),
      [
        [0, "running", 1, null, "other"],
        [1, "queued", 0, null, "other"],
        [2, "queued", 0, null, "other"],
      ],
    );
  },
);

postgresTest(
  "PostgresTaskStore: an enqueue the database refuses rejects; health probes once a second",
  async (db) => {
    let now = 1_000_000;
    await using store = await PostgresTaskStore.open(db.url, {
      clock: { ...systemClock, now: () => now },
    });
    const table = `${db.name}.posthaste_tasks`;
    await db.admin.unsafe(`ALTER TABLE ${table} ADD CONSTRAINT refuse CHECK (false) NOT VALID`);
    await rejects(store.enqueue(new TaskGroup({ id: "g" }).add(send, "a")), /refuse/);
    equal(await store.health(), false, "the probe write is refused too");
    await db.admin.unsafe(`ALTER TABLE ${table} DROP CONSTRAINT refuse`);
    equal(await store.health(), false, "no second probe within the second");
    now += 1_000;
    equal(await store.health(), true);
    equal(await store.health(), true, "within the second, the probe's answer stands");
    equal(await store.status("g"), undefined, "the refused group left nothing");
    deepEqual(await store.list("", 10), [], "nor did the probe");
  },
);

postgresTest(
  "PostgresTaskStore.health(): an idle store is probed, and gives no answer while its table cannot be written",
  async (db) => {
    let now = 1_000_000;
    await using store = await PostgresTaskStore.open(db.url, {
      clock: { ...systemClock, now: () => now },
    });
    equal(await store.health(), true, "nothing on its way: a probe answers");
    const lock = await lockTable(db); // a stuck migration, or a database that froze
    try {
      now += 1_000;
      let healthy: boolean | undefined;
      const health = store.health().then((answer) => (healthy = answer));
      await lock.waiters(1); // the probe's insert
      equal(healthy, undefined, "no answer: health's deadline times it");
      await lock.release();
      equal(await health, true);
    } finally {
      await lock.release();
    }
    deepEqual(await store.list("", 10), [], "the probes left no row");
  },
);

postgresTest(
  "PostgresTaskStore.health(): a probe row left by a half-failed probe does not keep health false",
  async (db) => {
    let now = 1_000_000;
    await using store = await PostgresTaskStore.open(db.url, {
      clock: { ...systemClock, now: () => now },
    });
    const table = `${db.name}.posthaste_tasks`;
    // Progress fails (no task may be done, no row deleted); new rows still go in.
    await db.admin.unsafe(`
      ALTER TABLE ${table} ADD CONSTRAINT refuse_done CHECK (state <> 'done') NOT VALID;
      CREATE FUNCTION ${db.name}.refuse() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN RAISE EXCEPTION 'refuse_delete'; END $$;
      CREATE TRIGGER refuse_delete BEFORE DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION ${db.name}.refuse();
    `);
    const group = new TaskGroup({ id: "g" }).add(send, "a").add(send, "b");
    await store.enqueue(group);
    const [a, b] = group.tasks as TaskEntry[];
    await store.attempt(Object.assign(a as TaskEntry, { state: "running", attempts: 1 }));
    store.record(Object.assign(a as TaskEntry, { state: "done" }));
    const failed = store.attempt(Object.assign(b as TaskEntry, { state: "running", attempts: 1 }));
    await rejects(failed, /refuse_done/, "the progress stream fails");
    now += 1_000;
    equal(await store.health(), false, "the probe's insert went in, its done and delete did not");
    await db.admin.unsafe(`
      ALTER TABLE ${table} DROP CONSTRAINT refuse_done;
      DROP TRIGGER refuse_delete ON ${table};
    `);
    now += 1_000;
    equal(await store.health(), true, "the next probe is not refused by the row left behind");
    const rows = await db.admin.unsafe(`SELECT group_id FROM ${table} WHERE group_id <> 'g'`);
    equal(rows.length, 0, "and it deleted that row");
  },
);

Deno.test("PostgresTaskStore.open gives up at its signal and closes its connection (needs no database)", async () => {
  // A server that accepts connections and never answers.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `postgres://posthaste@127.0.0.1:${listener.addr.port}/posthaste`;
  await rejects(
    PostgresTaskStore.open(url, { signal: AbortSignal.abort(new Error("at once")) }),
    /at once/,
  );
  const controller = new AbortController();
  const opening = PostgresTaskStore.open(url, { signal: controller.signal });
  const conn = await listener.accept();
  controller.abort(new Error("gave up"));
  await rejects(opening, /^Error: gave up$/);
  // Whatever it sent before, the client then closed: the read ends.
  const buffer = new Uint8Array(1024);
  while (await conn.read(buffer) !== null);
  conn.close();
});

postgresTest(
  "connect(): a statement run again is planned for the table as it is now, not as it was at its first runs",
  async (db) => {
    const sql = connect(db.url, 1);
    try {
      await ensureTable(sql);
      // The store's batched UPDATE, in short: the driver prepares it once a
      // connection, and it runs more than five times while the table is empty…
      await sql.unsafe(
        "PREPARE mark(text[], int[]) AS UPDATE posthaste_tasks AS t SET attempts = t.attempts + 1 FROM unnest($1, $2) AS u(g, i) WHERE t.group_id = u.g AND t.idx = u.i",
      );
      for (let run = 0; run < 6; run++) await sql.unsafe("EXECUTE mark(array['a'], array[0])");
      // …then once 20,000 tasks wait. A plan kept from then scans them all, every batch.
      await sql`
        INSERT INTO posthaste_tasks (group_id, idx, name, args, state, updated_at, owner)
        SELECT md5(g::text), 0, 'send', '[]', 'queued', 0, 'x' FROM generate_series(1, 20000) AS g
      `;
      const plan = (await sql.unsafe("EXPLAIN EXECUTE mark(array['a'], array[0])"))
        .map((row) => String(row["QUERY PLAN"])).join("\n");
      match(plan, /Index Scan using posthaste_tasks_pkey/);
      doesNotMatch(plan, /Seq Scan/);
    } finally {
      await sql.end();
    }
  },
);

postgresTest(
  "pruneFinished keeps exactly the newest count failures (and kept successes) when they share a millisecond, and a stop's row a day past the bounds",
  async (db) => {
    const sql = connect(db.url, 1);
    try {
      await ensureTable(sql);
      await sql`
      INSERT INTO posthaste_tasks (group_id, idx, name, args, state, updated_at, owner)
      SELECT g, 0, 'fail', '[]', 'failed', 1000, 'gone' FROM unnest(${["a", "b", "c"]}::text[]) AS g
    `;
      await pruneFinished(sql, 0, 2);
      // Told apart by group id: a tie in time had pruned all three.
      const rows = async () =>
        (await sql`SELECT group_id FROM posthaste_tasks ORDER BY group_id`).map((row) =>
          row.group_id
        );
      deepEqual(await rows(), ["b", "c"]);
      // Keyed groups kept after they succeeded: the same bounds, counted apart from failures.
      const keyed = ["1", "2", "3", "4"].map((n) => `00000000-0000-8000-8000-00000000000${n}`);
      await sql`
      INSERT INTO posthaste_tasks (group_id, idx, name, args, state, updated_at, owner)
      SELECT g, 0, 'send', '[]', 'done', t, 'gone'
      FROM unnest(${keyed}::text[], ${[500, 2000, 2000, 3000]}::bigint[]) AS u(g, t)
    `;
      await pruneFinished(sql, 1000, 2);
      deepEqual(await rows(), [keyed[2], keyed[3], "b", "c"], "too old: 1; beyond the newest 2: 2");
      // A server's row saying it stops: kept a day past the bounds, its drain may still run.
      await sql`DELETE FROM posthaste_tasks`;
      await sql`
      INSERT INTO posthaste_tasks (group_id, idx, name, args, state, updated_at, owner)
      VALUES ('~probe-stopping-a', 0, 'stopping', '[]', 'done', 1000, 'a')
    `;
      await pruneFinished(sql, 2000, 0);
      deepEqual(await rows(), ["~probe-stopping-a"], "too old, and beyond the newest 0");
      await pruneFinished(sql, 1000 + 86_400_001, 0);
      deepEqual(await rows(), [], "a day past them: its server is long gone");
    } finally {
      await sql.end();
    }
  },
);

postgresTest(
  "PostgresTaskStore: a server whose own claim is free adopts nothing (two cut off together would adopt each other's work back and forth)",
  async (db) => {
    const gone = await PostgresTaskStore.open(db.url);
    await gone.enqueue(new TaskGroup({ id: "g" }).add(send, "a"));
    await gone.close(); // its rows stay, unfinished: its work to adopt
    await using proxy = proxyTo(db.url);
    const logger = keepingLogger();
    await using cutOff = await PostgresTaskStore.open(proxy.url, { logger });
    proxy.silenceNewest(); // its claim's connection, opened last: it hears nothing more...
    await db.kill(cutOff.owner); // ...and the database has no session of it: a failover
    deepEqual([await cutOff.recover(), await cutOff.recover()], [[], []]);
    equal(logger.messages.length, 1, "said once while it lasts");
    match(logger.messages[0]!, /^Adopted nothing of gone servers: this server's own/);
    await using healthy = await PostgresTaskStore.open(db.url);
    deepEqual((await healthy.recover()).map((task) => task.id), ["g/0"]);
  },
);

postgresTest(
  "PostgresTaskStore: its sessions are named for the database's views: claim, pool, intake, progress (each connection of the last three with an id)",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    equal(await store.health(), true); // a probe row in through the intake, out through progress
    const names = (await db.admin`SELECT application_name AS name FROM pg_stat_activity`)
      .map((row) => String(row.name).replace(/^(posthaste \w+) [-0-9a-f]{8,36}$/, "$1 …"));
    const expected = [
      "posthaste claim",
      "posthaste pool …",
      "posthaste intake …",
      "posthaste progress …",
    ];
    for (const name of expected) {
      ok(names.includes(name), `${name} among ${names.join(", ")}`);
    }
  },
);
