// Groups whose enqueue failed after its insert was sent: answered 503 and
// never run here, they may still be in the table, and would run once
// adopted. Internal to PostgresTaskStore.
import type { PostgresCommit } from "./_postgres_commit.ts";

/** The newest this many are deleted again at close; the oldest had their chance. */
const MAX_UNSURE = 10_000;

/**
 * Deletes such groups once the session given the insert is ended (or the
 * try is over), and again at close, while the claim keeps peers off them.
 */
export class UnsureGroups {
  readonly #ids = new Set<string>();
  readonly #progress: PostgresCommit;
  #closing = false;

  constructor(progress: PostgresCommit) {
    this.#progress = progress;
  }

  /**
   * Remembers the groups for {@linkcode again}, and deletes them with the
   * next commit once `ended` resolves: a delete before the insert's session
   * is ended could come before the insert.
   */
  withdraw(groupIds: string[], ended: Promise<unknown>): void {
    for (const id of groupIds) {
      this.#ids.add(id);
      if (this.#ids.size > MAX_UNSURE) this.#ids.delete(this.#ids.values().next().value as string);
    }
    void ended.then(() => {
      if (!this.#closing) this.#progress.withdraw(groupIds).catch(() => {});
    });
  }

  /** Deletes them once more, at close: a late insert may have landed after the first delete. */
  again(): void {
    this.#closing = true;
    if (this.#ids.size > 0) this.#progress.withdraw(this.#ids).catch(() => {});
  }
}
