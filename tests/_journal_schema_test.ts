import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { defineTask, DuplicateGroupError, SqliteTaskStore, TaskGroup } from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

Deno.test("SqliteTaskStore upgrades version 1 and 2 journals in place and refuses a newer one", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tasks.db`;
  const { DatabaseSync } = await import("node:sqlite");
  const old = new DatabaseSync(path);
  // The version 1 schema, as the first release wrote it.
  const at = Date.now(); // inside the retention: the done row must survive the upgrade
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
      ('g/0', 'g', 0, 'send', '["ada@example.com"]', 'done', 1, ${at}),
      ('g/1', 'g', 1, 'send', '["bob@example.com"]', 'queued', 1, ${at}),
      ('ok/0', 'ok', 0, 'send', '["eve@example.com"]', 'done', 1, ${at});
    PRAGMA user_version = 1;
  `);
  old.close();
  {
    using store = SqliteTaskStore.open(path);
    deepEqual(store.recover().map((task) => [task.id, task.args, task.attempts]), [
      ["g/1", ["bob@example.com"], 1],
    ]);
    deepEqual(store.status("g")?.tasks.map((task) => task.state), ["done", "queued"]);
    equal(store.status("ok"), undefined, "a group that succeeded is not kept");
  }
  const indexes = (db: InstanceType<typeof DatabaseSync>) =>
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").all()
      .map((row) => row.name);
  const columns = (db: InstanceType<typeof DatabaseSync>) =>
    db.prepare("PRAGMA table_info(tasks)").all().map((row) => row.name);
  // Version 2: the same table, an index of open rows instead of failed ones, done groups kept.
  const v2 = new DatabaseSync(path);
  deepEqual(indexes(v2), ["tasks_done", "tasks_failed", "tasks_keys"]);
  deepEqual(columns(v2).slice(-4), ["updated_at", "fingerprint", "key_id", "created_at"]);
  v2.exec(`
    DROP INDEX tasks_keys;
    ALTER TABLE tasks DROP COLUMN created_at;
    ALTER TABLE tasks DROP COLUMN key_id;
    ALTER TABLE tasks DROP COLUMN fingerprint;
    DROP INDEX tasks_failed;
    DROP INDEX tasks_done;
    CREATE INDEX tasks_open ON tasks (state) WHERE state NOT IN ('done', 'failed');
    INSERT INTO tasks (group_id, idx, name, args, state, updated_at)
      VALUES ('ok', 0, 'send', '[]', 'done', ${at});
    PRAGMA user_version = 2;
  `);
  v2.close();
  {
    using store = SqliteTaskStore.open(path);
    equal(store.status("ok"), undefined);
    deepEqual(store.recover().map((task) => task.id), ["g/1"]);
  }
  const newer = new DatabaseSync(path);
  deepEqual(indexes(newer), ["tasks_done", "tasks_failed", "tasks_keys"]);
  deepEqual(columns(newer).slice(-4), ["updated_at", "fingerprint", "key_id", "created_at"]);
  // A version 3 journal of the releases before: its index of done rows, and
  // its columns of request fingerprints, key ids and acceptance times, are
  // added as it opens; a group kept for its Idempotency-Key, written under
  // its own id, is found by it from then on; when a group was accepted is
  // not known.
  const keyed = "5b1ef0c2-1111-8222-9333-444455556666";
  newer.exec(`
    DROP INDEX tasks_done; DROP INDEX tasks_keys; ALTER TABLE tasks DROP COLUMN created_at;
    ALTER TABLE tasks DROP COLUMN key_id; ALTER TABLE tasks DROP COLUMN fingerprint;
    INSERT INTO tasks (group_id, idx, name, args, state, updated_at) VALUES
      ('${keyed}', 0, 'send', '["kim@example.com"]', 'done', ${at}),
      ('${keyed}', 1, 'send', '["lee@example.com"]', 'queued', ${at});
  `);
  newer.close();
  {
    using store = SqliteTaskStore.open(path);
    deepEqual(store.status(keyed)?.tasks.map((task) => task.state), ["done", "queued"]);
    equal(store.status(keyed)?.acceptedAt, null);
    deepEqual(store.recover().map((task) => [task.id, task.acceptedAt]), [
      [`${keyed}/1`, undefined],
      ["g/1", undefined],
    ]);
    await rejects(store.enqueue(new TaskGroup({ id: keyed })), DuplicateGroupError);
  }
  const reopened = new DatabaseSync(path);
  deepEqual(indexes(reopened), ["tasks_done", "tasks_failed", "tasks_keys"]);
  deepEqual(columns(reopened).slice(-4), ["updated_at", "fingerprint", "key_id", "created_at"]);
  reopened.close();
  const newest = new DatabaseSync(path);
  newest.exec("PRAGMA user_version = 4");
  newest.close();
  throws(() => SqliteTaskStore.open(path), /schema 4, expected 3/);
});

Deno.test("a new journal and its WAL are readable by their owner only; an existing file keeps its mode", async () => {
  await using dir = await tempDir();
  const modeOf = (file: string) => Deno.statSync(file).mode! & 0o777;
  const path = `${dir.path}/tasks.db`;
  {
    using store = SqliteTaskStore.open(path);
    await store.enqueue(new TaskGroup().add(defineTask("t", (_: string) => {}), "ada@example.com"));
    equal(modeOf(path), 0o600);
    equal(modeOf(`${path}-wal`), 0o600);
  }
  const shared = `${dir.path}/shared.db`;
  Deno.writeFileSync(shared, new Uint8Array(), { mode: 0o640 });
  Deno.chmodSync(shared, 0o640); // past the umask
  {
    using _store = SqliteTaskStore.open(shared);
  }
  equal(modeOf(shared), 0o640);
});
