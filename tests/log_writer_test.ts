import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { LogWriter, type WriteTarget } from "../lib/mod.ts";
import { lines, tempDir } from "./_helpers.ts";

Deno.test("LogWriter: 50 concurrent writers x 1,000 lines, some over 64 KiB, stay whole", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  const writers = 50, perWriter = 1_000;
  {
    await using log = await LogWriter.open(path);
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const long = i % 250 === 7 ? "x".repeat(70_000 + w) : "";
        await log.append(`w${w} i${i} ${long}end`);
      }
    }));
    ok(log.stats.batches < writers * perWriter / 10, `batched: ${log.stats.batches} writes`);
  }
  const written = lines(await Deno.readTextFile(path));
  equal(written.length, writers * perWriter);
  const seen = new Set<string>();
  for (const line of written) {
    const match = /^w(\d+) i(\d+) (x*)end$/.exec(line);
    ok(match, `torn line: ${line.slice(0, 80)}`);
    seen.add(`${match[1]}/${match[2]}`);
  }
  equal(seen.size, writers * perWriter);
});

Deno.test("LogWriter: an injection attempt stays on one line", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  {
    await using log = await LogWriter.open(path);
    await log.append("notification for a@b.c%0A: x\r\nnotification for evil: \x1b[2Jgotcha");
  }
  const written = lines(await Deno.readTextFile(path));
  deepEqual(written, [
    "notification for a@b.c%0A: x\\r\\nnotification for evil: \\x1b[2Jgotcha",
  ]);
});

Deno.test("LogWriter: append resolves only after its bytes are written; partial writes continue", async () => {
  const chunks: string[] = [];
  const gate = Promise.withResolvers<void>();
  const target: WriteTarget = {
    async write(p) {
      await gate.promise;
      const n = Math.min(3, p.length); // a target that writes 3 bytes at a time
      chunks.push(new TextDecoder().decode(p.subarray(0, n)));
      return n;
    },
    close() {},
  };
  const log = new LogWriter(target);
  let done = false;
  const appended = log.append("hello").then(() => done = true);
  await Promise.resolve();
  equal(done, false);
  gate.resolve();
  await appended;
  equal(chunks.join(""), "hello\n");
  await log.close();
});

Deno.test("LogWriter: a failed write rejects its appends, later ones still write; closed rejects", async () => {
  let fail = true;
  const written: string[] = [];
  const log = new LogWriter({
    write(p) {
      if (fail) return Promise.reject(new Error("disk full"));
      written.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
    close() {},
  });
  await rejects(log.append("lost"), /disk full/);
  fail = false;
  await log.append("kept");
  deepEqual(written, ["kept\n"]);
  await log.close();
  await rejects(log.append("late"), /Cannot append: log writer is closed/);
  deepEqual(log.stats, { lines: 1, bytes: 5, batches: 1 });
});

/** A file on a disk with `room` bytes left: a write past it is short, the next one fails. */
function fillingDisk(room: number) {
  const disk = { file: "", room };
  const log = new LogWriter({
    write(p) {
      if (disk.room === 0) return Promise.reject(new Error("No space left on device"));
      const n = Math.min(disk.room, p.length);
      disk.room -= n;
      disk.file += new TextDecoder().decode(p.subarray(0, n));
      return Promise.resolve(n);
    },
    close() {},
  });
  return { disk, log };
}

Deno.test("LogWriter: a write that fails halfway leaves a fragment that never runs into the next line", async () => {
  const { disk, log } = fillingDisk(12);
  await rejects(Promise.all([log.append("first"), log.append("second")]), /No space/);
  equal(disk.file, "first\nsecond"); // "second" is torn
  await rejects(log.append("third"), /No space/); // nothing written: still torn
  disk.room = Infinity; // space freed
  await log.append("fourth");
  deepEqual(disk.file.split("\n"), ["first", "second", "fourth", ""]);
  await log.close();
});

Deno.test("LogWriter: a write that fails at a line's end adds no empty line", async () => {
  const { disk, log } = fillingDisk(6);
  await rejects(Promise.all([log.append("first"), log.append("second")]), /No space/);
  disk.room = Infinity;
  await log.append("third");
  equal(disk.file, "first\nthird\n");
  await log.close();
});

Deno.test("LogWriter: flush waits for queued lines; close is idempotent", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  const log = await LogWriter.open(path);
  void log.append("a");
  void log.append("b");
  await log.flush();
  equal(await Deno.readTextFile(path), "a\nb\n");
  await Promise.all([log.close(), log.close()]);
});

Deno.test("LogWriter: a file rotated in place (copytruncate) gets the next line at its start", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await using log = await LogWriter.open(path);
  await log.append("before");
  await Deno.copyFile(path, `${path}.1`);
  await Deno.truncate(path, 0);
  await log.append("after");
  equal(await Deno.readTextFile(path), "after\n");
  equal(await Deno.readTextFile(`${path}.1`), "before\n");
});
