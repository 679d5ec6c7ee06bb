// What PostgresTaskStore.recover()'s looks say: what they leave of gone
// servers' work (groups holding tasks this server does not define), and that
// they adopt nothing while this server's claim is not steady. Each logged once
// for each change, not at every look. Internal.
import { SETTLE_MS } from "./_postgres_claim.ts";
import type { LeftBehind } from "./_postgres_journal.ts";
import type { StructuredLogger } from "./logging.ts";

export class LookLog {
  readonly #logger: StructuredLogger;
  #said = "";
  /** Whether the last look adopted nothing for want of a steady claim (logged). */
  #unsteady = false;

  constructor(logger: StructuredLogger) {
    this.#logger = logger;
  }

  /** Logs that the look adopted nothing, its claim not steady, unless the last one said so. */
  unsteady(): void {
    if (this.#unsteady) return;
    this.#unsteady = true;
    this.#logger.warn(
      "Adopted nothing of gone servers: this server's own journal claim is not held, or was taken again under {settleMs} ms ago; a peer cut off alike may not have taken its own again yet",
      { settleMs: SETTLE_MS },
    );
  }

  /** Logs `left` if it differs from what the last look left. */
  report(left: LeftBehind, names: readonly string[] | undefined): void {
    this.#unsteady = false;
    const summary = left.map(({ name, tasks }) => `${tasks} ${JSON.stringify(name)}`).join(", ");
    if (summary !== this.#said && summary !== "") {
      this.#logger.warn(
        "Left tasks of gone servers in the journal ({left}): their groups hold tasks this server does not define ({unknown}); a server that defines them takes them over",
        {
          left: summary,
          unknown: left.map(({ name }) => name).filter((name) => !names?.includes(name)),
        },
      );
    }
    this.#said = summary;
  }
}
