// LogWriter.append with AppendOptions (lib/_line_queue.ts): a signal
// withdraws a line that still waits, a key joins a retry to its earlier line.
import { deepEqual, equal, rejects } from "node:assert/strict";
import fc from "fast-check";
import { LogWriter } from "../lib/mod.ts";
import { fakeClock, stalledDisk } from "./_helpers.ts";

/** A writer whose disk stalls on the batch of a line "first": later lines wait behind it. */
async function stalledBehindFirst() {
  const disk = stalledDisk();
  const log = new LogWriter(disk.target);
  const first = log.append("first");
  await disk.writing();
  return { disk, log, first, [Symbol.asyncDispose]: () => log.close() };
}

const timedOut = () => new DOMException("Task timed out", "TimeoutError");

Deno.test("LineQueue: a line still waiting for its batch is withdrawn when its signal aborts", async () => {
  await using stalled = await stalledBehindFirst();
  const { disk, log, first } = stalled;
  const attempt = new AbortController();
  const withdrawn = log.append("second", { signal: attempt.signal });
  const kept = log.append("third");
  attempt.abort(timedOut());
  await rejects(withdrawn, { name: "TimeoutError" });
  disk.recover();
  await Promise.all([first, kept]);
  deepEqual(disk.written, ["first\n", "third\n"]);
  deepEqual(log.stats, { lines: 2, bytes: 12, batches: 2 });
});

Deno.test("LineQueue: a line whose batch is being written is written; only the wait ends", async () => {
  const disk = stalledDisk();
  await using log = new LogWriter(disk.target);
  const attempt = new AbortController();
  const appended = log.append("sent", { signal: attempt.signal });
  await disk.writing();
  attempt.abort(timedOut());
  await rejects(appended, { name: "TimeoutError" });
  disk.release();
  await log.flush();
  deepEqual(disk.written, ["sent\n"]);
});

Deno.test("LineQueue: a retry joins its earlier attempt's line still being written: one line", async () => {
  const disk = stalledDisk();
  await using log = new LogWriter(disk.target);
  const first = new AbortController();
  const attempt1 = log.append("sent", { signal: first.signal, key: "g/0" });
  await disk.writing();
  first.abort(timedOut());
  await rejects(attempt1);
  const attempt2 = log.append("sent", {
    signal: new AbortController().signal,
    key: "g/0",
    retry: true,
  });
  disk.release();
  await attempt2; // resolved by the first attempt's write
  await log.flush();
  deepEqual(disk.written, ["sent\n"]);
  equal(log.stats.lines, 1);
});

// Time stands still: no batch is ever written late.
const stillClock = { now: () => 0 };

Deno.test("LineQueue: a key's line queues afresh once its batch settled in time, or after a failed write", async () => {
  const written: string[] = [];
  let fail = true;
  await using log = new LogWriter({
    write(p) {
      if (fail) return Promise.reject(new Error("disk full"));
      written.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
    close() {},
  }, { clock: stillClock });
  await rejects(log.append("once", { key: "k" }), /disk full/);
  fail = false;
  await log.append("once", { key: "k", retry: true }); // the failed write wrote nothing: again
  await log.append("twice", { key: "k", retry: true }); // written already: a new line
  deepEqual(written, ["once\n", "twice\n"]);
});

Deno.test("LineQueue: a line that an append without a signal waits for is not withdrawn", async () => {
  await using stalled = await stalledBehindFirst();
  const { disk, log, first } = stalled;
  const attempt = new AbortController();
  const held = log.append("shared", { key: "k" });
  const joined = log.append("shared", { key: "k", signal: attempt.signal, retry: true });
  attempt.abort(timedOut());
  await rejects(joined, { name: "TimeoutError" });
  disk.recover();
  await Promise.all([first, held]);
  deepEqual(disk.written, ["first\n", "shared\n"]);
});

Deno.test("LineQueue: a batch whose lines were all withdrawn writes nothing; an aborted signal queues nothing", async () => {
  await using stalled = await stalledBehindFirst();
  const { disk, log, first } = stalled;
  const attempt = new AbortController();
  const gone = [
    log.append("a", { signal: attempt.signal }),
    log.append("b", { signal: attempt.signal }),
  ];
  attempt.abort(timedOut());
  await rejects(log.append("late", { signal: attempt.signal }), { name: "TimeoutError" });
  for (const append of gone) await rejects(append, { name: "TimeoutError" });
  disk.release();
  await first;
  await log.flush();
  deepEqual(disk.written, ["first\n"]);
  deepEqual(log.stats, { lines: 1, bytes: 6, batches: 1 });
});

Deno.test("LineQueue: a retry finds its line written late, after its attempt gave up, and writes no copy", async () => {
  for (const [tookMs, expected] of [[250, ["sent\n"]], [249, ["sent\n", "sent\n"]]] as const) {
    const disk = stalledDisk();
    const clock = fakeClock();
    await using log = new LogWriter(disk.target, { clock });
    const attempt1 = log.append("sent", { key: "g/0" });
    await disk.writing();
    await clock.tickAsync(tookMs);
    disk.recover();
    await attempt1; // written; its attempt had timed out meanwhile
    await log.append("sent", { key: "g/0", retry: true });
    deepEqual(disk.written, expected, `a batch that took ${tookMs} ms`);
  }
});

Deno.test("LineQueue: a withdrawn line is not taken for written, even in a batch kept as late", async () => {
  const disk = stalledDisk();
  const clock = fakeClock();
  await using log = new LogWriter(disk.target, { clock });
  const first = log.append("first");
  await disk.writing();
  const attempt = new AbortController();
  const withdrawn = log.append("sent", { key: "g/0", signal: attempt.signal });
  const other = log.append("other", { key: "g/1" }); // keeps the batch keyed
  attempt.abort(timedOut());
  await rejects(withdrawn, { name: "TimeoutError" });
  await clock.tickAsync(250);
  disk.recover();
  await Promise.all([first, other]); // both batches took 250 ms: kept as late
  await log.append("sent", { key: "g/0", retry: true });
  deepEqual(disk.written, ["first\n", "other\n", "sent\n"]);
});

/** One step of the model test: an append (with a key, a signal), an abort, or the disk moving on. */
type Op =
  | { op: "append"; key: number | undefined; signal: number | undefined; retry: boolean }
  | { op: "abort"; signal: number }
  | { op: "step" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("append" as const),
      key: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      signal: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      retry: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("abort" as const), signal: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.constant({ op: "step" as const }) },
);

