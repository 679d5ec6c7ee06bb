// The journal claim (lib/_postgres_claim.ts): its connection is asked every
// few seconds whether it answers; one that does not is given up for a new one.
import { deepEqual, equal, notEqual, rejects } from "node:assert/strict";
import { CHECK_MS, OwnerClaim, SETTLE_MS, SLOW_MS, STALL_MS } from "../lib/_postgres_claim.ts";
import { fakeClock, keepingLogger, quiet } from "./_helpers.ts";
import { postgresTest, proxyTo } from "./_postgres.ts";

postgresTest(
  "OwnerClaim: a connection that stops answering is given up, and the claim and its places taken on a new one",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const logger = keepingLogger();
    const owner = crypto.randomUUID();
    const claim = await OwnerClaim.take(proxy.url, owner, logger, clock);
    try {
      const [old] = await db.claimHolders(owner);
      equal(await claim.places.take("mail", 1), true);
      proxy.silenceNewest(); // the claim's connection: a database host gone without a reset
      const unanswered = rejects(claim.places.take("other", 1)); // sent into the silence
      await clock.tickAsync(CHECK_MS); // the check goes the same way
      await clock.tickAsync(STALL_MS);
      // The database was asked whether it holds the claim; the question's own
      // wait ran out in the tick (a database that says nothing holds it).
      equal(logger.properties[0]?.why, "gave no answer in 30000 ms");
      await unanswered; // ended with the connection given up: the lane looks again later
      // The database kept the old session, with the claim and the place (its
      // host lives: the proxy holds its end open); the new session ended it.
      equal(await claim.places.take("mail", 1), true, "the place of the old session, afresh");
      const now = await db.claimHolders(owner);
      equal(now.length, 1, "one session holds the claim");
      notEqual(now[0], old, "the new one");
    } finally {
      await claim.close();
    }
  },
);

postgresTest(
  "OwnerClaim: a connection that stops answering while the database holds no claim (a failover) is given up at once",
  async (db) => {
    await using proxy = proxyTo(db.url);
    const clock = fakeClock();
    const warned = Promise.withResolvers<string>();
    const logger = {
      ...quiet,
      warn: (_: string, properties: Record<string, unknown>) => warned.resolve(`${properties.why}`),
    };
    const owner = crypto.randomUUID();
    const claim = await OwnerClaim.take(proxy.url, owner, logger, clock);
    try {
      equal(claim.steady, true, "taken at the start: no settling");
      const [old] = await db.claimHolders(owner);
      proxy.silenceNewest(); // the client hears nothing more...
      await db.kill(owner); // ...and the database no longer has the session: a new host
      await clock.tickAsync(CHECK_MS);
      await clock.tickAsync(SLOW_MS); // no answer: the database is asked (in real time)
      const late = setTimeout(() => warned.reject(new Error("not given up")), 10_000);
      try {
        equal(await warned.promise, "gave no answer, and the database holds no claim for it");
      } finally {
        clearTimeout(late);
      }
      equal(claim.steady, false, "taking it again: this server adopts nothing");
      equal(await claim.places.take("mail", 1), true, "on the new session, once it holds it");
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
    for (let check = 0; check < 3; check++) {
      await clock.tickAsync(CHECK_MS);
      await claim.places.take("mail", 5); // after the check, on the one connection
    }
    await clock.tickAsync(STALL_MS);
    deepEqual([await db.claimHolders(owner), logger.messages], [first, []]);
  } finally {
    await claim.close();
  }
});
