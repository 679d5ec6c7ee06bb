/**
 * What a {@linkcode LogWriter} writes to, counts and is told: its target,
 * stats and options.
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/**
 * Where a {@linkcode LogWriter} writes: a `Deno.FsFile` or anything alike.
 *
 * @example Writing to memory
 * ```ts
 * import { LogWriter, type WriteTarget } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const chunks: string[] = [];
 * const target: WriteTarget = {
 *   write: (p) => (chunks.push(new TextDecoder().decode(p)), Promise.resolve(p.length)),
 *   close: () => {},
 * };
 * await using writer = new LogWriter(target);
 * await writer.append("one");
 * equal(chunks.join(""), "one\n");
 * ```
 */
export interface WriteTarget {
  /** Writes some of `p`, resolving to how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Releases the target. */
  close(): void;
  /** The file's size now; with `truncate`, lets a failed batch be cut off the end. */
  stat?(): Promise<{ size: number }>;
  /** Shortens the file to `len` bytes. */
  truncate?(len: number): Promise<void>;
}

/**
 * Counters of what a {@linkcode LogWriter} has written, for metrics.
 *
 * @example Two appends of one turn, one write
 * ```ts
 * import { LogWriter } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * await using writer = new LogWriter({ write: (p) => Promise.resolve(p.length), close() {} });
 * await Promise.all([writer.append("a"), writer.append("b")]);
 * deepEqual(writer.stats, { lines: 2, bytes: 4, batches: 1 });
 * ```
 */
export interface LogWriterStats {
  /** Lines written. */
  lines: number;
  /** Bytes written. */
  bytes: number;
  /** Write batches (each one or more `write` calls for many lines). */
  batches: number;
}

/**
 * Options for the {@linkcode LogWriter} constructor.
 *
 * @example JSON lines that stay one line each
 * ```ts
 * import { escapeJsonLine, LogWriter } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const written: string[] = [];
 * const target = {
 *   write: (p: Uint8Array) => (written.push(new TextDecoder().decode(p)), Promise.resolve(p.length)),
 *   close() {},
 * };
 * await using writer = new LogWriter(target, { escape: escapeJsonLine });
 * await writer.append(JSON.stringify({ message: "two\nlines" }));
 * deepEqual(JSON.parse(written.join("")), { message: "two\nlines" });
 * ```
 */
export interface LogWriterOptions {
  /**
   * Makes each appended text one line. {@linkcode escapeJsonLine} for lines
   * that are JSON. @default {escapeLine}
   */
  escape?: (text: string) => string;
  /**
   * Opens the file afresh, for {@linkcode LogWriter.reopen}; set by
   * {@linkcode LogWriter.open}. @default {undefined} (reopen rejects)
   */
  reopen?: () => Promise<WriteTarget>;
  /**
   * Times how long a batch took to be written: the keys of one that took
   * long are kept a while, so that a retry whose earlier attempt's line was
   * written after that attempt timed out finds it (see {@linkcode AppendOptions}).
   * @default {monotonicClock}
   */
  clock?: Pick<Clock, "now">;
}

/**
 * Options for {@linkcode LogWriter.open}.
 *
 * @example A file only its owner reads
 * ```ts
 * import { LogWriter } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using log = await LogWriter.open(`${dir}/private.txt`, { mode: 0o600 });
 *   await log.append("secret");
 * }
 * equal((await Deno.stat(`${dir}/private.txt`)).mode! & 0o777, 0o600);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LogWriterOpenOptions extends Pick<LogWriterOptions, "escape"> {
  /**
   * Permission bits of the file if it is created (a reopen after a rotation
   * creates it too), less the process's umask; an existing file keeps its own.
   * @default {0o666}
   */
  mode?: number | undefined;
  /** Gives up opening: the file is closed if it was opened meanwhile. @default {undefined} */
  signal?: AbortSignal | undefined;
}

/**
 * Options for {@linkcode LogWriter.append}: how a task that may time out and
 * retry appends its line once.
 *
 * @example A retry joins the line its first attempt left waiting
 * ```ts
 * import { LogWriter } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * {
 *   await using log = await LogWriter.open(path);
 *   const first = log.append("sent", { key: "g1/0" });
 *   const retry = log.append("sent", { key: "g1/0", retry: true }); // no copy
 *   await Promise.all([first, retry]);
 * }
 * equal(await Deno.readTextFile(path), "sent\n");
 * await Deno.remove(path);
 * ```
 */
export interface AppendOptions {
  /**
   * Gives up the append: a line still waiting for its batch is withdrawn
   * and never written; one whose batch is being written is written all the
   * same, and only the wait ends. Either way the append rejects with the
   * signal's reason. A line that an append without a signal waits for (or
   * joined) stays.
   * @default {undefined}
   */
  signal?: AbortSignal | undefined;
  /** Names the line (e.g. a task's id), so that a retry can find it. @default {undefined} */
  key?: string | undefined;
  /**
   * This append retries an earlier one with the same `key` (e.g. when
   * `this.attempt > 1`): if that line still waits or is being written (a
   * disk that stalls past the task's timeout), the append joins it instead
   * of adding a copy, and settles with it; its own text is not used. If it
   * was written late (its batch took 250 ms or more, one of the last 64 such
   * batches), the append resolves at once. Only a retry looks, so a first
   * attempt pays no lookup.
   * @default {false}
   */
  retry?: boolean | undefined;
}
