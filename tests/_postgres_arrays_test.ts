// Array parameters before the driver has the database's array types
// (lib/_postgres_arrays.ts).
import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import postgres from "postgres";
import { arrayLiteral, arrayTypes } from "../lib/_postgres_arrays.ts";
import { connect } from "../lib/_postgres_pool.ts";
import { postgresTest } from "./_postgres.ts";

Deno.test("arrayLiteral quotes every element, escapes quotes and backslashes, and sends null as NULL", () => {
  equal(arrayLiteral([]), "{}");
  equal(
    arrayLiteral(["a,b", 'say "hi"', "back\\slash", "NULL", null, 7]),
    String.raw`{"a,b","say \"hi\"","back\\slash","NULL",NULL,"7"}`,
  );
  throws(
    () => arrayLiteral(["a", undefined]),
    /^TypeError: Cannot send an array parameter: an element is undefined/,
  );
});

postgresTest(
  "arrayTypes: text, int and bigint arrays reach the database as sent, with no array type fetched",
  async (db) => {
    // fetch_types off: the driver registers none of its own, so these are
    // what serialize, as they do on a connection whose fetch has not come.
    const sql = postgres(db.url, {
      max: 1,
      fetch_types: false,
      onnotice: () => {},
      types: arrayTypes,
    });
    try {
      // No NUL: PostgreSQL's text cannot hold one.
      const text = fc.array(
        fc.option(fc.string({ unit: "binary" }).filter((s) => !s.includes("\0")), { nil: null }),
      );
      const ints = fc.array(fc.integer());
      const bigints = fc.array(fc.option(fc.maxSafeInteger(), { nil: null }));
      await fc.assert(
        fc.asyncProperty(text, ints, bigints, async (t, i, b) => {
          const [row] = await sql`
            SELECT array_to_json(${t}::text[]) AS t, array_to_json(${i}::int[]) AS i,
              array_to_json(${b}::bigint[]) AS b
          `;
          deepEqual([row?.t, row?.i, row?.b], [t, i, b]);
        }),
        { numRuns: 200 },
      );
    } finally {
      await sql.end();
    }
  },
);

postgresTest(
  "connect(): a session sends arrays as arrays before the driver has fetched the database's array types",
  async (db) => {
    // A connection's first statement could be bound before the fetched
    // types were registered: ['a', 'b'] went as "a,b", [null] as "".
    const sql = connect(db.url, 1, {}, { fetch_types: false });
    const [text, none, ints, big] = [["a", "b"], [null], [1, 2], [2 ** 40]];
    try {
      const [row] = await sql`
        SELECT ${text}::text[] = ARRAY['a', 'b'] AS t, ${none}::text[] = ARRAY[NULL::text] AS n,
          ${ints}::int[] = ARRAY[1, 2] AS i, ${big}::bigint[] = ARRAY[1099511627776::bigint] AS b
      `;
      deepEqual({ ...row }, { t: true, n: true, i: true, b: true });
    } finally {
      await sql.end();
    }
  },
);
