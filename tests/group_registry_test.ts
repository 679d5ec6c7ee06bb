import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { GroupRegistry, type GroupStatus, TaskGroup, type TaskState } from "../lib/mod.ts";
import { fingerprints } from "../lib/_given_ids.ts";
import type { TaskEntry } from "../lib/task_entry.ts";
import { fakeClock } from "./_helpers.ts";

/** A group whose tasks ended as `outcomes` say, as if a runner had run them. */
function finished(
  id: string | undefined,
  ...outcomes: { state?: TaskState; attempts?: number; durationMs?: number; error?: string }[]
): TaskGroup {
  const group = new TaskGroup(id === undefined ? {} : { id });
  for (const _ of outcomes) group.add(function send() {});
  outcomes.forEach((outcome, i) => {
    Object.assign((group.tasks as TaskEntry[])[i]!, { state: "done", attempts: 1, ...outcome });
  });
  return group;
}

Deno.test("GroupRegistry keeps unfinished groups, and finished ones for a bounded time and count", async () => {
  const clock = fakeClock();
  const registry = new GroupRegistry({ maxFinished: 2, retentionMs: 1_000, clock });
  const groups = Array.from({ length: 4 }, () => finished(undefined, {}));
  for (const group of groups) registry.track(group);
  equal(registry.live, 4);
  for (const group of groups.slice(0, 3)) registry.settled(group);
  equal(registry.has(groups[0]!.id), false, "count bound: the oldest finished is evicted");
  deepEqual(registry.status(groups[1]!.id), groups[1]!.toJSON());
  equal(registry.status(groups[3]!.id)?.id, groups[3]!.id, "unfinished groups stay");
  equal([registry.live, registry.finished].join(), "1,2");
  await clock.tickAsync(1_001);
  equal(registry.status(groups[2]!.id), undefined, "time bound");
  equal(registry.finished, 0);
  equal(registry.has(groups[3]!.id), true);
});

Deno.test("GroupRegistry.forget lets a group go without keeping its status; the other of its id stays", () => {
  const registry = new GroupRegistry();
  const [kept, dropped] = [finished("k"), finished("k")];
  registry.track(kept);
  registry.track(dropped);
  registry.forget(dropped);
  registry.settled(dropped); // as the runner settles a dropped group after: ignored
  equal(registry.live, 1);
  equal(registry.finished, 0);
  registry.forget(finished("never tracked"));
  registry.settled(kept);
  deepEqual([registry.live, registry.finished, registry.status("k")?.state], [0, 1, "done"]);
  registry.forget(kept); // settled already: nothing to forget
  equal(registry.has("k"), true);
});

Deno.test('GroupRegistry.fingerprint gives a keyed group\'s request fingerprint, live and finished; "" for one without', () => {
  const registry = new GroupRegistry();
  const [keyed, plain] = [finished(undefined, {}), finished(undefined, {})];
  fingerprints.set(keyed, "fp");
  registry.track(keyed);
  registry.track(plain);
  deepEqual([registry.fingerprint(keyed.id), registry.fingerprint(plain.id)], ["fp", ""]);
  registry.settled(keyed);
  registry.settled(plain);
  deepEqual([registry.fingerprint(keyed.id), registry.fingerprint(plain.id)], ["fp", ""]);
  equal(registry.fingerprint("unknown"), undefined);
});

Deno.test("GroupRegistry answers a finished group's status as it was when it settled", () => {
  const registry = new GroupRegistry();
  const groups = [
    finished(undefined, { attempts: 2, durationMs: 12.5 }), // kept compactly
    finished(undefined, { state: "failed", attempts: 3, error: "Cannot send: refused" }),
    finished(undefined, {}, { state: "abandoned", attempts: 0 }),
    finished("custom id", { state: "abandoned", attempts: 0 }),
    finished(crypto.randomUUID().toUpperCase(), {}),
  ];
  for (const group of groups) {
    registry.track(group);
    const before = group.toJSON();
    registry.settled(group);
    (group.tasks as TaskEntry[])[0]!.attempts = 99; // later changes are not seen
    deepEqual(registry.status(group.id), before);
  }
  equal(registry.status(groups[4]!.id.toLowerCase()), undefined, "ids are compared exactly");
  registry.settled(finished(undefined, {}));
  equal(registry.finished, 5, "a group never tracked is not kept");
});

