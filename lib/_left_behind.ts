// What PostgresTaskStore.recover() leaves of gone servers' work (groups
// holding tasks this server does not define): logged once for each change,
// not at every look. Internal.
import type { LeftBehind } from "./_postgres_journal.ts";
import type { StructuredLogger } from "./logging.ts";

export class LeftBehindLog {
  readonly #logger: StructuredLogger;
  #said = "";

  constructor(logger: StructuredLogger) {
    this.#logger = logger;
  }

  /** Logs `left` if it differs from what the last look left. */
  report(left: LeftBehind, names: readonly string[] | undefined): void {
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
