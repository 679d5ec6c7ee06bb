import { equal } from "node:assert/strict";
import { JournalHealth } from "../lib/_journal_health.ts";
import { turn } from "./_helpers.ts";

/** A journal whose writes are steered by hand: `probe` waits for `answer`. */
function testJournal() {
  const journal = {
    failing: false,
    inFlight: undefined as Promise<boolean> | undefined,
    probes: 0,
    answer: Promise.withResolvers<void>(),
    source: {
      failing: () => journal.failing,
      inFlight: () => journal.inFlight,
      probe: () => {
        journal.probes++;
        return journal.answer.promise;
      },
    },
  };
  return journal;
}

/** `promise`'s value if it has settled within a few turns, else "no answer". */
async function answerOf<T>(promise: Promise<T>): Promise<T | "no answer"> {
  let answer: T | "no answer" = "no answer";
  promise.then((value) => (answer = value));
  for (let i = 0; i < 3; i++) await turn();
  return answer;
}

Deno.test("JournalHealth: an idle journal is probed at most once a second, and a stalled probe gives no answer", async () => {
  let now = 10_000;
  const journal = testJournal();
  const health = new JournalHealth(journal.source, { now: () => now });

  const first = health.check();
  equal(journal.probes, 1, "nothing on its way: a probe write answers");
  equal(await answerOf(first), "no answer", "the disk holds it: health's deadline times it");
  equal(await answerOf(health.check()), "no answer", "a look meanwhile waits for the same probe");
  equal(journal.probes, 1);
  journal.answer.resolve();
  equal(await first, true);

  now += 500;
  equal(await health.check(), true, "within the second: the probe's answer stands");
  equal(journal.probes, 1);
  now += 500;
  journal.answer = Promise.withResolvers();
  journal.answer.reject(new Error("EIO"));
  equal(await health.check(), false, "a second later: probed again, and refused");
  equal(journal.probes, 2);
});

Deno.test("JournalHealth: the write on its way answers instead of a probe", async () => {
  const journal = testJournal();
  const health = new JournalHealth(journal.source, { now: () => 0 });
  const sync = Promise.withResolvers<boolean>();
  journal.inFlight = sync.promise;
  const look = health.check();
  equal(await answerOf(look), "no answer", "the write is held: so is the look");
  sync.resolve(false);
  equal(await look, false);
  equal(journal.probes, 0);
});

Deno.test("JournalHealth: after a failure only a probe answers, at most once a second", async () => {
  let now = 0;
  const journal = testJournal();
  const health = new JournalHealth(journal.source, { now: () => now });
  journal.failing = true;
  journal.inFlight = Promise.resolve(true); // a commit on its way proves nothing yet
  journal.answer.reject(new Error("EIO"));
  equal(await health.check(), false);
  equal(await health.check(), false, "no second probe within the second");
  equal(journal.probes, 1);
  now = 1_000;
  journal.answer = Promise.withResolvers();
  journal.answer.resolve(); // the disk is back
  equal(await health.check(), true);
  journal.failing = false; // as the commit whose probe went through says
  equal(await health.check(), true);
  equal(journal.probes, 2);
});
