// A journal's rows as both stores write and read them. Internal.
import { fingerprints } from "./_given_ids.ts";
import { finishedAt } from "./_status_times.ts";
import { errorText } from "./_thrown.ts";
import { DuplicateGroupError } from "./duplicate_group_error.ts";
import type { TaskGroup } from "./task_group.ts";
import type { TaskEntry } from "./task_entry.ts";
import { taskId } from "./task_status.ts";
import type { JsonValue } from "./task.ts";
import type { StoredTask } from "./task_store.ts";

/** A new task's row. */
export interface NewRow {
  groupId: string;
  index: number;
  name: string;
  /** Its arguments as JSON. */
  args: string;
  /** The request fingerprint of a keyed group (see `fingerprints`), else null. */
  fingerprint: string | null;
  /** When its group was accepted (`created_at`); -1 if no runner took it: the commit's time. */
  acceptedAt: number;
}

/**
 * The longest group id a journal takes: at 3 UTF-8 bytes a character, its
 * primary-key entry stays under PostgreSQL's 2,704-byte limit for one, which
 * a longer id passes and fails its whole commit.
 */
const MAX_ID = 512;

/**
 * How the group id of a journal's health probe starts (SQLite's is just
 * this): a row it writes and deletes. A group of the same id would make the
 * probe's insert fail, and with it the commit other requests' rows share.
 */
export const PROBE_PREFIX = "~probe";

/**
 * The group id of the row that says a journal's process began to stop on
 * request (see `DurableTaskStore.markStopping`); PostgreSQL's ends in `-<owner>`.
 * Under the probe's prefix, so that no group can take it.
 */
export const STOPPING_ID = `${PROBE_PREFIX}-stopping`;

/**
 * The rows that journal a group's tasks.
 *
 * @throws {TypeError} If a task was not made with `defineTask`: only a
 * definition (it always has options) can be found by name again. If an
 * argument holds NaN or an infinity, or is undefined before one that is not
 * (trailing ones are left out), which JSON would turn into null. If the
 * group's id holds a NUL character, which PostgreSQL's text refuses, or a
 * lone surrogate, which both journals store as U+FFFD, or is longer than
 * {@linkcode MAX_ID}, or starts as the health probe's ({@linkcode PROBE_PREFIX}):
 * thrown here, before the rows join a batch that other requests' rows share.
 */
export function journalRows(group: TaskGroup): NewRow[] {
  const { id } = group;
  if (id.length > MAX_ID) {
    throw new TypeError(`Cannot journal group: its id has ${id.length} characters, over ${MAX_ID}`);
  }
  if (id.startsWith(PROBE_PREFIX)) {
    const reserved = `ids starting with "${PROBE_PREFIX}" are the health probe's`;
    throw new TypeError(`Cannot journal group ${JSON.stringify(id)}: ${reserved}`);
  }
  const bad = unstorable(id); // it would fail the commit, or come back under another id
  if (bad !== undefined) {
    throw new TypeError(`Cannot journal group ${JSON.stringify(id)}: its id holds ${bad}`);
  }
  const fingerprint = fingerprints.get(group) ?? null;
  const acceptedAt = group.acceptedAt >= 0 ? Math.floor(group.acceptedAt) : -1;
  return (group.tasks as readonly TaskEntry[]).map((task, index) => {
    if (task.options === undefined) {
      throw new TypeError(
        `Cannot journal task "${task.name}": durable tasks must be made with defineTask`,
      );
    }
    // An optional argument left undefined at the end is kept as left out: it
    // comes back undefined. JSON writes NaN, ±Infinity and an undefined before
    // it as null: the task would run with null after a restart. Looked for
    // only when a null is there at all.
    const kept = withoutTrailingUndefined(task.args);
    const args = JSON.stringify(kept);
    if (args.includes("null")) JSON.stringify(kept, jsonOnly(task.name));
    return { groupId: group.id, index, name: task.name, args, fingerprint, acceptedAt };
  });
}

