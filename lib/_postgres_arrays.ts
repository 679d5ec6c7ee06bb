// Array parameters for a connection's first statements. postgres.js 3.4.9
// fetches the database's array types when a connection opens, sends the
// first statement once they have come, and registers their serializers a
// few microtasks later. A database that answers that statement's Describe
// fast enough (a busy client, a near server) has its Bind built first, with
// no serializer: ['a', 'b'] went as "a,b", [null] as "", and the batch failed
// with "malformed array literal" (5 in 25 runs of the health tests beside two
// busy cores). These serializers are there from the start; the driver's own
// replace them once fetched, as no parser comes with them. Internal to
// PostgresTaskStore.
import type { PostgresType } from "postgres";

/**
 * An array as PostgreSQL's array input reads it: every element quoted
 * (a string "NULL" stays a string), null as SQL NULL.
 *
 * @throws {TypeError} For an undefined element, as the driver's own does.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  const elements = values.map((value) => {
    if (value === undefined) {
      throw new TypeError("Cannot send an array parameter: an element is undefined");
    }
    return value === null
      ? "NULL"
      : `"${String(value).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${elements.join(",")}}`;
}

/** A serializer for array type `oid`, and no parser (`from` is empty). */
const serializing = (oid: number): PostgresType => ({
  to: oid,
  from: [],
  serialize: arrayLiteral,
  parse: (raw: unknown) => raw,
});

/** The driver's `types` option: the array types posthaste's statements send. */
export const arrayTypes: Record<string, PostgresType> = {
  textArray: serializing(1009),
  int4Array: serializing(1007),
  int8Array: serializing(1016),
};
