import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { GroupCommit, type SyncTarget } from "../lib/_group_commit.ts";
import { Histogram } from "../lib/mod.ts";
import { fakeClock, tempDir, turn } from "./_helpers.ts";
import { walDatabase } from "./_sqlite_journal.ts";

/** A WAL stand-in whose syncs finish when the test says. */
function gatedWal(): SyncTarget & { syncs: PromiseWithResolvers<void>[]; closed: boolean } {
  const wal = {
    syncs: [] as PromiseWithResolvers<void>[],
    closed: false,
    syncData() {
      const sync = Promise.withResolvers<void>();
      wal.syncs.push(sync);
      return sync.promise;
    },
    syncDataSync() {
      wal.syncs.push(Promise.withResolvers<void>());
    },
    close() {
      wal.closed = true;
    },
  };
  return wal;
}

function memoryDb(): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE t (v TEXT)");
  return db;
}

const rows = (db: DatabaseSync): string[] =>
  db.prepare("SELECT v FROM t ORDER BY rowid").all().map((row) => String(row.v));

Deno.test("GroupCommit: one transaction per turn; a durable batch waits for its sync, others do not", async () => {
  const db = memoryDb();
  const wal = gatedWal();
  const commits = new GroupCommit(db, wal);
  const insert = (v: string) => (d: DatabaseSync) =>
    void d.prepare("INSERT INTO t VALUES (?)").run(v);
  let durableDone = false;
  const durable = commits.write(insert("a"), true).then(() => durableDone = true);
  const same = commits.write(insert("b"), false);
  await turn();
  deepEqual(rows(db), ["a", "b"], "committed together");
  equal(wal.syncs.length, 1);
  equal(durableDone, false, "not durable before the sync");
  wal.syncs[0]?.resolve();
  await Promise.all([durable, same]);

  await commits.write(insert("c"), false);
  equal(wal.syncs.length, 1, "a batch without an enqueue resolves at commit, unsynced");
  deepEqual(rows(db), ["a", "b", "c"]);
  db.close();
});

Deno.test("GroupCommit: batches committed during a sync share the next one", async () => {
  const db = memoryDb();
  const wal = gatedWal();
  const commits = new GroupCommit(db, wal);
  const write = () => {};
  const settled: string[] = [];
  const first = commits.write(write, true).then(() => settled.push("first"));
  commits.commit();
  equal(wal.syncs.length, 1);
  const second = commits.write(write, true).then(() => settled.push("second"));
  commits.commit();
  const third = commits.write(write, true).then(() => settled.push("third"));
  commits.commit();
  equal(wal.syncs.length, 1, "no second sync while one runs");
  wal.syncs[0]?.resolve();
  await first;
  deepEqual(
    settled,
    ["first"],
    "the first sync began before the later commits: it cannot cover them",
  );
  await Promise.resolve();
  equal(wal.syncs.length, 2, "one sync for both later batches");
  wal.syncs[1]?.resolve();
  await Promise.all([second, third]);
  deepEqual(settled, ["first", "second", "third"]);
  db.close();
});

Deno.test("GroupCommit observes each sync's seconds, returned or failed", async () => {
  const db = memoryDb();
  const wal = gatedWal();
  const clock = fakeClock();
  const syncs = new Histogram([0.01, 1]);
  const commits = new GroupCommit(db, wal, { timers: clock, monotonic: clock, syncs });
  const first = commits.write(() => {}, true);
  commits.commit();
  await clock.tickAsync(4);
  wal.syncs[0]?.resolve();
  await first;
  const second = commits.write(() => {}, true);
  commits.commit();
  await clock.tickAsync(2_500);
  wal.syncs[1]?.reject(new Error("EIO"));
  await rejects(second);
  deepEqual([syncs.cumulative(), syncs.count, syncs.sum], [[1, 1], 2, 2.504]);
  db.close();
});

Deno.test("GroupCommit: a failed sync or transaction rejects its batches; close syncs what waits", async () => {
  const db = memoryDb();
  const wal = gatedWal();
  const commits = new GroupCommit(db, wal);
  const failing = commits.write(() => {}, true);
  commits.commit();
  equal(commits.failing, false);
  wal.syncs[0]?.reject(new Error("EIO"));
  await rejects(failing, /EIO/);
  equal(commits.failing, true, "a failed sync");

  const broken = commits.write((d) => d.exec("INSERT INTO missing VALUES (1)"), true);
  await rejects(broken, /no such table/);
  equal(commits.failing, true, "a failed transaction");

  const healed = commits.write((d) => void d.exec("INSERT INTO t VALUES ('healed')"), true);
  commits.commit();
  wal.syncs[1]?.resolve();
  await healed;
  equal(commits.failing, false, "a durable commit went through");

  const last = commits.write((d) => void d.exec("INSERT INTO t VALUES ('last')"), true);
  commits.close();
  await last;
  deepEqual(rows(db), ["healed", "last"]);
  equal(wal.closed, true);
  db.close();
});

