// Items that come and go at a request's pace, held in an array rather than a
// Map or Set. Internal.
//
// Why not a Map: V8 links a Map's (or Set's) replaced hash table to the table
// that replaced it, for iterators still on the old one. Once an old-generation
// GC has promoted a busy Map's table, the dead table keeps its successor alive
// through the next scavenges, that one the next, and so on, with every entry
// each holds: the demo server went from 0.3 KB promoted per scavenge to 195 KB
// after a single forced mark-compact, for good, and from then on collected the
// old generation every second or two (the runner's running attempts and the
// registry's live groups; 1 KB with neither; measured with --trace-gc-nvp).

/**
 * An unordered set of items, each found again by the handle `add` returned.
 * A freed place is reused; `takeAll` retires every handle given before it.
 */
export class Slots<T> {
  #items: (T | undefined)[] = [];
  #free: number[] = [];
  // Handles are base + place; takeAll moves the base past every handle out.
  #base = 0;
  #size = 0;

  /** How many items are held. */
  get size(): number {
    return this.#size;
  }

  /** Holds `item`; returns its handle. */
  add(item: T): number {
    const place = this.#free.pop() ?? this.#items.length;
    this.#items[place] = item;
    this.#size++;
    return this.#base + place;
  }

  /** The item under `handle`, or `undefined` if it was taken. */
  get(handle: number): T | undefined {
    return this.#items[handle - this.#base];
  }

  /** Lets go of the item under `handle` and returns it (`undefined` if it was taken). */
  take(handle: number): T | undefined {
    const place = handle - this.#base;
    const item = this.#items[place];
    if (item === undefined) return undefined;
    this.#items[place] = undefined;
    this.#free.push(place);
    this.#size--;
    return item;
  }

  /** Lets go of every item and returns them; no handle given so far finds one again. */
  takeAll(): T[] {
    const items = this.#items.filter((item) => item !== undefined);
    this.#base += this.#items.length;
    this.#items = [];
    this.#free = [];
    this.#size = 0;
    return items;
  }
}
