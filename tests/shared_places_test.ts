// TaskOptions.sharedConcurrency through the runner, with places two runners
// share (lib/_lanes.ts asks lib/shared_places.ts's interface for them).
import { deepEqual, equal, throws } from "node:assert/strict";
import {
  type DeadLetter,
  defineTask,
  type SharedPlaces,
  TaskGroup,
  TaskRunner,
  type TaskRunnerOptions,
} from "../lib/mod.ts";
import { LOOK_MS } from "../lib/_lanes.ts";
import { fakeClock, gatedTask, quiet, turn } from "./_helpers.ts";

/**
 * Places kept in a Map, as a journal that servers share keeps them: `places`
 * is one server's view, `serverPlaces(name)` another's; a server whose take
 * found none waits until its next take succeeds, and a place given back
 * while others wait wakes them (`watch`) unless `silent`. `down` fails
 * every take.
 */
function memoryPlaces() {
  const held = new Map<string, number>();
  const waiting = new Map<string, Set<string>>();
  const watchers = new Map<string, (name: string) => void>();
  const calls = { takes: 0, gives: 0, down: false, silent: false };
  const serverPlaces = (server: string): SharedPlaces => ({
    take(name, limit) {
      calls.takes++;
      if (calls.down && calls.takes % 2) throw new Error("database away"); // thrown, or
      if (calls.down) return Promise.reject(new Error("database away")); // rejected
      const taken = held.get(name) ?? 0;
      const waiters = waiting.get(name) ?? waiting.set(name, new Set()).get(name)!;
      if (taken >= limit) return Promise.resolve(!waiters.add(server));
      held.set(name, taken + 1);
      waiters.delete(server);
      return Promise.resolve(true);
    },
    give(name) {
      calls.gives++;
      held.set(name, (held.get(name) ?? 0) - 1);
      const others = [...waiting.get(name) ?? []].filter((other) => other !== server);
      if (!calls.silent) { for (const other of others) watchers.get(other)?.(name); }
      return Promise.resolve(others.length > 0);
    },
    watch: (listener) => void watchers.set(server, listener),
  });
  return { places: serverPlaces("first"), serverPlaces, held, calls };
}

/**
 * A runner whose journal has `places`; its attempt marks and outcomes go
 * nowhere. Disposed, it gives up at once on what still runs, so that a test
 * that failed with gated tasks running ends rather than hangs.
 */
function runnerWith(places: SharedPlaces, options: TaskRunnerOptions = {}): TaskRunner {
  const journal = { attempt: () => Promise.resolve(), record() {}, sharedPlaces: places };
  const runner = new TaskRunner({ logger: quiet, journal, ...options });
  return Object.assign(runner, {
    [Symbol.asyncDispose]: async () => void await runner.drain({ signal: AbortSignal.abort() }),
  });
}

/** Lets the places' answers and the runner's starts go through. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await turn();
}

/**
 * Two servers' runners on one set of places, on a fake clock, and a gated
 * task `mail` of `sharedConcurrency` places; `silent`: no wake-ups, the
 * looks alone.
 */
function twoServers(sharedConcurrency: number, silent: boolean) {
  const clock = fakeClock();
  const { places, serverPlaces, held, calls } = memoryPlaces();
  calls.silent = silent;
  const a = runnerWith(places, { clock });
  const b = runnerWith(serverPlaces("second"), { clock });
  const mail = gatedTask("mail", { sharedConcurrency });
  return {
    clock,
    a,
    b,
    mail,
    held,
    async [Symbol.asyncDispose]() {
      await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
    },
  };
}

Deno.test("sharedConcurrency: two runners together run at most that many; one waiting looks again until the other's place is free", async () => {
  await using servers = twoServers(2, true);
  const { clock, a, b, mail, held } = servers;
  for (const label of ["a1", "a2"]) a.submit(new TaskGroup().add(mail.task, label));
  await settle();
  b.submit(new TaskGroup().add(mail.task, "b1"));
  await settle();
  deepEqual([mail.started, b.queued, held.get("mail")], [["a1", "a2"], 1, 2]);
  mail.end("a1");
  await settle();
  deepEqual([mail.started, held.get("mail")], [["a1", "a2"], 1], "b1 waits for its look");
  await clock.tickAsync(LOOK_MS);
  await settle();
  deepEqual([mail.started, b.queued, held.get("mail")], [["a1", "a2", "b1"], 0, 2]);
  mail.end("a2");
  mail.end("b1");
  await Promise.all([a.idle(), b.idle()]);
  deepEqual([mail.counts.most, held.get("mail")], [2, 0]);
});

