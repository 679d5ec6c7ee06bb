import { equal, rejects } from "node:assert/strict";
import { openAppendFile } from "../lib/_append_file.ts";
import { LogWriter } from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

Deno.test("LogWriter on a file it can read cuts a failed batch off only while its bytes end the file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/log.txt`;
  const { file } = await openAppendFile(path);
  // The disk takes `room` more bytes, then is full; `meanwhile` runs just
  // before the write that meets the full disk (another process appending).
  let room = 9;
  let meanwhile = async () => {};
  const write = file.write.bind(file);
  file.write = async (p) => {
    if (room === 0) {
      await meanwhile();
      throw new Error("No space left on device");
    }
    const n = await write(p.subarray(0, Math.min(room, p.length)));
    room -= n;
    return n;
  };
  await using log = new LogWriter(file);
  await rejects(Promise.all([log.append("first"), log.append("second")]), /No space/);
  equal(await Deno.readTextFile(path), "", "first\\nsec is the file's end: cut off again");

  // A replay beside the server appends its line after the fragment.
  room = 9;
  meanwhile = () => Deno.writeTextFile(path, "replayed\n", { append: true });
  await rejects(Promise.all([log.append("first"), log.append("second")]), /No space/);
  equal(await Deno.readTextFile(path), "first\nsecreplayed\n", "the other's line is kept");
  room = Infinity;
  await log.append("third");
  equal(await Deno.readTextFile(path), "first\nsecreplayed\nthird\n");
});
