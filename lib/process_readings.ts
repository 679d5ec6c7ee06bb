/**
 * What the process reports of itself for the standard `process_*` metrics.
 *
 * @module
 */
import process from "node:process";

/**
 * Readings of the process, taken when `/metrics` is scraped: the standard
 * `process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `process_heap_bytes` and `process_start_time_seconds` of Prometheus's
 * client libraries. {@linkcode denoProcess} reads Deno's own; a test gives fixed ones.
 *
 * @example Fixed readings for a test
 * ```ts
 * import { Metrics, type ProcessReadings, TaskRunner } from "./mod.ts";
 * import { match } from "node:assert/strict";
 *
 * const fixed: ProcessReadings = {
 *   cpuSeconds: () => 1.5,
 *   residentBytes: () => 80e6,
 *   heapBytes: () => 20e6,
 *   startTimeSeconds: 1_800_000_000,
 * };
 * const metrics = new Metrics(new TaskRunner());
 * metrics.processReadings = fixed;
 * match(metrics.render(), /^process_cpu_seconds_total 1\.5$/m);
 * ```
 */
export interface ProcessReadings {
  /** User and system CPU time spent, in seconds. */
  cpuSeconds(): number;
  /** Resident memory, in bytes. */
  residentBytes(): number;
  /** The JavaScript heap in use, in bytes. */
  heapBytes(): number;
  /** When the process started, in seconds since the Unix epoch. */
  readonly startTimeSeconds: number;
}

/**
 * The readings of this process: `process.cpuUsage()`, `Deno.memoryUsage()`
 * and `performance.timeOrigin`, none of which needs a permission.
 *
 * @example Readings of this process
 * ```ts
 * import { denoProcess } from "./mod.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(denoProcess.residentBytes() > 0);
 * ok(denoProcess.startTimeSeconds <= Date.now() / 1_000);
 * ```
 */
export const denoProcess: ProcessReadings = {
  cpuSeconds: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
  residentBytes: () => Deno.memoryUsage().rss,
  heapBytes: () => Deno.memoryUsage().heapUsed,
  startTimeSeconds: performance.timeOrigin / 1_000,
};
