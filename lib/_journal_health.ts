// What a durable journal's health() answers, the same for SQLite and
// PostgreSQL. Internal to the stores.
import { IntervalGate } from "./_interval_gate.ts";
import type { Clock } from "./clock.ts";

/** A journal as health sees it. */
export interface HealthSource {
  /** Whether the last durable write failed. */
  failing(): boolean;
  /** The durable write on its way, if one is: resolves to whether it went through. */
  inFlight(): Promise<boolean> | undefined;
  /** A durable write of its own, made and undone; rejects if the journal refuses it. */
  probe(): Promise<void>;
}

/**
 * Whether a journal takes durable writes. The durable write on its way, if
 * one is, answers: on a disk that stalls or a database that froze it gives
 * no answer, and a caller that times the wait (health's second) sees the
 * stall long before the requests waiting for that write fail at
 * `commitTimeoutMs`. With none on its way a probe write answers, at most
 * once a second (a look while it runs waits for it): an idle server on a
 * stalled disk would otherwise look healthy until its first request hung.
 * After a failure the probe is all that answers, so that health recovers
 * without client traffic.
 */
export class JournalHealth {
  readonly #source: HealthSource;
  readonly #probes: IntervalGate;
  #probing: Promise<boolean> | undefined;

  constructor(source: HealthSource, clock: Pick<Clock, "now">) {
    this.#source = source;
    this.#probes = new IntervalGate(1_000, clock);
  }

  /** True if the write on its way, else a probe (or the last durable write), went through. */
  async check(): Promise<boolean> {
    const failing = this.#source.failing();
    const waiting = (failing ? undefined : this.#source.inFlight()) ?? this.#probing;
    if (waiting) return await waiting;
    if (this.#probes.due()) return await this.#probe();
    return !failing;
  }

  #probe(): Promise<boolean> {
    const probing = this.#source.probe().then(() => true, () => false).finally(() => {
      this.#probing = undefined;
    });
    return this.#probing = probing;
  }
}
