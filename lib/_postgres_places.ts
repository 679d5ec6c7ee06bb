// The places of sharedConcurrency in PostgreSQL: session-level advisory locks
// on (the name's hash, the place's number), taken with a try-lock on the
// journal claim's connection, so that a server that dies, or loses that
// connection, gives back every place it held. Internal to PostgresTaskStore.
import type { Sql } from "postgres";
import type { SharedPlaces } from "./shared_places.ts";

/** Places this server holds, by name; what it takes and gives on its claim's session. */
export class PostgresPlaces implements SharedPlaces {
  readonly #sql: Sql;
  readonly #held = new Map<string, number[]>();

  /** @param sql The claim's one connection: its session holds the locks. */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async take(name: string, limit: number): Promise<boolean> {
    const held = this.#mine(name);
    const free: number[] = [];
    for (let place = 0; place < limit; place++) if (!held.includes(place)) free.push(place);
    if (free.length === 0) return false;
    // The filter runs row by row under the LIMIT: one lock at most (tested).
    // The schema in the key: servers of another search_path keep their own places.
    const [row] = await this.#sql`
      SELECT place FROM unnest(${free}::int[]) AS place
      WHERE pg_try_advisory_lock(hashtext(current_schema() || ' posthaste place ' || ${name}), place)
      LIMIT 1`;
    if (row === undefined) return false;
    this.#mine(name).push(Number(row.place)); // afresh: a loss meanwhile cleared the map
    return true;
  }

  give(name: string): void {
    const place = this.#held.get(name)?.pop();
    if (place === undefined) return; // lost with the session
    this.#sql`
      SELECT pg_advisory_unlock(hashtext(current_schema() || ' posthaste place ' || ${name}), ${place}::int)
    `.catch(() => {}); // a session that ended has given it back
  }

  /** The session ended: every place went with it. */
  lost(): void {
    this.#held.clear();
  }

  #mine(name: string): number[] {
    let held = this.#held.get(name);
    if (held === undefined) this.#held.set(name, held = []);
    return held;
  }
}
