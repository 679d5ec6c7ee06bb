// Outcome writes that go again after their commit failed. Internal to the
// SQLite journal: a task that finished while the disk was full must not stay
// marked unfinished, to run again after the next restart.
import { IntervalGate, journalBackLine } from "./_interval_gate.ts";
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";

/** Options for {@linkcode OutcomeRetry}. */
export interface OutcomeRetryOptions {
  /** Time and the pause's timer. */
  clock: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  /** Called once for an outcome given up on (at close, or after `retryForMs`). */
  onGiveUp: (key: string, error: unknown) => void;
  /** Called for each write that commits, a retried one too. @default {nothing} */
  onWritten?: () => void;
  /** Milliseconds between a failure and the next try. @default {1000} */
  pauseMs?: number;
  /** Milliseconds after its first failure an outcome is given up on. @default {60000} */
  retryForMs?: number;
}

interface Carried {
  write: () => Promise<void>;
  since: number;
}

/**
 * Writes outcomes (each idempotent: an UPDATE or DELETE by key) and, when a
 * commit fails, writes them again a pause later, all in the turn the pause
 * ends, until they commit. A newer write of the same key (a later outcome,
 * or the task's next attempt mark: {@linkcode OutcomeRetry.supersede})
 * replaces a waiting one, so an old outcome never lands after a new one.
 * Outcomes that keep failing are given up on after `retryForMs`, so that a
 * disk that stays full costs no more than a minute of retries.
 */
export class OutcomeRetry {
  readonly #clock: OutcomeRetryOptions["clock"];
  readonly #onGiveUp: OutcomeRetryOptions["onGiveUp"];
  readonly #onWritten: () => void;
  readonly #pauseMs: number;
  readonly #retryForMs: number;
  #carried = new Map<string, Carried>();
  #timer: unknown;
  #closing = false;

  /** @param options The clock, where give-ups go, and the timings. */
  constructor(options: OutcomeRetryOptions) {
    const { clock, onGiveUp, onWritten = () => {}, pauseMs = 1_000, retryForMs = 60_000 } = options;
    this.#clock = clock;
    this.#onGiveUp = onGiveUp;
    this.#onWritten = onWritten;
    this.#pauseMs = pauseMs;
    this.#retryForMs = retryForMs;
  }

  /** Milliseconds between a failure and the next try. */
  get pauseMs(): number {
    return this.#pauseMs;
  }

  /**
   * Writes an outcome now, and again after a failed commit.
   *
   * @param key The task (`group/index`) or group it is about.
   * @param write Queues the write; settles with its commit.
   * @param keep Whether a waiting outcome of `key` goes first, in the same
   * commit, rather than being replaced: a requeue at shutdown, which keeps
   * the retry time a refused retrying outcome carries.
   * @returns The first commit's promise.
   */
  write(key: string, write: () => Promise<void>, keep = false): Promise<void> {
    const waiting = keep ? this.#carried.get(key)?.write : undefined;
    this.supersede(key);
    const both = waiting && (() => Promise.all([waiting(), write()]).then(() => {}));
    return this.#try(key, both ?? write, undefined);
  }

  /** A newer write of `key` went another way (an attempt mark): a waiting outcome is stale. */
  supersede(key: string): void {
    if (this.#carried.size > 0) this.#carried.delete(key);
  }

  /** Writes every waiting outcome once more, now, and retries nothing after; for closing. */
  flush(): void {
    this.#closing = true;
    this.#clock.clearTimeout(this.#timer);
    this.#retry();
  }

  #try(key: string, write: () => Promise<void>, since: number | undefined): Promise<void> {
    const written = write();
    // Registered before any later write of the same batch: if both fail, the
    // later one is carried last and wins.
    written.then(
      this.#onWritten,
      (error) => this.#carry(key, write, since ?? this.#clock.now(), error),
    );
    return written;
  }

  #carry(key: string, write: () => Promise<void>, since: number, error: unknown): void {
    if (this.#closing || this.#clock.now() - since >= this.#retryForMs) {
      return this.#onGiveUp(key, error);
    }
    this.#carried.delete(key);
    this.#carried.set(key, { write, since });
    this.#timer ??= this.#clock.setTimeout(() => this.#retry(), this.#pauseMs);
  }

  #retry(): void {
    this.#timer = undefined;
    const carried = this.#carried;
    this.#carried = new Map();
    for (const [key, { write, since }] of carried) this.#try(key, write, since).catch(() => {});
  }
}

/**
 * The journal's lines about outcome writes that fail by the thousand (a full
 * disk): refused (tried again after `pauseMs`), and given up on, each at most
 * a line a second with how many it stands for; and the first written after
 * refusals, which ends them.
 */
export function outcomeFailureLogs(
  logger: StructuredLogger,
  clock: Pick<Clock, "now">,
  pauseMs: number,
): {
  refused(taskId: string, error: unknown): void;
  written(): void;
  givenUp(id: string, error: unknown): void;
} {
  const refusals = new IntervalGate(1_000, clock);
  const outcomesBack = journalBackLine(logger, "task outcomes");
  const giveUps = new IntervalGate(1_000, clock);
  return {
    refused: (taskId, error) =>
      refusals.each((unlogged) =>
        logger.error(
          "Cannot journal task {taskId}, tries again in {pauseMs} ms: {error} ({unlogged} more refused since the last such line)",
          { taskId, pauseMs, error, unlogged },
        )
      ),
    // Those refused are written again at their next try.
    written: () => refusals.ended(outcomesBack),
    givenUp: (id, error) =>
      giveUps.each((unlogged) =>
        logger.error(
          "Cannot journal the outcome of {id}: {error} ({unlogged} more given up since the last such line)",
          { id, error, unlogged },
        )
      ),
  };
}
