// The groups whose id the caller chose (TaskGroupOptions.id) rather than a
// generated UUIDv7: only those can collide with a journaled group, so only
// those cost a store a duplicate check. Internal.
import type { TaskGroup } from "./task_group.ts";

/** Groups made with an `id` option. */
export const givenIds: WeakSet<TaskGroup> = new WeakSet();

/**
 * What the requests that made keyed groups carried (see `requestFingerprint`):
 * journaled with the group, and compared when its key is sent again.
 */
export const fingerprints: WeakMap<TaskGroup, string> = new WeakMap();

/** A store's chosen ids whose commit has not settled: one enqueued again meanwhile is refused. */
export class PendingIds {
  // Each id with its group's fingerprint (null if it has none).
  readonly #ids = new Map<string, string | null>();

  /** A commit of `id` on its way, with its group's fingerprint; `undefined` if none is. */
  taken(id: string): { fingerprint: string | null } | undefined {
    const fingerprint = this.#ids.get(id);
    return fingerprint === undefined ? undefined : { fingerprint };
  }

  /** Counts `group`'s id as on its way until `commit` settles; returns `commit`. */
  hold<T>(group: TaskGroup, commit: Promise<T>): Promise<T> {
    const { id } = group;
    this.#ids.set(id, fingerprints.get(group) ?? null);
    const release = (): void => void this.#ids.delete(id);
    commit.then(release, release);
    return commit;
  }
}

/**
 * Whether a group that succeeded stays in the journal (until its retention
 * ends, as a failed one does) rather than being deleted: one whose id is a
 * UUID version 8, as `idempotentGroupId` makes them, so that a request sent
 * again with its Idempotency-Key is known after a restart, or to another
 * server of a shared queue. `KEPT_ID_SQL` says the same in SQL.
 */
export function keptWhenDone(id: string): boolean {
  return id.length === 36 && id.charCodeAt(14) === 0x38 && id.charCodeAt(13) === 0x2d;
}

/** {@linkcode keptWhenDone} over a `group_id` column, in SQL that SQLite and PostgreSQL share. */
export const KEPT_ID_SQL = "(length(group_id) = 36 AND substr(group_id, 14, 2) = '-8')";
