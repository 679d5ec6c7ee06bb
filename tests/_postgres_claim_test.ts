// The journal claim (lib/_postgres_claim.ts): its connection is asked every
// few seconds whether it answers; one that does not is given up for a new one.
import { deepEqual, equal, notEqual, rejects } from "node:assert/strict";
import postgres, { type Sql } from "postgres";
import { CHECK_MS, OwnerClaim, SETTLE_MS, SLOW_MS, STALL_MS } from "../lib/_postgres_claim.ts";
import { checkUnshared, lockClaim, retakeClaim } from "../lib/_postgres_claim_sql.ts";
import { fakeClock, keepingLogger, within } from "./_helpers.ts";
import { connectTimeout, fakeSql, postgresTest, proxyTo, refusal, until } from "./_postgres.ts";

/**
 * A logger whose messages' properties are awaited in turn, each for at most
 * 10 s of real time: the database is asked in real time, on a fake clock.
 */
function awaitedLogger() {
  const told: PromiseWithResolvers<Record<string, unknown>>[] = [];
  let [kept, read] = [0, 0];
  const at = (i: number) => told[i] ??= Promise.withResolvers();
  const keep = (_: string, properties: Record<string, unknown>) => at(kept++).resolve(properties);
  const next = () =>
    within(at(read++).promise, 10_000, "Cannot read the next message: none in 10 s");
  return { logger: { info: keep, warn: keep, error: keep }, next };
}

postgresTest(
  "OwnerClaim: a connection that stops answering while its session idles in the database (a network cut) is given up at once, and the claim and its places taken on a new one",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const { logger, next } = awaitedLogger();
    const owner = crypto.randomUUID();
    const claim = await OwnerClaim.take(proxy.url, owner, logger, clock);
    try {
      const [old] = await db.claimHolders(owner);
      equal(await claim.places.take("mail", 1), true);
      proxy.silenceNewest(); // the claim's connection: nothing passes, either way
      const unanswered = rejects(claim.places.take("other", 1)); // sent into the silence
      await clock.tickAsync(CHECK_MS); // the check goes the same way
      await clock.tickAsync(SLOW_MS); // no answer: the database is asked (in real time)
      equal(
        (await next()).why,
        "gave no answer, and its session in the database is idle: the question or its answer was lost",
      );
      await unanswered; // ended with the connection given up: the lane looks again later
      // The database kept the old session, with the claim and the place (its
      // host lives: the proxy holds its end open); the new session ended it.
      equal(await claim.places.take("mail", 1), true, "the place of the old session, afresh");
      await next(); // "Lost the journal claim's connection…"
      await next(); // "Took the journal claim … again", the old session ended first
      const now = await db.claimHolders(owner);
      equal(now.length, 1, "one session holds the claim");
      notEqual(now[0], old, "the new one");
    } finally {
      await claim.close();
    }
  },
);

