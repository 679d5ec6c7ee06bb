// A drain's progress line, said every interval until the drain ends, so
// that an operator watching a long stop sees it move (or stick). Internal
// to the app's shutdown.
import { type Clock, monotonicClock } from "./clock.ts";

/** Calls `say` every `intervalMs` until disposed; its timer lets the process end. */
export class DrainProgress implements Disposable {
  readonly #say: () => void;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #timer: unknown;
  #disposed = false;

  /**
   * @param say What to do at each interval (log a line).
   * @param intervalMs Milliseconds between two calls; at least 1.
   * @param clock The timers. @default {monotonicClock}
   */
  constructor(say: () => void, intervalMs: number, clock: Clock = monotonicClock) {
    this.#say = say;
    this.#intervalMs = Math.max(1, intervalMs);
    this.#clock = clock;
    this.#arm();
  }

  /** Stops: no call after this one. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#timer);
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(this.#tick, this.#intervalMs);
    this.#clock.keepAlive?.(this.#timer, false);
  }

  #tick = (): void => {
    if (this.#disposed) return;
    this.#say();
    this.#arm();
  };
}
