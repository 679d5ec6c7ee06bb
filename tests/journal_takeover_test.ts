import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import {
  defineTask,
  definitionsByName,
  JournalTakeover,
  type StoredTask,
  TaskRunner,
} from "../lib/mod.ts";
import { fakeClock, keepingLogger, storedTask } from "./_helpers.ts";

const stored = (groupId: string, to: string): StoredTask => storedTask(groupId, { args: [to] });

Deno.test("JournalTakeover looks again every interval, one look at a time, and logs only what it found", async () => {
  const logger = keepingLogger();
  const sent: string[] = [];
  const second = Promise.withResolvers<void>();
  const answers: StoredTask[][] = [[stored("a", "first")], [], [stored("b", "orphan")]];
  let running = 0;
  let overlapped = false;
  const runner = new TaskRunner();
  const takeover = new JournalTakeover({
    store: {
      async recover() {
        overlapped ||= ++running > 1;
        await Promise.resolve();
        running--;
        return answers.shift() ?? [];
      },
      list: () => [],
      fail: () => {},
    },
    name: "shared",
    definitions: definitionsByName(defineTask("send", (to: string) => {
      sent.push(to);
      if (to === "orphan") second.resolve();
    })),
    runner,
    deadLetter: () => {},
    known: () => false,
    intervalMs: 1,
    logger,
  });
  deepEqual(await takeover.start(), { resumed: 1, deadLettered: 0, deferred: 0 });
  await second.promise;
  takeover[Symbol.dispose]();
  await runner.idle();
  deepEqual(sent, ["first", "orphan"]);
  equal(overlapped, false);
  const { messages } = logger;
  equal(messages.filter((m) => m.includes("unfinished tasks resumed")).length, 1, "at start-up");
  equal(messages.filter((m) => m.includes("took over")).length, 1, "empty looks are not logged");
});

Deno.test("JournalTakeover.start gives up at its signal: nothing submitted, no look after it", async () => {
  const clock = fakeClock();
  const journal = Promise.withResolvers<StoredTask[]>();
  let looks = 0;
  const runner = new TaskRunner();
  using takeover = new JournalTakeover({
    store: { recover: () => (looks++, journal.promise), list: () => [], fail: () => {} },
    name: "shared",
    definitions: definitionsByName(defineTask("send", (to: string) => void to)),
    runner,
    deadLetter: () => {},
    known: () => false,
    intervalMs: 10,
    clock,
  });
  const controller = new AbortController();
  const starting = takeover.start({ signal: controller.signal });
  controller.abort(new Error("gave up"));
  await rejects(starting, /^Error: gave up$/);
  journal.resolve([stored("a", "late")]);
  await journal.promise;
  await clock.tickAsync(100);
  equal(looks, 1, "the interval did not start");
  equal(runner.pending, 0, "what the journal answered late is not submitted");
});

Deno.test("JournalTakeover times the next look from the end of the last, on its clock, and stops when disposed during one", async () => {
  const clock = fakeClock();
  const logger = keepingLogger();
  let looks = 0;
  let answer = Promise.withResolvers<StoredTask[]>();
  const takeover = new JournalTakeover({
    logger,
    store: { recover: () => (looks++, answer.promise), list: () => [], fail: () => {} },
    name: "shared",
    definitions: new Map(),
    runner: new TaskRunner(),
    deadLetter: () => {},
    known: () => false,
    intervalMs: 10,
    clock,
  });
  const starting = takeover.start();
  answer.resolve([]);
  await starting;
  answer = Promise.withResolvers();
  await clock.tickAsync(10);
  equal(looks, 2, "a look 10 ms after start-up's");
  await clock.tickAsync(100);
  equal(looks, 2, "none while it is under way");
  answer.resolve([]);
  await clock.tickAsync(9);
  equal(looks, 2);
  answer = Promise.withResolvers();
  await clock.tickAsync(1);
  equal(looks, 3, "the next, 10 ms after it ended");
  takeover[Symbol.dispose]();
  // The shutdown closes the journal under it: no failure to report.
  answer.reject(new Error("write CONNECTION_DESTROYED"));
  await clock.tickAsync(100);
  equal(looks, 3, "disposed during a look: no later one");
  deepEqual(logger.messages.filter((m) => m.startsWith("Cannot")), []);
});

Deno.test("JournalTakeover starts the next look when one has no answer by lookTimeoutMs; the stuck one's work still runs if it ends", async () => {
  const logger = keepingLogger();
  const clock = fakeClock();
  const stuck = Promise.withResolvers<StoredTask[]>();
  const answers = [Promise.resolve([]), stuck.promise, Promise.resolve([stored("b", "orphan")])];
  let looks = 0;
  const sent: string[] = [];
  const runner = new TaskRunner();
  using takeover = new JournalTakeover({
    store: {
      recover: () => (looks++, answers.shift() ?? Promise.resolve([])),
      list: () => [],
      fail: () => {},
    },
    name: "shared",
    definitions: definitionsByName(defineTask("send", (to: string) => void sent.push(to))),
    runner,
    deadLetter: () => {},
    known: () => false,
    intervalMs: 10,
    lookTimeoutMs: 1_000,
    clock,
    logger,
  });
  await takeover.start();
  await clock.tickAsync(10);
  equal(looks, 2, "the look that gets no answer");
  await clock.tickAsync(999);
  equal(looks, 2, "waited for until its timeout");
  await clock.tickAsync(1 + 10);
  equal(looks, 3, "the next, an interval after the timeout");
  await runner.idle();
  deepEqual(sent, ["orphan"]);
  stuck.resolve([stored("a", "late")]);
  await clock.tickAsync(0);
  await runner.idle();
  deepEqual(sent, ["orphan", "late"], "what the stuck look adopted still runs");
  equal(logger.messages.filter((m) => m.includes("has had no answer")).length, 1);
});

