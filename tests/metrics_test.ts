// /metrics: valid Prometheus text, and exact deltas for a scripted series of requests.
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  Histogram,
  LATENCY_BUCKETS,
  Metrics,
  systemClock,
  TaskGroup,
  TaskRunner,
  VERSION,
} from "../lib/mod.ts";
import { startApp, tempDir, TestRunner } from "./_helpers.ts";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/;

/** Parses exposition text, checking its rules; returns samples keyed by `name{labels}`. */
function parse(text: string): Map<string, number> {
  ok(text.endsWith("\n"), "ends with a newline");
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      ok(NAME.test(name ?? ""), `family name ${name}`);
      ok(["counter", "gauge", "histogram"].includes(type ?? ""), `type ${type}`);
      ok(!types.has(name ?? ""), `one TYPE per family: ${name}`);
      types.set(name ?? "", type ?? "");
      continue;
    }
    const match = SAMPLE.exec(line);
    ok(match, `sample syntax: ${line}`);
    const [, name = "", labelText = "", value = ""] = match;
    const family = name.replace(/_(bucket|sum|count)$/, "");
    const type = types.get(name) ?? types.get(family);
    ok(type, `sample after its TYPE: ${line}`);
    if (type === "counter") ok(name.endsWith("_total"), `counter named _total: ${name}`);
    ok(!Number.isNaN(Number(value)), `numeric value: ${line}`);
    samples.set(`${name}{${labelText}}`, Number(value));
  }
  // Histogram buckets are cumulative and end at +Inf, which equals _count.
  for (const [key, count] of samples) {
    const match = /^(\w+)_count\{(.*)\}$/.exec(key);
    if (!match || types.get(match[1] ?? "") !== "histogram") continue;
    const labels = match[2] === "" ? "" : `${match[2]},`;
    const buckets = [...samples].filter(([k]) => k.startsWith(`${match[1]}_bucket{${labels}le=`));
    for (let i = 1; i < buckets.length; i++) ok(buckets[i]![1] >= buckets[i - 1]![1], "cumulative");
    equal(buckets.at(-1)?.[0].includes('le="+Inf"'), true);
    equal(buckets.at(-1)?.[1], count);
  }
  return samples;
}

Deno.test("GET /metrics is Prometheus text and moves by exactly the expected amounts", async () => {
  await using server = await startApp();
  const scrape = async (): Promise<Map<string, number>> => {
    const response = await fetch(`${server.url}/metrics`);
    equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return parse(await response.text());
  };
  await server.logText();
  const before = await scrape();
  const post = (path: string) =>
    fetch(`${server.url}${path}`, { method: "POST" }).then((r) => r.body?.cancel());
  await Promise.all([
    post("/send-notification/a@example.com"),
    post("/send-notification/b@example.com"),
    post("/send-notification/c@example.com"),
    post("/send-notification/not-an-email"),
    post("/send-notification/%0A"),
    post("/nowhere"),
    fetch(`${server.url}/send-notification/d@example.com`).then((r) => r.body?.cancel()),
  ]);
  await server.logText();
  const after = await scrape();
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  equal(delta('posthaste_http_requests_total{route="/send-notification/:email",status="202"}'), 3);
  equal(delta('posthaste_http_requests_total{route="/send-notification/:email",status="422"}'), 2);
  equal(delta('posthaste_http_requests_total{route="unmatched",status="404"}'), 1);
  // Before: a GET on the POST route was counted as unmatched.
  equal(delta('posthaste_http_requests_total{route="/send-notification/:email",status="405"}'), 1);
  equal(
    delta('posthaste_http_requests_total{route="/metrics",status="200"}'),
    1,
    "the first scrape",
  );
  equal(delta("posthaste_tasks_started_total{}"), 3);
  equal(delta("posthaste_tasks_succeeded_total{}"), 3);
  equal(delta("posthaste_tasks_failed_total{}"), 0);
  equal(after.get("posthaste_tasks_pending{}"), 0);
  equal(after.get("posthaste_tasks_running{}"), 0);
  equal(after.get("posthaste_tasks_overrunning{}"), 0);
  // The limits, for an alert on how full the backlog is.
  equal(after.get("posthaste_tasks_pending_limit{}"), 100_000);
  equal(after.get("posthaste_tasks_running_limit{}"), 256);
  equal(delta('posthaste_task_duration_seconds_count{task="send-notification"}'), 3);
  // Every answer of the route timed: the 202s, 422s and the 405.
  const timed = 'posthaste_http_request_duration_seconds_count{route="/send-notification/:email"}';
  equal(delta(timed), 6);
  equal(delta('posthaste_http_request_duration_seconds_count{route="unmatched"}'), 1);
  ok(delta('posthaste_http_request_duration_seconds_sum{route="/send-notification/:email"}') > 0);
  ok(after.get("process_cpu_seconds_total{}")! > before.get("process_cpu_seconds_total{}")!);
  ok(after.get("process_resident_memory_bytes{}")! > after.get("process_heap_bytes{}")!);
  ok(after.get("process_start_time_seconds{}")! <= Date.now() / 1_000);
  equal(after.get("process_start_time_seconds{}"), before.get("process_start_time_seconds{}"));
  equal(delta('posthaste_log_lines_total{file="notifications"}'), 3);
  ok(delta('posthaste_log_bytes_total{file="notifications"}') > 0);
  ok(delta('posthaste_log_write_batches_total{file="notifications"}') >= 1);
});