/** What the model keeps of a queued line. */
interface Entry {
  text: string;
  key: number | undefined;
  waiters: Set<number>;
  held: boolean;
}

Deno.test("LineQueue model: withdrawals and joins on a stalling disk write what the model writes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
      const disk = stalledDisk();
      const log = new LogWriter(disk.target, { clock: stillClock });
      const controllers = Array.from({ length: 4 }, () => new AbortController());
      // The model: the batch waiting and the one being written, each with its
      // lines by key (the latest of a key), and each append's end.
      let waiting: Entry[] = [];
      let writing: Entry[] | undefined;
      let waitingKeys = new Map<number, Entry>();
      let writingKeys = new Map<number, Entry>();
      const expected: ("resolved" | "rejected" | "pending")[] = [];
      const signalOf: (number | undefined)[] = [];
      const entryOf: Entry[] = [];
      const file: string[] = [];
      const outcomes: Promise<string>[] = [];
      const step = async (): Promise<void> => {
        if (writing !== undefined) {
          for (const entry of writing) file.push(entry.text);
          writingKeys = new Map();
          for (const [i, entry] of entryOf.entries()) {
            if (writing.includes(entry) && expected[i] === "pending") expected[i] = "resolved";
          }
          writing = undefined;
          disk.release();
        }
        await new Promise((resolve) => setTimeout(resolve, 0)); // the writer moves on
        if (waiting.length > 0) {
          [writing, waiting] = [waiting, []];
          [writingKeys, waitingKeys] = [waitingKeys, new Map()];
          await disk.writing();
        }
      };
      for (const next of ops) {
        if (next.op === "step") await step();
        else if (next.op === "abort") {
          controllers[next.signal]?.abort(new Error("timed out"));
          for (const [i, entry] of entryOf.entries()) {
            if (signalOf[i] !== next.signal || expected[i] !== "pending") continue;
            expected[i] = "rejected";
            entry.waiters.delete(i);
            if (entry.waiters.size === 0 && !entry.held && waiting.includes(entry)) {
              waiting = waiting.filter((e) => e !== entry);
              if (entry.key !== undefined && waitingKeys.get(entry.key) === entry) {
                waitingKeys.delete(entry.key);
              }
            }
          }
        } else {
          const i = expected.length;
          const text = `line ${i}`;
          const signal = next.signal === undefined ? undefined : controllers[next.signal]?.signal;
          outcomes.push(
            log.append(text, {
              key: next.key === undefined ? undefined : `k${next.key}`,
              signal,
              retry: next.retry,
            })
              .then(() => "resolved", () => "rejected"),
          );
          signalOf.push(next.signal);
          let entry = next.key === undefined || !next.retry
            ? undefined
            : waitingKeys.get(next.key) ?? writingKeys.get(next.key);
          if (signal?.aborted) {
            expected.push("rejected");
            entryOf.push({ text, key: undefined, waiters: new Set(), held: false });
            continue;
          }
          if (entry === undefined) {
            entry = { text, key: next.key, waiters: new Set(), held: false };
            waiting.push(entry);
            if (next.key !== undefined) waitingKeys.set(next.key, entry);
          }
          if (signal === undefined) entry.held = true;
          else entry.waiters.add(i);
          expected.push("pending");
          entryOf.push(entry);
        }
      }
      while (writing !== undefined || waiting.length > 0) await step();
      await log.close();
      deepEqual(disk.written.join("").split("\n").slice(0, -1), file, "the lines the model wrote");
      deepEqual(await Promise.all(outcomes), expected, "each append's end");
    }),
    { numRuns: 300 },
  );
});
