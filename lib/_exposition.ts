// Prometheus text exposition (version 0.0.4): labels, histogram series and
// the standard process families. Internal to Metrics.
import type { Histogram } from "./histogram.ts";
import type { ProcessReadings } from "./process_readings.ts";
import { VERSION } from "./version.ts";

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** Prometheus labels, `{k="v",…}`, or nothing without pairs. */
export function labels(pairs: Record<string, string>): string {
  const text = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
  return text === "" ? "" : `{${text}}`;
}

/** A family's `# HELP` and `# TYPE` lines. */
export function header(out: string[], name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** A family of one sample without labels: its header and its value. */
export function single(
  out: string[],
  name: string,
  type: string,
  help: string,
  value: number,
): void {
  header(out, name, type, help);
  out.push(`${name} ${value}`);
}

/** The standard `process_*` families, read now, and what runs: `posthaste_build_info`. */
export function processFamilies(out: string[], readings: ProcessReadings): void {
  const families: [string, string, string, number][] = [
    [
      "process_cpu_seconds_total",
      "counter",
      "User and system CPU time spent in seconds.",
      readings.cpuSeconds(),
    ],
    [
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      readings.residentBytes(),
    ],
    ["process_heap_bytes", "gauge", "JavaScript heap in use, in bytes.", readings.heapBytes()],
    [
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since the Unix epoch in seconds.",
      readings.startTimeSeconds,
    ],
  ];
  for (const [name, type, help, value] of families) single(out, name, type, help, value);
  // Prometheus's build_info convention: the labels carry it, the value is always 1.
  header(out, "posthaste_build_info", "gauge", "The posthaste and Deno versions running: 1.");
  out.push(`posthaste_build_info${labels({ version: VERSION, deno: Deno.version.deno })} 1`);
}

/** A histogram's `_bucket`, `_sum` and `_count` series. */
export function series(
  out: string[],
  name: string,
  pairs: Record<string, string>,
  histogram: Histogram,
): void {
  const counts = histogram.cumulative();
  histogram.bounds.forEach((le, i) => {
    out.push(`${name}_bucket${labels({ ...pairs, le: String(le) })} ${counts[i]}`);
  });
  out.push(`${name}_bucket${labels({ ...pairs, le: "+Inf" })} ${histogram.count}`);
  out.push(`${name}_sum${labels(pairs)} ${histogram.sum}`);
  out.push(`${name}_count${labels(pairs)} ${histogram.count}`);
}