Deno.test("GET /metrics counts refused requests by code, each code there from the start", async () => {
  await using server = await startApp();
  const codes = ["backlog_full", "shutting_down", "journal_unavailable", "too_many_tasks"];
  const refusals = async () => {
    const samples = parse(await (await fetch(`${server.url}/metrics`)).text());
    return codes.map((code) => samples.get(`posthaste_http_refusals_total{code="${code}"}`));
  };
  deepEqual(await refusals(), [0, 0, 0, 0]);
  equal(await server.app.shutdown({ shutdown: () => Promise.resolve() }), 0);
  const late = await fetch(`${server.url}/send-notification/a@example.com`, { method: "POST" });
  deepEqual([late.status, (await late.json()).error], [503, "shutting_down"]);
  deepEqual(await refusals(), [0, 1, 0, 0]);
});

Deno.test("Metrics: stray errors are a counter when the process counts them", () => {
  const runner = new TaskRunner();
  const strays = { count: 0 };
  const metrics = new Metrics(runner);
  metrics.strayErrors = strays;
  equal(parse(metrics.render()).get("posthaste_stray_errors_total{}"), 0);
  strays.count = 2;
  equal(parse(metrics.render()).get("posthaste_stray_errors_total{}"), 2);
  equal(parse(new Metrics(runner).render()).has("posthaste_stray_errors_total{}"), false);
});

Deno.test("Metrics: tasks waiting for a free slot, and how long the first in line has waited since its group was accepted", async () => {
  let now = Date.UTC(2026, 11, 3, 10);
  const clock = { ...systemClock, now: () => now };
  await using runner = new TestRunner({ maxConcurrency: 1, clock });
  const metrics = new Metrics(runner);
  const waiting = () => {
    const values = parse(metrics.render());
    return ["queued", "queue_latency_seconds"].map((name) =>
      values.get(`posthaste_tasks_${name}{}`)
    );
  };
  deepEqual(waiting(), [0, 0]);
  const gate = Promise.withResolvers<void>();
  runner.submit(new TaskGroup().add(() => gate.promise)); // takes the one slot
  now += 1_000;
  runner.submit(new TaskGroup().add(() => {}).add(() => {})); // first in line, accepted now
  now += 500;
  runner.submit(new TaskGroup().add(() => {}));
  now += 2_000;
  deepEqual(
    waiting(),
    [2, 2.5],
    "its first task and the last group's wait; its second is not ready",
  );
  gate.resolve();
  await runner.idle();
  deepEqual(waiting(), [0, 0]);
});

