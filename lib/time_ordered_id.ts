/**
 * Time-ordered unique ids (UUID version 7).
 *
 * @module
 */

/**
 * A UUID version 7: the current Unix time in milliseconds, then 74 random
 * bits. Ids made later sort after earlier ones (to the millisecond), so a
 * journal keyed by them appends at the end of its index instead of touching
 * a random page per insert.
 *
 * @param now The time to encode, in milliseconds. @default {Date.now()}
 * @returns The id, e.g. `019ab2c4-5e6f-7a1b-9c2d-3e4f5a6b7c8d`.
 *
 * @example Ids sort by time
 * ```ts
 * import { timeOrderedId } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * const first = timeOrderedId(1_000);
 * const second = timeOrderedId(2_000);
 * ok(first < second);
 * ok(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(first));
 * ```
 */
export function timeOrderedId(now: number = Date.now()): string {
  if (now !== lastTime) {
    lastTime = now;
    const time = now.toString(16).padStart(12, "0");
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
  }
  // randomUUID (native, fast) supplies the random bits and the variant; only
  // the time and the version digit are replaced.
  return prefix + crypto.randomUUID().slice(15);
}

// The time part changes once a millisecond; a server makes many ids in one.
let lastTime = NaN;
let prefix = "";