function withoutTrailingUndefined(args: readonly unknown[]): readonly unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return end === args.length ? args : args.slice(0, end);
}

function jsonOnly(name: string): (this: unknown, key: string, value: unknown) => unknown {
  return function (this: unknown, _key, value) {
    const lost = typeof value === "number" && !Number.isFinite(value)
      ? String(value)
      : value === undefined && Array.isArray(this)
      ? "undefined in a list (before a value that is not)"
      : undefined;
    if (lost !== undefined) {
      throw new TypeError(
        `Cannot journal task "${name}": an argument holds ${lost}, which JSON cannot`,
      );
    }
    return value;
  };
}

/**
 * What in `text` a journal cannot store as it is, or undefined: PostgreSQL's
 * text refuses NUL, and both journals store a lone surrogate as U+FFFD.
 */
export function unstorable(text: string): string | undefined {
  if (text.includes("\0")) return "a NUL character";
  if (!text.isWellFormed()) return "a lone surrogate";
  return undefined;
}

/** The error for a group whose id is journaled, with the fingerprint stored with it. */
export function duplicateGroup(id: string, fingerprint: unknown): DuplicateGroupError {
  return new DuplicateGroupError(id, typeof fingerprint === "string" ? fingerprint : undefined);
}

/**
 * "Cannot <action>: <the error's message>", with the error as its cause: how
 * a journal that cannot start says so (and the app, a file it cannot open).
 */
export function cannot(action: string, error: unknown): Error {
  return new Error(`Cannot ${action}: ${errorText(error)}`, { cause: error });
}

/**
 * A task's error as the journal stores it. PostgreSQL's text refuses NUL (and
 * the one row would fail its whole batch); SQLite's reads back only what comes
 * before it. So a NUL becomes U+FFFD, the character for what cannot be shown.
 */
export function journalError(error: string | undefined): string | null {
  return error === undefined ? null : error.replaceAll("\0", "\uFFFD");
}

/**
 * When a task ended, as its row's `updated_at` (whole milliseconds), or
 * `undefined` if it has not: so a status read from the journal says when the
 * runner saw it end, also when the write came late (a full disk, a database
 * that was away), not when the write went through.
 */
export function outcomeAt(entry: TaskEntry): number | undefined {
  const at = finishedAt(entry);
  return at >= 0 ? Math.floor(at) : undefined;
}

/**
 * A row read back (numbers may arrive as strings or bigints), quarantined at
 * `crashLimit` crashes: a start that died before failing it left it queued.
 */
export function storedTask(
  row: Record<string, unknown>,
  crashes: number,
  crashLimit: number,
): StoredTask {
  const text = String(row.args);
  const args = parseArgs(text);
  // A group kept for its Idempotency-Key, under a generated id (SQLite's tasks_keys).
  const groupId = typeof row.key_id === "string" ? row.key_id : String(row.group_id);
  return {
    id: taskId(groupId, Number(row.idx)),
    groupId,
    index: Number(row.idx),
    name: String(row.name),
    args: typeof args === "string" ? [] : args,
    attempts: Number(row.attempts),
    nextAt: Number(row.next_at),
    ...(row.updated_at !== null && row.updated_at !== undefined &&
      { updatedAt: Number(row.updated_at) }),
    crashes,
    quarantined: crashes >= crashLimit,
    ...(crashes > 0 && crashes === crashLimit - 1 && { probation: true }),
    // One damaged row must not stop every other task from running again.
    ...(typeof args === "string" && { unreadable: `${args}: ${text.slice(0, 200)}` }),
    ...(typeof row.fingerprint === "string" && { fingerprint: row.fingerprint }),
    // Null in rows journaled before the column was.
    ...(row.created_at !== null && row.created_at !== undefined &&
      { acceptedAt: Number(row.created_at) }),
  };
}

/** The arguments, or why they cannot be run with. */
function parseArgs(text: string): JsonValue[] | string {
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch (error) {
    return `its arguments are not JSON (${errorText(error)})`;
  }
  return Array.isArray(args) ? args : "its arguments are not a JSON array";
}
