// main.ts as a process: a task that holds the event loop shows in the
// metrics and in a warning (lib/event_loop_lag.ts, started by runServer), and
// does not hold back the response that queued it (lib/_start_gate.ts).
import { equal, ok } from "node:assert/strict";
import { spawnServer, tempDir, within } from "./_helpers.ts";

Deno.test("main.ts: a report computed on the event loop for 1.2 s is a lag sample over 1 s and a warning", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { WORKERS: "0", REPORT_WORK_MS: "1200" });
  const response = await fetch(`${server.url}/reports`, { method: "POST" });
  equal(response.status, 202);
  await response.body?.cancel();
  await server.stderrMatches(/The event loop was held for \d+ ms/);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const value = (series: string) =>
    Number(metrics.match(new RegExp(`^${series} (\\S+)$`, "m"))?.[1]);
  const over = value("posthaste_event_loop_lag_seconds_count") -
    value('posthaste_event_loop_lag_seconds_bucket\\{le="1"\\}');
  equal(over, 1, "one sample past a second");
  ok(value("posthaste_event_loop_lag_seconds_sum") >= 1);
  server.child.kill("SIGTERM");
  const { code, stderr } = await server.status();
  equal(code, 0, stderr);
  const warning = stderr.split("\n").find((line) => line.includes("The event loop was held"));
  const { level, lagMs, logger } = JSON.parse(warning ?? "{}");
  equal(level, "WARN");
  equal(logger, "posthaste.event-loop");
  ok(lagMs >= 1_000, `lagMs ${lagMs}: at the threshold or past it`);
});

Deno.test("main.ts: a report that computes on the event loop does not hold back its own 202", async () => {
  await using dir = await tempDir();
  // Ten minutes of work: a 202 sent after it would not come within the guard.
  await using server = await spawnServer(dir.path, { WORKERS: "0", REPORT_WORK_MS: "600000" });
  // Deno settles info.completed before it writes the response: a task
  // started then held its own 202 back for as long as it computed.
  const response = await within(
    fetch(`${server.url}/reports`, { method: "POST" }),
    30_000,
    "Cannot get the 202 while the report computes",
  );
  equal(response.status, 202);
  await response.body?.cancel();
  server.child.kill("SIGKILL"); // its event loop is held: no drain would begin
  equal((await server.status()).code, 137);
});
