import { deepEqual, equal } from "node:assert/strict";
import { FinishedGroups } from "../lib/_finished_groups.ts";
import { fingerprints } from "../lib/_given_ids.ts";
import { acceptedField } from "../lib/_status_times.ts";
import { TaskGroup } from "../lib/mod.ts";
import type { TaskEntry } from "../lib/task_entry.ts";

let finishedAt = Date.parse("2026-12-03T10:00:00.000Z");

/** A finished group: accepted 10 ms before the last one made here finished; its tasks a millisecond apart after it. */
function done(id?: string, tasks = 1, error?: string): TaskGroup {
  const group = new TaskGroup(id === undefined ? {} : { id });
  for (let i = 0; i < tasks; i++) group.add(function send() {});
  acceptedField.set(group, finishedAt - 10);
  for (const entry of group.tasks as TaskEntry[]) {
    const state = error ? "failed" : "done";
    const startedAt = ++finishedAt - 2.5; // it ends 2.5 ms later
    Object.assign(entry, { state, attempts: 1, startedAt, durationMs: 2.5, error });
  }
  return group;
}

Deno.test("FinishedGroups keeps statuses and fingerprints oldest first through growth, and shift forgets the oldest", () => {
  const finished = new FinishedGroups();
  // Past the first capacity (1,024), with one of each kind a status object is kept for.
  const groups = Array.from(
    { length: 3_000 },
    (_, i) =>
      i === 5
        ? done("custom")
        : i === 6
        ? done(undefined, 2)
        : i === 7
        ? done(undefined, 1, "no")
        : done(),
  );
  // Some keyed, as createHandler marks them: compact (UUID) and not (5, "custom").
  const keyed = (i: number) => i % 100 === 0 || i === 5;
  groups.forEach((group, i) => keyed(i) && fingerprints.set(group, `fp-${i}`));
  groups.forEach((group, i) => finished.add(group, i % 7, i));
  equal(finished.size, 3_000);
  for (const [i, group] of groups.entries()) {
    deepEqual(finished.find(group.id, i % 7), group.toJSON(), `group ${i}`);
    equal(finished.fingerprint(group.id, i % 7), keyed(i) ? `fp-${i}` : "", `group ${i}`);
  }
  const first = finished.find(groups[0]!.id, 0);
  const task = first?.tasks[0];
  deepEqual([first?.acceptedAt, task?.startedAt, task?.finishedAt], [
    "2026-12-03T09:59:59.990Z",
    "2026-12-03T09:59:59.998Z", // 2.5 ms before its end
    "2026-12-03T10:00:00.001Z",
  ]);
  equal(finished.find(groups[0]!.id, 1), undefined, "the hash is part of the key");
  for (let i = 0; i < 6; i++) finished.shift();
  equal(finished.oldestAt, 6);
  equal(finished.fingerprint(groups[5]!.id, 5), undefined);
  equal(finished.fingerprint(groups[6]!.id, 6), "");
  equal(finished.fingerprint(groups[100]!.id, 100 % 7), "fp-100");
});
