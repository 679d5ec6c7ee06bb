// The PostgreSQL journal's health probe: a row written and deleted through
// both commit streams. Internal to PostgresTaskStore.
import type { PostgresCommit } from "./_postgres_commit.ts";
import { PROBE } from "./_postgres_journal.ts";

/**
 * A row in through the intake and out through the progress stream, under an
 * id of the owner's own: resolves once both committed, so both work again.
 */
export async function probeStreams(
  owner: string,
  intake: PostgresCommit,
  progress: PostgresCommit,
): Promise<void> {
  const groupId = `${PROBE}${owner}`;
  // Not refused by the row of a probe whose second half failed: this one's deletes it.
  const row = { groupId, index: 0, name: "probe", args: "[]", fingerprint: null, acceptedAt: -1 };
  await intake.insertNew([row]);
  const done = { groupId, index: 0, state: "done", attempts: 0, nextAt: 0, error: null };
  await progress.save({ ...done, durationMs: 0, at: -1, keep: false }, true);
}
