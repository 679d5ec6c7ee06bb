/**
 * Options for {@linkcode TaskGroup}.
 *
 * @module
 */

/**
 * Options for {@linkcode TaskGroup}.
 *
 * @example A group with an id of its own
 * ```ts
 * import { TaskGroup } from "./mod.ts";
 * import { equal, match } from "node:assert/strict";
 *
 * equal(new TaskGroup({ id: "order-42" }).id, "order-42");
 * match(new TaskGroup().id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/); // a UUIDv7 by default
 * ```
 */
export interface TaskGroupOptions {
  /**
   * The group's id (the request id). One you choose must differ from those of
   * the groups a durable store holds: the store refuses a duplicate (its
   * `enqueue` rejects with a `DuplicateGroupError`), and journals the other
   * groups of that commit. A store
   * takes at most 512 characters, no NUL, and none starting with `~probe`
   * (its health probe's).
   *
   * @default {timeOrderedId()} (a UUID version 7)
   */
  id?: string | undefined;
  /**
   * The OpenTelemetry context the group was made in (the request's), so task
   * spans join its trace.
   * @default {the context active when it is made: a request's, or, for a
   * follow-up made in a traced task, that task's attempt span}
   */
  traceContext?: object;
}
