/**
 * posthaste's version, as `deno.json` names it (a test keeps the two the
 * same): shown by `/metrics` as `posthaste_build_info` and in the log line
 * a server writes as it starts, so that the servers of a rolling deploy can
 * be told apart.
 *
 * @example
 * ```ts
 * import { VERSION } from "./mod.ts";
 * import { match } from "node:assert/strict";
 *
 * match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION = "0.1.0";
