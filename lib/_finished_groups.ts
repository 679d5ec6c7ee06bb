/**
 * The statuses of finished groups, kept compactly for `GET /tasks/{id}`.
 *
 * @module
 */
import { groupStateOf, type GroupStatus, type TaskState } from "./task_status.ts";
import { fingerprints } from "./_given_ids.ts";
import { finishedAt, isoOrNull } from "./_status_times.ts";
import type { TaskGroup } from "./task_group.ts";

const STATES: readonly TaskState[] = [
  "queued",
  "running",
  "retrying",
  "done",
  "failed",
  "abandoned",
];
// Task names are few (they come from code, not requests); past this many, the
// rest are kept as objects.
const MAX_NAMES = 1_024;
const INITIAL_CAPACITY = 1_024;

/**
 * Finished groups' statuses in a ring of typed arrays, oldest first, found by
 * an open-addressing hash table of slots. Under load every finished group is
 * kept for a while (10,000 by default), long enough to outlive V8's young
 * generation: kept as objects in a `Map` (the group, or even its status as
 * one JSON string), they cost the demo server a fifth of its CPU per request
 * (promotion, old-generation GC and the big `Map`), measured. A group of one
 * task without an error and with a UUID for id (the common case) is stored
 * here as numbers only, so it leaves nothing for the GC to trace; any other
 * is kept as its status object.
 */
export class FinishedGroups {
  #capacity = 0;
  #head = 0; // absolute index of the oldest slot
  #count = 0;
  // Per slot (index & (capacity - 1)):
  #keys = new Int32Array(0); // the id's hash, the slot's home in the table
  #at = new Float64Array(0); // when the group finished
  #ids = new Uint32Array(0); // a UUID's 128 bits, 4 words per slot
  #tasks = new Uint32Array(0); // name index, state index and attempts: 3 per slot
  #durations = new Float64Array(0);
  #finishes = new Float64Array(0); // when the task finished (its clock, maybe not #at's)
  #accepted = new Float64Array(0); // when the group was accepted
  #statuses: (GroupStatus | undefined)[] = []; // the groups that are not compact
  #fingerprints: (string | undefined)[] = []; // keyed groups' request fingerprints
  // Open addressing, linear probing; an entry is slot + 1, 0 is empty.
  #table = new Int32Array(0);
  #names: string[] = [];
  #nameIndex = new Map<string, number>();
  #query = new Uint32Array(4);

  /** How many statuses are kept. */
  get size(): number {
    return this.#count;
  }

  /** When the oldest kept group finished, or `undefined` if none is kept. */
  get oldestAt(): number | undefined {
    return this.#count === 0 ? undefined : this.#at[this.#head & (this.#capacity - 1)];
  }

