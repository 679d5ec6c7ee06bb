// Reopening the app's log files after a rotation. logrotate renames, then
// signals, and the file watch sees the rename too: a path that still names
// the file last opened is not reopened again, and one reopen of a file runs
// at a time, so that the second sees the first's file. Internal to createApp.
import { fileIdentity } from "./_file_identity.ts";
import type { LogWriter } from "./log_writer.ts";
import type { StructuredLogger } from "./logging.ts";

export class Reopens {
  readonly #logger: StructuredLogger;
  /** What each path named when its file was last opened. */
  readonly #openedAs = new Map<string, string | undefined>();
  readonly #running = new Map<string, Promise<boolean>>();

  constructor(logger: StructuredLogger) {
    this.#logger = logger;
  }

  /** Records what `file` names now: the file just opened. */
  async opened(file: string): Promise<void> {
    this.#openedAs.set(file, await fileIdentity(file));
  }

  /**
   * Opens `file` afresh for `writer`, unless its path still names the open
   * file; true if it did.
   */
  reopen(file: string, writer: LogWriter): Promise<boolean> {
    const done = (this.#running.get(file) ?? Promise.resolve()).catch(() => {})
      .then(() => this.#reopen(file, writer));
    this.#running.set(file, done);
    return done;
  }

  async #reopen(file: string, writer: LogWriter): Promise<boolean> {
    const now = await fileIdentity(file);
    if (now !== undefined && now === this.#openedAs.get(file)) return false;
    try {
      await writer.reopen();
      await this.opened(file);
      this.#logger.info("Reopened {file}", { file });
      return true;
    } catch (error) {
      this.#logger.error("Cannot reopen {file}, lines still go to the old handle: {error}", {
        file,
        error,
      });
      throw error;
    }
  }
}
