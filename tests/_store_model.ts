// A model of what a durable TaskStore keeps, for the SQLite and PostgreSQL
// tests alike: random groups, random progress through them as the runner
// journals it (attempt marks; done, failed, retrying; abandoned at shutdown),
// a restart, then what `recover()`, `list()` and `status()` answer, against
// the model.
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import fc from "fast-check";
import { fingerprints } from "../lib/_given_ids.ts";
import { acceptedField } from "../lib/_status_times.ts";
import {
  defineTask,
  DuplicateGroupError,
  type StoredTask,
  type TaskEntry,
  TaskGroup,
} from "../lib/mod.ts";
import type { OpenStore } from "./_store_scenarios.ts";

const send = defineTask("send", (to: string, note: string) => void [to, note]);
// A group's acceptance time, a time of its own for each, in another order
// than the groups' ids (as an Idempotency-Key's hash is).
const acceptedAt = (g: number) => Date.UTC(2026, 11, 3) + [0, 2, 1][g]!;

type Op =
  | { kind: "start"; group: number }
  | { kind: "abandon"; group: number }
  | { kind: "done"; group: number; durationMs: number }
  | { kind: "fail"; group: number; error: string; durationMs: number }
  | { kind: "retry"; group: number; nextAt: number; durationMs: number };

/** One task as the model's journal holds it. */
interface Row {
  state: "queued" | "running" | "retrying" | "done" | "failed";
  attempts: number;
  nextAt: number;
  error: string | null;
  durationMs: number;
}

// Few groups, so that one group sees several steps in a row.
const group = fc.nat(3);
// Some past what PostgreSQL's integer column holds (24.8 days).
const durationMs = fc.oneof(fc.nat(10_000), fc.nat(2 ** 33));
const program = fc.record({
  groups: fc.array(
    fc.array(fc.tuple(fc.string({ unit: "binary" }), fc.string()), {
      minLength: 1,
      maxLength: 3,
    }),
    { minLength: 1, maxLength: 3 },
  ),
  ops: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("start"), group }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("retry"),
          group,
          nextAt: fc.nat(2 ** 40),
          durationMs,
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("done"), group, durationMs }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("fail"),
          group,
          error: fc.string({ unit: "binary" }),
          durationMs,
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("abandon"), group }) },
    ) as fc.Arbitrary<Op>,
    { minLength: 1, maxLength: 30 },
  ),
  crashLimit: fc.integer({ min: 1, max: 3 }),
  // Whether the store journaled a stop before it "died": its running tasks count no crash.
  stop: fc.boolean(),
  // Groups a page of list() holds, as the walk of deferred work reads it.
  pageSize: fc.integer({ min: 1, max: 3 }),
  // Which groups an Idempotency-Key named (a UUIDv8 id): kept, not deleted, once they succeed.
  keyed: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
});

/**
 * Runs random programs against stores from `open`, each on groups whose ids
 * start with a prefix of its own (so runs may share a database), some of them
 * named as an Idempotency-Key names groups.
 */
