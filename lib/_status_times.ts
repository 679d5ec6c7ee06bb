// The times a group's status shows: when it was accepted (set by the runner
// as it takes the group, or by recovery to the time the journal holds) and
// when each task ended. Internal.
import type { TaskGroup } from "./task_group.ts";

/**
 * Writes a group's private field for when it was accepted (wall-clock
 * milliseconds). TaskGroup's static block fills this in: the field is
 * private, and its getter is all the public sees.
 */
export const acceptedField = {
  set: (_group: TaskGroup, _at: number): void => {},
};

/** Clock milliseconds as ISO 8601, or null for -1 (not yet). */
export function isoOrNull(at: number): string | null {
  return at >= 0 ? new Date(at).toISOString() : null;
}
