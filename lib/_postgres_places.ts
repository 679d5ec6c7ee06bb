// The places of sharedConcurrency in PostgreSQL: session-level advisory locks
// on (the name's hash, the place's number), taken with a try-lock on the
// journal claim's connection, so that a server that dies, or loses that
// connection, gives back every place it held; one that lost it takes a place
// again on its new session for each attempt still running (retake), where
// one is free. A server whose take found none free holds the name's
// "waiting" lock (place -1) in share mode until it takes one: a server giving
// a place back sees it, leaves the place to it, and wakes it with a NOTIFY.
// Internal to PostgresTaskStore.
import type { Sql } from "postgres";
import type { SharedPlaces } from "./shared_places.ts";

// The schema in the key: servers of another search_path keep their own places.
const KEY = "hashtext(current_schema() || ' posthaste place ' || $1)";
const WAITING = -1;
// A place's try-lock, unless this session holds it already: a lock is
// re-entrant, and a take beside a retake would count one place twice. CASE:
// the look comes first, not after a lock taken.
const TRY_PLACE = `CASE WHEN EXISTS (
  SELECT FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
  AND pid = pg_backend_pid() AND classid = ${KEY}::oid AND objid = place::oid
) THEN false ELSE pg_try_advisory_lock(${KEY}, place) END`;
const CHANNEL = "posthaste_places";

/** Places this server holds, by name; what it takes and gives on its claim's session. */
export class PostgresPlaces implements SharedPlaces {
  /** The claim's connection, the one it holds now. */
  readonly #sql: () => Sql;
  readonly #owner: string;
  readonly #held = new Map<string, number[]>();
  /** Each name's limit, as its last take gave it. */
  readonly #limits = new Map<string, number>();
  /** Names whose waiting lock this session holds. */
  readonly #waiting = new Set<string>();
  readonly #watchers = new Set<(name: string) => void>();
  /** Attempts running on a place lost with a session, by name. */
  readonly #owed = new Map<string, number>();
  /** Counts the sessions lost: a retake on one gone since is not this session's. */
  #sessions = 0;
  /** The LISTEN, once this server first waited (a connection of its own). */
  #listening: Promise<void> | undefined;

  /**
   * @param sql The claim's one connection (a new one once it stopped answering): its session holds the locks.
   * @param owner The store's owner id: its own wake-ups are not for it.
   */
  constructor(sql: () => Sql, owner: string) {
    this.#sql = sql;
    this.#owner = owner;
  }

  async take(name: string, limit: number): Promise<boolean> {
    this.#limits.set(name, limit);
    const held = this.#mine(name);
    const free: number[] = [];
    for (let place = 0; place < limit; place++) if (!held.includes(place)) free.push(place);
    // The filter runs row by row under the LIMIT: one lock at most (tested).
    const [row] = free.length === 0 ? [] : await this.#sql().unsafe(
      `SELECT place FROM unnest($2::int[]) AS place WHERE ${TRY_PLACE} LIMIT 1`,
      [name, free],
    );
    const taken = row !== undefined;
    if (taken) this.#mine(name).push(Number(row.place)); // afresh: a loss meanwhile cleared the map
    else this.#listen();
    // Waiting from a take that found none until one that found one: a change, told to the others.
    if (taken === this.#waiting.has(name)) await this.#wait(name, !taken);
    return taken;
  }

  watch(listener: (name: string) => void): void {
    this.#watchers.add(listener);
  }

  async give(name: string): Promise<boolean> {
    // An attempt that lost its place ends: the places still held are for the others.
    if (this.#owed.has(name)) {
      this.#owe(name, -1);
      return false;
    }
    const place = this.#held.get(name)?.pop();
    if (place === undefined) return false; // lost with the session
    // Whether another session holds the name's waiting lock, once this
    // place is free; if one does, a NOTIFY wakes it (at the commit: after the unlock).
    const [row] = await this.#sql().unsafe(
      `WITH freed AS MATERIALIZED (SELECT pg_advisory_unlock(${KEY}, $2)),
       waiting AS MATERIALIZED (SELECT EXISTS (
         SELECT FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
         AND classid = ${KEY}::oid AND objid = ($3::int)::oid AND pid <> pg_backend_pid()
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       ) AS others_wait FROM freed)
       SELECT others_wait FROM waiting LEFT JOIN LATERAL (
         SELECT pg_notify('${CHANNEL}', json_build_array($4::text, current_schema(), $1)::text)
         WHERE waiting.others_wait
       ) AS woken ON true`,
      [name, place, WAITING, this.#owner],
    );
    return row?.others_wait === true;
  }

  /**
   * The session ended: every place, and every waiting lock, went with it.
   * The attempts running on them are owed one each, until `retake()`.
   */
  lost(): void {
    this.#sessions++;
    for (const [name, held] of this.#held) this.#owe(name, held.length);
    this.#held.clear();
    this.#waiting.clear();
  }

  /**
   * On the new session, takes again a place for each attempt still running
   * on a lost one, where one is free: else the name would run over its limit
   * until they end. A place another server took meanwhile stays its own.
   */
  async retake(): Promise<void> {
    const session = this.#sessions;
    for (const [name, count] of [...this.#owed]) {
      const free = Array.from({ length: this.#limits.get(name) ?? 0 }, (_, place) => place);
      const rows = await this.#sql().unsafe(
        `SELECT place FROM unnest($2::int[]) AS place WHERE ${TRY_PLACE} LIMIT $3`,
        [name, free, count],
      );
      if (session !== this.#sessions) return; // gone with a later loss
      for (const { place } of rows) {
        if (!this.#owed.has(name)) {
          // Its attempts ended meanwhile: not needed.
          await this.#sql().unsafe(`SELECT pg_advisory_unlock(${KEY}, $2)`, [name, place]);
          continue;
        }
        this.#mine(name).push(Number(place));
        this.#owe(name, -1);
      }
    }
  }

  /** The claim gave up its connection for a new one: so goes the LISTEN, whose connection ends with it. */
  replaced(): void {
    this.lost();
    this.#listening = undefined;
  }

  /** Takes (share mode, never blocked: nobody takes it exclusively) or lets go the waiting lock. */
  async #wait(name: string, waiting: boolean): Promise<void> {
    if (waiting) this.#waiting.add(name);
    else this.#waiting.delete(name);
    const lock = waiting ? "pg_advisory_lock_shared" : "pg_advisory_unlock_shared";
    await this.#sql().unsafe(`SELECT ${lock}(${KEY}, ${WAITING})`, [name]);
  }

  /** Listens for places given back, from the first wait on (again after a failure). */
  #listen(): void {
    this.#listening ??= (async () => {
      const [row] = await this.#sql()`SELECT current_schema() AS schema`;
      await this.#sql().listen(CHANNEL, (payload) => {
        const [owner, schema, name] = JSON.parse(payload) as string[];
        // One channel for every schema: only this one's, and not this server's own.
        if (schema !== row?.schema || owner === this.#owner || name === undefined) return;
        for (const watcher of this.#watchers) watcher(name);
      });
    })().catch(() => {
      this.#listening = undefined; // looks go on; the next wait listens again
    });
  }

  /** Adds `count` (negative: takes away) to the places owed for `name`'s attempts. */
  #owe(name: string, count: number): void {
    const owed = (this.#owed.get(name) ?? 0) + count;
    if (owed > 0) this.#owed.set(name, owed);
    else this.#owed.delete(name);
  }

  #mine(name: string): number[] {
    let held = this.#held.get(name);
    if (held === undefined) this.#held.set(name, held = []);
    return held;
  }
}