Deno.test("sharedConcurrency: a runner that gives a place back while another server waits leaves it to that one: neither's stream holds the other's back", async () => {
  await using servers = twoServers(1, true); // no wake-ups: the looks alone
  const { clock, a, b, mail } = servers;
  for (const label of ["a1", "a2", "a3"]) a.submit(new TaskGroup().add(mail.task, label));
  await settle();
  for (const label of ["b1", "b2"]) b.submit(new TaskGroup().add(mail.task, label));
  for (let ran = 1; ran < 5; ran++) {
    await settle();
    mail.end(mail.started.at(-1)!);
    for (let looks = 0; mail.started.length === ran && looks < 4; looks++) {
      await settle();
      await clock.tickAsync(LOOK_MS);
    }
  }
  await settle();
  mail.end(mail.started.at(-1)!);
  await Promise.all([a.idle(), b.idle()]);
  deepEqual([mail.started, mail.counts.most], [["a1", "b1", "a2", "b2", "a3"], 1]);
});

Deno.test("sharedConcurrency: a place given back for another server wakes it: it runs without waiting for its look", async () => {
  await using servers = twoServers(1, false);
  const { a, b, mail } = servers;
  for (const label of ["a1", "a2"]) a.submit(new TaskGroup().add(mail.task, label));
  await settle();
  b.submit(new TaskGroup().add(mail.task, "b1"));
  await settle();
  for (const [label, next] of [["a1", "b1"], ["b1", "a2"]]) {
    mail.end(label!);
    await settle(); // no tick of the clock: woken, not looked
    equal(mail.started.at(-1), next);
  }
  mail.end("a2");
  await Promise.all([a.idle(), b.idle()]);
  deepEqual(mail.started, ["a1", "b1", "a2"]);
});

Deno.test("sharedConcurrency: a runner's waiting task takes the place its own ended attempt gave back, without waiting for a look", async () => {
  const clock = fakeClock();
  const { places, calls } = memoryPlaces();
  await using runner = runnerWith(places, { clock });
  const mail = gatedTask("mail", { sharedConcurrency: 1 });
  for (const label of ["x", "y"]) runner.submit(new TaskGroup().add(mail.task, label));
  await settle();
  deepEqual([mail.started, runner.queued, runner.running], [["x"], 1, 1]);
  const next = mail.nextStart();
  mail.end("x");
  await next;
  deepEqual(mail.started, ["x", "y"]);
  mail.end("y");
  await runner.idle();
  deepEqual(
    [calls.takes - calls.gives, mail.counts.most],
    [1, 1],
    "the one refused take gave nothing",
  );
});

Deno.test("sharedConcurrency: a take that throws or rejects counts as no place; the task looks again and runs once one is taken", async () => {
  const clock = fakeClock();
  const { places, calls, held } = memoryPlaces();
  await using runner = runnerWith(places, { clock });
  const mail = gatedTask("mail", { sharedConcurrency: 1 });
  calls.down = true;
  const group = new TaskGroup().add(mail.task, "x");
  runner.submit(group);
  await settle();
  await clock.tickAsync(LOOK_MS);
  await settle();
  deepEqual([mail.started, calls.takes, runner.queued], [[], 2, 1]);
  calls.down = false;
  await clock.tickAsync(LOOK_MS);
  await settle();
  deepEqual(mail.started, ["x"]);
  mail.end("x");
  await group.settled();
  equal(held.get("mail"), 0);
});

