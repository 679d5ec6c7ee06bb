import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { LogWriter, type LogWriterOptions, type WriteTarget } from "../lib/mod.ts";
import { lines, tempDir } from "./_helpers.ts";

/** A target whose writes wait for `gate`, then record up to `maxBytes` of each. */
function gatedTarget(gate: Promise<void>, written: string[], maxBytes = Infinity): WriteTarget {
  return {
    async write(p) {
      await gate;
      const n = Math.min(maxBytes, p.length);
      written.push(new TextDecoder().decode(p.subarray(0, n)));
      return n;
    },
    close() {},
  };
}

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
  const log = new LogWriter(gatedTarget(gate.promise, chunks, 3)); // 3 bytes a write
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
function fillingDisk(room: number, options?: LogWriterOptions) {
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
  }, options);
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

Deno.test("LogWriter: a batch that fails halfway is cut off a real file, so none of its lines stay", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  const file = await Deno.open(path, { append: true, create: true });
  let room = 12; // then the disk is full: a short write, then ENOSPC
  const log = new LogWriter({
    write: (p) =>
      room === 0
        ? Promise.reject(new Error("No space left on device"))
        : file.write(p.subarray(0, Math.min(room, p.length))).then((n) => (room -= n, n)),
    close: () => file.close(),
    stat: () => file.stat(),
    truncate: (len) => file.truncate(len),
  });
  await log.append("kept");
  await rejects(
    Promise.all([log.append("first"), log.append("second"), log.append("third")]),
    /No space/,
  );
  equal(await Deno.readTextFile(path), "kept\n", "first\nsec is cut off again");
  room = Infinity;
  await log.append("first");
  equal(await Deno.readTextFile(path), "kept\nfirst\n", "a retry writes its line once");
  await log.close();
});

Deno.test("LogWriter: a batch whose cut fails keeps its torn start a line of its own", async () => {
  let file = "", room = 9;
  const log = new LogWriter({
    write(p) {
      if (room === 0) return Promise.reject(new Error("No space left on device"));
      const n = Math.min(room, p.length);
      room -= n;
      file += new TextDecoder().decode(p.subarray(0, n));
      return Promise.resolve(n);
    },
    close() {},
    stat: () => Promise.resolve({ size: file.length }),
    truncate: () => Promise.reject(new Error("Input/output error")),
  });
  await rejects(Promise.all([log.append("first"), log.append("second")]), /No space/);
  equal(file, "first\nsec");
  room = Infinity;
  await log.append("third");
  equal(file, "first\nsec\nthird\n");
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

Deno.test("LogWriter.open ends a line a killed writer tore, so the next line starts on its own", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  // SIGKILL stops a write to a file at a page boundary: a line's start, no newline.
  await Deno.writeTextFile(path, "first\nsec");
  {
    await using _ = await LogWriter.open(path); // nothing written until a line is
  }
  equal(await Deno.readTextFile(path), "first\nsec");
  {
    await using log = await LogWriter.open(path);
    await log.append("third");
    await log.append("fourth"); // the fragment is ended once
  }
  equal(await Deno.readTextFile(path), "first\nsec\nthird\nfourth\n");
  {
    await using log = await LogWriter.open(path); // whole lines: nothing added
    await log.append("fifth");
  }
  equal(await Deno.readTextFile(path), "first\nsec\nthird\nfourth\nfifth\n");
  // A torn file found at a reopen, too.
  await using log = await LogWriter.open(path);
  await Deno.rename(path, `${path}.1`);
  await Deno.writeTextFile(path, "torn");
  await log.reopen();
  await log.append("sixth");
  equal(await Deno.readTextFile(path), "torn\nsixth\n");
});

Deno.test("LogWriter: a line another process was halfway through writing at open gets no empty line", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await Deno.writeTextFile(path, "server's li"); // a server's write half done as a replay opens the file
  await using log = await LogWriter.open(path);
  await Deno.writeTextFile(path, "ne\n", { append: true }); // and done before the replay's first line
  await log.append("replayed");
  await log.flush();
  equal(await Deno.readTextFile(path), "server's line\nreplayed\n");
});

