/**
 * What a {@linkcode LogWriter} writes to, counts and is told: its target,
 * stats and options.
 *
 * @module
 */

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
}
