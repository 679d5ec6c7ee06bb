/**
 * The CPU-bound work of the `/reports` demo; runs in a worker (or, with
 * `WORKERS=0`, on the event loop).
 *
 * @module
 */

/**
 * Burns about `workMs` milliseconds of CPU folding a hash, then returns it.
 *
 * @param id The report's id, the hash's seed.
 * @param workMs How long to compute.
 * @returns The hash (8 hex digits) and how many rounds it took.
 *
 * @example Building a report
 * ```ts
 * import { buildReport } from "./report_work.ts";
 * import { match } from "node:assert/strict";
 *
 * match(buildReport("r1", 1), /^[0-9a-f]{8} after \d+ rounds$/);
 * ```
 */
export function buildReport(id: string, workMs: number): string {
  let hash = 0x811c9dc5;
  for (const char of id) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  const end = performance.now() + workMs;
  let rounds = 0;
  do {
    for (let i = 0; i < 1_000; i++) hash = Math.imul(hash ^ i, 0x01000193);
    rounds++;
  } while (performance.now() < end);
  return `${(hash >>> 0).toString(16).padStart(8, "0")} after ${rounds} rounds`;
}
