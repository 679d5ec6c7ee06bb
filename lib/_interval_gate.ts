// "At most once an interval", for work that may run often but need not:
// pruning the journal, probing a failing one. Internal.
import type { Clock } from "./clock.ts";
import type { StructuredLogger } from "./logging.ts";

/** What {@linkcode IntervalGate.ended} tells of a run of events. */
export type Run = { count: number; unlogged: number; ms: number };

/** Says yes at most once per `intervalMs` of its clock. */
export class IntervalGate {
  readonly #intervalMs: number;
  readonly #clock: Pick<Clock, "now">;
  #nextAt = -Infinity;
  #counted = 0;
  /** Events since the last `ended` line, and when the first of them came. */
  #run = 0;
  #runStartedAt = 0;

  constructor(intervalMs: number, clock: Pick<Clock, "now">) {
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  /**
   * Whether the interval has passed since the last `true`; a `true` starts
   * the next one. A wall clock stepped back before the last `true` counts
   * as passed: otherwise the gate would stay shut for the whole step.
   */
  due(): boolean {
    const now = this.#clock.now();
    if (now < this.#nextAt && now >= this.#nextAt - this.#intervalMs) return false;
    this.#nextAt = now + this.#intervalMs;
    return true;
  }

  /**
   * Counts one event and, when the gate is due, returns how many it counted
   * since it last did (this one included), starting over: for a log line at
   * most once an interval that says how many it stands for.
   */
  tally(): number | undefined {
    if (this.#run++ === 0) this.#runStartedAt = this.#clock.now();
    this.#counted++;
    if (!this.due()) return undefined;
    const counted = this.#counted;
    this.#counted = 0;
    return counted;
  }

  /**
   * Counts one event and, when the gate is due, calls `log` with how many
   * it held back since it last did: a line a second instead of one per
   * event, for failures that come by the thousand (a journal that is away).
   */
  each(log: (unlogged: number) => void): void {
    const counted = this.tally();
    if (counted !== undefined) log(counted - 1);
  }

  /**
   * Says that a run of counted events is over (a write went through after
   * failures): if any was counted since, calls `log` with how many in all,
   * how many no line has told of yet, and the milliseconds since the first.
   * It shares the gate with the events' lines, so a source that flaps
   * between failing and not still logs a line a second at most; a run whose
   * end finds the gate shut is told of at a later end.
   */
  ended(log: (run: Run) => void): void {
    if (this.#run === 0 || !this.due()) return;
    const run = {
      count: this.#run,
      unlogged: this.#counted,
      // Whole: a monotonic clock's fraction ("2031.665409000001 ms") is noise in a line.
      ms: Math.round(this.#clock.now() - this.#runStartedAt),
    };
    this.#run = 0;
    this.#counted = 0;
    log(run);
  }
}

/**
 * The line that ends a run of journal refusals, for {@linkcode IntervalGate.ended}:
 * `what` the journal takes again (requests, attempt starts, task outcomes).
 * Made once, not at each call.
 */
export function journalBackLine(
  logger: Pick<StructuredLogger, "info">,
  what: string,
): (run: Run) => void {
  return (run) =>
    logger.info(
      `The journal takes ${what} again: {count} refused in the {ms} ms since the first ({unlogged} since the last such line)`,
      run,
    );
}
