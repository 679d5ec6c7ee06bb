/**
 * A first-in, first-out queue with O(1) shift.
 *
 * @module
 */

/**
 * A queue backed by an array and a head index; the consumed front is cut off
 * in bulk, so `shift` never moves the whole array.
 *
 * @example First in, first out
 * ```ts
 * import { Fifo } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const queue = new Fifo<number>();
 * queue.push(1);
 * queue.push(2);
 * equal(queue.shift(), 1);
 * equal(queue.length, 1);
 * ```
 */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** How many items are queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Adds an item at the back.
   *
   * @param item The item.
   */
  push(item: T): void {
    this.#items.push(item);
  }

  /**
   * Looks at the item at the front without taking it.
   *
   * @returns The item, or `undefined` when the queue is empty.
   */
  peek(): T | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#head];
  }

  /**
   * Takes the item at the front.
   *
   * @returns The item, or `undefined` when the queue is empty.
   */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined as T;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