export async function storeMatchesModel(open: OpenStore, numRuns: number): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(program, async ({ groups: plan, ops, crashLimit, stop, pageSize, keyed }) => {
      const prefix = `${(run++).toString(16).padStart(8, "0")}-`;
      const groups = plan.map((tasks, g) => {
        // Both kinds sort by g, as the journal returns groups.
        const id = keyed[g] ? `${prefix}${g}000-8000-8000-000000000000` : `${prefix}${g}`;
        const group = new TaskGroup({ id });
        for (const [to, note] of tasks) group.add(send, to, note);
        // With the fingerprint of its request, as createHandler keeps it.
        if (keyed[g]) fingerprints.set(group, `fp-${g}`);
        acceptedField.set(group, acceptedAt(g)); // as the runner sets it
        return group;
      });
      const rows = groups.map((group) =>
        group.tasks.map((): Row => ({
          state: "queued",
          attempts: 0,
          nextAt: 0,
          error: null,
          durationMs: 0,
        }))
      );
      const deleted = new Set<number>();
      const stopped = new Set<number>(); // abandoned at shutdown: nothing more this run
      const store = await open();
      await Promise.all(groups.map((group) => store.enqueue(group))); // one group commit
      for (const op of ops) {
        const g = op.group % groups.length;
        const entries = groups[g]?.tasks as TaskEntry[];
        const i = entries.findIndex((entry) => entry.state !== "done" && entry.state !== "failed");
        if (stopped.has(g) || i < 0) continue;
        const entry = entries[i] as TaskEntry, row = rows[g]?.[i] as Row;
        if (op.kind === "start") {
          if (entry.state === "running") continue;
          entry.state = "running";
          row.attempts = ++entry.attempts;
          Object.assign(row, { state: "running", nextAt: 0 });
          await store.attempt(entry);
        } else if (op.kind === "abandon") {
          stopped.add(g);
          for (const [j, later] of entries.entries()) {
            if (j < i) continue;
            later.state = "abandoned";
            store.record(later);
            const abandoned = rows[g]?.[j] as Row;
            abandoned.state = "queued"; // to run again after the restart, keeping its retry time
          }
        } else if (entry.state === "running") {
          entry.durationMs = row.durationMs = op.durationMs;
          if (op.kind === "retry") {
            entry.state = "retrying";
            store.record(entry, op.nextAt);
            Object.assign(row, { state: "retrying", nextAt: op.nextAt });
          } else if (op.kind === "fail") {
            Object.assign(entry, { state: "failed", error: op.error });
            store.record(entry);
            Object.assign(row, { state: "failed", error: stored(op.error) });
          } else {
            entry.state = "done";
            store.record(entry);
            row.state = "done";
            if (entries.every((task) => task.state === "done") && !keyed[g]) deleted.add(g);
          }
        }
      }
      if (stop) await store.markStopping();
      await store.close();

      // The restart: every task found running crashed once, unless a stop was journaled.
      const restarted = await open();
      try {
        const expected: StoredTask[] = [];
        for (const [g, group] of groups.entries()) {
          if (deleted.has(g)) continue;
          for (const [i, row] of (rows[g] as Row[]).entries()) {
            if (row.state === "done" || row.state === "failed") continue;
            const crashes = row.state === "running" && !stop ? 1 : 0;
            expected.push({
              id: `${group.id}/${i}`,
              groupId: group.id,
              index: i,
              name: "send",
              args: plan[g]?.[i] as string[],
              attempts: row.attempts,
              nextAt: row.nextAt,
              crashes,
              quarantined: crashes >= crashLimit,
              ...(crashes === 1 && crashLimit === 2 && { probation: true }),
              ...(keyed[g] && { fingerprint: `fp-${g}` }),
              acceptedAt: acceptedAt(g),
            });
            // Quarantined too: failed only once its letter is written (by recoverTasks).
            if (row.state === "running") row.state = "queued";
          }
        }
        // When each row was last written is the store's clock's, not the model's: only there.
        const found = (await restarted.recover(crashLimit))
          .filter((task) => task.groupId.startsWith(prefix))
          .map(({ updatedAt, ...task }) => {
            equal(typeof updatedAt, "number", `updatedAt of ${task.id}`);
            return task;
          });
        // A group's tasks together and in order; groups in the journal's
        // order, which for kept groups is the order they came (SQLite) or
        // their id's (PostgreSQL): compared by id.
        const byGroup = (tasks: StoredTask[]) =>
          Map.groupBy(tasks, (task) => task.groupId).values().toArray()
            .sort(([a], [b]) => (a?.groupId ?? "") < (b?.groupId ?? "") ? -1 : 1);
        const runs = found.filter((task, i) => task.groupId !== found[i - 1]?.groupId).length;
        equal(runs, new Set(found.map((task) => task.groupId)).size, "a group's tasks together");
        deepEqual(byGroup(found), byGroup(expected), "recover(): the unfinished tasks, in order");
        // The walk of deferred work reads the same, page by page, in recover()'s order.
        const listed: StoredTask[] = [];
        for (let after = "", page; (page = await restarted.list(after, pageSize)).length > 0;) {
          listed.push(...page);
          after = page.at(-1)!.groupId;
        }
        deepEqual(
          listed.filter((task) => task.groupId.startsWith(prefix)).map((task) => task.id),
          found.map((task) => task.id),
          "list(): recover()'s tasks, in its order",
        );
        for (const [g, group] of groups.entries()) {
          const status = await restarted.status(group.id);
          const want = deleted.has(g) ? undefined : rows[g]?.map(({ state, attempts }) => ({
            state,
            attempts,
          }));
          deepEqual(
            status?.tasks.map(({ state, attempts }) => ({ state, attempts })),
            want,
            `status of ${group.id}`,
          );
          const accepted = deleted.has(g) ? undefined : new Date(acceptedAt(g)).toISOString();
          equal(status?.acceptedAt, accepted, `acceptance of ${group.id}`);
          for (const [i, row] of (deleted.has(g) ? [] : rows[g] ?? []).entries()) {
            // PostgreSQL's column holds up to 2^31 - 1 ms; SQLite's, all.
            const duration = Math.min(status?.tasks[i]?.durationMs ?? -1, 2 ** 31 - 1);
            deepEqual(
              duration,
              Math.min(row.durationMs, 2 ** 31 - 1),
              `duration of ${group.id}/${i}`,
            );
            // Nothing runs after the restart: a start only for a task that ended after one.
            const final = row.state === "done" || row.state === "failed";
            const { startedAt, finishedAt } = status?.tasks[i] ?? {};
            equal(startedAt !== null, final && row.attempts > 0, `start of ${group.id}/${i}`);
            if (final) ok(startedAt! <= finishedAt!, `start ${startedAt}, end ${finishedAt}`);
            if (row.state !== "failed" || row.error === null) continue;
            deepEqual(status?.tasks[i]?.error, row.error, `error of ${group.id}/${i}`);
          }
        }
        // A group the journal still holds refuses its id again, naming its fingerprint.
        for (const [g, group] of groups.entries()) {
          if (deleted.has(g)) continue;
          await rejects(
            restarted.enqueue(new TaskGroup({ id: group.id }).add(send, "again", "")),
            (error) =>
              error instanceof DuplicateGroupError &&
              error.fingerprint === (keyed[g] ? `fp-${g}` : undefined),
            `enqueue of ${group.id} again`,
          );
        }
      } finally {
        await restarted.close();
      }
    }),
    { numRuns },
  );
}

/** An error as a journal reads it back: NUL shown as U+FFFD, and well-formed UTF-16. */
function stored(error: string): string {
  return error.replaceAll("\0", "\uFFFD").toWellFormed();
}
