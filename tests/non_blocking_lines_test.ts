import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { NonBlockingLines } from "../lib/mod.ts";

const decoder = new TextDecoder();

/** A destination whose writes wait until it is opened. */
function gatedDestination() {
  const written: string[] = [];
  const gate = Promise.withResolvers<void>();
  return {
    written,
    /** Lets the write in progress, and every later one, go on. */
    open() {
      gate.resolve();
    },
    async write(bytes: Uint8Array): Promise<number> {
      await gate.promise;
      written.push(decoder.decode(bytes));
      return bytes.length;
    },
  };
}

Deno.test("NonBlockingLines writes at once, and what came during a write in the next single write", async () => {
  const destination = gatedDestination();
  const lines = new NonBlockingLines((bytes) => destination.write(bytes));
  lines.write("a\n");
  lines.write("b\n");
  lines.write("c\n");
  destination.open();
  await lines.drain();
  deepEqual(destination.written, ["a\n", "b\nc\n"]);
  lines.write("d\n");
  await lines.drain();
  deepEqual(destination.written, ["a\n", "b\nc\n", "d\n"]);
});

Deno.test("NonBlockingLines never waits for a stuck destination: past maxBuffered, lines are dropped and reported once it moves", async () => {
  const destination = gatedDestination();
  const reports: number[] = [];
  const lines = new NonBlockingLines((bytes) => destination.write(bytes), {
    maxBuffered: 10,
    onDropped: (count) => {
      reports.push(count);
      lines.write(`dropped ${count}\n`);
    },
  });
  lines.write("stuck\n"); // the write in progress, outside the buffer
  for (let i = 0; i < 8; i++) lines.write(`${i}...\n`); // 5 characters each: 2 fit
  equal(lines.dropped, 6);
  deepEqual(reports, [], "nothing to report while nothing moves");
  destination.open();
  await lines.drain();
  deepEqual(destination.written, ["stuck\n", "0...\n1...\ndropped 6\n"], "the report gets in");
  deepEqual(reports, [6], "one report for the six");
  equal(lines.dropped, 6);
});

Deno.test("NonBlockingLines goes on after a short write with the bytes left", async () => {
  const written: number[] = [];
  const lines = new NonBlockingLines((bytes) => {
    written.push(...bytes.subarray(0, 3)); // a short write may end inside a character
    return Promise.resolve(Math.min(3, bytes.length));
  });
  lines.write("hello\n");
  lines.write("αβ\n");
  await lines.drain();
  equal(decoder.decode(new Uint8Array(written)), "hello\nαβ\n");
});

Deno.test("NonBlockingLines drops the lines of a failed write, reports nothing for them, and writes the next", async () => {
  const written: string[] = [];
  let fail = true;
  const reports: number[] = [];
  const lines = new NonBlockingLines(
    (bytes) => {
      if (fail) return Promise.reject(new Deno.errors.BrokenPipe("gone"));
      written.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
    { onDropped: (count) => void reports.push(count) },
  );
  lines.write("a\n");
  lines.write("b\n");
  await lines.drain();
  equal(lines.dropped, 2);
  deepEqual(reports, [], "a destination that keeps failing is not told about itself");
  fail = false;
  lines.write("c\n");
  await lines.drain();
  deepEqual(written, ["c\n"]);
  deepEqual(reports, [2]);
});

Deno.test("NonBlockingLines counts a write that makes no progress as failed", async () => {
  const lines = new NonBlockingLines(() => Promise.resolve(0));
  lines.write("a\n");
  await lines.drain();
  equal(lines.dropped, 1);
});

Deno.test("NonBlockingLines goes on when onDropped throws", async () => {
  const destination = gatedDestination();
  const lines = new NonBlockingLines((bytes) => destination.write(bytes), {
    maxBuffered: 2,
    onDropped: () => {
      throw new Error("report failed");
    },
  });
  lines.write("a\n");
  lines.write("dropped\n");
  destination.open();
  await lines.drain();
  lines.write("b\n");
  await lines.drain();
  deepEqual(destination.written, ["a\n", "b\n"]);
});

Deno.test("NonBlockingLines.drain({ signal }) ends the wait; the lines stay queued", async () => {
  const destination = gatedDestination();
  const lines = new NonBlockingLines((bytes) => destination.write(bytes));
  lines.write("a\n");
  lines.write("b\n");
  await rejects(lines.drain({ signal: AbortSignal.abort(new Error("exit now")) }), /exit now/);
  destination.open();
  await lines.drain();
  deepEqual(destination.written, ["a\n", "b\n"]);
});

Deno.test("NonBlockingLines refuses a maxBuffered that is not a positive integer", () => {
  const write = (bytes: Uint8Array) => Promise.resolve(bytes.length);
  for (const maxBuffered of [0, -1, 1.5, NaN, Infinity]) {
    throws(() => new NonBlockingLines(write, { maxBuffered }), RangeError);
  }
});
