// The places of sharedConcurrency in PostgreSQL (lib/_postgres_places.ts):
// advisory locks on the claim's session, shared by the stores on one schema.
import { deepEqual, equal, ok } from "node:assert/strict";
import { PostgresTaskStore, TaskGroup } from "../lib/mod.ts";
import { PostgresPlaces } from "../lib/_postgres_places.ts";
import { connect } from "../lib/_postgres_pool.ts";
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
    // Its session ends (a live store would take its place again: see below).
    await a.close();
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
  "PostgreSQL places: a store that lost its claim's session takes a place again for the attempt still running on it",
  async (db) => {
    await using store = await PostgresTaskStore.open(db.url);
    deepEqual(
      [await store.sharedPlaces.take("mail", 1), await store.sharedPlaces.take("mail", 1)],
      [true, false],
    );
    await db.kill(store.owner);
    // The claim, taken again on a new session, takes the place again: the
    // attempt that held it has not given it back. It had been free meanwhile.
    await untilLocks(db, "mail", 1);
    equal(await store.sharedPlaces.take("mail", 1), false, "its attempt still runs on it");
    store.sharedPlaces.give("mail");
    await untilLocks(db, "mail", 0);
    equal(await store.sharedPlaces.take("mail", 1), true);
  },
);

/** Places on a connection of their own, and how to end its session as a cut would. */
function placesOnOwnSession(db: TestSchema, owner: string) {
  const sql = connect(db.url, 1);
  const places = new PostgresPlaces(() => sql, owner);
  return {
    places,
    /** Ends the session (its locks go with it) and tells the places, as the claim does. */
    async cut() {
      const [row] = await sql`SELECT pg_backend_pid() AS pid`;
      await db.admin`SELECT pg_terminate_backend(${row?.pid as number}, 5000)`;
      places.lost();
    },
    [Symbol.asyncDispose]: () => sql.end(),
  };
}

postgresTest(
  "PostgreSQL places: a place another server took while this one's session was lost stays its own; the attempt that lost it ends without giving another back",
  async (db) => {
    await using a = placesOnOwnSession(db, "a");
    await using b = placesOnOwnSession(db, "b");
    deepEqual([await a.places.take("mail", 2), await a.places.take("mail", 2)], [true, true]);
    await a.cut();
    equal(await b.places.take("mail", 2), true, "free while no session holds it");
    await a.places.retake();
    equal(await locksOf(db, "mail"), 2, "a took one again, b keeps its own");
    // a's two attempts end: the first had no place to give back; the second gives its own.
    equal(await a.places.give("mail"), false);
    equal(await locksOf(db, "mail"), 2);
    await a.places.give("mail");
    equal(await locksOf(db, "mail"), 1);
    deepEqual([await a.places.take("mail", 2), await a.places.take("mail", 2)], [true, false]);
  },
);

postgresTest(
  "PostgreSQL places: a retake takes no place for attempts that ended while it was lost, nor one its session holds already",
  async (db) => {
    await using a = placesOnOwnSession(db, "a");
    equal(await a.places.take("mail", 3), true);
    equal(await a.places.take("mail", 3), true);
    await a.cut();
    await a.places.give("mail"); // one of the two attempts ended meanwhile
    equal(await a.places.take("mail", 3), true, "a new attempt, on the new session");
    await a.places.retake();
    equal(await locksOf(db, "mail"), 2, "the new attempt's, and one taken again");
    deepEqual([await a.places.take("mail", 3), await a.places.take("mail", 3)], [true, false]);
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

postgresTest(
  "PostgreSQL places: a take beside a retake does not count one place twice (a lock is re-entrant)",
  async (db) => {
    await using a = placesOnOwnSession(db, "a");
    equal(await a.places.take("mail", 2), true);
    await a.cut();
    // Each chose among the same free places; the session runs them in turn.
    deepEqual(await Promise.all([a.places.take("mail", 2), a.places.retake()]), [true, undefined]);
    equal(await locksOf(db, "mail"), 2, "two places for two attempts");
    equal(await a.places.take("mail", 2), false);
  },
);
