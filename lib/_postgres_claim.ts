// A PostgresTaskStore's claim on its rows: a session-level advisory lock on
// its owner id, held on a connection of its own for as long as the store is
// open. PostgreSQL frees it when the session ends, however the process ends.
// Internal to PostgresTaskStore.
import postgres, { type Sql } from "postgres";
import type { StructuredLogger } from "./logging.ts";
import { PostgresPlaces } from "./_postgres_places.ts";

/** Holds the lock, and takes it again if its connection is lost. */
export class OwnerClaim {
  readonly #sql: Sql;
  readonly #owner: string;
  readonly #logger: StructuredLogger;
  /** The places of `sharedConcurrency`, held by the same session as the claim. */
  readonly places: PostgresPlaces;
  #closing = false;
  #retaking = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  /** Connects and takes the lock. */
  static async take(url: string, owner: string, logger: StructuredLogger): Promise<OwnerClaim> {
    let claim: OwnerClaim | undefined = undefined;
    const sql = postgres(url, {
      max: 1,
      // Never recycled: a new connection would be a gap in the claim.
      max_lifetime: null,
      onnotice: () => {},
      onclose: () => claim && claim.#lost(),
      connection: { application_name: "posthaste claim" },
    });
    claim = new OwnerClaim(sql, owner, logger);
    try {
      await claim.#lock();
      return claim;
    } catch (error) {
      claim.#closing = true;
      await sql.end({ timeout: 0 });
      throw error;
    }
  }

  private constructor(sql: Sql, owner: string, logger: StructuredLogger) {
    this.#sql = sql;
    this.#owner = owner;
    this.#logger = logger;
    this.places = new PostgresPlaces(sql, owner);
  }

  /** Ends the session, and with it the claim. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    this.#wake?.();
    await this.#sql.end({ timeout: 5 });
  }

  async #lock(): Promise<void> {
    await this.#sql`SELECT pg_advisory_lock(hashtextextended(${this.#owner}, 0))`;
  }

  /**
   * The session ended under a live store: until the lock is back, another
   * server may adopt this one's unfinished tasks and run them too (at least
   * once). The store's later writes to adopted rows are then ignored. One
   * retry loop at a time: the failed connections of its attempts close too.
   */
  #lost(): void {
    this.places.lost();
    if (this.#closing || this.#retaking) return;
    this.#retaking = true;
    void this.#retake().finally(() => this.#retaking = false);
  }

  async #retake(): Promise<void> {
    const owner = this.#owner;
    this.#logger.warn("Lost the journal claim's connection for owner {owner}; taking it again", {
      owner,
    });
    while (!this.#closing) {
      try {
        await this.#lock();
        this.#logger.info("Took the journal claim for owner {owner} again", { owner });
        return;
      } catch (error) {
        if (this.#closing) return;
        this.#logger.error("Cannot take the journal claim again (retried in 1 s): {error}", {
          error,
        });
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#retry = setTimeout(resolve, 1_000);
        });
      }
    }
  }
}