Deno.test("GroupCommit: a full disk rejects its batch as such, and the next batch commits", async () => {
  const db = memoryDb();
  db.exec("PRAGMA max_page_count = 8");
  const commits = new GroupCommit(db, gatedWal());
  const insert = (v: string) => (d: DatabaseSync) =>
    void d.prepare("INSERT INTO t VALUES (?)").run(v);
  const big = commits.write(insert("x".repeat(100_000)), false);
  const other = commits.write(insert("other"), false);
  // Not "cannot rollback - no transaction is active": SQLite had rolled back.
  await rejects(big, /database or disk is full/);
  await rejects(other, /database or disk is full/, "one transaction, one outcome");
  equal(commits.failing, true);
  await commits.write(insert("small"), false);
  deepEqual(rows(db), ["small"]);
  db.close();
});

Deno.test("GroupCommit: a sync past its deadline fails what waits for it, and durable batches until it returns", async () => {
  const db = memoryDb();
  const wal = gatedWal();
  const clock = fakeClock();
  const commits = new GroupCommit(db, wal, { commitTimeoutMs: 10_000, timers: clock });
  const insert = (v: string) => (d: DatabaseSync) =>
    void d.prepare("INSERT INTO t VALUES (?)").run(v);
  const outcome = (p: Promise<void>) => p.then(() => "resolved", (e: Error) => e.message);
  const first = outcome(commits.write(insert("a"), true));
  commits.commit();
  const second = outcome(commits.write(insert("b"), true)); // waits for the next sync
  commits.commit();
  let settled = false;
  void Promise.race([first, second]).then(() => settled = true);
  await clock.tickAsync(9_999);
  equal(settled, false, "within the deadline, they wait");
  equal(commits.failing, false);
  await clock.tickAsync(1);
  const stalled =
    "Cannot commit: the journal's fdatasync has not returned in 10000 ms (a stalled disk)";
  deepEqual(await Promise.all([first, second]), [stalled, stalled]);
  equal(commits.failing, true, "health turns 503");

  const during = outcome(commits.write(insert("c"), true));
  equal(await during, stalled, "refused at its commit, not after another deadline");
  await commits.write(insert("d"), false); // marks and outcomes still go in
  equal(wal.syncs.length, 1, "no second sync while the first hangs");
  deepEqual(rows(db), ["a", "b", "c", "d"], "the callers undo the refused rows");

  wal.syncs[0]?.resolve(); // the disk is back
  await turn();
  const after = commits.write(insert("e"), true);
  commits.commit();
  equal(wal.syncs.length, 2);
  wal.syncs[1]?.resolve();
  await after;
  equal(commits.failing, false);
  db.close();
});

Deno.test("GroupCommit: checkpoints only right after a sync that returned in time, never in a commit", async () => {
  await using dir = await tempDir();
  const { db, addPage, wal: wals } = walDatabase(`${dir.path}/wal.db`);
  const wal = gatedWal();
  const clock = fakeClock();
  const commits = new GroupCommit(db, wal, { commitTimeoutMs: 10_000, timers: clock });
  // Outcomes only (no enqueue, so no sync of their own) until the WAL holds 1,000 frames.
  while (wals().log < 1_000) await commits.write(addPage, false);
  equal(wal.syncs.length, 1, "a sync began for the checkpoint");
  await commits.write(addPage, false);
  equal(wals().checkpointed, 0, "no commit checkpoints: its fsyncs would stop the event loop");

  await clock.tickAsync(10_000); // the disk stalls
  equal(commits.failing, true, "the stall shows in health without any enqueue");
  wal.syncs[0]?.resolve(); // late
  await turn();
  equal(wals().checkpointed, 0, "not after a sync that came late");
  equal(wal.syncs.length, 2, "another sync looks whether the disk answers in time");
  wal.syncs[1]?.resolve();
  await turn();
  const after = wals();
  ok(after.log >= 1_000 && after.checkpointed === after.log, "checkpointed after it");
  equal(wal.syncs.length, 2, "and nothing more");
  commits.close();
  db.close();
});

Deno.test("GroupCommit: a commit refused for a full disk brings a checkpoint of what the WAL holds", async () => {
  await using dir = await tempDir();
  const { db, addPage, wal: wals } = walDatabase(`${dir.path}/wal.db`);
  const wal = gatedWal();
  const commits = new GroupCommit(db, wal, { timers: fakeClock() });
  for (let i = 0; i < 10; i++) await commits.write(addPage, false);
  await rejects(commits.write((d) => d.exec("INSERT INTO missing VALUES (1)"), false));
  equal(wal.syncs.length, 0, "another error: no checkpoint is due at 10 frames");
  await rejects(
    commits.write(() => {
      throw new Error("database or disk is full");
    }, false),
  );
  equal(wal.syncs.length, 1, "a sync, then the checkpoint");
  wal.syncs[0]?.resolve();
  await turn();
  const { log, checkpointed } = wals();
  ok(log >= 10 && checkpointed === log, "the WAL may start over in the file it has");
  commits.close();
  db.close();
});