Deno.test("GroupRegistry tells apart ids that share a bucket, and which of two equal ids it finds", () => {
  const registry = new GroupRegistry({ maxFinished: 1 });
  // Same length and last 12 characters: the same bucket.
  const [a, b, c] = ["a-000000000000", "b-000000000000", "c-000000000000"].map((id) =>
    finished(id, {})
  ) as [TaskGroup, TaskGroup, TaskGroup];
  const again = finished(a.id, { attempts: 2 });
  for (const group of [a, b, c, again]) registry.track(group);
  equal(registry.status(b.id)?.id, b.id);
  equal(registry.has("d-000000000000"), false);
  equal(registry.status(a.id)?.tasks[0]?.attempts, 2, "the later unfinished group is found");
  registry.settled(a);
  equal(registry.status(a.id)?.tasks[0]?.attempts, 2, "an unfinished group before a finished one");
  registry.settled(b); // evicts a: the bound is one finished group
  equal(registry.status(b.id)?.id, b.id);
  registry.settled(c);
  equal(registry.has(b.id), false);
  equal(registry.has(c.id), true);
  registry.settled(again);
  equal(registry.status(a.id)?.tasks[0]?.attempts, 2);
  equal([registry.live, registry.finished].join(), "0,1");
});

Deno.test("GroupRegistry matches a model of it through growth, wrap-around and equal ids (property)", () => {
  // Ids from a small pool, so that equal ids and shared hashes happen.
  const pool = [
    ...Array.from({ length: 6 }, () => crypto.randomUUID()),
    "x-000000000000",
    "y-000000000000",
  ];
  const op = fc.oneof(
    fc.record({ kind: fc.constant("track" as const), id: fc.constantFrom(...pool) }),
    fc.record({ kind: fc.constant("settle" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ kind: fc.constant("bulk" as const), n: fc.integer({ min: 1, max: 1_500 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 3_000 }), (ops, max) => {
      const clock = fakeClock();
      let now = 0;
      clock.now = () => now;
      const registry = new GroupRegistry({ maxFinished: max, retentionMs: 1_000, clock });
      const live: TaskGroup[] = [];
      let done: { status: GroupStatus; at: number }[] = [];
      const evict = (): void => {
        done = done.filter(({ at }) => at >= now - 1_000).slice(Math.max(0, done.length - max));
      };
      const settle = (group: TaskGroup): void => {
        live.splice(live.indexOf(group), 1);
        done.push({ status: group.toJSON(), at: now });
        registry.settled(group);
      };
      for (const step of ops) {
        if (step.kind === "track") {
          const group = finished(step.id, { attempts: 1 + live.length % 3, durationMs: now });
          live.push(group);
          registry.track(group);
        } else if (step.kind === "settle" && live.length > 0) {
          settle(live[step.pick % live.length]!);
        } else if (step.kind === "tick") {
          now += step.ms;
        } else if (step.kind === "bulk") {
          for (let i = 0; i < step.n; i++) {
            const group = finished(undefined, { durationMs: i });
            live.push(group);
            registry.track(group);
            settle(group);
          }
        }
        evict();
        for (const id of [...pool, done[0]?.status.id ?? "", done.at(-1)?.status.id ?? ""]) {
          const unfinished = live.findLast((group) => group.id === id)?.toJSON();
          const expected = unfinished ?? done.findLast(({ status }) => status.id === id)?.status;
          deepEqual(registry.status(id), expected);
          equal(registry.has(id), expected !== undefined);
        }
        equal(registry.finished, done.length);
        equal(registry.live, live.length);
      }
    }),
    { numRuns: 60 },
  );
});

Deno.test("GroupRegistry finds the later of two finished groups with one id across the ring's wrap", () => {
  const registry = new GroupRegistry({ maxFinished: 1_500 });
  const settle = (group: TaskGroup): void => {
    registry.track(group);
    registry.settled(group);
  };
  // The ring holds 2,048 slots once past 1,024: the 2,048th group takes the
  // last slot and the next one slot 0.
  for (let i = 0; i < 2_047; i++) settle(finished(undefined, {}));
  const id = crypto.randomUUID();
  settle(finished(id, { attempts: 1 }));
  settle(finished(id, { attempts: 2 }));
  equal(registry.status(id)?.tasks[0]?.attempts, 2);
  equal(registry.finished, 1_500);
});
