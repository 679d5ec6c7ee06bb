import { deepEqual, equal, match } from "node:assert/strict";
import { lines, spawnMain, tempDir } from "./_helpers.ts";

Deno.test("LOG_FILE=- writes the notification lines to standard output, with no permission for it", async () => {
  await using dir = await tempDir();
  // The server's own grants (its directory, no /dev/stdout): Deno opens /dev/stdout only with -A.
  const child = spawnMain(dir.path, { LOG_FILE: "-" });
  const stdout = new Response(child.stdout).text();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logged = "";
  // On stderr, beside the logs: stdout carries the lines alone.
  const listening = /posthaste listening on (http:\/\/\S+?)\/?\n/;
  while (!listening.test(logged)) {
    const { done, value } = await stderr.read();
    if (done) throw new Error(`Cannot start server: it exited\n${logged}`);
    logged += value;
  }
  const url = listening.exec(logged)?.[1];
  for (const body of [{ message: "first" }, { message: "two\nlines" }]) {
    const response = await fetch(`${url}/send-notification/ada@example.com`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    equal(response.status, 202);
    await response.body?.cancel();
  }
  child.kill("SIGTERM");
  for (let chunk = await stderr.read(); !chunk.done; chunk = await stderr.read()) {
    logged += chunk.value;
  }
  equal((await child.status).code, 0, logged);
  match(logged, /Shutdown complete: every accepted task finished/);
  deepEqual(lines(await stdout), [
    "notification for ada@example.com: first",
    "notification for ada@example.com: two\\nlines",
  ]);
  deepEqual([...Deno.readDirSync(dir.path)].map(({ name }) => name), ["dead-letter.jsonl"]);
});
