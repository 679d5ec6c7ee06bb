/**
 * Lines to a destination that may stop reading, without ever waiting for it.
 *
 * @module
 */
import { abortable, type WaitOptions } from "./abortable.ts";

/**
 * Options for {@linkcode NonBlockingLines}.
 *
 * @example A small buffer; what it dropped, said in a line of its own
 * ```ts
 * import { NonBlockingLines, type NonBlockingLinesOptions } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const written: string[] = [];
 * const stuck = Promise.withResolvers<void>();
 * const options: NonBlockingLinesOptions = {
 *   maxBuffered: 4,
 *   onDropped: (count) => lines.write(`(${count} lines dropped)\n`),
 * };
 * const lines = new NonBlockingLines(async (bytes) => {
 *   await stuck.promise;
 *   written.push(new TextDecoder().decode(bytes));
 *   return bytes.length;
 * }, options);
 * for (const line of ["a\n", "b\n", "c\n", "d\n"]) lines.write(line);
 * stuck.resolve();
 * await lines.drain();
 * deepEqual(written, ["a\n", "b\nc\n(1 lines dropped)\n"]);
 * ```
 */
export interface NonBlockingLinesOptions {
  /**
   * Characters held while a write is in progress; lines beyond them are
   * dropped and counted. @default {4_194_304}
   */
  maxBuffered?: number;
  /**
   * Called after a write succeeds with the number of lines dropped since the
   * last call (never for a destination that keeps failing). A line it writes
   * gets in past `maxBuffered`. @default {undefined}
   */
  onDropped?: ((count: number) => void) | undefined;
}

const encoder = new TextEncoder();

/**
 * Writes lines through an asynchronous `write` (`Deno.stderr.write`, say):
 * at once when no write is in progress, and while one is, everything logged
 * meanwhile in the next single write. A destination that stops taking bytes
 * (a pipe whose reader stopped: a stuck log collector, `| less`) holds one
 * write, never the caller: lines queue up to `maxBuffered` characters, then
 * are dropped and counted until it moves again. A write that fails drops its
 * lines.
 *
 * @example Lines while the destination is stuck
 * ```ts
 * import { NonBlockingLines } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const written: string[] = [];
 * const stuck = Promise.withResolvers<void>();
 * const lines = new NonBlockingLines(async (bytes) => {
 *   await stuck.promise;
 *   written.push(new TextDecoder().decode(bytes));
 *   return bytes.length;
 * });
 * lines.write("a\n"); // the write in progress
 * lines.write("b\n");
 * lines.write("c\n"); // returned at once, both waiting
 * stuck.resolve();
 * await lines.drain();
 * deepEqual(written, ["a\n", "b\nc\n"]);
 * ```
 */
export class NonBlockingLines {
  readonly #write: (bytes: Uint8Array) => Promise<number>;
  readonly #maxBuffered: number;
  readonly #onDropped: ((count: number) => void) | undefined;
  #lines: string[] = [];
  #buffered = 0;
  #dropped = 0;
  #droppedTotal = 0;
  #writing: Promise<void> | undefined;
  #reporting = false;

  /**
   * Makes the lines' queue; nothing is written until the first line.
   *
   * @param write Writes some of the bytes; resolves with how many it wrote.
   * @param options Buffer bound and drop reports.
   * @throws {RangeError} If `maxBuffered` is not a positive integer.
   */
  constructor(
    write: (bytes: Uint8Array) => Promise<number>,
    options: NonBlockingLinesOptions = {},
  ) {
    const { maxBuffered = 4 * 1024 * 1024, onDropped } = options;
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 1) {
      throw new RangeError(
        `Cannot create non-blocking lines: maxBuffered must be a positive integer, got ${maxBuffered}`,
      );
    }
    this.#write = write;
    this.#maxBuffered = maxBuffered;
    this.#onDropped = onDropped;
  }

  /** Lines dropped so far: beyond the buffer, or lost with a failed write. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /**
   * Queues `line` (with its own line break) and returns at once.
   *
   * @param line The text to write.
   */
  write(line: string): void {
    // The report of drops is let in past the bound: it says what is missing.
    if (!this.#reporting && this.#buffered + line.length > this.#maxBuffered) {
      this.#drop(1);
      return;
    }
    this.#lines.push(line);
    this.#buffered += line.length;
    this.#writing ??= this.#pump();
  }

  /**
   * Resolves once every line queued so far is written or dropped.
   *
   * @param options `signal` ends the wait early (rejecting with its reason);
   *   the lines stay queued.
   * @returns A promise that resolves when nothing is queued or being written.
   */
  async drain(options: WaitOptions = {}): Promise<void> {
    while (this.#writing !== undefined) await abortable(this.#writing, options.signal);
  }

  async #pump(): Promise<void> {
    try {
      while (this.#lines.length > 0) {
        const lines = this.#lines;
        this.#lines = [];
        this.#buffered = 0;
        if (await this.#writeAll(encoder.encode(lines.join("")))) this.#reportDrops();
        else this.#drop(lines.length);
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<boolean> {
    try {
      for (let offset = 0; offset < bytes.length;) {
        const written = await this.#write(bytes.subarray(offset));
        if (!(written > 0)) return false;
        offset += written;
      }
      return true;
    } catch {
      // stderr closed or broken: nobody to tell, and retrying would only loop.
      return false;
    }
  }

  #drop(count: number): void {
    this.#dropped += count;
    this.#droppedTotal += count;
  }

  #reportDrops(): void {
    const count = this.#dropped;
    if (count === 0 || this.#onDropped === undefined) return;
    this.#dropped = 0;
    this.#reporting = true;
    try {
      this.#onDropped(count);
    } catch {
      // A report that fails must not stop the lines after it.
    } finally {
      this.#reporting = false;
    }
  }
}
