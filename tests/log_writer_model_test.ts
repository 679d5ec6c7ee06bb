// A property test of the log writer on a target that writes short and fails
// at random: whatever the target does, every line whose append resolved is in
// the file once, whole and in order, and each line of the file is an appended
// line or the torn start of one whose append rejected; nothing runs together.
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { escapeLine, LogWriter } from "../lib/mod.ts";

/** What one `write` call does: write up to `bytes` of what it is given, or fail. */
type Write = { fails: true } | { fails: false; bytes: number };

const write: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ fails: fc.constant(false), bytes: fc.integer({ min: 1, max: 40 }) }),
  },
  { weight: 1, arbitrary: fc.record({ fails: fc.constant(true) }) },
) as fc.Arbitrary<Write>;

/** Bytes as a string of one character per byte, so that torn UTF-8 compares exactly. */
const bytewise = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
const encoder = new TextEncoder();

Deno.test("LogWriter model: short and failing writes never lose a resolved line or join two", async () => {
  await fc.assert(
    fc.asyncProperty(
      // Turns of appends; after some, the test waits for the writer to flush.
      fc.array(
        fc.record({
          texts: fc.array(fc.string({ unit: "binary", minLength: 1 })),
          flush: fc.boolean(),
        }),
        {
          maxLength: 8,
        },
      ),
      fc.infiniteStream(write),
      async (turns, writes) => {
        const file: number[] = [];
        const log = new LogWriter({
          write(p) {
            const next = writes.next().value as Write;
            if (next.fails) return Promise.reject(new Error("No space left on device"));
            const n = Math.min(next.bytes, p.length);
            file.push(...p.subarray(0, n));
            return Promise.resolve(n);
          },
          close() {},
        });
        const appends: { line: string; outcome: Promise<boolean> }[] = [];
        let n = 0;
        for (const { texts, flush } of turns) {
          for (const text of texts) {
            // A unique start, so that each appended line can be told apart.
            const unique = `${n++}:${text}`;
            const outcome = log.append(unique).then(() => true, () => false);
            appends.push({ line: bytewise(encoder.encode(escapeLine(unique))), outcome });
          }
          if (flush) await log.flush().catch(() => {});
        }
        await log.close();
        const resolved = await Promise.all(appends.map((a) => a.outcome));
        const found = bytewise(new Uint8Array(file)).split("\n");
        // Whatever follows the last newline is a fragment a failed write left.
        const whole = found.slice(0, -1);
        ok(whole.every((line) => line !== ""), "no empty line");
        let next = 0; // appends are written in order: search forward only
        for (const line of [...whole, found.at(-1) as string].filter((l) => l !== "")) {
          const at = appends.findIndex((a, i) => i >= next && a.line.startsWith(line));
          ok(at >= 0, `an unknown or out-of-order line: ${JSON.stringify(line)}`);
          const torn = line !== appends[at]?.line;
          ok(!torn || !resolved[at], "only a rejected append's line may be torn");
          next = at + 1;
        }
        for (const [i, a] of appends.entries()) {
          if (!resolved[i]) continue;
          equal(whole.filter((line) => line === a.line).length, 1, `line ${i} written once`);
        }
      },
    ),
    { numRuns: 150 },
  );
});
