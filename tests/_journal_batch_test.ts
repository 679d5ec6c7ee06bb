import { deepEqual, equal } from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { GroupCommit, type SyncTarget } from "../lib/_group_commit.ts";
import { JournalWriter } from "../lib/_journal_batch.ts";
import { openJournal } from "../lib/_journal_schema.ts";
import type { TaskEntry } from "../lib/task_entry.ts";

/** A WAL stand-in that counts its syncs, which finish at once. */
function countingWal(): SyncTarget & { syncs: number } {
  const wal = {
    syncs: 0,
    syncData: () => (wal.syncs++, Promise.resolve()),
    syncDataSync: () => void wal.syncs++,
    close: () => {},
  };
  return wal;
}

function journal(): { db: DatabaseSync; commits: GroupCommit; writer: JournalWriter } {
  const db = openJournal(":memory:");
  const commits = new GroupCommit(db, countingWal());
  return { db, commits, writer: new JournalWriter(commits, db) };
}

type Row = [group: string, index: number, state: string, attempts: number, error: string | null];

function tasks(db: DatabaseSync): Row[] {
  return db.prepare(
    "SELECT group_id, idx, state, attempts, error, typeof(attempts) AS t FROM tasks ORDER BY group_id, idx",
  ).all().map((row) => {
    equal(row.t, "integer", "numbers are stored as integers");
    return [
      String(row.group_id),
      Number(row.idx),
      String(row.state),
      Number(row.attempts),
      row
        .error as string | null,
    ];
  });
}

const id = (n: number) => `g${String(n).padStart(4, "0")}`;
/** The fields of a task the journal marks. */
const task = (groupId: string, index: number, attempts: number, error?: string) =>
  ({ group: { id: groupId }, index, attempts, error, durationMs: 5 }) as unknown as TaskEntry;

Deno.test("JournalWriter writes any number of rows of each kind in one transaction", () => {
  // 0 to 130 rows: every chunk size (64, 32 … 1) and more than one chunk of 64.
  for (const count of [0, 1, 2, 3, 63, 64, 65, 127, 130]) {
    const { db, commits, writer } = journal();
    const ids = Array.from({ length: count }, (_, n) => id(n));
    for (const group of ids) {
      const { pending } = writer.rows(true);
      pending.insert(group, 0, "send", '["a"]', 1);
      pending.insert(group, 1, "send", '["b"]', 1, -1, `fp-${group}`); // as a keyed group's
    }
    commits.commit();
    equal(tasks(db).length, 2 * count, `${count} groups inserted`);
    deepEqual(
      db.prepare("SELECT group_id, fingerprint FROM tasks WHERE idx = 1 ORDER BY group_id").all()
        .map((row) => [row.group_id, row.fingerprint]),
      ids.map((group) => [group, `fp-${group}`]),
      `${count} keyed inserts`,
    );
    for (const group of ids) {
      writer.rows(false).pending.mark("running", task(group, 1, 2, "boom"), 2);
    }
    commits.commit();
    deepEqual(
      tasks(db).filter(([, , state]) => state === "running"),
      ids.map((group): Row => [group, 1, "running", 2, "boom"]),
      `${count} attempt marks`,
    );
    for (const group of ids) writer.rows(false).pending.mark("done", task(group, 1, 3), 3);
    commits.commit();
    deepEqual(
      tasks(db).filter(([, , state]) => state === "done"),
      ids.map((group): Row => [group, 1, "done", 3, null]),
      `${count} kept outcomes`,
    );
    for (const group of ids.slice(0, count - 1)) writer.rows(false).pending.forget(group);
    commits.commit();
    equal(tasks(db).length, count === 0 ? 0 : 2, `${count - 1} groups deleted`);
    db.close();
  }
});

Deno.test("JournalWriter keeps rows and write functions in the order they were queued", async () => {
  const { db, writer } = journal();
  const seen: number[] = [];
  const count = (d: DatabaseSync) =>
    void seen.push(Number(d.prepare("SELECT count(*) AS n FROM tasks").get()?.n));
  writer.rows(false).pending.insert("a", 0, "send", "[]", 1);
  writer.write(count);
  const last = writer.rows(false);
  last.pending.insert("b", 0, "send", "[]", 1);
  writer.write(count);
  await last.batch;
  deepEqual(seen, [1, 2], "each function sees the rows queued before it, and only those");
  db.close();
});