Deno.test("sharedConcurrency: the drain's deadline abandons the tasks waiting for a place, gives back every place and stops looking", async () => {
  const clock = fakeClock();
  const { places, held, calls } = memoryPlaces();
  const letters: DeadLetter[] = [];
  const other = runnerWith(places, { clock });
  const runner = runnerWith(places, { clock, deadLetter: (letter) => void letters.push(letter) });
  const mail = gatedTask("mail", { sharedConcurrency: 2 });
  other.submit(new TaskGroup().add(mail.task, "elsewhere"));
  for (const label of ["a", "b", "c"]) {
    runner.submit(new TaskGroup({ id: label }).add(mail.task, label));
  }
  await settle();
  deepEqual([mail.started, runner.queued], [["elsewhere", "a"], 2]);
  const { abandoned } = await runner.drain({ signal: AbortSignal.abort() });
  deepEqual([abandoned, letters.map((letter) => letter.groupId)], [3, ["a", "b", "c"]]);
  equal(held.get("mail"), 1, "only the other runner's place is held");
  const takes = calls.takes;
  await clock.tickAsync(10 * LOOK_MS);
  equal(calls.takes, takes, "no look after the drain");
  mail.end("elsewhere");
  await other.idle();
  equal(held.get("mail"), 0);
});

Deno.test("sharedConcurrency: a place taken for a task that waits for a slot goes back when the drain's deadline abandons it", async () => {
  const { places, held } = memoryPlaces();
  const runner = runnerWith(places, { maxConcurrency: 1 });
  const other = gatedTask("other", {});
  const mail = gatedTask("mail", { sharedConcurrency: 1 });
  runner.submit(new TaskGroup().add(mail.task, "m")); // asks for a place, and waits for it
  runner.submit(new TaskGroup().add(other.task, "takes the slot meanwhile"));
  await settle();
  deepEqual([mail.started, runner.queued, held.get("mail")], [[], 1, 1], "its place, no slot");
  await runner.drain({ signal: AbortSignal.abort() });
  deepEqual([mail.started, held.get("mail")], [[], 0]);
});

Deno.test("sharedConcurrency with a concurrencyKey: tasks of two names on two servers take the key's places", async () => {
  const { places, serverPlaces, held } = memoryPlaces();
  await using a = runnerWith(places);
  await using b = runnerWith(serverPlaces("second"));
  const options = { sharedConcurrency: 1, concurrencyKey: "mail-api" };
  const welcome = gatedTask("welcome", options);
  const reset = gatedTask("reset", options);
  a.submit(new TaskGroup().add(welcome.task, "w"));
  await settle();
  b.submit(new TaskGroup().add(reset.task, "r"));
  await settle();
  deepEqual([welcome.started, reset.started, b.queued], [["w"], [], 1]);
  deepEqual([...held], [["mail-api", 1]], "one place, of the key");
  welcome.end("w");
  await settle(); // woken by the place given back
  deepEqual([reset.started, held.get("mail-api")], [["r"], 1]);
  reset.end("r");
  await Promise.all([a.idle(), b.idle()]);
  equal(held.get("mail-api"), 0);
});

Deno.test("sharedConcurrency: without shared places it is the runner's own limit; with concurrency, the smaller holds", async () => {
  for (
    const [options, places, most] of [
      [{ sharedConcurrency: 2 }, undefined, 2],
      [{ sharedConcurrency: 2, concurrency: 3 }, undefined, 2],
      [{ sharedConcurrency: 3, concurrency: 1 }, memoryPlaces().places, 1],
    ] as const
  ) {
    await using runner = places ? runnerWith(places) : new TaskRunner({ logger: quiet });
    const mail = gatedTask("mail", options);
    const labels = ["a", "b", "c", "d"];
    for (const label of labels) runner.submit(new TaskGroup().add(mail.task, label));
    for (const label of labels) {
      await settle();
      mail.end(label);
    }
    await runner.idle();
    deepEqual([mail.started, mail.counts.most], [labels, most], JSON.stringify(options));
  }
});

Deno.test("sharedConcurrency must be a positive integer", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    throws(() => defineTask("x", () => {}, { sharedConcurrency: bad }), {
      name: "RangeError",
      message: `Cannot define task "x": sharedConcurrency must be a positive integer, got ${bad}`,
    });
  }
});
