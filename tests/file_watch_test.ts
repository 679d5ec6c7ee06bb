import { deepEqual, equal } from "node:assert/strict";
import { type FileIdentity, LogWriter, watchFile } from "../lib/mod.ts";
import { fakeClock, tempDir } from "./_helpers.ts";

/** A path whose file the test replaces, looked at through an injected stat. */
function fakeFiles() {
  let file: FileIdentity | undefined = { dev: 1, ino: 10 };
  let denied = false;
  const looks: string[] = [];
  const stat = (path: string): Promise<FileIdentity> => {
    looks.push(path);
    if (denied) return Promise.reject(new Deno.errors.PermissionDenied("no read"));
    return file === undefined
      ? Promise.reject(new Deno.errors.NotFound(path))
      : Promise.resolve(file);
  };
  return {
    stat,
    looks,
    set: (next: FileIdentity | undefined) => void (file = next),
    deny: () => void (denied = true),
  };
}

Deno.test("watchFile: reopens once the path names another file or none, and not before", async () => {
  const clock = fakeClock();
  const files = fakeFiles();
  const reopened: number[] = [];
  const watch = await watchFile("log.txt", () => {
    reopened.push(clock.now());
    files.set({ dev: 1, ino: 12 }); // the writer created the file afresh
    return Promise.resolve();
  }, { clock, stat: files.stat });
  await clock.tickAsync(3_000);
  deepEqual(reopened, [], "the same file: nothing to do");
  files.set({ dev: 1, ino: 11 }); // logrotate renamed it and created another
  await clock.tickAsync(1_000);
  deepEqual(reopened, [4_000]);
  files.set(undefined); // deleted
  await clock.tickAsync(1_000);
  deepEqual(reopened, [4_000, 5_000]);
  await clock.tickAsync(2_000);
  equal(reopened.length, 2, "the new file is the one known now");
  await watch[Symbol.asyncDispose]();
  const looked = files.looks.length;
  await clock.tickAsync(5_000);
  equal(files.looks.length, looked, "stopped");
});

Deno.test("watchFile: a failed reopen is tried again at the next look; a path it may not read is not watched", async () => {
  const clock = fakeClock();
  const files = fakeFiles();
  let tries = 0;
  await using _watch = await watchFile("log.txt", () => {
    tries++;
    return tries < 2 ? Promise.reject(new Error("EACCES")) : Promise.resolve();
  }, { clock, stat: files.stat });
  files.set(undefined);
  await clock.tickAsync(2_000);
  equal(tries, 2, "again a second later");

  const denied = fakeFiles();
  denied.deny();
  await using _unwatched = await watchFile("secret.txt", () => Promise.resolve(), {
    clock,
    stat: denied.stat,
  });
  await clock.tickAsync(3_000);
  equal(denied.looks.length, 1, "one look, then no more");
});

Deno.test("watchFile: a log renamed away by logrotate is written afresh at its path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  await using log = await LogWriter.open(path);
  const reopened = Promise.withResolvers<void>();
  await using _watch = await watchFile(path, async () => {
    await log.reopen();
    reopened.resolve();
  }, { intervalMs: 5 });
  await log.append("before");
  await Deno.rename(path, `${path}.1`);
  await reopened.promise;
  await log.append("after");
  deepEqual(
    [await Deno.readTextFile(`${path}.1`), await Deno.readTextFile(path)],
    ["before\n", "after\n"],
  );
});
