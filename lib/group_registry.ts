/**
 * Where task groups can be found by id, for `GET /tasks/{id}`.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { FinishedGroups } from "./_finished_groups.ts";
import { idHash, IdTable } from "./_id_table.ts";
import { fingerprints } from "./_given_ids.ts";
import type { TaskGroup } from "./task_group.ts";
import type { GroupStatus } from "./task_status.ts";

/**
 * Options for {@linkcode GroupRegistry}.
 *
 * @example Statuses kept for a minute
 * ```ts
 * import { GroupRegistry, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * let now = 0;
 * const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
 * const registry = new GroupRegistry({ retentionMs: 60_000, maxFinished: 100, clock });
 * const group = new TaskGroup().add(() => {});
 * registry.track(group);
 * registry.settled(group);
 * now = 59_999;
 * equal(registry.has(group.id), true);
 * now = 60_001;
 * equal(registry.has(group.id), false);
 * ```
 */
export interface GroupRegistryOptions {
  /** Finished groups kept at most. @default {10000} */
  maxFinished?: number;
  /** Milliseconds a finished group stays visible. @default {600000} */
  retentionMs?: number;
  /** Time source. @default {systemClock} */
  clock?: Clock;
}

/**
 * Groups by id: every unfinished group (bounded by the runner's backlog), and
 * the status of finished ones for a bounded time and count, oldest evicted
 * first. A finished group's status is a snapshot taken as it settles, stored
 * compactly (most take no object at all), so keeping thousands costs the
 * garbage collector nothing.
 *
 * @example Keeping the latest finished groups
 * ```ts
 * import { GroupRegistry, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const registry = new GroupRegistry({ maxFinished: 1 });
 * const [a, b] = [new TaskGroup().add(() => {}), new TaskGroup().add(() => {})];
 * registry.track(a);
 * registry.track(b);
 * equal(registry.status(a.id)?.state, "queued");
 * registry.settled(a);
 * registry.settled(b);
 * equal(registry.has(a.id), false);
 * equal(registry.status(b.id)?.id, b.id);
 * ```
 */
export class GroupRegistry {
  // Keyed by a cheap hash of the id, not the id: V8 hashes a fresh string the
  // first time it keys a Map, measured 0.5-0.7 us, against 60 ns for a small
  // integer, and each request brings a fresh id. Not a Map (a group comes and
  // goes with each request: see _slots.ts), nor an object's dictionary
  // elements, which rehash as they churn (see _id_table.ts).
  #live = new IdTable<TaskGroup>();
  #finished = new FinishedGroups();
  #maxFinished: number;
  #retentionMs: number;
  #clock: Clock;

  /**
   * Makes an empty registry.
   *
   * @param options Retention bounds and the clock.
   */
  constructor(options: GroupRegistryOptions = {}) {
    const { maxFinished = 10_000, retentionMs = 600_000, clock = systemClock } = options;
    this.#maxFinished = maxFinished;
    this.#retentionMs = retentionMs;
    this.#clock = clock;
  }

  /** Unfinished groups tracked now. */
  get live(): number {
    return this.#live.size;
  }

  /** Finished groups still visible. */
  get finished(): number {
    return this.#finished.size;
  }

  /**
   * Makes a group findable; call when the runner accepted it.
   *
   * @param group The group.
   */
  track(group: TaskGroup): void {
    this.#live.add(idHash(group.id), group);
  }

  /**
   * Keeps a tracked group's final status and lets go of the group; call from
   * the runner's `onGroupSettled`. A group never tracked is ignored.
   *
   * @param group The group.
   */
  settled(group: TaskGroup): void {
    const key = idHash(group.id);
    if (!this.#live.delete(key, group)) return;
    const now = this.#clock.now();
    if (this.#maxFinished > 0) this.#finished.add(group, key, now);
    this.#evict(now);
  }

  /**
   * Lets go of a tracked group without keeping its status; call from the
   * runner's `onGroupDropped` (a group whose journal commit failed never
   * existed). A group never tracked is ignored.
   *
   * @param group The group.
   */
  forget(group: TaskGroup): void {
    this.#live.delete(idHash(group.id), group);
  }

  /**
   * Finds a group's status: an unfinished group's (the last tracked, if two
   * share the id) before a finished one's (the last to finish).
   *
   * @param id The group's id.
   * @returns The status, or `undefined` if unknown or evicted.
   */
  status(id: string): GroupStatus | undefined {
    const key = idHash(id);
    const group = this.#live.find(key, id);
    if (group !== undefined) return group.toJSON();
    this.#evict(this.#clock.now());
    return this.#finished.find(id, key);
  }

  /**
   * Whether {@linkcode GroupRegistry.status} would find the id.
   *
   * @param id The group's id.
   * @returns True if a group with this id is unfinished or still visible.
   */
  has(id: string): boolean {
    return this.fingerprint(id) !== undefined;
  }

  /**
   * The request fingerprint of a group made for an `Idempotency-Key`
   * (`createHandler` compares it with a repeat's), for a group
   * {@linkcode GroupRegistry.has} finds.
   *
   * @param id The group's id.
   * @returns The fingerprint, `""` if the group has none, or `undefined`
   * if no group with this id is unfinished or still visible.
   */
  fingerprint(id: string): string | undefined {
    const key = idHash(id);
    const live = this.#live.find(key, id);
    if (live !== undefined) return fingerprints.get(live) ?? "";
    this.#evict(this.#clock.now());
    return this.#finished.fingerprint(id, key);
  }

  #evict(now: number): void {
    const finished = this.#finished;
    const oldest = now - this.#retentionMs;
    while (finished.size > this.#maxFinished || (finished.oldestAt ?? oldest) < oldest) {
      finished.shift();
    }
  }
}