postgresTest(
  "OwnerClaim: a connection whose session runs a query in the database is waited for, and given up after STALL_MS",
  async (db) => {
    const clock = fakeClock();
    const { logger, next } = awaitedLogger();
    const owner = crypto.randomUUID();
    const claim = await OwnerClaim.take(db.url, owner, logger, clock);
    // Another session holds the one place of "mail" and its waiting lock, so
    // the claim's take of a place waits in the database: a slow database.
    const key = db.admin`SELECT hashtext(${db.name} || ' posthaste place ' || 'mail') AS k`;
    const [{ k }] = await key as unknown as [{ k: number }];
    await db.admin`SELECT pg_advisory_lock(${k}, 0), pg_advisory_lock(${k}, -1)`;
    try {
      const [old] = await db.claimHolders(owner);
      const waiting = claim.places.take("mail", 1).catch(() => "ended");
      await until(
        async () =>
          (await db.admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${old!}
            AND state = 'active' AND wait_event_type = 'Lock'`).length > 0,
        "the claim's session waiting for the place",
      );
      await clock.tickAsync(CHECK_MS);
      await clock.tickAsync(SLOW_MS); // no answer: the database is asked (in real time)
      equal((await next()).said, "its session in the database runs a query", "waited for");
      await clock.tickAsync(STALL_MS - SLOW_MS);
      equal((await next()).why, "gave no answer in 30000 ms");
      equal(await waiting, "ended", "with the session given up");
      await next(); // "Lost the journal claim's connection…"
      await next(); // "Took the journal claim … again", the old session ended first
      const now = await db.claimHolders(owner);
      deepEqual([now.length, now[0] === old], [1, false]);
    } finally {
      await db.admin`SELECT pg_advisory_unlock_all()`;
      await claim.close();
    }
  },
);

postgresTest(
  "OwnerClaim: a connection that stops answering while the database holds no claim (a failover) is given up at once",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const { logger, next } = awaitedLogger();
    const owner = crypto.randomUUID();
    const claim = await OwnerClaim.take(proxy.url, owner, logger, clock);
    try {
      equal(claim.steady, true, "taken at the start: no settling");
      const [old] = await db.claimHolders(owner);
      proxy.silenceNewest(); // the client hears nothing more...
      await db.kill(owner); // ...and the database no longer has the session: a new host
      await clock.tickAsync(CHECK_MS);
      await clock.tickAsync(SLOW_MS); // no answer: the database is asked (in real time)
      equal((await next()).why, "gave no answer, and the database holds no claim for it");
      equal(claim.steady, false, "taking it again: this server adopts nothing");
      equal(await claim.places.take("mail", 1), true, "on the new session");
      await next(); // "Lost the journal claim's connection…"
      await next(); // "Took the journal claim … again"
      const now = await db.claimHolders(owner);
      deepEqual([now.length, now[0] === old], [1, false]);
      equal(claim.steady, false, "held, but peers cut off alike may not hold theirs yet");
      await clock.tickAsync(SETTLE_MS);
      equal(claim.steady, true);
    } finally {
      await claim.close();
    }
  },
);

postgresTest("OwnerClaim: a connection that answers its checks is kept", async (db) => {
  const clock = fakeClock();
  const logger = keepingLogger();
  const owner = crypto.randomUUID();
  const claim = await OwnerClaim.take(db.url, owner, logger, clock);
  try {
    const first = await db.claimHolders(owner);
    // Checks for longer than STALL_MS, each answered before the clock moves
    // on (moved on far, it would see every answer on its way as slow).
    for (let check = 0; check * CHECK_MS <= STALL_MS; check++) {
      await clock.tickAsync(CHECK_MS);
      await claim.places.take("mail", 5); // after the check, on the one connection
    }
    deepEqual([await db.claimHolders(owner), logger.messages], [first, []]);
  } finally {
    await claim.close();
  }
});

postgresTest(
  "checkUnshared: a session holding the claim that is not the claim's (a pooler handed it over) fails, and lets it go",
  async (db) => {
    const owner = crypto.randomUUID();
    const [holder, other] = [postgres(db.url, { max: 1 }), postgres(db.url, { max: 1 })];
    try {
      await lockClaim(holder, owner);
      await checkUnshared(other, owner); // another session holds it: the claim's own
      equal((await db.claimHolders(owner)).length, 1, "and keeps it");
      await rejects(checkUnshared(holder, owner), {
        message:
          "its sessions are handed from connection to connection (a pooler in transaction or statement mode), so the claim, a session lock, would not stay with this server; connect directly, or through a pooler in session mode",
      });
      deepEqual(await db.claimHolders(owner), [], "let go: it would outlive the process");
    } finally {
      await Promise.all([holder.end(), other.end()]);
    }
  },
);

/** A stand-in connection whose end of former sessions fails with `error`; what it was sent. */
function endFailing(error: Error): { sql: Sql; sent: string[] } {
  const sent: string[] = [];
  const sql = fakeSql((text) => {
    sent.push(text);
    return text.includes("pg_terminate_backend") ? Promise.reject(error) : Promise.resolve([]);
  });
  return { sql, sent };
}

Deno.test("retakeClaim: the lock goes only once the end of the former sessions is answered; a try that could not connect fails, to be made again", async () => {
  // The driver's error for a connection never made (CONNECT_TIMEOUT): it
  // would send the queries queued behind the first on the next connection.
  const cut = endFailing(connectTimeout());
  await rejects(retakeClaim(cut.sql, "me"), /CONNECT_TIMEOUT/);
  equal(cut.sent.filter((text) => text.includes("pg_advisory_lock(")).length, 0, "no lock queued");
  // The database refuses the end (no right, or before PostgreSQL 14): the lock waits for them.
  const refused = endFailing(refusal("permission denied"));
  await retakeClaim(refused.sql, "me");
  equal(refused.sent.at(-1), "SELECT pg_advisory_lock(hashtextextended($, 0))");
});
