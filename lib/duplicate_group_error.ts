/**
 * The error a durable store gives a group whose id it holds already.
 *
 * @module
 */

/**
 * Rejects {@linkcode TaskStore.enqueue} for a group whose chosen id
 * (`TaskGroupOptions.id`) the journal holds already: that group was accepted
 * before, and this one is not journaled. The server answers a request
 * repeated with the same `Idempotency-Key` this way as the first was
 * answered, rather than with an error. A store of your own rejects with it
 * too, so that the server can tell it apart from a journal that failed.
 *
 * @example A chosen id journaled twice
 * ```ts
 * import { defineTask, DuplicateGroupError, SqliteTaskStore, TaskGroup } from "./mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * using store = SqliteTaskStore.open(`${await Deno.makeTempDir()}/tasks.db`);
 * const send = defineTask("send", (to: string) => void to);
 * await store.enqueue(new TaskGroup({ id: "order-42" }).add(send, "ada"));
 * await rejects(
 *   store.enqueue(new TaskGroup({ id: "order-42" }).add(send, "ada")),
 *   (error) => error instanceof DuplicateGroupError && error.groupId === "order-42",
 * );
 * ```
 */
export class DuplicateGroupError extends Error {
  /** The id the journal holds already. */
  readonly groupId: string;
  /**
   * The fingerprint journaled with that group: of the request that made it,
   * when it was made for an `Idempotency-Key` (the server answers the key
   * sent with other content 422). `undefined` when it has none, or the
   * store did not say.
   */
  readonly fingerprint: string | undefined;

  /**
   * Makes the error; its message names the id.
   *
   * @param groupId The id the journal holds already.
   * @param fingerprint The fingerprint journaled with it, if any.
   */
  constructor(groupId: string, fingerprint?: string) {
    super(`Cannot journal group ${JSON.stringify(groupId)}: a group with this id is journaled`);
    this.name = "DuplicateGroupError";
    this.groupId = groupId;
    this.fingerprint = fingerprint;
  }
}
