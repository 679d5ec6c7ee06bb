// A commit stream's watch over a batch that has no answer yet: is its session
// still at work in the database? Internal to PostgresTaskStore.
import type { Clock } from "./clock.ts";

/** How long a batch waits for its answer before its session is looked at. */
export const WATCH_SLOW_MS = 2_000;
/** How often the session is looked at again while the answer is missing. */
export const WATCH_LOOK_MS = 1_000;

/**
 * A session as the database's `pg_stat_activity` shows it (`since`: when its
 * state last changed); null if it has none of that name; undefined if the
 * database did not say.
 */
export type SessionSeen = { state: string; since: string } | null | undefined;

/**
 * Looks at the session of a batch with no answer after `WATCH_SLOW_MS`, then
 * every `WATCH_LOOK_MS`, and gives the batch up once two looks in a row saw no
 * session of it (a failover: the new host never had it), or saw it idle since
 * the same moment (a network cut, the host alive: a session that got the
 * statements would have run them, and changed state; it idles between two of
 * them only for an instant). A session at work, or a database that does not
 * say, leaves the batch to its deadline.
 *
 * @param look Asks the database, on a connection of its own.
 * @param giveUp Called once, with why.
 * @returns Stops the looks: call it once the batch is answered.
 */
export function watchSession(
  look: () => Promise<SessionSeen>,
  giveUp: (why: string) => void,
  timers: Pick<Clock, "setTimeout" | "clearTimeout">,
): () => void {
  let stopped = false;
  let last = "";
  let timer: unknown;
  const after = (ms: number) => {
    timer = timers.setTimeout(async () => {
      const seen = await look().catch(() => undefined);
      if (stopped) return;
      const now = seen === null ? "none" : seen?.state === "idle" ? `idle ${seen.since}` : "";
      if (now !== "" && now === last) {
        stopped = true;
        return giveUp(
          now === "none"
            ? "no answer, and the database has no session of it"
            : "no answer, and its session in the database idles: the statements or their answers were lost",
        );
      }
      last = now;
      after(WATCH_LOOK_MS);
    }, ms);
  };
  after(WATCH_SLOW_MS);
  return () => {
    stopped = true;
    timers.clearTimeout(timer);
  };
}
