// The groups whose id the caller chose (TaskGroupOptions.id) rather than a
// generated UUIDv7: only those can collide with a journaled group, so only
// those cost a store a duplicate check. Internal.
import type { TaskGroup } from "./task_group.ts";

/** Groups made with an `id` option. */
export const givenIds: WeakSet<TaskGroup> = new WeakSet();

/** A store's chosen ids whose commit has not settled: one enqueued again meanwhile is refused. */
export class PendingIds {
  readonly #ids = new Set<string>();

  /** Whether a commit of `id` is on its way. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Counts `id` as on its way until `commit` settles; returns `commit`. */
  hold<T>(id: string, commit: Promise<T>): Promise<T> {
    this.#ids.add(id);
    const release = (): void => void this.#ids.delete(id);
    commit.then(release, release);
    return commit;
  }
}
