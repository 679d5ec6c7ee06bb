/**
 * An append-only line writer that coalesces concurrent appends.
 *
 * @module
 */
import { abortable, type WaitOptions } from "./abortable.ts";
import { monotonicClock } from "./clock.ts";
import { escapeLine } from "./escape_line.ts";
import { LineQueue } from "./_line_queue.ts";
import { cut, openAppendFile, stillEndsMidLine } from "./_append_file.ts";
import type {
  AppendOptions,
  LogWriterOpenOptions,
  LogWriterOptions,
  LogWriterStats,
  WriteTarget,
} from "./log_writer_options.ts";

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
/**
 * Targets whose file ends mid-line: a write failed after part of a line (the
 * disk filled), or the file was found so when opened (its writer killed).
 */
const torn = new WeakSet<WriteTarget>();

/**
 * Appends lines to one file handle, opened once for the writer's life.
 *
 * Appends made while a write is in flight are joined into the next single
 * write, so a burst of N appends costs about two writes, not N. Each line is
 * escaped ({@linkcode escapeLine}, or as told) and terminated with `\n`, so one append
 * is always exactly one whole line: lines never interleave or tear, whatever
 * their length, because only this writer writes and it writes batches one
 * after another, looping over partial writes. If a write fails halfway (the
 * disk filled), the appends of that batch reject and what the batch wrote is
 * cut off the file's end again (ftruncate), so the file holds none of their
 * lines: a task that retries writes its line once, and a dead letter never
 * names a line that is in the log. Where the cut fails (or the target cannot
 * `truncate`), the next batch starts by ending the torn fragment, so it stays
 * a line of its own. A fragment that a process killed mid-write left at the
 * end of the file is ended the same way, by the first batch after opening
 * (with read access to see it).
 *
 * A task that times out and retries while its line waits (a disk that
 * stalls) appends with {@linkcode AppendOptions}: a key, so that its retry
 * joins the line an earlier attempt left waiting or being written instead of
 * writing it twice, and if it likes a signal, which withdraws a line that
 * still waits.
 *
 * After logrotate renamed the file, {@linkcode LogWriter.reopen} (on SIGUSR2)
 * moves the writer to a new file at the path, between two batches.
 *
 * @example Appending lines and closing with `await using`
 * ```ts
 * import { LogWriter } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * {
 *   await using log = await LogWriter.open(path);
 *   await Promise.all([log.append("first"), log.append("second\nline")]);
 * }
 * equal(await Deno.readTextFile(path), "first\nsecond\\nline\n");
 * await Deno.remove(path);
 * ```
 */
export class LogWriter implements AsyncDisposable {
  #target: WriteTarget;
  #reopen: (() => Promise<WriteTarget>) | undefined;
  #escape: (text: string) => string;
  #queue: LineQueue;
  #last: Promise<void> = Promise.resolve();
  #writing = false;
  #closed: Promise<void> | undefined;
  #stats: LogWriterStats = { lines: 0, bytes: 0, batches: 0 };

  /**
   * Opens `path` for appending (creating it if missing) and returns a writer
   * that owns the handle until {@linkcode LogWriter.close}. Where read access
   * to `path` is granted, a file that ends mid-line (its writer killed during
   * a write) has its first batch start with a newline, so that no line runs
   * into the fragment; nothing is written until then.
   *
   * @param path The file to append to.
   * @param options How each line is escaped, the new file's permission
   * bits, and a signal to give up (the file is then closed if it was opened
   * meanwhile).
   * @returns A writer for `path`.
   * @throws {Deno.errors.PermissionDenied} Without write access to `path`.
   * @throws The signal's reason, if it aborts before the writer is made.
   */
  static async open(path: string | URL, options: LogWriterOpenOptions = {}): Promise<LogWriter> {
    const { escape, mode, signal } = options;
    signal?.throwIfAborted();
    const open = async () => {
      const { file, endsMidLine } = await openAppendFile(path, mode);
      if (endsMidLine) torn.add(file);
      return file;
    };
    const file = await open();
    if (signal?.aborted) {
      file.close();
      throw signal.reason;
    }
    return new LogWriter(file, { ...(escape && { escape }), reopen: open });
  }

