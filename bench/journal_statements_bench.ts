// What SQLite itself costs the journal: the three statements of a task's
// life (enqueue, attempt mark, delete of the finished group), 30 tasks to a
// commit as under load, on the journal's schema. In memory there is no I/O at
// all; on a file the WAL is written (synchronous = NORMAL) but never synced.
// The per-task cost is the time per iteration / 30. One statement per row
// against the multi-row statements the store writes (`JournalWriter`).
import type { DatabaseSync } from "node:sqlite";
import { GroupCommit } from "../lib/_group_commit.ts";
import { JournalWriter } from "../lib/_journal_batch.ts";
import { openJournal } from "../lib/_journal_schema.ts";
import type { TaskEntry } from "../lib/task_entry.ts";

const TASKS = 30;
const dir = await Deno.makeTempDir({ prefix: "posthaste_statements_bench_" });
const args = JSON.stringify(["user1@example.com", "some notification"]);
let next = 0;
// Time-ordered like the UUIDv7 group ids the server makes, so inserts append.
const groupId = (): string =>
  `019ad${(next++).toString(16).padStart(11, "0")}-7abc-8def-0123456789ab`;

const group = `three statements for each of ${TASKS} tasks, a commit per statement kind`;

function bench(name: string, db: DatabaseSync, baseline = false): void {
  const insert = db.prepare(
    "INSERT INTO tasks (group_id, idx, name, args, state, updated_at) VALUES (?, 0, 'send', ?, 'queued', ?)",
  );
  // The store's own statement: its attempt marks and outcomes share it.
  const mark = db.prepare(
    "UPDATE tasks SET state = ?, attempts = ?, next_at = ?, error = ?, duration_ms = ?, updated_at = ? WHERE group_id = ? AND idx = ?",
  );
  const forget = db.prepare("DELETE FROM tasks WHERE group_id = ?");
  const transaction = (write: (id: string) => void, ids: string[]): void => {
    db.exec("BEGIN IMMEDIATE");
    for (const id of ids) write(id);
    db.exec("COMMIT");
  };
  // Groups finish a few batches after they were enqueued, as under load.
  const inFlight: string[][] = [];
  Deno.bench({
    name,
    group,
    baseline,
    fn() {
      const ids = Array.from({ length: TASKS }, groupId);
      transaction((id) => insert.run(id, args, Date.now()), ids);
      transaction((id) => mark.run("running", 1, 0, null, 0, Date.now(), id, 0), ids);
      inFlight.push(ids);
      if (inFlight.length > 4) transaction((id) => forget.run(id), inFlight.shift() ?? []);
    },
  });
}

function multiRow(name: string, db: DatabaseSync): void {
  // Never synced: only the commit is measured.
  const wal = { syncData: () => Promise.resolve(), syncDataSync() {}, close() {} };
  const commits = new GroupCommit(db, wal);
  const writer = new JournalWriter(commits, db);
  const inFlight: string[][] = [];
  Deno.bench({
    name,
    group,
    fn() {
      const ids = Array.from({ length: TASKS }, groupId);
      for (const id of ids) writer.rows(false).pending.insert(id, 0, "send", args, Date.now());
      commits.commit();
      for (const id of ids) {
        const entry = {
          group: { id },
          index: 0,
          attempts: 1,
          durationMs: 0,
        } as unknown as TaskEntry;
        writer.rows(false).pending.mark("running", entry, Date.now());
      }
      commits.commit();
      inFlight.push(ids);
      if (inFlight.length > 4) {
        for (const id of inFlight.shift() ?? []) writer.rows(false).pending.forget(id);
        commits.commit();
      }
    },
  });
}

bench("in memory (no I/O)", openJournal(":memory:"), true);
multiRow("in memory, multi-row statements (the store's)", openJournal(":memory:"));
bench("file, WAL written, never synced", openJournal(`${dir}/tasks.db`));
multiRow("file, multi-row statements (the store's)", openJournal(`${dir}/multi.db`));

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
