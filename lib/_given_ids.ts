// The groups whose id the caller chose (TaskGroupOptions.id) rather than a
// generated UUIDv7: only those can collide with a journaled group, so only
// those cost a store a duplicate check. Internal.
import type { TaskGroup } from "./task_group.ts";

/**
 * Reads and writes a group's private field for what is known of its id:
 * `undefined` if it was generated, else the fingerprint of the request that
 * made it (see `fingerprints`), or null. A field of every group, not a
 * `WeakMap` or `WeakSet` beside them: V8's scavenges trace weak collections'
 * entries one by one; with the two, and the request's in `_kept_bodies.ts`,
 * a keyed request cost ~5 us more server CPU. TaskGroup's static block fills
 * these in (its field is private: it shows in no `console.log`).
 */
export const givenField = {
  get: (_group: TaskGroup): string | null | undefined => undefined,
  set: (_group: TaskGroup, _value: string): void => {},
};

/** Groups made with an `id` option (or given a fingerprint). */
export const givenIds = {
  /** Whether `group`'s id was chosen rather than generated. */
  has(group: TaskGroup): boolean {
    return givenField.get(group) !== undefined;
  },
};

/**
 * What the requests that made keyed groups carried (see `requestFingerprint`):
 * journaled with the group, and compared when its key is sent again.
 */
export const fingerprints = {
  /** `group`'s fingerprint, if it has one. */
  get(group: TaskGroup): string | undefined {
    return givenField.get(group) ?? undefined;
  },
  /** Gives `group` the fingerprint of the request that made it. */
  set(group: TaskGroup, fingerprint: string): void {
    givenField.set(group, fingerprint);
  },
};

/** A store's chosen ids whose commit has not settled: one enqueued again meanwhile is refused. */
export class PendingIds {
  // Each id with its group's fingerprint (null if it has none). An object
  // in dictionary mode, not a Map: ids come and go with each request (see _slots.ts).
  readonly #ids: Record<string, string | null | undefined> = Object.create(null);

  /** A commit of `id` on its way, with its group's fingerprint; `undefined` if none is. */
  taken(id: string): { fingerprint: string | null } | undefined {
    const fingerprint = this.#ids[id];
    return fingerprint === undefined ? undefined : { fingerprint };
  }

  /** Counts `group`'s id as on its way until `commit` settles; returns `commit`. */
  hold<T>(group: TaskGroup, commit: Promise<T>): Promise<T> {
    const { id } = group;
    this.#ids[id] = fingerprints.get(group) ?? null;
    const release = (): void => void delete this.#ids[id];
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
