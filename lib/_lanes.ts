// Per-task concurrency (`TaskOptions.concurrency`, `sharedConcurrency`): how
// many attempts of each limited task's name (or `concurrencyKey`) run, and the
// tasks waiting for one to end, or for a place the servers share. Internal to
// TaskRunner, which keeps the global limit itself.
import type { Clock } from "./clock.ts";
import { Fifo } from "./fifo.ts";
import type { SharedPlaces } from "./shared_places.ts";
import type { TaskEntry } from "./task_entry.ts";
import type { TaskOptions } from "./task.ts";

/** How long a task whose shared places are all taken waits before it asks again. */
export const LOOK_MS = 250;

interface Lane {
  /** The tasks' `concurrencyKey`, or their name. */
  readonly name: string;
  /** This runner's limit: `concurrency`, or `sharedConcurrency` where nothing shares places. */
  limit: number;
  /** The servers' limit, where places are shared. */
  shared: number | undefined;
  running: number;
  /** Tasks given a shared place, on their way to start. */
  granted: number;
  /** A place asked for, or a look scheduled: one at a time. */
  asking: boolean;
  /** The timer of a look scheduled after no place was free. */
  look: unknown;
  readonly waiting: Fifo<TaskEntry>;
}

/**
 * One lane per limited task name or `concurrencyKey`. A task that finds its
 * lane full waits in it, out of the runner's ready queue, so that it holds
 * back no task of another lane; its group's later tasks wait behind it, as
 * for any task.
 */
export class Lanes {
  readonly #lanes = new Map<string, Lane>();
  readonly #places: SharedPlaces | undefined;
  readonly #ready: (entry: TaskEntry) => void;
  readonly #clock: Pick<Clock, "setTimeout" | "clearTimeout">;
  /** Tasks given a shared place, on their way through the ready queue. */
  readonly #granted = new Set<TaskEntry>();
  #closed = false;
  /** Tasks waiting in a lane. */
  waiting = 0;

