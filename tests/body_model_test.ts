// A property test of readBody's streamed path on a fake clock: a body that
// arrives in random chunks at random times, ends or stalls, with a random
// limit, deadline and client abort. The first of these decides, exactly as
// the model says: the body over the limit (413), the deadline (408), the
// abort (its reason), or the end (the bytes, whole). Whenever the read gives
// up, the body's stream is cancelled.
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { HttpError, readBody, TimeoutQueue } from "../lib/mod.ts";
import { fakeClock } from "./_helpers.ts";

const body = fc.record({
  /** Chunk sizes and the even gaps before each: chunks land at even times. */
  chunks: fc.array(
    fc.record({ bytes: fc.integer({ min: 1, max: 20 }), gap: fc.nat(5).map((n) => 2 * n) }),
    { maxLength: 6 },
  ),
  /** The end's gap after the last chunk, or undefined: the body stalls. */
  end: fc.option(fc.nat(5).map((n) => 2 * n), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 60 }),
  // Odd, so never at the same moment as a chunk, and never at each other's.
  timeout: fc.nat(10).map((n) => 4 * n + 1),
  abortAt: fc.option(fc.nat(10).map((n) => 4 * n + 3), { nil: undefined }),
});

Deno.test("readBody model: limit, deadline, abort and end decide in the order they come", async () => {
  await fc.assert(
    fc.asyncProperty(body, async ({ chunks, end, limit, timeout, abortAt }) => {
      const clock = fakeClock();
      let cancelled = false, next = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const chunk = chunks[next];
          const gap = chunk?.gap ?? end;
          if (gap === undefined) return new Promise(() => {}); // stalls
          return new Promise((resolve) =>
            clock.setTimeout(() => {
              if (cancelled) return resolve();
              if (chunk === undefined) controller.close();
              else controller.enqueue(new Uint8Array(chunk.bytes).fill(next++ % 256));
              resolve();
            }, gap)
          );
        },
        cancel() {
          cancelled = true;
        },
      }, { highWaterMark: 0 });
      const request = new Request("http://x/", { method: "POST", body: stream });
      const controller = new AbortController();
      const reason = new Error("client gone");
      if (abortAt !== undefined) clock.setTimeout(() => controller.abort(reason), abortAt);
      const outcome = readBody(request, {
        limit,
        timeout,
        timeouts: new TimeoutQueue(clock),
        signal: controller.signal,
      }).then((bytes) => ({ bytes }), (error: unknown) => ({ error }));
      await clock.runAllAsync();
      const got = await outcome;

      // The model: walk the events in time order.
      let at = 0, total = 0;
      let want: { bytes: number } | { status: number } | "aborted" | undefined;
      const decide = (time: number): boolean => {
        const first = Math.min(timeout, abortAt ?? Infinity);
        if (first > time) return false;
        want = first === timeout ? { status: 408 } : "aborted";
        return true;
      };
      for (const chunk of chunks) {
        at += chunk.gap;
        if (decide(at)) break;
        total += chunk.bytes;
        if (total > limit) {
          want = { status: 413 };
          break;
        }
      }
      if (want === undefined && (end === undefined || !decide(at + end))) {
        if (end === undefined) decide(Infinity);
        else want = { bytes: total };
      }

      if (typeof want === "object" && "bytes" in want) {
        ok("bytes" in got, `resolved: ${JSON.stringify(got)}`);
        equal(got.bytes.length, want.bytes);
        const expected = chunks.flatMap((c, i) => Array(c.bytes).fill(i % 256));
        deepEqual([...got.bytes], expected, "the bytes whole, in order");
        return;
      }
      ok("error" in got, "rejected");
      if (want === "aborted") equal(got.error, reason);
      else {
        ok(got.error instanceof HttpError, String(got.error));
        equal(got.error.status, want?.status);
      }
      ok(cancelled, "the stream is cancelled");
    }),
    { numRuns: 500 },
  );
});
