// A PostgresTaskStore's two commit streams: new tasks, what a 202 waits for,
// and progress, committed beside them. Internal to PostgresTaskStore.
import type { Clock } from "./clock.ts";
import type { Histogram } from "./histogram.ts";
import { PostgresCommit } from "./_postgres_commit.ts";
import { connect } from "./_postgres_pool.ts";

/** What the two streams share, and what only the intake has. */
export interface StreamsOptions {
  url: string;
  owner: string;
  /** Wall-clock `updated_at`s, and the batches' deadlines. */
  clock: Clock;
  /** Each statement's `statement_timeout`. */
  timeoutMs: number;
  /** The intake's batches' seconds (what a 202 waits for). */
  batches: Histogram;
  /** Times the intake's batches. */
  monotonic: Pick<Clock, "now">;
  /** Told the groups of a failed insert that the database may have applied. */
  onUnsure: (groupIds: string[]) => void;
}

/**
 * The intake and progress streams, each on a connection of its own (which
 * runs its statements in the order sent), named `posthaste intake` and
 * `posthaste progress` for the database's views. A failed enqueue was
 * answered 503 and is dropped; failed outcomes are tried again for a minute.
 */
export function commitStreams(
  options: StreamsOptions,
): { intake: PostgresCommit; progress: PostgresCommit } {
  const { url, owner, clock, timeoutMs } = options;
  const shared = { owner, now: () => clock.now(), timeoutMs, timers: clock };
  const connectAs = (name: string) => () =>
    connect(url, 1, { statement_timeout: timeoutMs, application_name: `posthaste ${name}` });
  return {
    intake: new PostgresCommit({
      ...shared,
      connect: connectAs("intake"),
      batches: options.batches,
      monotonic: options.monotonic,
      retryForMs: 0,
      onUnsure: options.onUnsure,
    }),
    progress: new PostgresCommit({ ...shared, connect: connectAs("progress"), retryForMs: 60_000 }),
  };
}