Deno.test("JournalWriter: a durable row makes its whole transaction durable", async () => {
  const db = openJournal(":memory:");
  const wal = countingWal();
  const commits = new GroupCommit(db, wal);
  const writer = new JournalWriter(commits, db);
  writer.rows(false).pending.insert("a", 0, "send", "[]", 1);
  const { batch, pending } = writer.rows(true);
  pending.insert("b", 0, "send", "[]", 1);
  await batch;
  equal(wal.syncs, 1, "the transaction opened without a sync was synced");
  await writer.rows(false).batch;
  equal(wal.syncs, 1, "a transaction without a durable row is not");
  db.close();
});

Deno.test("JournalWriter agrees with one statement per row, over any sequence of writes and commits", () => {
  // A model of the journal's rows: enqueue a group, mark its task running or
  // done (kept), delete it, or change it through a write function, with
  // commits between.
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("insert" as const),
      group: fc.nat(20),
      tasks: fc.integer({ min: 1, max: 3 }),
      keyed: fc.boolean(),
    }),
    fc.record({ kind: fc.constant("running" as const), group: fc.nat(20), attempts: fc.nat(5) }),
    fc.record({ kind: fc.constant("forget" as const), group: fc.nat(20) }),
    fc.record({ kind: fc.constant("done" as const), group: fc.nat(20), attempts: fc.nat(5) }),
    fc.record({ kind: fc.constant("fail" as const), group: fc.nat(20) }),
    fc.record({ kind: fc.constant("commit" as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const { db, commits, writer } = journal();
      const model = new Map<string, Row>();
      const inserted = new Set<string>();
      const keyed = new Set<string>();
      // As in the store, a task is marked, and its group deleted, only once
      // its insert is committed; and a task marked done is not marked again
      // (done is a kept group's last outcome; a batch writes its running
      // marks before its done marks).
      const committed = new Set<string>();
      const done = new Set<string>();
      for (const step of ops) {
        if (step.kind === "commit") {
          commits.commit();
          for (const group of inserted) committed.add(group);
          continue;
        }
        const group = id(step.group);
        if (step.kind === "insert") {
          // A group is enqueued once: its id is new.
          if (inserted.has(group)) continue;
          inserted.add(group);
          for (let index = 0; index < step.tasks; index++) {
            const fingerprint = step.keyed ? `fp-${group}` : null;
            writer.rows(true).pending.insert(group, index, "send", "[]", 1, -1, fingerprint);
            if (fingerprint !== null) keyed.add(group);
            model.set(`${group}/${index}`, [group, index, "queued", 0, null]);
          }
        } else if (step.kind === "running") {
          if (!committed.has(group) || done.has(group)) continue;
          writer.rows(false).pending.mark("running", task(group, 0, step.attempts), 2);
          const row = model.get(`${group}/0`);
          if (row) model.set(`${group}/0`, [group, 0, "running", step.attempts, null]);
        } else if (step.kind === "done") {
          if (!committed.has(group)) continue;
          done.add(group);
          writer.rows(false).pending.mark("done", task(group, 0, step.attempts), 2);
          const row = model.get(`${group}/0`);
          if (row) model.set(`${group}/0`, [group, 0, "done", step.attempts, null]);
        } else if (step.kind === "forget") {
          if (!committed.has(group)) continue;
          writer.rows(false).pending.forget(group);
          for (const key of [...model.keys()]) if (key.startsWith(`${group}/`)) model.delete(key);
        } else {
          writer.write((d) =>
            void d.prepare("UPDATE tasks SET state = 'failed', error = 'x' WHERE group_id = ?")
              .run(group)
          );
          for (const [key, row] of model) {
            if (row[0] === group) model.set(key, [row[0], row[1], "failed", row[3], "x"]);
          }
        }
      }
      commits.commit();
      deepEqual(
        tasks(db),
        [...model.values()].sort((a, b) => `${a[0]}/${a[1]}` < `${b[0]}/${b[1]}` ? -1 : 1),
      );
      for (const row of db.prepare("SELECT group_id, fingerprint FROM tasks").all()) {
        const group = String(row.group_id);
        equal(row.fingerprint, keyed.has(group) ? `fp-${group}` : null);
      }
      db.close();
    }),
    { numRuns: 100 },
  );
});
