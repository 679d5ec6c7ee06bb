// The lines waiting for a LogWriter's next batch, and those appended with
// AppendOptions: which a signal withdraws, which a retry joins. Internal.
import { offAbort, onAbort } from "./_abort_hooks.ts";
import type { AppendOptions } from "./log_writer_options.ts";

/** A line appended with options: where it waits, and who waits for it. */
interface Claim {
  batch: PromiseWithResolvers<void>;
  index: number;
  key: string | undefined;
  /** Appends with a signal still waiting for it. */
  waiters: number;
  /** An append without a signal waits for it: it is never withdrawn. */
  held: boolean;
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
  #lines: (string | null)[] = []; // null: withdrawn
  #withdrawn = 0;
  #batch: PromiseWithResolvers<void> | undefined;
  // Lines appended with a key, in the waiting batch or the one being written.
  #claims = new Map<string, Claim>();
  #keys: string[] = [];
  #onBatch: (batch: Promise<void>) => void;

  /** @param onBatch Called when a line starts a new batch, with its promise. */
  constructor(onBatch: (batch: Promise<void>) => void) {
    this.#onBatch = onBatch;
  }

  /** Queues a line; resolves once its batch is written. */
  push(line: string): Promise<void> {
    return this.#push(line).promise;
  }

  /** Queues a line as `LogWriter.append` does with `options`. */
  claim(line: string, { signal, key }: AppendOptions): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let claim = key === undefined ? undefined : this.#claims.get(key);
    if (claim === undefined) {
      const batch = this.#push(line);
      claim = { batch, index: this.#lines.length - 1, key, waiters: 0, held: false };
      if (key !== undefined) {
        this.#claims.set(key, claim);
        this.#keys.push(key);
      }
    }
    if (signal === undefined) {
      claim.held = true;
      return claim.batch.promise;
    }
    const mine = claim;
    mine.waiters++;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const abort = (): void => {
      mine.waiters--;
      this.#withdraw(mine);
      reject(signal.reason);
    };
    // A hook, not a listener, on a task's signal: see _abort_hooks.ts.
    onAbort(signal, abort);
    mine.batch.promise.then(() => {
      offAbort(signal, abort);
      resolve();
    }, (error) => {
      offAbort(signal, abort);
      reject(error);
    });
    return promise;
  }

  /** Takes the waiting batch for writing. */
  take(): TakenBatch | undefined {
    const batch = this.#batch;
    if (batch === undefined) return undefined;
    const keys = this.#keys;
    const lines = this.#withdrawn === 0
      ? this.#lines as string[]
      : this.#lines.filter((line) => line !== null);
    this.#lines = [];
    this.#withdrawn = 0;
    this.#batch = undefined;
    this.#keys = [];
    // Settled: a later append with one of these keys queues its line afresh.
    const forget = (): void => {
      for (const key of keys) {
        if (this.#claims.get(key)?.batch === batch) this.#claims.delete(key);
      }
    };
    return {
      lines,
      written: () => (batch.resolve(), forget()),
      failed: (error) => (batch.reject(error), forget()),
    };
  }

  #push(line: string): PromiseWithResolvers<void> {
    this.#lines.push(line);
    if (this.#batch === undefined) {
      this.#batch = Promise.withResolvers<void>();
      this.#onBatch(this.#batch.promise);
    }
    return this.#batch;
  }

  /** Takes out a line nobody waits for any more, unless its batch is being written. */
  #withdraw(claim: Claim): void {
    if (claim.waiters > 0 || claim.held || claim.batch !== this.#batch) return;
    this.#lines[claim.index] = null;
    this.#withdrawn++;
    if (claim.key !== undefined) this.#claims.delete(claim.key);
  }
}
