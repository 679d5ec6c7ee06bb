import { deepEqual } from "node:assert/strict";
import { type DeadLetter, TaskGroup } from "../lib/mod.ts";
import { TestRunner } from "./_helpers.ts";

Deno.test("A task that finally fails is journaled failed only once its dead letter is written", async () => {
  const events: string[] = [];
  const written = Promise.withResolvers<void>();
  const sent = Promise.withResolvers<string[]>();
  const recorded = Promise.withResolvers<void>();
  await using runner = new TestRunner({
    retries: 0,
    journal: {
      attempt: () => Promise.resolve(),
      record(entry) {
        events.push(`journal ${entry.state}`);
        if (entry.state === "failed") recorded.resolve();
      },
    },
    deadLetter(letter: DeadLetter) {
      events.push(`letter ${letter.reason}`);
      sent.resolve([...events]);
      return written.promise;
    },
  });
  runner.submit(new TaskGroup().add(() => {
    throw new Error("refused");
  }));
  // Journaled first, a crash before the letter's write left a failed task with no letter.
  deepEqual(await sent.promise, ["letter failed"], "not journaled while its letter is on its way");
  written.resolve();
  await recorded.promise;
  deepEqual(events, ["letter failed", "journal failed"]);
});

Deno.test("A dead letter that cannot be written still lets its task be journaled failed", async () => {
  const recorded = Promise.withResolvers<string>();
  await using runner = new TestRunner({
    retries: 0,
    journal: {
      attempt: () => Promise.resolve(),
      record: (entry) => void (entry.state === "failed" && recorded.resolve(entry.state)),
    },
    deadLetter: () => Promise.reject(new Error("disk full")),
    logger: { info() {}, warn() {}, error() {} },
  });
  runner.submit(new TaskGroup().add(() => {
    throw new Error("refused");
  }));
  deepEqual(await recorded.promise, "failed");
});