  /**
   * @param places The places servers share, if the journal has them.
   * @param ready Where a task goes that got its shared place.
   * @param clock Runs the looks for a free place.
   */
  constructor(
    places: SharedPlaces | undefined,
    ready: (entry: TaskEntry) => void,
    clock: Pick<Clock, "setTimeout" | "clearTimeout">,
  ) {
    this.#places = places;
    this.#ready = ready;
    this.#clock = clock;
    places?.watch?.((name) => this.#wake(name));
  }

  /**
   * Takes a place in the lane of a task with a `concurrency` or a
   * `sharedConcurrency` of its own, or parks the task there when its lane
   * is full, or until a shared place is taken for it (it then goes to
   * `ready`).
   *
   * @returns Whether the task may start now.
   */
  take(entry: TaskEntry, options: TaskOptions): boolean {
    const name = laneOf(entry);
    let lane = this.#lanes.get(name);
    if (lane === undefined) this.#lanes.set(name, lane = this.#lane(name, options));
    else this.#lower(lane, options);
    if (lane.shared === undefined ? lane.running < lane.limit : this.#granted.delete(entry)) {
      if (lane.shared !== undefined) lane.granted--;
      lane.running++;
      return true;
    }
    lane.waiting.push(entry);
    this.waiting++;
    this.#ask(lane);
    return false;
  }

  /**
   * Gives back the place a limited task's attempt held: it ended, or stopped
   * running for a while (a backoff, a refused journal mark).
   *
   * @returns The task of that name that waited longest, to queue, if any
   * (with shared places, it goes to `ready` once it has one).
   */
  release(entry: TaskEntry): TaskEntry | undefined {
    const lane = this.#lanes.get(laneOf(entry));
    if (lane === undefined) return undefined;
    lane.running--;
    if (lane.shared !== undefined) {
      void this.#give(lane.name).then((othersWait) => {
        this.#stopLook(lane);
        if (!othersWait) return this.#ask(lane); // the place just given back: ask now
        // Another server waits: the place is its until this runner's next
        // look, a whole interval on (its own look comes before).
        if (!lane.asking) this.#lookLater(lane);
      });
      return undefined;
    }
    // A lane lowered by a later task of its key lets none start until below its limit.
    if (lane.running >= lane.limit) return undefined;
    const next = lane.waiting.shift();
    // Lanes stay once made (one per limited name): a Map whose entries come and go is slow to collect.
    if (next !== undefined) this.waiting--;
    return next;
  }

  /** The task that has waited longest in any lane, for the queue's latency. */
  oldest(): TaskEntry | undefined {
    let oldest: TaskEntry | undefined;
    for (const { waiting } of this.#lanes.values()) {
      const first = waiting.peek();
      if (first && (!oldest || first.group.acceptedAt < oldest.group.acceptedAt)) oldest = first;
    }
    return oldest;
  }

  /**
   * Shutdown: no place is asked for after this, and those given to tasks
   * that have not started go back (the tasks are abandoned).
   */
  close(): void {
    this.#closed = true;
    for (const lane of this.#lanes.values()) this.#stopLook(lane);
    for (const entry of this.#granted) void this.#give(laneOf(entry));
    this.#granted.clear();
  }

  /** Every waiting task, for shutdown; the lanes are empty after. */
  takeAll(): TaskEntry[] {
    this.close();
    const all: TaskEntry[] = [];
    for (const { waiting } of this.#lanes.values()) {
      for (let entry = waiting.shift(); entry !== undefined; entry = waiting.shift()) {
        all.push(entry);
      }
    }
    this.#lanes.clear();
    this.waiting = 0;
    return all;
  }

  #lane(name: string, options: TaskOptions): Lane {
    return {
      name,
      ...this.#limits(options),
      running: 0,
      granted: 0,
      asking: false,
      look: undefined,
      waiting: new Fifo(),
    };
  }

  /** This runner's limit and the servers' for a task's options. */
  #limits(options: TaskOptions): Pick<Lane, "limit" | "shared"> {
    const { concurrency = Infinity, sharedConcurrency } = options;
    const shared = this.#places === undefined ? undefined : sharedConcurrency;
    const limit = shared === undefined
      ? Math.min(concurrency, sharedConcurrency ?? Infinity)
      : concurrency;
    return { limit, shared };
  }

  /** A task of another name in a keyed lane: where its limits are smaller, they hold. */
  #lower(lane: Lane, options: TaskOptions): void {
    if (options.concurrencyKey === undefined) return; // a name's lane: its options never change
    const { limit, shared } = this.#limits(options);
    lane.limit = Math.min(lane.limit, limit);
    // Places taken count against the servers' limit the lane began with: it never starts sharing.
    if (lane.shared !== undefined && shared !== undefined) {
      lane.shared = Math.min(lane.shared, shared);
    }
  }

  /** Asks the servers' places for one, for the task waiting longest, if this runner has room. */
  #ask(lane: Lane): void {
    const { shared } = lane;
    if (shared === undefined || lane.asking || this.#closed) return;
    if (lane.waiting.length === 0 || lane.running + lane.granted >= lane.limit) return;
    lane.asking = true;
    // A throw is a rejection: whatever the places do, nothing throws into the runner.
    Promise.try(() => this.#places!.take(lane.name, shared)).catch(() => false).then((taken) => {
      lane.asking = false;
      if (taken && this.#closed) return void this.#give(lane.name);
      if (!taken) return this.#lookLater(lane);
      const next = lane.waiting.shift()!;
      this.waiting--;
      lane.granted++;
      this.#granted.add(next);
      this.#ready(next);
      this.#ask(lane); // more waiting: one more place
    });
  }

  /** Gives back a place; whatever the places do, nothing throws into the runner. */
  #give(name: string): Promise<boolean> {
    return Promise.try(() => this.#places!.give(name)).catch(() => false);
  }

  #lookLater(lane: Lane): void {
    if (this.#closed) return;
    lane.asking = true;
    lane.look = this.#clock.setTimeout(() => {
      lane.look = undefined;
      lane.asking = false;
      this.#ask(lane);
    }, LOOK_MS);
  }

  /** Another server gave back a place of `name` for one that waits: a lane waiting for its look asks now. */
  #wake(name: string): void {
    const lane = this.#lanes.get(name);
    if (lane === undefined || lane.look === undefined) return;
    this.#stopLook(lane);
    this.#ask(lane);
  }

  #stopLook(lane: Lane): void {
    if (lane.look === undefined) return;
    this.#clock.clearTimeout(lane.look);
    lane.look = undefined;
    lane.asking = false;
  }
}

/** The lane a task waits in: its `concurrencyKey`, or its name. */
function laneOf(entry: TaskEntry): string {
  return entry.options?.concurrencyKey ?? entry.name;
}
