// A commit stream's watch over a batch with no answer (lib/_session_watch.ts):
// two looks in a row that saw no session of it, or saw it idle since the same
// moment, give the batch up; a session at work, or no answer, never do.
import { deepEqual } from "node:assert/strict";
import {
  type SessionSeen,
  WATCH_LOOK_MS,
  WATCH_SLOW_MS,
  watchSession,
} from "../lib/_session_watch.ts";
import { fakeClock } from "./_helpers.ts";

/** Runs a watch whose looks see `seen` in turn (then the last again); what it gave up, and when. */
async function watch(seen: SessionSeen[], looks = seen.length) {
  const clock = fakeClock();
  const given: string[] = [];
  let at = -1;
  let asked = 0;
  const stop = watchSession(
    () => Promise.resolve(seen[Math.min(asked++, seen.length - 1)]),
    (why) => {
      given.push(why);
      at = clock.now();
    },
    clock,
  );
  await clock.tickAsync(WATCH_SLOW_MS + (looks - 1) * WATCH_LOOK_MS);
  stop();
  return { given, at, asked };
}

const idleSince = (since: string) => ({ state: "idle", since });
const IDLE =
  "no answer, and its session in the database idles: the statements or their answers were lost";
const NONE = "no answer, and the database has no session of it";

Deno.test("watchSession: idle since the same moment at two looks in a row gives the batch up at the second", async () => {
  deepEqual(await watch([idleSince("t1"), idleSince("t1")], 4), {
    given: [IDLE],
    at: WATCH_SLOW_MS + WATCH_LOOK_MS,
    asked: 2,
  });
});

Deno.test("watchSession: no session at two looks in a row (a failover) gives the batch up", async () => {
  deepEqual((await watch([null, null], 4)).given, [NONE]);
});

Deno.test("watchSession: a session at work, or idle since a new moment each look, is left to the deadline", async () => {
  const busy = { state: "active", since: "t1" };
  deepEqual((await watch([busy], 10)).given, []);
  deepEqual(
    (await watch([idleSince("t1"), idleSince("t2"), idleSince("t3"), idleSince("t4")])).given,
    [],
    "between two statements of a batch, an instant each",
  );
  deepEqual(
    (await watch([idleSince("t1"), busy, idleSince("t1"), null, undefined, null])).given,
    [],
  );
});

Deno.test("watchSession: no answer from the database counts as nothing seen", async () => {
  deepEqual((await watch([null, undefined, null, undefined, idleSince("t"), undefined])).given, []);
});

Deno.test("watchSession: stopped (the batch answered), it looks no more and gives nothing up", async () => {
  const clock = fakeClock();
  let asked = 0;
  const given: string[] = [];
  const stop = watchSession(
    () => Promise.resolve((asked++, null)),
    (why) => given.push(why),
    clock,
  );
  await clock.tickAsync(WATCH_SLOW_MS);
  stop();
  await clock.tickAsync(10 * WATCH_LOOK_MS);
  deepEqual([asked, given], [1, []]);
});
