// The lines waiting for a LogWriter's next batch, and those appended with
// AppendOptions: which a signal withdraws, which a retry joins. Internal.
//
// Cheap unless used: a plain append is one array push; a keyed one records
// its key beside the line (no hashing); the lines of a batch are indexed by
// key only when a retry looks for one, which happens when tasks time out.
import { offAbort, onAbort } from "./_abort_hooks.ts";
import type { Clock } from "./clock.ts";
import type { AppendOptions } from "./log_writer_options.ts";

// A batch written this long after it began may hold the line of an attempt
// that timed out meanwhile, whose retry is still to come (its backoff): its
// keys are kept, for the last LATE_BATCHES such batches. Batches take
// milliseconds unless the disk stalls, so nothing is kept then.
const LATE_MS = 250;
const LATE_BATCHES = 64;

/** A line that an append with options waits for. */
interface Claim {
  batch: Batch;
  /** Where the line is in its batch's lines; -1 once withdrawn. */
  index: number;
  key: string | undefined;
  /** Appends with a signal still waiting for it. */
  waiters: number;
  /** An append without a signal waits for it: it is never withdrawn. */
  held: boolean;
}

/** One batch: its lines, its promise, and its keyed lines. */
interface Batch {
  resolvers: PromiseWithResolvers<void>;
  startedAt: number;
  lines: (string | null)[]; // null: withdrawn
  withdrawn: number;
  /** Keyed lines not yet indexed, in order: key, then index (no signal) or claim. */
  unindexed: (string | number | Claim)[];
  claims: Map<string, Claim> | undefined;
}

/** A batch taken for writing: its lines, and how its appends learn the outcome. */
export interface TakenBatch {
  /** What is left to write: none if every line was withdrawn. */
  lines: readonly string[];
  /** Resolves the batch's appends. */
  written(): void;
  /** Rejects the batch's appends. */
  failed(error: unknown): void;
}

/** Queued lines, one batch at a time. */
export class LineQueue {
  #waiting: Batch | undefined;
  #writing: Batch | undefined;
  // Written late, newest last: a retry finds its line there, already written.
  #late: Batch[] = [];
  #onBatch: (batch: Promise<void>) => void;
  #clock: Pick<Clock, "now">;

  /**
   * @param onBatch Called when a line starts a new batch, with its promise.
   * @param clock Times how long a batch took from its first line to written.
   */
  constructor(onBatch: (batch: Promise<void>) => void, clock: Pick<Clock, "now">) {
    this.#onBatch = onBatch;
    this.#clock = clock;
  }

  /** Queues a line; resolves once its batch is written. */
  push(line: string): Promise<void> {
    return this.#push(line).resolvers.promise;
  }

  /** Queues a line as `LogWriter.append` does with `options`. */
  claim(line: string, { signal, key, retry = false }: AppendOptions): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let claim = retry && key !== undefined ? this.#find(key) : undefined;
    if (claim === undefined) {
      const batch = this.#push(line);
      const index = batch.lines.length - 1;
      if (signal === undefined) {
        if (key !== undefined) batch.unindexed.push(key, index);
        return batch.resolvers.promise;
      }
      claim = { batch, index, key, waiters: 0, held: false };
      if (key !== undefined) batch.unindexed.push(key, claim);
    }
    if (signal === undefined) {
      claim.held = true;
      return claim.batch.resolvers.promise;
    }
    return this.#wait(claim, signal);
  }

  /** Takes the waiting batch for writing. */
  take(): TakenBatch | undefined {
    const batch = this.#waiting;
    if (batch === undefined) return undefined;
    this.#waiting = undefined;
    this.#writing = batch;
    const lines = batch.withdrawn === 0
      ? batch.lines as string[]
      : batch.lines.filter((line) => line !== null);
    // Its keys may be kept a while (written late); its lines need not be.
    batch.lines = [];
    // Settled (one batch is written at a time): a later retry with one of
    // its keys finds it only among the late ones.
    return {
      lines,
      written: () => {
        this.#writing = undefined;
        batch.resolvers.resolve();
        const keyed = batch.unindexed.length > 0 || (batch.claims?.size ?? 0) > 0;
        if (keyed && this.#clock.now() - batch.startedAt >= LATE_MS) {
          if (this.#late.push(batch) > LATE_BATCHES) this.#late.shift();
        }
      },
      failed: (error) => {
        this.#writing = undefined;
        batch.resolvers.reject(error);
      },
    };
  }

  #push(line: string): Batch {
    let batch = this.#waiting;
    if (batch === undefined) {
      const resolvers = Promise.withResolvers<void>();
      batch = {
        resolvers,
        startedAt: this.#clock.now(),
        lines: [],
        withdrawn: 0,
        unindexed: [],
        claims: undefined,
      };
      this.#waiting = batch;
      this.#onBatch(resolvers.promise);
    }
    batch.lines.push(line);
    return batch;
  }

  /** The line with `key` that waits, is being written or was written late, if any. */
  #find(key: string): Claim | undefined {
    for (const batch of [this.#waiting, this.#writing, ...this.#late.toReversed()]) {
      if (batch === undefined) continue;
      const { unindexed } = batch;
      if (unindexed.length > 0) {
        const claims = batch.claims ??= new Map();
        for (let i = 0; i < unindexed.length; i += 2) {
          const k = unindexed[i] as string;
          const line = unindexed[i + 1] as number | Claim;
          // An index: its append had no signal, and waits for the line whatever happens.
          claims.set(
            k,
            typeof line === "number"
              ? { batch, index: line, key: k, waiters: 0, held: true }
              : line,
          );
        }
        batch.unindexed = [];
      }
      const claim = batch.claims?.get(key);
      if (claim !== undefined && claim.index >= 0) return claim;
    }
    return undefined;
  }

  // abortable(), plus the withdrawal, which must happen in the abort itself:
  // a retry appended in the same turn must not find the line (the model test
  // found that a withdrawal one microtask later lets it join a dead line).
  #wait(claim: Claim, signal: AbortSignal): Promise<void> {
    claim.waiters++;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const abort = (): void => {
      claim.waiters--;
      this.#withdraw(claim);
      reject(signal.reason);
    };
    // A hook, not a listener, on a task's signal: see _abort_hooks.ts.
    onAbort(signal, abort);
    claim.batch.resolvers.promise.then(() => {
      offAbort(signal, abort);
      resolve();
    }, (error) => {
      offAbort(signal, abort);
      reject(error);
    });
    return promise;
  }

  /** Takes out a line nobody waits for any more, unless its batch is being written. */
  #withdraw(claim: Claim): void {
    const { batch } = claim;
    if (claim.waiters > 0 || claim.held || batch !== this.#waiting) return;
    batch.lines[claim.index] = null;
    batch.withdrawn++;
    claim.index = -1;
    if (claim.key !== undefined && batch.claims?.get(claim.key) === claim) {
      batch.claims.delete(claim.key);
    }
  }
}
