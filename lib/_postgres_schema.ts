// The PostgreSQL journal's table: made, or checked and brought up to this
// version, as a store opens. Internal to PostgresTaskStore.
import type { Sql, TransactionSql } from "postgres";
import { TABLE } from "./_postgres_journal.ts";

const COLUMNS = [
  "group_id",
  "idx",
  "name",
  "args",
  "state",
  "attempts",
  "next_at",
  "crashes",
  "error",
  "duration_ms",
  "updated_at",
  "owner",
  "fingerprint",
  "created_at",
];

/** Columns a table made by an earlier version may lack, and their types. */
const NULLABLE: Record<string, string> = { fingerprint: "text", created_at: "bigint" };

/** A row as the driver returns it (bigint columns come back as strings). */
export type TaskRow = Record<(typeof COLUMNS)[number], unknown>;

/**
 * The table's indexes, by name. Adoption reads open rows by owner, and the
 * walk of deferred work by acceptance (see listOwned); pruning finds old
 * failures, and old keyed groups kept after they succeeded.
 */
const INDEXES: Record<string, string> = {
  [`${TABLE}_open_by_age`]:
    "(owner, (coalesce(created_at, 0)), group_id) WHERE state NOT IN ('done', 'failed')",
  [`${TABLE}_failed`]: "(updated_at) WHERE state = 'failed'",
  [`${TABLE}_done`]: "(updated_at) WHERE state = 'done'",
};

/**
 * Creates the table if it is missing and checks an existing one has this
 * version's columns and indexes, adding those missing. Servers starting at
 * once serialise on a transaction lock, so only one creates it. Where all
 * are there, nothing is created or altered, so a role that may only read and
 * write the rows (not own the table) can run the server.
 *
 * @throws {Error} Naming the columns missing if the table is someone else's,
 * or a column or index missing that only the table's owner may add.
 */
export async function ensureTable(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${TABLE}, 0))`;
    // PostgreSQL's own words for it ("no schema has been selected to create
    // in") do not say that the URL's ?search_path= names a missing schema.
    const [where] =
      await tx`SELECT current_schema() AS schema, current_setting('search_path') AS path`;
    if (where?.schema === null) {
      throw new Error(
        `no schema of the search_path (${where.path}) exists to hold table ${TABLE}: create it, or name another`,
      );
    }
    // Looked for first: CREATE TABLE IF NOT EXISTS takes the right to create
    // in the schema even where the table is there.
    const [table] = await tx`
      SELECT pg_has_role(tableowner, 'MEMBER') AS owned FROM pg_tables
      WHERE schemaname = current_schema() AND tablename = ${TABLE}
    `;
    // Keyed by (group id, index): group ids are time-ordered, so inserts
    // append to the right edge of the primary key. `owner` names the server
    // process whose claim covers the row (see PostgresTaskStore).
    if (table === undefined) {
      await tx.unsafe(`
        CREATE TABLE ${TABLE} (
          group_id text NOT NULL, idx integer NOT NULL,
          name text NOT NULL, args text NOT NULL, state text NOT NULL,
          attempts integer NOT NULL DEFAULT 0, next_at bigint NOT NULL DEFAULT 0,
          crashes integer NOT NULL DEFAULT 0, error text, duration_ms integer NOT NULL DEFAULT 0,
          updated_at bigint NOT NULL, owner text NOT NULL, fingerprint text, created_at bigint,
          PRIMARY KEY (group_id, idx)
        )`);
    }
    const found = new Set(
      (await tx`
        SELECT column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ${TABLE}
      `).map((row) => String(row.column_name)),
    );
    const missing = COLUMNS.filter((column) => !found.has(column));
    // Added to tables made before them, nullable, so no rows are rewritten:
    // a keyed group's request fingerprint (see DuplicateGroupError), and when
    // a group was accepted (see TaskGroup.acceptedAt). Only when missing:
    // ALTER TABLE locks out every server's statements, even as a no-op.
    const added = missing.filter((column) => column in NULLABLE);
    if (missing.length > added.length) {
      throw new Error(
        `table ${TABLE} is not a posthaste journal this version reads (no column ${
          missing.join(", ")
        })`,
      );
    }
    const owned = table?.owned ?? true;
    if (added.length > 0 && !owned) throw notOwned(`column ${added.join(", ")}`);
    for (const column of added) {
      await tx.unsafe(`ALTER TABLE ${TABLE} ADD COLUMN ${column} ${NULLABLE[column]}`);
    }
    await ensureIndexes(tx, owned);
  });
}

/**
 * Makes the indexes missing; each CREATE INDEX, even IF NOT EXISTS, holds
 * off every server's writes while it runs, and is the owner's alone. Drops
 * the one by (owner, group_id) that `${TABLE}_open_by_age` replaced, where
 * this role owns the table (an older server starting makes it again, which
 * only costs writes).
 */
async function ensureIndexes(tx: TransactionSql, owned: boolean): Promise<void> {
  // Beside the table: a name alone would be looked for along the search_path.
  const present = new Set(
    (await tx`
      SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ${TABLE}
    `).map((row) => String(row.indexname)),
  );
  for (const [name, definition] of Object.entries(INDEXES)) {
    if (present.has(name)) continue;
    if (!owned) throw notOwned(`index ${name}`);
    await tx.unsafe(`CREATE INDEX ${name} ON ${TABLE} ${definition}`);
  }
  if (owned && present.has(`${TABLE}_open`)) {
    const [old] =
      await tx`SELECT format('DROP INDEX %I.%I', current_schema(), ${`${TABLE}_open`}::text) AS drop`;
    await tx.unsafe(String(old?.drop));
  }
}

/** What a start that may not change the table says of what it lacks. */
function notOwned(what: string): Error {
  return new Error(
    `${what} of table ${TABLE} is missing, and only the table's owner may add it: start this version once as that role`,
  );
}
