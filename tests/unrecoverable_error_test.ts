import { deepEqual, equal, ok } from "node:assert/strict";
import {
  type DeadLetter,
  defineTask,
  delay,
  TaskGroup,
  UnrecoverableError,
  WorkerPool,
} from "../lib/mod.ts";
import { TestRunner } from "./_helpers.ts";
import type * as Tasks from "./fixtures/worker_tasks.ts";

function quietLogs() {
  const levels: string[] = [];
  const logger = {
    info() {},
    warn: () => void levels.push("warn"),
    error: () => void levels.push("error"),
  };
  return { logger, levels };
}

Deno.test("UnrecoverableError fails its task at that attempt, retries left or not; the group goes on", async () => {
  const { logger, levels } = quietLogs();
  const letters: DeadLetter[] = [];
  await using runner = new TestRunner({
    logger,
    deadLetter: (letter) => void letters.push(letter),
  });
  const refused = new Response(null, { status: 400 });
  const send = defineTask("send", async function (to: string) {
    await delay(0, { signal: this.signal });
    if (this.attempt === 2) {
      throw new UnrecoverableError(`Cannot send to ${to}`, { cause: refused });
    }
    throw new Error("blip");
  }, { retries: 5, retryDelay: 0 });
  const after: string[] = [];
  const group = new TaskGroup().add(send, "nobody@example.invalid")
    .add((word: string) => void after.push(word), "next");
  runner.submit(group);
  await group.settled();
  deepEqual(group.tasks.map((task) => [task.state, task.attempts]), [["failed", 2], ["done", 1]]);
  deepEqual(after, ["next"]);
  deepEqual(levels, ["warn", "error"], "a retry follows the blip; none the unrecoverable one");
  deepEqual([runner.stats.retried, runner.stats.failed], [1, 1]);
  equal(letters.length, 1);
  deepEqual([letters[0]?.attempts, letters[0]?.error], [
    2,
    "Cannot send to nobody@example.invalid",
  ]);
});

Deno.test("UnrecoverableError keeps its name, message and cause", () => {
  const cause = new Error("400 Bad Request");
  const error = new UnrecoverableError("Cannot send: address refused", { cause });
  ok(error instanceof Error);
  deepEqual([error.name, error.message, error.cause], [
    "UnrecoverableError",
    "Cannot send: address refused",
    cause,
  ]);
});

Deno.test("UnrecoverableError: a worker's task fails for good by throwing an error of that name", async () => {
  await using pool = new WorkerPool({ size: 1 });
  const module = new URL("./fixtures/worker_tasks.ts", import.meta.url);
  const options = { retries: 3, retryDelay: 0 };
  const failing = pool.define<typeof Tasks.failNamed>("failing", module, "failNamed", options);
  await using runner = new TestRunner({ logger: quietLogs().logger });
  const group = new TaskGroup().add(failing, "UnrecoverableError");
  runner.submit(group);
  await group.settled();
  deepEqual([group.tasks[0]?.state, group.tasks[0]?.attempts], ["failed", 1]);
  equal(group.tasks[0]?.error, "UnrecoverableError from a worker");
});