  /**
   * Wraps an already opened target; {@linkcode LogWriter.open} is the usual way in.
   *
   * @param target Where batches are written; the writer closes it on close.
   * @param options How lines are escaped, and how to open the file afresh.
   */
  constructor(target: WriteTarget, options: LogWriterOptions = {}) {
    this.#target = target;
    this.#queue = new LineQueue(
      (batch) => this.#batchStarted(batch),
      options.clock ?? monotonicClock,
    );
    this.#reopen = options.reopen;
    this.#escape = options.escape ?? escapeLine;
  }

  /** What has been written so far. */
  get stats(): Readonly<LogWriterStats> {
    return this.#stats;
  }

  /**
   * Appends `text` as one line (escaped, newline-terminated).
   *
   * @param text The line's content; it may hold any characters.
   * @param options A key, so that a retry joins the line; a signal to give it up.
   * @returns A promise that resolves once the line's bytes are written, and
   * rejects if that write failed.
   * @throws {Error} If the writer is closed (as a rejection); the signal's
   * reason, if it aborts first (as a rejection).
   */
  append(text: string, options?: AppendOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Cannot append: log writer is closed"));
    const line = this.#escape(text);
    return options === undefined ? this.#queue.push(line) : this.#queue.claim(line, options);
  }

  #batchStarted(batch: Promise<void>): void {
    // Callers await their own append; this only keeps a failed batch that
    // nobody awaits from becoming an unhandled rejection.
    batch.catch(() => {});
    this.#last = batch;
    if (!this.#writing) {
      this.#writing = true;
      // A macrotask, not a microtask: appends from every request handled in
      // this turn of the event loop join the batch (measured: ~60 lines per
      // write under load instead of ~1.4).
      setTimeout(() => this.#drainQueue(), 0);
    }
  }

  /**
   * Waits until every line appended so far is written.
   *
   * @param options A signal that ends the wait early (the writes go on).
   * @returns A promise that rejects if the last batch failed to write, or
   * with the signal's reason.
   */
  flush(options: WaitOptions = {}): Promise<void> {
    return abortable(this.#last, options.signal);
  }

  /**
   * Flushes, then closes the file handle. Later appends reject; calling
   * close again returns the same promise.
   *
   * @returns A promise that resolves once the handle is closed.
   */
  close(): Promise<void> {
    this.#closed ??= this.#last.catch(() => {}).then(() => this.#target.close());
    return this.#closed;
  }

  /**
   * Opens the file at the writer's path afresh (creating it) and writes every
   * later batch there; the old handle is closed once the batch being written
   * to it is done, so no line is split between the two files. This is how
   * the writer follows logrotate's rename-and-create rotation (on SIGUSR2).
   *
   * @param options A signal to give up: before the switch, the writer keeps
   * its current file; after it, only the wait for the old handle's last batch
   * ends (that handle is still closed once the batch is written).
   * @returns A promise that resolves once later batches go to the new file
   * and the old handle is closed.
   * @throws {Error} If the writer is closed or was not opened from a path, or
   * the path cannot be opened (the writer then keeps its current file); or
   * the signal's reason.
   *
   * @example Following a rename
   * ```ts
   * import { LogWriter } from "./mod.ts";
   * import { equal } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * await using log = await LogWriter.open(`${dir}/log.txt`);
   * await log.append("before");
   * await Deno.rename(`${dir}/log.txt`, `${dir}/log.txt.1`);
   * await log.reopen();
   * await log.append("after");
   * equal(await Deno.readTextFile(`${dir}/log.txt.1`), "before\n");
   * equal(await Deno.readTextFile(`${dir}/log.txt`), "after\n");
   * ```
   */
  async reopen(options: WaitOptions = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.#closed) throw new Error("Cannot reopen: log writer is closed");
    if (this.#reopen === undefined) {
      throw new Error("Cannot reopen: log writer was not opened from a path");
    }
    const target = await this.#reopen();
    // Closed while the file was opening: close() owns the current target.
    if (this.#closed) return target.close();
    if (signal?.aborted) {
      target.close();
      throw signal.reason;
    }
    const old = this.#target;
    this.#target = target;
    // Batches queued until now may still be writing to the old handle.
    const retired = this.#last.catch(() => {}).then(() => old.close());
    await abortable(retired, signal);
  }

  /** Same as {@linkcode LogWriter.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #drainQueue(): Promise<void> {
    for (let batch = this.#queue.take(); batch; batch = this.#queue.take()) {
      const { lines } = batch;
      try {
        if (lines.length > 0) {
          // One batch, one file: a reopen meanwhile takes effect at the next batch.
          const target = this.#target;
          if (torn.has(target) && !(await stillEndsMidLine(target))) torn.delete(target);
          // A torn fragment is ended first, so it cannot run into the next line.
          const text = lines.join("\n") + "\n";
          const bytes = encoder.encode(torn.has(target) ? "\n" + text : text);
          await this.#writeAll(target, bytes);
          this.#stats.lines += lines.length;
          this.#stats.bytes += bytes.length;
          this.#stats.batches++;
        }
        batch.written();
      } catch (error) {
        batch.failed(error);
      }
    }
    this.#writing = false;
  }

  async #writeAll(target: WriteTarget, bytes: Uint8Array): Promise<void> {
    let offset = 0;
    try {
      while (offset < bytes.length) {
        offset += await target.write(offset === 0 ? bytes : bytes.subarray(offset));
      }
    } catch (error) {
      // Cut off: the file is as it was before the batch, torn or not. Left
      // (no cut, or another process wrote after it): torn is what the batch
      // ended with, and a file that can be read is read again before the next.
      if (offset > 0 && !(await cut(target, bytes.subarray(0, offset)))) {
        if (bytes[offset - 1] === NEWLINE) torn.delete(target);
        else torn.add(target);
      }
      throw error;
    }
    torn.delete(target);
  }
}
