// A property test of the log writer on a target that writes short and fails
// at random: whatever the target does, every line whose append resolved is in
// the files once, whole and in order, file after file however often the file
// is reopened, and each line of a file is an appended line or the torn start
// of one whose append rejected; nothing runs together. Where the target cuts
// a failed batch off (ftruncate), a file holds exactly the resolved lines.
import { equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { escapeLine, LogWriter, type WriteTarget } from "../lib/mod.ts";

/**
 * What one `write` call does: write up to `bytes` of what it is given, or
 * fail; and whether a reopen (logrotate's SIGUSR2) arrives while it runs.
 */
type Write = ({ fails: true } | { fails: false; bytes: number }) & { reopens: boolean };

const reopens = fc.integer({ min: 0, max: 5 }).map((n) => n === 0);
const write: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      fails: fc.constant(false),
      bytes: fc.integer({ min: 1, max: 40 }),
      reopens,
    }),
  },
  { weight: 1, arbitrary: fc.record({ fails: fc.constant(true), reopens }) },
) as fc.Arbitrary<Write>;

/** Bytes as a string of one character per byte, so that torn UTF-8 compares exactly. */
const bytewise = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
const encoder = new TextEncoder();

Deno.test("LogWriter model: short and failing writes and reopens never lose a resolved line or join two", async () => {
  await fc.assert(
    fc.asyncProperty(
      // Turns of appends; before some the file is reopened (rotated), after
      // some the test waits for the writer to flush.
      fc.array(
        fc.record({
          reopen: fc.constantFrom("no", "no", "no", "yes", "awaited", "fails"),
          texts: fc.array(fc.string({ unit: "binary", minLength: 1 })),
          flush: fc.boolean(),
        }),
        { maxLength: 8 },
      ),
      fc.infiniteStream(write),
      fc.constantFrom("cuts", "cannot", "fails"),
      async (turns, writes, cut) => {
        const files: number[][] = [];
        let closed = 0, writesAfterClose = 0;
        const open = (): WriteTarget => {
          const file: number[] = [];
          files.push(file);
          let isClosed = false;
          return {
            write(p) {
              // Recorded, not thrown: the writer would take a throw for a failed write.
              if (isClosed) writesAfterClose++;
              const next = writes.next().value as Write;
              // A rotation while this write runs (log exists by the time anything writes).
              if (next.reopens) reopened.push(log.reopen().catch(() => {}));
              if (next.fails) return Promise.reject(new Error("No space left on device"));
              const n = Math.min(next.bytes, p.length);
              file.push(...p.subarray(0, n));
              return Promise.resolve(n);
            },
            close() {
              isClosed = true;
              closed++;
            },
            ...(cut !== "cannot" && {
              stat: () => Promise.resolve({ size: file.length }),
              truncate: (len: number) =>
                cut === "fails"
                  ? Promise.reject(new Error("Input/output error"))
                  : Promise.resolve(void (file.length = len)),
            }),
          };
        };
        const reopened: Promise<unknown>[] = [];
        let failNextReopen = false;
        const log = new LogWriter(open(), {
          reopen: () =>
            failNextReopen
              ? Promise.reject(new Error("Permission denied"))
              : Promise.resolve(open()),
        });
        const appends: { line: string; outcome: Promise<boolean> }[] = [];

        let n = 0;
        for (const { reopen, texts, flush } of turns) {
          if (reopen !== "no") {
            failNextReopen = reopen === "fails";
            const done = log.reopen().catch(() => {});
            reopened.push(done);
            if (reopen === "awaited") await done;
          }
          for (const text of texts) {
            // A unique start, so that each appended line can be told apart.
            const unique = `${n++}:${text}`;
            const outcome = log.append(unique).then(() => true, () => false);
            appends.push({ line: bytewise(encoder.encode(escapeLine(unique))), outcome });
          }
          if (flush) await log.flush().catch(() => {});
        }
        await Promise.all(reopened);
        await log.close();
        equal(closed, files.length, "every file closed");
        equal(writesAfterClose, 0, "no write to a closed file");
        const resolved = await Promise.all(appends.map((a) => a.outcome));
        const written: string[] = [];
        let next = 0; // appends are written in order, file after file: search forward only
        for (const file of files) {
          const found = bytewise(new Uint8Array(file)).split("\n");
          // Whatever follows a file's last newline is a fragment a failed write left.
          const whole = found.slice(0, -1);
          ok(whole.every((line) => line !== ""), "no empty line");
          written.push(...whole);
          for (const line of [...whole, found.at(-1) as string].filter((l) => l !== "")) {
            const at = appends.findIndex((a, i) => i >= next && a.line.startsWith(line));
            ok(at >= 0, `an unknown or out-of-order line: ${JSON.stringify(line)}`);
            const torn = line !== appends[at]?.line;
            ok(!torn || !resolved[at], "only a rejected append's line may be torn");
            if (cut === "cuts") ok(resolved[at] && !torn, "a failed batch's lines are cut off");
            next = at + 1;
          }
        }
        for (const [i, a] of appends.entries()) {
          if (!resolved[i]) continue;
          equal(written.filter((line) => line === a.line).length, 1, `line ${i} written once`);
        }
      },
    ),
    { numRuns: 150 },
  );
});
