// The files a start is configured with must be distinct: a log line
// appended to the SQLite journal (LOG_FILE=tasks.db) was lost at its next
// checkpoint, silently, and one appended to its WAL would corrupt it. Internal.
import { fileIdentity } from "./_file_identity.ts";
import { isStandardOutput } from "./_log_files.ts";
import type { Config } from "./config.ts";

/**
 * Rejects if two of the configured files are one: by device and inode where
 * the file exists (the log files do, once opened), else by name.
 *
 * @throws {Error} `Cannot use TASK_STORE's journal "x.db": LOG_FILE "x.db" is the same file; …`
 */
export async function checkDistinctFiles(config: Config): Promise<void> {
  const seen = new Map<string, [string, string]>();
  for (const [name, path] of configuredFiles(config)) {
    const key = isStandardOutput(path)
      ? "standard output"
      : await fileIdentity(path) ?? `name:${normalized(path)}`;
    const first = seen.get(key);
    if (first !== undefined) {
      const journal = name.startsWith("TASK_STORE")
        ? " (lines appended to a journal are lost at its next checkpoint, or corrupt it)"
        : "";
      throw new Error(
        `Cannot use ${name} ${JSON.stringify(path)}: ${first[0]} ${
          JSON.stringify(first[1])
        } is the same file; give each its own${journal}`,
      );
    }
    seen.set(key, [name, path]);
  }
}

/**
 * The files a start writes, each with what names it: the two line files
 * (maybe standard output) and a SQLite journal's three (the start's
 * permission check asks for the same).
 */
export function configuredFiles(config: Config): [string, string][] {
  const files: [string, string][] = [
    ["LOG_FILE", config.logFile],
    ["DEAD_LETTER_FILE", config.deadLetterFile],
  ];
  const store = config.taskStore;
  if (store?.kind === "sqlite") {
    // SQLite writes beside the database: its WAL, and a rollback journal while it switches modes.
    for (const suffix of ["", "-wal", "-journal"]) {
      files.push([
        `TASK_STORE's journal${suffix && ` (its ${suffix.slice(1)})`}`,
        store.file + suffix,
      ]);
    }
  }
  return files;
}

/** A path's name with its `./` and doubled slashes taken out. */
function normalized(path: string): string {
  return path.replace(/\/(\.\/)+/g, "/").replace(/^(\.\/)+/, "").replace(/\/{2,}/g, "/");
}
