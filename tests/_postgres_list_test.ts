// PostgreSQL's walk of deferred work, by acceptance, against a real PostgreSQL.
import { deepEqual } from "node:assert/strict";
import { defineTask, PostgresTaskStore, type StoredTask, TaskGroup } from "../lib/mod.ts";
import { acceptedField } from "../lib/_status_times.ts";
import { TestRunner } from "./_helpers.ts";
import { postgresTest } from "./_postgres.ts";

const send = defineTask("send", (to: string) => void to);
const ids = (tasks: StoredTask[]) => tasks.map((task) => task.id);

postgresTest(
  "PostgresTaskStore.list: pages in the order the groups were accepted, whatever their ids",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    // Ids that sort unlike the groups' acceptance, as an Idempotency-Key's hash does.
    const groups = [["z", 1_000], ["a", 3_000], ["m", 2_000]].map(([id, at]) => {
      const group = new TaskGroup({ id: String(id) }).add(send, `${id}0`).add(send, `${id}1`);
      acceptedField.set(group, Date.UTC(2026, 11, 1) + Number(at));
      return group;
    });
    for (const group of groups) await store.enqueue(group);
    // Before: "a" first, then "m", then "z", accepted first.
    deepEqual(ids(await store.list("", 1)), ["z/0", "z/1"]);
    deepEqual(ids(await store.list("z", 1)), ["m/0", "m/1"]);
    deepEqual(ids(await store.list("m", 5)), ["a/0", "a/1"]);
    deepEqual(ids(await store.list("a", 5)), [], "the journal's end");
    deepEqual(
      ids(await store.list("z", 5)),
      ["m/0", "m/1", "a/0", "a/1"],
      "after one not on the last page",
    );

    // "m" ends, and its rows go, while the last page holds only "z".
    deepEqual(ids(await store.list("", 1)), ["z/0", "z/1"]);
    await using runner = new TestRunner({ journal: store });
    runner.submit(groups[2] as TaskGroup);
    await runner.idle();
    await store.enqueue(new TaskGroup().add(send, "flush")); // commits m's outcomes, and deletes it
    deepEqual(
      ids(await store.list("m", 2)),
      ["z/0", "z/1", "a/0", "a/1"],
      "after a group that is gone: from the first",
    );

    // A group journaled before acceptance times were: first, as adoption sorts it.
    await db.admin.unsafe(
      `UPDATE ${db.name}.posthaste_tasks SET created_at = NULL WHERE group_id = 'a'`,
    );
    deepEqual(ids(await store.list("", 1)), ["a/0", "a/1"]);
    deepEqual(ids(await store.list("a", 1)), ["z/0", "z/1"]);
  },
);
