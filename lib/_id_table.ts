// The registry's live groups, found by a 30-bit hash of their id. Internal.

/**
 * Values by an integer key (a hash; values may share one), in open
 * addressing with linear probing. A removal shifts the entries after it back
 * into place instead of leaving a tombstone, so that values coming and going
 * by the thousand never make the table rehash, as an object's dictionary
 * elements do (a copy of about 1.5 MB each time at 25,000 live groups): it
 * grows with how many values it holds, and shrinks back down to 4,096 slots.
 * Along a probe path, values of one key stay in the order they were added.
 */
export class IdTable<T extends { readonly id: string }> {
  #keys = new Int32Array(MIN_CAPACITY);
  #values: (T | undefined)[] = new Array(MIN_CAPACITY).fill(undefined);
  #mask = MIN_CAPACITY - 1;
  #size = 0;

  /** Values held. */
  get size(): number {
    return this.#size;
  }

  /** Slots, held or free. */
  get capacity(): number {
    return this.#values.length;
  }

  /** Adds `value` under `key` (0 to 2^31 - 1), after any it already holds there. */
  add(key: number, value: T): void {
    if (2 * (this.#size + 1) > this.#values.length) this.#resize(2 * this.#values.length);
    this.#put(key, value);
    this.#size++;
  }

  /** The value under `key` whose id is `id`, the last added if several are. */
  find(key: number, id: string): T | undefined {
    let found: T | undefined;
    for (let i = key & this.#mask;; i = (i + 1) & this.#mask) {
      const value = this.#values[i];
      if (value === undefined) return found;
      if (this.#keys[i] === key && value.id === id) found = value;
    }
  }

  /** Removes `value` from under `key`; false if it is not there. */
  delete(key: number, value: T): boolean {
    const mask = this.#mask;
    let hole = key & mask;
    for (;; hole = (hole + 1) & mask) {
      const held = this.#values[hole];
      if (held === undefined) return false;
      if (held === value) break;
    }
    // Backward shift: each entry further along the run moves into the hole
    // if the hole lies on its probe path (between its home slot and it).
    for (let i = (hole + 1) & mask;; i = (i + 1) & mask) {
      const moving = this.#values[i];
      if (moving === undefined) break;
      const home = this.#keys[i]! & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        this.#keys[hole] = this.#keys[i]!;
        this.#values[hole] = moving;
        hole = i;
      }
    }
    this.#values[hole] = undefined;
    this.#size--;
    const capacity = this.#values.length;
    if (capacity > SHRINK_FLOOR && 8 * this.#size < capacity) this.#resize(capacity / 2);
    return true;
  }

  #put(key: number, value: T): void {
    let i = key & this.#mask;
    while (this.#values[i] !== undefined) i = (i + 1) & this.#mask;
    this.#keys[i] = key;
    this.#values[i] = value;
  }

  #resize(capacity: number): void {
    const keys = this.#keys;
    const values = this.#values;
    const old = values.length;
    this.#keys = new Int32Array(capacity);
    this.#values = new Array(capacity).fill(undefined);
    this.#mask = capacity - 1;
    // From an empty slot round, so that each run is re-added in its order.
    const start = values.indexOf(undefined);
    for (let n = 1; n <= old; n++) {
      const i = (start + n) % old;
      const value = values[i];
      if (value !== undefined) this.#put(keys[i]!, value);
    }
  }
}

const MIN_CAPACITY = 16;
// Not shrunk below this (48 KB): under a steady load the live groups come and
// go in waves with the log writer's batches, and a table that shrank to 16
// slots between waves grew back to 1,024 in the next (one resize for about
// every 13 requests in scenario 1).
const SHRINK_FLOOR = 4_096;

/** A 30-bit hash of an id's length and last 12 characters (a UUID's random end). */
export function idHash(id: string): number {
  let hash = id.length;
  for (let i = Math.max(0, id.length - 12); i < id.length; i++) {
    hash = (Math.imul(hash, 31) + id.charCodeAt(i)) | 0;
  }
  return hash & 0x3fffffff;
}
