// The SQLite journal's files, watched while it is open. Internal to SqliteTaskStore.
import { watchFile, type WatchFileOptions } from "./file_watch.ts";
import type { StructuredLogger } from "./logging.ts";

/**
 * Whether the journal's file or its WAL was deleted or replaced while open
 * (a cleanup script, a volume swapped). SQLite then goes on writing to a file
 * no path names, which a crash would lose; nothing can be accepted as durable
 * any more. Not reopened, unlike log files: the rows in flight are in the old one.
 */
export class JournalFiles {
  readonly #path: string;
  readonly #logger: StructuredLogger;
  #lost: Error | undefined;

  constructor(path: string, logger: StructuredLogger) {
    this.#path = path;
    this.#logger = logger;
  }

  /** Why nothing can be journaled durably any more, once a file was lost. */
  get lost(): Error | undefined {
    return this.#lost;
  }

  /** Looks at both files (see {@linkcode watchFile}); logs the first loss once. */
  async watch(options: WatchFileOptions): Promise<AsyncDisposable> {
    const watches = new AsyncDisposableStack();
    for (const file of [this.#path, `${this.#path}-wal`]) {
      watches.use(await watchFile(file, () => Promise.resolve(this.#lose(file)), options));
    }
    return watches;
  }

  #lose(file: string): void {
    if (this.#lost !== undefined) return;
    this.#lost = new Error(
      `Cannot journal new work: "${file}" was deleted or replaced while the journal was open`,
    );
    this.#logger.error(
      "Cannot journal new work: {file} was deleted or replaced while the journal was open, so a crash would lose what is journaled now; new work is refused until a restart (a drain first runs what was accepted)",
      { file },
    );
  }
}
