import { deepEqual, equal, match } from "node:assert/strict";
import { lines, startApp } from "./_helpers.ts";

Deno.test("POST /send-notification/{email} answers 202 with an id and writes one line", async () => {
  await using server = await startApp();
  const response = await fetch(`${server.url}/send-notification/foo@example.com`, {
    method: "POST",
  });
  equal(response.status, 202);
  const body = await response.json();
  equal(body.message, "Notification sent in the background");
  match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  deepEqual(lines(await server.logText()), ["notification for foo@example.com: some notification"]);
});

Deno.test("the JSON body's message is used, and hostile text stays on one line", async () => {
  await using server = await startApp();
  const response = await fetch(`${server.url}/send-notification/foo%40example.com`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ message: "hi\r\nnotification for evil@example.com: \x1b[31mowned" }),
  });
  equal(response.status, 202);
  await response.body?.cancel();
  deepEqual(lines(await server.logText()), [
    "notification for foo@example.com: hi\\r\\nnotification for evil@example.com: \\x1b[31mowned",
  ]);
});

Deno.test("GET /healthz answers ok, and 503 draining once shutdown began", async () => {
  await using server = await startApp();
  deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: "ok" });
  const drained = server.app.runner.drain();
  const response = await fetch(`${server.url}/healthz`);
  equal(response.status, 503);
  deepEqual(await response.json(), { status: "draining" });
  await drained;
});
