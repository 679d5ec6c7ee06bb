import { deepEqual, equal, ok } from "node:assert/strict";
import {
  type DeadLetter,
  deadLetterLine,
  deadLetterOf,
  sendDeadLetter,
  TaskGroup,
} from "../lib/mod.ts";
import { acceptedField } from "../lib/_status_times.ts";
import { recordingLogger } from "./_helpers.ts";

function record(args: unknown[]): DeadLetter {
  const group = new TaskGroup({ id: "g" }).add(function send(..._args: unknown[]) {}, ...args);
  return deadLetterOf(group.tasks[0] as never, "failed", Date.UTC(2026, 0, 1));
}

Deno.test("deadLetterOf() records the task as it stands", () => {
  const letter = record(["ada@example.com"]);
  deepEqual(letter, {
    reason: "failed",
    task: "send",
    taskId: "g/0",
    groupId: "g",
    args: ["ada@example.com"],
    attempts: 0,
    error: null,
    acceptedAt: null,
    startedAt: null,
    endedAt: "2026-01-01T00:00:00.000Z",
  });
});

Deno.test("deadLetterOf() says when the task's group was accepted, once a runner took it", () => {
  const group = new TaskGroup({ id: "g" }).add(function send() {});
  acceptedField.set(group, Date.UTC(2025, 11, 31)); // as the runner sets it
  const letter = deadLetterOf(group.tasks[0] as never, "shutdown", Date.UTC(2026, 0, 1));
  deepEqual([letter.acceptedAt, letter.endedAt], [
    "2025-12-31T00:00:00.000Z",
    "2026-01-01T00:00:00.000Z",
  ]);
});

Deno.test("deadLetterLine() writes one JSON line even for arguments JSON cannot hold", () => {
  const cycle: Record<string, unknown> = { name: "loop" };
  cycle.self = cycle;
  const line = deadLetterLine(record([1n, cycle, "two\nlines"]));
  equal(line.includes("\n"), false);
  const parsed = JSON.parse(line);
  deepEqual(parsed.args, ["1", "[object Object]", "two\nlines"]);
  equal(parsed.taskId, "g/0");
});

Deno.test("sendDeadLetter() logs a sink that throws or rejects, with the record", async () => {
  const { logger, errors, enough } = recordingLogger(2);
  const letter = record(["x"]);
  sendDeadLetter(
    () => {
      throw new Error("disk gone");
    },
    letter,
    logger,
  );
  sendDeadLetter(() => Promise.reject(new Error("disk full")), letter, logger);
  await enough;
  deepEqual(errors.map((e) => (e.properties.error as Error).message), ["disk gone", "disk full"]);
  equal(errors[0]?.properties.record, letter);
  equal(errors[1]?.properties.taskId, "g/0");
});

Deno.test("sendDeadLetter() takes a sink's thenable as a promise: its rejection is logged, and waited for", async () => {
  const { logger, errors, enough } = recordingLogger(1);
  // Not a native promise (a custom sink's, or one from another realm).
  const rejecting: PromiseLike<void> = {
    then: (_, onRejected) => (onRejected?.(new Error("queue full")), Promise.resolve()) as never,
  };
  const sent = sendDeadLetter(() => rejecting, record(["x"]), logger);
  ok(sent instanceof Promise, "a write on its way, to wait for");
  await sent;
  await enough;
  deepEqual(errors.map((e) => (e.properties.error as Error).message), ["queue full"]);
});
