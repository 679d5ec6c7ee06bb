// The PostgreSQL journal's row that says a server began to stop on request
// (see DurableTaskStore.markStopping): the tasks an adopter finds running
// under it were stopped by a kill at the end of its drain, not by a crash
// they caused. Internal to PostgresTaskStore.
import { abortable } from "./abortable.ts";
import type { PostgresPool } from "./_postgres_pool.ts";
import { stoppingId, TABLE } from "./_postgres_journal.ts";

/**
 * One owner's stop row: a done row, so no walk or adoption takes it for
 * work. An adopter reads it, then deletes it with the owner's probe rows
 * (`adoptOrphans`); a clean close with no task left running deletes it.
 */
export class StopMark {
  readonly #pool: PostgresPool;
  readonly #owner: string;
  #marked: Promise<void> | undefined;

  /**
   * @param pool Where the row is written.
   * @param owner The owner it speaks for.
   */
  constructor(pool: PostgresPool, owner: string) {
    this.#pool = pool;
    this.#owner = owner;
  }

  /** Writes the row (once); resolves once it is committed. */
  mark(now: number): Promise<void> {
    const owner = this.#owner;
    return this.#marked ??= this.#pool.run(async (sql) => {
      await sql`
        INSERT INTO ${sql(TABLE)} (group_id, idx, name, args, state, updated_at, owner)
        VALUES (${stoppingId(owner)}, 0, 'stopping', '[]', 'done', ${now}, ${owner})
        ON CONFLICT (group_id, idx) DO NOTHING
      `;
    });
  }

  /**
   * At a clean close, once outcomes are committed: deletes the row unless a
   * task of the owner is still running (a close cut short), which an
   * adopter must then not count as crashed. Given up after `timeoutMs` (a
   * host gone without a reset must not hold the exit); failures are left
   * to adopters and retention.
   */
  async clear(timeoutMs = 1_000): Promise<void> {
    const owner = this.#owner;
    if (this.#marked === undefined) return;
    const cleared = this.#marked.then(() =>
      this.#pool.run(async (sql) => {
        await sql`
          DELETE FROM ${sql(TABLE)} WHERE group_id = ${stoppingId(owner)} AND NOT EXISTS (
            SELECT 1 FROM ${sql(TABLE)} WHERE owner = ${owner} AND state = 'running'
          )
        `;
      })
    );
    await abortable(cleared, AbortSignal.timeout(timeoutMs)).catch(() => {});
  }
}
