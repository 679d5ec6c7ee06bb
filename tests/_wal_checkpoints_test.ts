import { equal, ok } from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { WalCheckpoints } from "../lib/_wal_checkpoints.ts";
import { fakeClock, tempDir } from "./_helpers.ts";
import { walDatabase } from "./_sqlite_journal.ts";

/** Adds pages until a checkpoint is due; returns the frames the WAL holds then. */
function fillUntilDue(
  checkpoints: WalCheckpoints,
  addPage: (db: DatabaseSync) => void,
  db: DatabaseSync,
): number {
  let before = checkpoints.uncopied();
  while (!checkpoints.due()) {
    before = checkpoints.uncopied();
    addPage(db);
  }
  ok(before < checkpoints.uncopied(), "due only once a write added frames");
  return before;
}

Deno.test("WalCheckpoints: due at 1,000 frames, which SQLite no longer copies by itself", async () => {
  await using dir = await tempDir();
  const { db, addPage, wal } = walDatabase(`${dir.path}/wal.db`);
  const checkpoints = new WalCheckpoints(db, fakeClock());
  const before = fillUntilDue(checkpoints, addPage, db);
  ok(before < 1_000 && wal().log >= 1_000, `not due at ${before} frames, due at ${wal().log}`);
  equal(wal().checkpointed, 0, "SQLite's automatic checkpoint is off");
  equal(checkpoints.run(), true);
  equal(checkpoints.uncopied(), 0);
  equal(checkpoints.due(), false, "a checkpointed WAL keeps its frames until the next write");
  db.close();
  equal(checkpoints.uncopied(), 0, "closed under it: no throw");
  equal(checkpoints.run(), false);
});

Deno.test("WalCheckpoints: a full disk asks for one now, at most once a second, and for the next at half the WAL", async () => {
  await using dir = await tempDir();
  const { db, addPage, wal } = walDatabase(`${dir.path}/wal.db`);
  const clock = fakeClock();
  const checkpoints = new WalCheckpoints(db, clock);
  while (wal().log < 200) addPage(db); // the WAL could not grow past this
  const held = wal().log;
  equal(checkpoints.full(), true, "one now");
  equal(checkpoints.due(), true, "of anything the WAL holds");
  checkpoints.run();
  equal(checkpoints.full(), false, "not again within the second");
  const before = fillUntilDue(checkpoints, addPage, db);
  const half = Math.floor(held / 2);
  ok(before < half && wal().log >= half, `due at half of ${held} frames, at ${wal().log}`);
  await clock.tickAsync(1_000);
  equal(checkpoints.full(), true, "a second later, again");
  db.close();
});
