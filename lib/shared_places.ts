/**
 * Places that servers sharing a journal take in turn: how a task's
 * `sharedConcurrency` holds across all of them.
 *
 * @module
 */

/**
 * The places of each limited task name, shared by every server on one
 * journal (`PostgresTaskStore.sharedPlaces`: session-level advisory locks).
 * A runner takes one before each attempt of a task with a
 * `sharedConcurrency`, and gives it back when the attempt ends or waits; a
 * process that dies gives back all it held. A journal of one server has
 * none: its runner keeps the limit itself. So that one server's stream of
 * tasks does not keep a place from another's, a runner that gives a place
 * back while another server waits for one leaves it free until its next
 * look, rather than take it again at once.
 *
 * @example Places kept in memory, as two runners of one process would share them
 * ```ts
 * import { defineTask, type SharedPlaces, TaskGroup, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const held = new Map<string, number>();
 * const sharedPlaces: SharedPlaces = {
 *   take(name, limit) {
 *     const taken = held.get(name) ?? 0;
 *     if (taken >= limit) return Promise.resolve(false);
 *     held.set(name, taken + 1);
 *     return Promise.resolve(true);
 *   },
 *   give(name) {
 *     held.set(name, (held.get(name) ?? 1) - 1);
 *     return Promise.resolve(false); // one process: nobody else waits
 *   },
 * };
 * const journal = { attempt: () => Promise.resolve(), record() {}, sharedPlaces };
 * let running = 0;
 * let most = 0;
 * const send = defineTask("send", async (_to: string) => {
 *   most = Math.max(most, ++running);
 *   await Promise.resolve();
 *   running--;
 * }, { sharedConcurrency: 2 });
 * await using a = new TaskRunner({ journal });
 * await using b = new TaskRunner({ journal });
 * for (const to of ["w", "x", "y", "z"]) {
 *   a.submit(new TaskGroup().add(send, to));
 *   b.submit(new TaskGroup().add(send, to));
 * }
 * await Promise.all([a.idle(), b.idle()]);
 * equal(most, 2);
 * ```
 */
export interface SharedPlaces {
  /**
   * Takes one of the `limit` places of `name`, if one is free.
   *
   * @returns Whether a place was taken; a rejection counts as none.
   */
  take(name: string, limit: number): Promise<boolean>;
  /**
   * Gives back one place of `name` that {@linkcode SharedPlaces.take} took.
   *
   * @returns Whether another server waits for a place of `name` (its take
   * found none free since its last place): this runner then leaves the
   * place to it for a look. A rejection counts as no.
   */
  give(name: string): Promise<boolean>;
  /**
   * Calls `listener` with the name of a place another server gave back for
   * one that waits (PostgreSQL: `NOTIFY`), so that a waiting runner asks
   * at once rather than at its next look. Optional: without it, looks alone.
   */
  watch?(listener: (name: string) => void): void;
}
