// When the SQLite journal copies its WAL into the database (a checkpoint),
// for GroupCommit, which runs them. Internal.
//
// Not SQLite's automatic checkpoint: it runs inside a commit, on the event
// loop, and its fsyncs would stop the whole server for as long as a stalled
// disk holds them. GroupCommit runs one right after a WAL sync that came
// back in time, once this says one is due.
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { IntervalGate } from "./_interval_gate.ts";
import type { Clock } from "./clock.ts";

/** WAL frames (pages) past which a checkpoint is due: SQLite's own default. */
const CHECKPOINT_FRAMES = 1000;

/** Whether an error is SQLite's SQLITE_FULL (node:sqlite in Deno gives only its text). */
export function isDiskFull(error: unknown): boolean {
  return error instanceof Error && error.message.includes("database or disk is full");
}

/** The journal's checkpoints: when one is due, and running it. */
export class WalCheckpoints {
  readonly #frames: StatementSync;
  readonly #checkpoint: StatementSync;
  /** Frames past which a checkpoint is due; lowered on a full disk. */
  #dueAt = CHECKPOINT_FRAMES;
  /** A full disk asked for a checkpoint of whatever the WAL holds. */
  #wanted = false;
  readonly #rescues: IntervalGate;

  /**
   * Turns SQLite's automatic checkpoint off.
   *
   * @param db The journal, in WAL mode.
   * @param clock Paces checkpoints asked for by a full disk.
   */
  constructor(db: DatabaseSync, clock: Pick<Clock, "now">) {
    db.exec("PRAGMA wal_autocheckpoint = 0");
    // NOOP reads the WAL's size and does nothing else (1.7 us).
    this.#frames = db.prepare("PRAGMA wal_checkpoint(NOOP)");
    this.#checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    this.#rescues = new IntervalGate(1_000, clock);
  }

  /** Whether the WAL holds enough to copy (any of it, after a full disk asked). */
  due(): boolean {
    return this.uncopied() >= (this.#wanted ? 1 : this.#dueAt);
  }

  /** WAL frames not yet copied (a checkpointed WAL keeps its size until the next write). */
  uncopied(): number {
    try {
      const { log, checkpointed } = this.#frames.get() as { log: number; checkpointed: number };
      return log - checkpointed;
    } catch {
      // Closed first: callers run in promise callbacks, where a throw would
      // be an unhandled rejection, and end the process.
      return 0;
    }
  }

  /**
   * Copies the WAL into the database file, so that the WAL starts over.
   *
   * @returns False if it failed (a failing or full disk).
   */
  run(): boolean {
    this.#wanted = false;
    try {
      this.#checkpoint.get();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A commit found no room for the WAL to grow: a full disk, or one with
   * room for fewer than 1,000 frames, where every commit would fail while a
   * checkpoint lets the WAL start over in the file it has. From now on one
   * is due before the WAL holds half what it held then.
   *
   * @returns Whether to checkpoint now (at most once a second).
   */
  full(): boolean {
    const held = this.uncopied();
    // Holding nothing, it says nothing of the room there is.
    if (held > 0) this.#dueAt = Math.min(this.#dueAt, Math.max(1, Math.floor(held / 2)));
    if (!this.#rescues.due()) return false;
    this.#wanted = true;
    return true;
  }
}