Deno.test("LogWriter.open with write access alone appends, asking for nothing more", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await Deno.writeTextFile(path, "torn");
  const script = `import { LogWriter } from ${JSON.stringify(import.meta.resolve("../lib/mod.ts"))};
    await using log = await LogWriter.open(${JSON.stringify(path)});
    await log.append("line");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", `--allow-write=${path}`, "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode(script));
  await stdin.close();
  const { code, stderr } = await child.output();
  equal(code, 0, new TextDecoder().decode(stderr));
  // Without read access it cannot see the fragment: the line runs into it.
  equal(await Deno.readTextFile(path), "tornline\n");
});

// A file whose writes are answered by the test: `release()` waits for the next write and lets it through.
function heldFile() {
  const file = { text: "", closed: false };
  const arrived: (() => void)[] = [];
  const waiting: ((letThrough: () => void) => void)[] = [];
  const target: WriteTarget = {
    write(p) {
      const { promise, resolve } = Promise.withResolvers<number>();
      const letThrough = () => {
        // Half of each write at most: the writer must loop on the same file.
        const n = Math.ceil(p.length / 2);
        file.text += new TextDecoder().decode(p.subarray(0, n));
        resolve(n);
      };
      const waiter = waiting.shift();
      if (waiter) waiter(letThrough);
      else arrived.push(letThrough);
      return promise;
    },
    close() {
      file.closed = true;
    },
  };
  const release = async (): Promise<void> => {
    const next = arrived.shift() ?? await new Promise<() => void>((r) => waiting.push(r));
    next();
  };
  return { file, target, release };
}

Deno.test("LogWriter: reopen sends later batches to the new file; the batch in flight ends on the old one", async () => {
  const old = heldFile();
  const next = heldFile();
  const log = new LogWriter(old.target, { reopen: () => Promise.resolve(next.target) });
  const first = log.append("first line");
  await old.release(); // 6 of the 11 bytes of "first line\n" written
  const reopened = log.reopen();
  const second = log.append("second");
  // The rest (5 bytes: 3, 1, 1) goes to the old file, not the new one.
  for (let i = 0; i < 3; i++) await old.release();
  await first;
  for (let i = 0; i < 3; i++) await next.release(); // "second\n": 4, 2, 1 bytes
  await Promise.all([second, reopened]);
  equal(old.file.text, "first line\n");
  equal(next.file.text, "second\n");
  ok(old.file.closed, "the old handle is closed once its batch is written");
  ok(!next.file.closed);
  await log.close();
  ok(next.file.closed);
});

Deno.test("LogWriter: a failed reopen keeps the current file; reopen needs a path and an open writer", async () => {
  const disk = { text: "" };
  const target: WriteTarget = {
    write: (p) => {
      disk.text += new TextDecoder().decode(p);
      return Promise.resolve(p.length);
    },
    close() {},
  };
  const log = new LogWriter(target, {
    reopen: () => Promise.reject(new Deno.errors.PermissionDenied("Requires write access")),
  });
  await rejects(log.reopen(), Deno.errors.PermissionDenied);
  await log.append("still here");
  equal(disk.text, "still here\n");
  await log.close();
  await rejects(log.reopen(), /Cannot reopen: log writer is closed/);
  await rejects(
    new LogWriter(target).reopen(),
    /Cannot reopen: log writer was not opened from a path/,
  );
});

Deno.test("LogWriter: a fragment torn on the old file does not start the new file with an empty line", async () => {
  const fresh = { text: "" };
  const { disk, log } = fillingDisk(3, {
    reopen: () =>
      Promise.resolve({
        write: (p) => {
          fresh.text += new TextDecoder().decode(p);
          return Promise.resolve(p.length);
        },
        close() {},
      }),
  });
  await rejects(log.append("first"), /No space/);
  equal(disk.file, "fir");
  await log.reopen();
  await log.append("second");
  equal(fresh.text, "second\n");
  await log.close();
});

Deno.test("LogWriter: appends racing a reopen on real files all land whole in one of the two", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await using log = await LogWriter.open(path);
  const appends = Array.from({ length: 1_000 }, (_, i) => `line ${i}`);
  const written = appends.slice(0, 500).map((line) => log.append(line));
  await Deno.rename(path, `${path}.1`);
  const reopened = log.reopen();
  written.push(...appends.slice(500).map((line) => log.append(line)));
  await Promise.all([...written, reopened]);
  await log.append("after the reopen");
  const rotated = lines(await Deno.readTextFile(`${path}.1`));
  const current = lines(await Deno.readTextFile(path));
  equal(current.at(-1), "after the reopen");
  deepEqual(
    [...rotated, ...current],
    [...appends, "after the reopen"],
    "each once, whole, in order",
  );
});

Deno.test("LogWriter: flush({ signal }) stops waiting at the abort; the write goes on", async () => {
  const written: string[] = [];
  const gate = Promise.withResolvers<void>();
  const log = new LogWriter(gatedTarget(gate.promise, written));
  const appended = log.append("slow disk");
  const controller = new AbortController();
  const flushing = log.flush({ signal: controller.signal });
  controller.abort(new Error("stop waiting"));
  await rejects(flushing, /stop waiting/);
  deepEqual(written, []);
  gate.resolve();
  await log.flush();
  await appended;
  deepEqual(written, ["slow disk\n"]);
  await log.close();
});

Deno.test("LogWriter.open gives up at its signal: before opening, or closing what it opened meanwhile", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await rejects(LogWriter.open(path, { signal: AbortSignal.abort(new Error("early")) }), /early/);
  await rejects(Deno.stat(path), Deno.errors.NotFound, "nothing was opened");
  const controller = new AbortController();
  const opening = LogWriter.open(path, { signal: controller.signal });
  controller.abort(new Error("during"));
  await rejects(opening, /during/); // the op sanitizer sees no handle left open
});

Deno.test("LogWriter.reopen({ signal }): before the switch it keeps the file; after it, only the wait ends", async () => {
  const old = heldFile();
  const fresh = heldFile();
  const opening = Promise.withResolvers<WriteTarget>();
  const early = new LogWriter(old.target, { reopen: () => opening.promise });
  const controller = new AbortController();
  const first = early.reopen({ signal: controller.signal });
  controller.abort(new Error("before"));
  opening.resolve(fresh.target);
  await rejects(first, /before/);
  ok(fresh.file.closed && !old.file.closed, "the new file is closed, the old one kept");

  const from = heldFile();
  const to = heldFile();
  const opened = Promise.resolve(to.target);
  const log = new LogWriter(from.target, { reopen: () => opened });
  const inFlight = log.append("in flight");
  await from.release(); // its write has begun on the old file
  const late = new AbortController();
  const switching = log.reopen({ signal: late.signal });
  // A reaction to the same promise, after reopen's own: it runs once reopen switched files.
  void opened.then(() => late.abort(new Error("after")));
  await rejects(switching, /after/);
  const later = log.append("later");
  ok(!from.file.closed, "the old handle waits for its batch");
  for (let i = 0; i < 3; i++) await from.release(); // the rest of "in flight\n"
  for (let i = 0; i < 3; i++) await to.release(); // "later\n"
  await Promise.all([inFlight, later]);
  deepEqual([from.file.text, to.file.text], ["in flight\n", "later\n"]);
  ok(from.file.closed, "and is closed once it is written");
  await Promise.all([early.close(), log.close()]);
});

Deno.test("LogWriter.open({ mode }) creates the file with it, and again at a reopen; an existing file keeps its own", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/private.txt`;
  const modeOf = async (file: string) => (await Deno.stat(file)).mode! & 0o777;
  {
    await using log = await LogWriter.open(path, { mode: 0o600 });
    await log.append("first");
    equal(await modeOf(path), 0o600);
    await Deno.rename(path, `${path}.1`);
    await log.reopen();
    await log.append("second");
    equal(await modeOf(path), 0o600, "the file made at the reopen");
  }
  await Deno.chmod(path, 0o640);
  {
    await using log = await LogWriter.open(path, { mode: 0o600 });
    await log.append("third");
  }
  equal(await modeOf(path), 0o640);
  equal(await Deno.readTextFile(path), "second\nthird\n");
});
