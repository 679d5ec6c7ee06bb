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
 * Whether a journal takes durable writes. While none failed, the write on
 * its way (if any) answers: on a disk that stalls or a database that froze it
 * gives no answer, and a caller that times the wait (health's second) sees
 * the stall long before the requests waiting for that write fail at
 * `commitTimeoutMs`. After a failure nothing may be accepted: a probe write,
 * at most once a second, answers, so that health recovers without client
 * traffic.
 */
export class JournalHealth {
  readonly #source: HealthSource;
  readonly #probes: IntervalGate;

  constructor(source: HealthSource, clock: Pick<Clock, "now">) {
    this.#source = source;
    this.#probes = new IntervalGate(1_000, clock);
  }

  /** True if the write on its way, else the last durable write (or this probe), went through. */
  async check(): Promise<boolean> {
    if (!this.#source.failing()) return await (this.#source.inFlight() ?? true);
    if (!this.#probes.due()) return false;
    try {
      await this.#source.probe();
      return true;
    } catch {
      return false;
    }
  }
}
