// When a submitted group may start: after its journal commit (if any), then
// after its response was delivered (if asked). Internal to the runner.
import { setImmediate } from "node:timers";
import { Slots } from "./_slots.ts";
import type { SubmitOptions } from "./runner_options.ts";

/**
 * What the gate calls for a waiting item: at most one of `start` or `drop`,
 * and `lost` before `start` if the response was not delivered. One object
 * serves every item: a pending group holds only the two closures of its
 * promise reactions, not a set of callbacks of its own.
 */
export interface GateTarget<T> {
  /** The item may run now. */
  start(item: T): void;
  /** The commit failed (with `error`): the item was never accepted. */
  drop(item: T, error: unknown): void;
  /** The response could not be delivered (the item still starts). */
  lost(item: T, error: unknown): void;
}

/** Calls `target.start(item)` (or `drop`) when `commit` and `after` allow. */
function startGate<T>(
  after: Promise<unknown> | undefined,
  commit: Promise<unknown> | undefined,
  target: GateTarget<T>,
  item: T,
): void {
  if (commit === undefined) return deliver(after, target, item);
  // Watched from now on: a delivery that fails while the commit is pending,
  // or after it failed, is not an unhandled rejection (which ends a process).
  const lost = after?.then(() => undefined, (error: unknown) => ({ error }));
  commit.then(() => {
    if (lost === undefined) return target.start(item);
    lost.then((failure) => {
      if (failure) target.lost(item, failure.error);
      target.start(item);
    });
  }, (error: unknown) => target.drop(item, error));
}

function deliver<T>(after: Promise<unknown> | undefined, target: GateTarget<T>, item: T): void {
  if (after === undefined) return target.start(item);
  after.then(() => target.start(item), (error) => {
    target.lost(item, error);
    target.start(item);
  });
}

/**
 * Items waiting at their gates, each under a handle in {@linkcode Slots} (not
 * a Set: one comes and goes with each request), passed on to `target` unless
 * {@linkcode WaitingItems.takeAll} took it first (shutdown abandoned it).
 */
export class WaitingItems<T> {
  readonly #items = new Slots<T>();
  readonly #target: GateTarget<T>;
  readonly #gate: GateTarget<number>;
  readonly #afterResponse: GateTarget<number>;
  /** Items whose response settled in this turn: started together in the next. */
  #written: T[] = [];

  /** @param target Where each item goes once its gate opens (or fails). */
  constructor(target: GateTarget<T>) {
    const items = this.#items;
    this.#target = target;
    this.#gate = {
      start: (handle) => {
        const item = items.take(handle);
        if (item !== undefined) target.start(item);
      },
      drop: (handle, error) => {
        const item = items.take(handle);
        if (item !== undefined) target.drop(item, error);
      },
      // Not for an item taken meanwhile: it will not start.
      lost: (handle, error) => {
        const item = items.get(handle);
        if (item !== undefined) target.lost(item, error);
      },
    };
    // Deno settles `info.completed` before its event loop writes the
    // response: a task started then that computes for a second held the
    // response back that second. A turn later it is written.
    this.#afterResponse = {
      ...this.#gate,
      start: (handle) => {
        const item = items.take(handle);
        if (item === undefined) return;
        if (this.#written.push(item) === 1) setImmediate(this.#startWritten);
      },
    };
  }

  /** Holds `item` until `options` let it start (see {@linkcode startGate}). */
  add(options: SubmitOptions, item: T): void {
    const { after, commit, response } = options;
    const handle = this.#items.add(item);
    if (response === undefined) startGate(after, commit, this.#gate, handle);
    else startGate(response, commit, this.#afterResponse, handle);
  }

  /** Every item still waiting; none of them reaches the target after this. */
  takeAll(): T[] {
    const all = this.#items.takeAll();
    for (const item of this.#written.splice(0)) all.push(item);
    return all;
  }

  #startWritten = (): void => {
    const written = this.#written;
    this.#written = [];
    for (const item of written) {
      // One start that throws must not keep the others from starting.
      try {
        this.#target.start(item);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };
}
