// Attempts stopped at their deadline or at shutdown whose code went on: a
// task that ignores its signal cannot be killed, and runs past every limit
// unseen. Counted while they run, logged when they end late. Internal.
import { IntervalGate } from "./_interval_gate.ts";
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";
import { taskLogFields } from "./_outcomes.ts";
import type { TaskEntry } from "./task_entry.ts";

/** A task that ends within this long of its abort heeded its signal. */
const OVERRUN_GRACE_MS = 1_000;

/** Stopped attempts whose code still runs, by when they were stopped. */
export class Overruns {
  readonly #since = new Map<object, number>();
  readonly #clock: Pick<Clock, "now">;
  readonly #logger: StructuredLogger;
  readonly #lines: IntervalGate;

  constructor(clock: Pick<Clock, "now">, logger: StructuredLogger) {
    this.#clock = clock;
    this.#logger = logger;
    this.#lines = new IntervalGate(1_000, clock);
  }

  /** Attempts stopped whose code has not ended. */
  get size(): number {
    return this.#since.size;
  }

  /** The attempt was stopped (its signal aborted) before its code ended. */
  stopped(attempt: object): void {
    this.#since.set(attempt, this.#clock.now());
  }

  /** The stopped attempt's code ended; logged if that took longer than the grace. */
  ended(entry: TaskEntry, attempt: object): void {
    const since = this.#since.get(attempt);
    if (since === undefined) return;
    this.#since.delete(attempt);
    const lateMs = Math.round(this.#clock.now() - since);
    if (lateMs < OVERRUN_GRACE_MS) return;
    this.#lines.each((unlogged) =>
      this.#logger.warn(
        "Task {taskName} ended {lateMs} ms after it was stopped (timed out or abandoned): it ignores its signal, so its code runs past its timeout and the concurrency limit ({unlogged} more such since the last line)",
        {
          ...taskLogFields(entry),
          lateMs,
          unlogged,
        },
      )
    );
  }
}