Deno.test("Metrics: the worker pool's workers and jobs when a pool is set", () => {
  const runner = new TaskRunner();
  const metrics = new Metrics(runner);
  equal(parse(metrics.render()).has("posthaste_workers{}"), false);
  metrics.workerPool = { workers: 1, running: 1, queued: 4, ended: 2 };
  const values = parse(metrics.render());
  deepEqual(
    [
      "posthaste_workers{}",
      'posthaste_worker_jobs{state="running"}',
      'posthaste_worker_jobs{state="queued"}',
      "posthaste_workers_ended_total{}",
    ].map((key) => values.get(key)),
    [1, 1, 4, 2],
  );
});

Deno.test("Metrics: the journal's sync times and the event loop's lag are histograms once set", () => {
  const fields = [
    ["journalSyncs", "posthaste_journal_sync_seconds"],
    ["eventLoopLag", "posthaste_event_loop_lag_seconds"],
  ] as const;
  for (const [field, name] of fields) {
    const metrics = new Metrics(new TaskRunner());
    equal(metrics.render().includes(name), false, "not set (memory mode, no sampler): none");
    const histogram = new Histogram(LATENCY_BUCKETS);
    metrics[field] = histogram;
    histogram.observe(0.003);
    histogram.observe(1.5);
    const series = parse(metrics.render());
    const buckets = ["0.0025", "0.005", "2.5", "+Inf"].map((le) =>
      series.get(`${name}_bucket{le="${le}"}`)
    );
    deepEqual(buckets, [0, 1, 2, 2], name);
    equal(series.get(`${name}_count{}`), 2);
    equal(series.get(`${name}_sum{}`), 1.503);
  }
});

Deno.test("GET /metrics in durable mode has the journal's sync times", async () => {
  await using dir = await tempDir();
  await using server = await startApp({ TASK_STORE: `sqlite:${dir.path}/tasks.db` });
  const posted = await fetch(`${server.url}/send-notification/ada@example.com`, { method: "POST" });
  equal(posted.status, 202);
  await posted.body?.cancel();
  const series = parse(await (await fetch(`${server.url}/metrics`)).text());
  ok((series.get("posthaste_journal_sync_seconds_count{}") ?? 0) >= 1, "the 202 waited for one");
});

Deno.test("Metrics: request durations by route, in buckets from 100 µs; process readings as given", () => {
  const metrics = new Metrics(new TaskRunner());
  metrics.processReadings = {
    cpuSeconds: () => 2.25,
    residentBytes: () => 90_000_000,
    heapBytes: () => 30_000_000,
    startTimeSeconds: 1_796_000_000.5,
  };
  metrics.request("/a", 202, 0.00008);
  metrics.request("/a", 503, 0.0003);
  metrics.request("/b", 200, 12);
  metrics.request("/b", 200); // not timed: counted, not observed
  const series = parse(metrics.render());
  const a = (le: string) =>
    series.get(`posthaste_http_request_duration_seconds_bucket{route="/a",le="${le}"}`);
  deepEqual([a("0.0001"), a("0.00025"), a("0.0005"), a("+Inf")], [1, 1, 2, 2]);
  ok(
    Math.abs(series.get('posthaste_http_request_duration_seconds_sum{route="/a"}')! - 0.00038) <
      1e-12,
  );
  equal(series.get('posthaste_http_request_duration_seconds_bucket{route="/b",le="10"}'), 0);
  equal(series.get('posthaste_http_request_duration_seconds_count{route="/b"}'), 1);
  equal(series.get('posthaste_http_requests_total{route="/b",status="200"}'), 2);
  deepEqual(
    [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_heap_bytes",
      "process_start_time_seconds",
    ]
      .map((name) => series.get(`${name}{}`)),
    [2.25, 90_000_000, 30_000_000, 1_796_000_000.5],
  );
  equal(series.get(`posthaste_build_info{version="${VERSION}",deno="${Deno.version.deno}"}`), 1);
});
