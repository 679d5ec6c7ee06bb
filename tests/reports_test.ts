import { equal, match } from "node:assert/strict";
import { reportTask, WorkerPool } from "../lib/mod.ts";
import { lines, startApp } from "./_helpers.ts";

for (const workers of ["1", "0"]) {
  Deno.test(`POST /reports computes the report (WORKERS=${workers}) and logs its result`, async () => {
    await using server = await startApp({ WORKERS: workers, REPORT_WORK_MS: "5" });
    const response = await fetch(`${server.url}/reports`, { method: "POST" });
    equal(response.status, 202);
    const { id } = await response.json();
    equal(response.headers.get("location"), `/tasks/${id}`);
    const written = lines(await server.logText());
    equal(written.length, 1);
    match(written[0] ?? "", new RegExp(`^report ${id}: [0-9a-f]{8} after \\d+ rounds$`));
  });
}

Deno.test("reportTask() starts as many attempts as the pool has workers: the rest wait for one before theirs", async () => {
  await using pool = new WorkerPool({ size: 3 });
  const log = { append: () => Promise.resolve() };
  equal(reportTask({ log, pool }).options.concurrency, 3);
  equal(
    reportTask({ log }).options.concurrency,
    undefined,
    "on the event loop, one at a time anyway",
  );
});
