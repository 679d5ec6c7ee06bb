// Query plans for tests: what a statement did, read from `EXPLAIN (ANALYZE)`,
// so that a test can say a batch read its own rows, not the whole table.
import type { Sql, TransactionSql } from "postgres";

/** A node of a plan that `EXPLAIN (ANALYZE, FORMAT JSON)` returns. */
export interface PlanNode {
  "Node Type": string;
  /** Where it stands under its parent: "Outer" for a ModifyTable's rows to change. */
  "Parent Relationship"?: string;
  /** What a ModifyTable node does: "Update", "Delete", "Insert". */
  Operation?: string;
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Join Filter"?: number;
  Plans?: PlanNode[];
}

/** Rows the plan's scans of tables read, kept or thrown away, over all its nodes. */
export function rowsRead(node: PlanNode): number {
  const read = node["Node Type"].includes("Scan") && node["Relation Name"] !== undefined
    ? (node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"]
    : 0;
  return read + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

/**
 * `sql`, with each statement it runs explained as it runs (`EXPLAIN
 * ANALYZE`): its plan goes to `plans`, and it resolves to no rows.
 */
export function explaining<S extends Sql | TransactionSql>(sql: S, plans: PlanNode[]): S {
  return new Proxy(sql, {
    apply(target, self, [strings, ...values]) {
      if (!Array.isArray(strings?.raw)) return Reflect.apply(target, self, [strings, ...values]);
      const explained = [`EXPLAIN (ANALYZE, FORMAT JSON) ${strings[0]}`, ...strings.slice(1)];
      const query = Reflect.apply(target, self, [
        Object.assign(explained, { raw: explained }),
        ...values,
      ]) as Promise<[{ "QUERY PLAN": [{ Plan: PlanNode }] }]>;
      return query.then(([row]) => {
        plans.push(row["QUERY PLAN"][0].Plan);
        return [];
      });
    },
  });
}

/** Rows a plan's joins compared and threw away, over all its nodes. */
export function discardedByJoins(node: PlanNode): number {
  return (node["Rows Removed by Join Filter"] ?? 0) +
    (node.Plans ?? []).reduce((sum, child) => sum + discardedByJoins(child), 0);
}
