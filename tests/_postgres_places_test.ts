// The places of sharedConcurrency in PostgreSQL (lib/_postgres_places.ts):
// advisory locks on the claim's session, shared by the stores on one schema.
import { deepEqual, equal, ok } from "node:assert/strict";
import { PostgresTaskStore, TaskGroup } from "../lib/mod.ts";
import { gatedTask, TestRunner } from "./_helpers.ts";
import { postgresTest, type TestSchema } from "./_postgres.ts";

/** How many places of `name` the sessions on `db` hold now. */
async function locksOf(db: TestSchema, name: string): Promise<number> {
  const [row] = await db.admin`
    SELECT count(*)::int AS held FROM pg_locks
    WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND mode = 'ExclusiveLock'
    AND classid = hashtext(${db.name} || ' posthaste place ' || ${name})::oid
  `;
  return row?.held as number;
}

/** Waits, by round trips (no sleeps), until the sessions on `db` hold `count` places of `name`. */
async function untilLocks(db: TestSchema, name: string, count: number): Promise<void> {
  let held = -1;
  for (let look = 0; look < 1_000 && held !== count; look++) held = await locksOf(db, name);
  equal(held, count, `places of ${name} held`);
}

postgresTest(
  "PostgreSQL places: stores on one schema share them; one given back, or a holder's session ended, is free again",
  async (db) => {
    await using a = await PostgresTaskStore.open(db.url);
    await using b = await PostgresTaskStore.open(db.url);
    deepEqual(
      [
        await a.sharedPlaces.take("mail", 2),
        await a.sharedPlaces.take("mail", 2),
        await b.sharedPlaces.take("mail", 2),
        await b.sharedPlaces.take("other", 2),
      ],
      [true, true, false, true],
    );
    equal(await locksOf(db, "mail"), 2);
    a.sharedPlaces.give("mail");
    await untilLocks(db, "mail", 1); // its unlock, on its own session
    deepEqual([await b.sharedPlaces.take("mail", 2), await b.sharedPlaces.take("mail", 2)], [
      true,
      false,
    ]);
    await db.kill(a.owner); // as its process dying would
    deepEqual([await b.sharedPlaces.take("mail", 2), await locksOf(db, "mail")], [true, 2]);
  },
);

postgresTest("PostgreSQL places: a take locks one place, however many are free", async (db) => {
  await using store = await PostgresTaskStore.open(db.url);
  equal(await store.sharedPlaces.take("mail", 5), true);
  equal(await locksOf(db, "mail"), 1);
  store.sharedPlaces.give("mail");
  store.sharedPlaces.give("mail"); // none held: nothing to give
  await untilLocks(db, "mail", 0);
  equal(await store.sharedPlaces.take("mail", 1), true, "the place given back is free");
});

postgresTest(
  "PostgreSQL places: a store that lost its claim's session forgets the places it held, and takes them afresh",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    deepEqual(
      [await store.sharedPlaces.take("mail", 1), await store.sharedPlaces.take("mail", 1)],
      [
        true,
        false,
      ],
    );
    await db.kill(store.owner);
    equal(await locksOf(db, "mail"), 0);
    equal(await store.sharedPlaces.take("mail", 1), true, "not refused for a place it lost");
    equal(await locksOf(db, "mail"), 1);
  },
);

postgresTest(
  "PostgreSQL places: two runners on two stores run a task of sharedConcurrency 1 one at a time, taking turns",
  async (db) => {
    await using a = await PostgresTaskStore.open(db.url);
    await using b = await PostgresTaskStore.open(db.url);
    const mail = gatedTask("mail", { sharedConcurrency: 1 });
    await using runnerA = new TestRunner({ journal: a });
    await using runnerB = new TestRunner({ journal: b });
    const labels = ["a1", "b1", "a2", "b2"];
    const groups = labels.map((label) => new TaskGroup().add(mail.task, label));
    for (const [i, group] of groups.entries()) await (i % 2 ? b : a).enqueue(group);
    let next = mail.nextStart();
    for (const [i, group] of groups.entries()) (i % 2 ? runnerB : runnerA).submit(group);
    for (const _ of labels) {
      await next;
      equal(mail.counts.running, 1);
      next = mail.nextStart();
      mail.end(mail.started.at(-1)!);
    }
    await Promise.all([runnerA.idle(), runnerB.idle()]);
    deepEqual([mail.started.toSorted(), mail.counts.most], [labels.toSorted(), 1]);
    // Each gives its place back to the other, which waits: a, b, a, b (or b first).
    const servers = mail.started.map((label) => label[0]).join("");
    ok(servers === "abab" || servers === "baba", servers);
  },
);
