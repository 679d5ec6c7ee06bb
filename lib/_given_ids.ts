// The groups whose id the caller chose (TaskGroupOptions.id) rather than a
// generated UUIDv7: only those can collide with a journaled group, so only
// those cost a store a duplicate check. Internal.
import type { TaskGroup } from "./task_group.ts";

/** Groups made with an `id` option. */
export const givenIds: WeakSet<TaskGroup> = new WeakSet();