  /**
   * Keeps a finished group's status as it is now.
   *
   * @param group The group, every task in a final state.
   * @param key The id's hash.
   * @param at When it finished.
   */
  add(group: TaskGroup, key: number, at: number): void {
    if (this.#count === this.#capacity) this.#grow();
    const slot = (this.#head + this.#count) & (this.#capacity - 1);
    this.#count++;
    this.#keys[slot] = key;
    this.#at[slot] = at;
    this.#statuses[slot] = this.#pack(group, slot) ? undefined : group.toJSON();
    this.#fingerprints[slot] = fingerprints.get(group);
    this.#insert(key, slot);
  }

  /** Forgets the oldest status (the caller checks there is one). */
  shift(): void {
    const slot = this.#head & (this.#capacity - 1);
    this.#remove(slot);
    this.#statuses[slot] = undefined;
    this.#fingerprints[slot] = undefined;
    this.#head++;
    this.#count--;
  }

  /**
   * Finds the status of the last group with this id to finish.
   *
   * @param id The group's id.
   * @param key The id's hash.
   * @returns The status, or `undefined`.
   */
  find(id: string, key: number): GroupStatus | undefined {
    const slot = this.#lookup(id, key);
    return slot < 0 ? undefined : this.#statuses[slot] ?? this.#unpack(slot);
  }

  /**
   * Whether a group with this id is kept (see {@linkcode FinishedGroups.find}):
   * its request fingerprint, `""` if it has none, or `undefined` if not kept.
   */
  fingerprint(id: string, key: number): string | undefined {
    const slot = this.#lookup(id, key);
    return slot < 0 ? undefined : this.#fingerprints[slot] ?? "";
  }

  #lookup(id: string, key: number): number {
    const mask = this.#table.length - 1;
    if (mask < 0) return -1;
    const compact = parseUuid(id, this.#query, 0);
    let found = -1, newest = -1;
    for (let i = key & mask, entry = this.#table[i]!; entry !== 0; entry = this.#table[i]!) {
      const slot = entry - 1;
      const age = (slot - this.#head) & (this.#capacity - 1);
      if (age > newest && this.#keys[slot] === key && this.#matches(slot, id, compact)) {
        found = slot;
        newest = age;
      }
      i = (i + 1) & mask;
    }
    return found;
  }

  #matches(slot: number, id: string, compact: boolean): boolean {
    const status = this.#statuses[slot];
    if (status !== undefined) return status.id === id;
    if (!compact) return false;
    const q = this.#query, ids = this.#ids, at = slot * 4;
    return ids[at] === q[0] && ids[at + 1] === q[1] && ids[at + 2] === q[2] &&
      ids[at + 3] === q[3];
  }

  #pack(group: TaskGroup, slot: number): boolean {
    const tasks = group.tasks;
    const task = tasks[0];
    if (tasks.length !== 1 || task === undefined || task.error !== undefined) return false;
    // The id first: a group kept as an object must not take a place in the name table.
    if (!parseUuid(group.id, this.#ids, slot * 4)) return false;
    let name = this.#nameIndex.get(task.name);
    if (name === undefined) {
      if (this.#names.length === MAX_NAMES) return false;
      name = this.#names.push(task.name) - 1;
      this.#nameIndex.set(task.name, name);
    }
    this.#tasks[slot * 3] = name;
    this.#tasks[slot * 3 + 1] = STATES.indexOf(task.state);
    this.#tasks[slot * 3 + 2] = task.attempts;
    this.#durations[slot] = task.durationMs;
    this.#finishes[slot] = finishedAt(task);
    this.#accepted[slot] = group.acceptedAt;
    return true;
  }

  #unpack(slot: number): GroupStatus {
    const hex = (word: number): string =>
      (this.#ids[slot * 4 + word] as number).toString(16).padStart(8, "0");
    const [a, b, c, d] = [hex(0), hex(1), hex(2), hex(3)];
    const state = STATES[this.#tasks[slot * 3 + 1] as number] as TaskState;
    const finish = this.#finishes[slot] as number, duration = this.#durations[slot] as number;
    return {
      id: `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`,
      state: groupStateOf([state]),
      acceptedAt: isoOrNull(this.#accepted[slot] as number),
      tasks: [{
        name: this.#names[this.#tasks[slot * 3] as number] as string,
        state,
        attempts: this.#tasks[slot * 3 + 2] as number,
        startedAt: isoOrNull(finish < 0 ? -1 : finish - duration),
        durationMs: duration,
        finishedAt: isoOrNull(finish),
        error: null,
        retryAt: null,
      }],
    };
  }

  #insert(key: number, slot: number): void {
    const mask = this.#table.length - 1;
    let i = key & mask;
    while (this.#table[i] !== 0) i = (i + 1) & mask;
    this.#table[i] = slot + 1;
  }

  /** Deletes a slot's entry, shifting later entries of its run back (no tombstones). */
  #remove(slot: number): void {
    const table = this.#table, mask = table.length - 1;
    let i = (this.#keys[slot] as number) & mask;
    while (table[i] !== slot + 1) i = (i + 1) & mask;
    table[i] = 0;
    for (let j = (i + 1) & mask, entry = table[j]!; entry !== 0; entry = table[j]!) {
      const home = (this.#keys[entry - 1] as number) & mask;
      // Move the entry into the hole unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        table[i] = entry;
        table[j] = 0;
        i = j;
      }
      j = (j + 1) & mask;
    }
  }

  /** Doubles the capacity, keeping the order (oldest at slot 0). */
  #grow(): void {
    const capacity = Math.max(INITIAL_CAPACITY, this.#capacity * 2);
    const [keys, at, ids, tasks] = [this.#keys, this.#at, this.#ids, this.#tasks];
    const [durations, finishes, accepted, statuses, prints, head, count] = [
      this.#durations,
      this.#finishes,
      this.#accepted,
      this.#statuses,
      this.#fingerprints,
      this.#head,
      this.#count,
    ];
    this.#capacity = capacity;
    this.#keys = new Int32Array(capacity);
    this.#at = new Float64Array(capacity);
    this.#ids = new Uint32Array(capacity * 4);
    this.#tasks = new Uint32Array(capacity * 3);
    this.#durations = new Float64Array(capacity);
    this.#finishes = new Float64Array(capacity);
    this.#accepted = new Float64Array(capacity);
    this.#statuses = new Array(capacity).fill(undefined);
    this.#fingerprints = new Array(capacity).fill(undefined);
    this.#table = new Int32Array(capacity * 2); // at most half full
    this.#head = 0;
    const mask = keys.length - 1;
    for (let n = 0; n < count; n++) {
      const from = (head + n) & mask;
      this.#keys[n] = keys[from] as number;
      this.#at[n] = at[from] as number;
      this.#ids.set(ids.subarray(from * 4, from * 4 + 4), n * 4);
      this.#tasks.set(tasks.subarray(from * 3, from * 3 + 3), n * 3);
      this.#durations[n] = durations[from] as number;
      this.#finishes[n] = finishes[from] as number;
      this.#accepted[n] = accepted[from] as number;
      this.#statuses[n] = statuses[from];
      this.#fingerprints[n] = prints[from];
      this.#insert(keys[from] as number, n);
    }
  }
}

/**
 * Reads a UUID in canonical lowercase form into 4 words from `offset`.
 *
 * @returns False (the words unspecified) if `id` is not one.
 */
function parseUuid(id: string, words: Uint32Array, offset: number): boolean {
  if (id.length !== 36) return false;
  let i = 0;
  for (let word = 0; word < 4; word++) {
    let value = 0;
    for (let digits = 0; digits < 8; i++) {
      const code = id.charCodeAt(i);
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (code !== 45) return false; // "-"
        continue;
      }
      const digit = code >= 48 && code <= 57
        ? code - 48
        : code >= 97 && code <= 102
        ? code - 87
        : -1;
      if (digit < 0) return false;
      value = value * 16 + digit;
      digits++;
    }
    words[offset + word] = value;
  }
  return true;
}