Deno.test("JournalTakeover refuses an interval or look timeout a timer cannot keep", () => {
  const options = {
    store: { recover: () => [], list: () => [], fail: () => {} },
    name: "shared",
    definitions: definitionsByName(),
    runner: new TaskRunner(),
    deadLetter: () => {},
    known: () => false,
  };
  for (const intervalMs of [-1, NaN, 2 ** 31]) {
    throws(() => new JournalTakeover({ ...options, intervalMs }), /intervalMs must be from 0/);
  }
  for (const lookTimeoutMs of [0, NaN, 2 ** 31]) {
    throws(
      () => new JournalTakeover({ ...options, lookTimeoutMs }),
      /lookTimeoutMs must be from 1/,
    );
  }
  new JournalTakeover({ ...options, intervalMs: 2 ** 31 - 1, lookTimeoutMs: 2 ** 31 - 1 })
    [Symbol.dispose]();
});

/**
 * A server whose backlog holds one group, and whose looks at the journal find
 * `looks`' groups (of one task, sent to their id) in turn: dead servers',
 * adopted, its own from then on. A task sent to an id in `gates` waits for its promise.
 */
function oneAtATime(
  looks: StoredTask[][],
  gates: Record<string, Promise<void>>,
  { failedLists = 0 } = {},
) {
  const owned: StoredTask[] = [];
  const logger = keepingLogger();
  const clock = fakeClock();
  const sent: string[] = [];
  const known = new Set<string>();
  const runner = new TaskRunner({
    maxPending: 1,
    onGroupAccepted: (group) => void known.add(group.id),
    onGroupSettled: () => takeover.roomFreed(),
  });
  const takeover = new JournalTakeover({
    store: {
      recover() {
        const found = looks.shift() ?? [];
        owned.unshift(...found);
        return found;
      },
      list(after, groups) {
        if (failedLists-- > 0) throw new Error("connection refused");
        return owned.filter((task) => task.groupId > after).slice(0, groups);
      },
      fail: () => {},
    },
    name: "shared",
    // Ungated, a task ends within microtasks: before the look that resumed it returns.
    definitions: definitionsByName(defineTask("send", async (to: string) => {
      sent.push(to);
      if (to in gates) await gates[to];
    })),
    runner,
    deadLetter: () => {},
    known: (id) => known.has(id),
    intervalMs: 10,
    clock,
    logger,
  });
  /** Ticks until the deferred work is walked and the runner is idle (or 100 ticks). */
  const settle = async () => {
    for (let i = 0; i < 100 && (takeover.deferring || runner.pending > 0); i++) {
      await clock.tickAsync(0);
    }
  };
  return { clock, sent, runner, takeover, settle, logger };
}

Deno.test("JournalTakeover resumes deferred work when what start-up resumed has all ended before the look returned", async () => {
  const { sent, runner, takeover, settle } = oneAtATime(
    [["m1", "m2"].map((id) => stored(id, id))],
    {},
  );
  using _ = takeover;
  deepEqual(await takeover.start(), { resumed: 1, deadLettered: 0, deferred: 1 });
  await settle();
  await runner.idle();
  deepEqual(sent, ["m1", "m2"], "no group settles after the walk exists: it starts at once");
});

Deno.test("JournalTakeover: work a look defers during a walk of deferred work still runs, when it sorts before the walk's place", async () => {
  const [m1, m2] = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const looks = [["m1", "m2", "m3"].map((id) => stored(id, id)), [stored("a0", "a0")]];
  const { clock, sent, runner, takeover, settle } = oneAtATime(looks, {
    m1: m1.promise,
    m2: m2.promise,
  });
  using _ = takeover;
  deepEqual(await takeover.start(), { resumed: 1, deadLettered: 0, deferred: 2 });
  m1.resolve(); // m1 ends, and the walk submits m2, which holds the backlog: it stops after m2
  for (let i = 0; i < 100 && !sent.includes("m2"); i++) await clock.tickAsync(0);
  deepEqual(sent, ["m1", "m2"]);
  await clock.tickAsync(10);
  equal(looks.length, 0, "the look found a0, a dead server's, and the backlog was full");
  m2.resolve();
  await settle();
  await runner.idle();
  deepEqual(sent, ["m1", "m2", "m3", "a0"]);
});

Deno.test("JournalTakeover tries a walk whose read failed again after 1 s, then 2 s, with no task to end meanwhile", async () => {
  const looks = [["m1", "m2"].map((id) => stored(id, id))];
  const { clock, sent, runner, takeover, settle, logger } = oneAtATime(looks, {}, {
    failedLists: 2,
  });
  using _ = takeover;
  deepEqual(await takeover.start(), { resumed: 1, deadLettered: 0, deferred: 1 });
  await clock.tickAsync(0);
  deepEqual(sent, ["m1"], "the read failed, and m1 had ended: the runner is idle");
  await clock.tickAsync(1_000);
  equal(logger.messages.filter((m) => m.startsWith("Cannot resume")).length, 2);
  deepEqual(sent, ["m1"]);
  await clock.tickAsync(2_000);
  await settle();
  await runner.idle();
  deepEqual(sent, ["m1", "m2"]);
  deepEqual(logger.properties.filter((p) => "retryMs" in p).map((p) => p.retryMs), [1_000, 2_000]);
});
