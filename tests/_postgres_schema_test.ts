// The PostgreSQL journal's table as a store opens, against a real PostgreSQL.
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { defineTask, PostgresTaskStore, TaskGroup } from "../lib/mod.ts";
import { postgresTest, type TestSchema } from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);

// A second role, which owns nothing here: the one .ci/run makes for its pooler.
const POOLED = Deno.env.get("POSTHASTE_TEST_PGBOUNCER");

/** The schema's indexes, by name. */
const indexes = async (db: TestSchema, schema = db.name) =>
  (await db.admin`
    SELECT indexname FROM pg_indexes WHERE schemaname = ${schema} ORDER BY indexname
  `).map((row) => String(row.indexname));

const MADE = [
  "posthaste_tasks_done",
  "posthaste_tasks_failed",
  "posthaste_tasks_open_by_age",
  "posthaste_tasks_pkey",
];

postgresTest(
  "PostgresTaskStore: the walk's index replaces the one by group id as a table opens",
  async (db) => {
    await (await PostgresTaskStore.open(db.url)).close();
    const made = await indexes(db);
    // As a table made before df54b4c has them.
    await db.admin.unsafe(`
      SET search_path = ${db.name};
      DROP INDEX posthaste_tasks_open_by_age;
      CREATE INDEX posthaste_tasks_open ON posthaste_tasks (owner, group_id) WHERE state NOT IN ('done', 'failed');
    `);
    // One of that name beside another schema's table, later in the search_path, stays.
    await db.admin.unsafe(`
      CREATE SCHEMA ${db.name}_other;
      CREATE TABLE ${db.name}_other.posthaste_tasks (owner text, group_id text, state text);
      CREATE INDEX posthaste_tasks_open ON ${db.name}_other.posthaste_tasks (owner, group_id);
    `);
    try {
      const url = new URL(db.url);
      url.searchParams.set("search_path", `${db.name},${db.name}_other`);
      for (let start = 0; start < 2; start++) {
        await (await PostgresTaskStore.open(url.href)).close();
      }
      deepEqual(await indexes(db), made);
      deepEqual(await indexes(db, `${db.name}_other`), ["posthaste_tasks_open"]);
    } finally {
      await db.admin.unsafe(`DROP SCHEMA ${db.name}_other CASCADE`);
    }
    deepEqual(made, MADE);
  },
);

postgresTest(
  "PostgresTaskStore: a role that may only read and write the rows runs on a table another made",
  async (db) => {
    await (await PostgresTaskStore.open(db.url)).close(); // as its owner
    const pooled = new URL(POOLED!);
    const url = new URL(db.url);
    [url.username, url.password] = [pooled.username, pooled.password];
    const role = db.admin(pooled.username);
    await db.admin`GRANT USAGE ON SCHEMA ${db.admin(db.name)} TO ${role}`;
    await db.admin`
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${db.admin(`${db.name}.posthaste_tasks`)} TO ${role}
    `;
    // As a table made before df54b4c has it: the owner's to drop, left.
    await db.admin.unsafe(`
      CREATE INDEX posthaste_tasks_open ON ${db.name}.posthaste_tasks (owner, group_id)
      WHERE state NOT IN ('done', 'failed')
    `);
    {
      // Before: "Cannot open task store …: must be owner of table posthaste_tasks".
      await using store = await PostgresTaskStore.open(url.href);
      const group = new TaskGroup().add(send, "ada@example.com");
      await store.enqueue(group);
      equal((await store.status(group.id))?.state, "queued");
      deepEqual((await store.list("", 10)).map((task) => task.id), [`${group.id}/0`]);
    }
    deepEqual(await indexes(db), [...MADE, "posthaste_tasks_open"].sort());
    // An index this version adds, missing: the owner's to make, and said so.
    await db.admin.unsafe(`DROP INDEX ${db.name}.posthaste_tasks_open_by_age`);
    await rejects(PostgresTaskStore.open(url.href), (error: Error) => {
      match(
        error.message,
        /index posthaste_tasks_open_by_age of table posthaste_tasks is missing, and only the table's owner may add it/,
      );
      return true;
    });
    // And a column: the same.
    await db.admin.unsafe(`ALTER TABLE ${db.name}.posthaste_tasks DROP COLUMN fingerprint`);
    await rejects(PostgresTaskStore.open(url.href), (error: Error) => {
      match(error.message, /column fingerprint of table posthaste_tasks is missing, and only/);
      return true;
    });
    await (await PostgresTaskStore.open(db.url)).close(); // the owner starts once
    deepEqual(await indexes(db), MADE);
    await (await PostgresTaskStore.open(url.href)).close();
  },
  POOLED === undefined,
);
