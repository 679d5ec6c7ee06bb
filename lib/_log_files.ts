// The app's two line files, opened by their variables. `-` (or /dev/stdout)
// is the process's standard output, where a container's log collector reads:
// Deno opens /dev/stdout only with --allow-all, while writing to the stdout
// it already has needs no permission. Internal to createApp.
import { cannot } from "./_journal_rows.ts";
import { LogWriter } from "./log_writer.ts";
import type { LogWriterOpenOptions } from "./log_writer_options.ts";

/** Whether a configured file means standard output. */
export const isStandardOutput = (path: string): boolean => path === "-" || path === "/dev/stdout";

/**
 * Opens `path` for appending lines, or standard output (which closing the
 * writer leaves open, its lines written).
 *
 * @throws {Error} `Cannot open LOG_FILE "x": <why>`, naming the variable:
 * "Is a directory (os error 21)" alone says not which file.
 */
export async function openLogFile(
  variable: string,
  path: string,
  options: LogWriterOpenOptions,
): Promise<LogWriter> {
  const { escape, signal } = options;
  if (isStandardOutput(path)) {
    signal?.throwIfAborted();
    const stdout = { write: (p: Uint8Array) => Deno.stdout.write(p), close() {} };
    return new LogWriter(stdout, escape && { escape });
  }
  try {
    return await LogWriter.open(path, options);
  } catch (error) {
    if (signal?.aborted && error === signal.reason) throw error;
    throw cannot(`open ${variable} ${JSON.stringify(path)}`, error);
  }
}
