import { deepEqual, equal, match } from "node:assert/strict";
import { lines, spawnMain, tempDir } from "./_helpers.ts";

/**
 * `main.ts` under the server's own grants (its directory, no /dev/stdout:
 * Deno opens that only with -A), its stdout kept whole; the listening line
 * is looked for on stderr, beside the logs.
 */
async function serveToStdout(dir: string, env: Record<string, string>) {
  const child = spawnMain(dir, env);
  const stdout = new Response(child.stdout).text();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logged = "";
  const listening = /posthaste listening on (http:\/\/\S+?)\/?\n/;
  // A guard, not a wait: a server that never says it there fails the test instead of hanging it.
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!listening.test(logged)) {
      const { done, value } = await stderr.read();
      if (done) {
        throw new Error(`Cannot see the listening line on stderr: the server exited\n${logged}`);
      }
      logged += value;
    }
  } finally {
    clearTimeout(guard);
  }
  const post = async (email: string, message: string): Promise<number> => {
    const response = await fetch(`${listening.exec(logged)?.[1]}/send-notification/${email}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message }),
    });
    await response.body?.cancel();
    return response.status;
  };
  /** Sends SIGTERM; resolves with the exit code, stdout's lines and stderr. */
  const stop = async () => {
    child.kill("SIGTERM");
    for (let chunk = await stderr.read(); !chunk.done; chunk = await stderr.read()) {
      logged += chunk.value;
    }
    return { code: (await child.status).code, stdout: lines(await stdout), stderr: logged };
  };
  return { post, stop };
}

Deno.test("LOG_FILE=- writes the notification lines to standard output, with no permission for it", async () => {
  await using dir = await tempDir();
  const server = await serveToStdout(dir.path, { LOG_FILE: "-" });
  equal(await server.post("ada@example.com", "first"), 202);
  equal(await server.post("ada@example.com", "two\nlines"), 202);
  const { code, stdout, stderr } = await server.stop();
  equal(code, 0, stderr);
  match(stderr, /Shutdown complete: every accepted task finished/);
  deepEqual(stdout, [
    "notification for ada@example.com: first",
    "notification for ada@example.com: two\\nlines",
  ]);
  deepEqual([...Deno.readDirSync(dir.path)].map(({ name }) => name), ["dead-letter.jsonl"]);
});

Deno.test("DEAD_LETTER_FILE=- writes the dead letters to standard output, and nothing else there", async () => {
  await using dir = await tempDir();
  // A task still waiting at the shutdown deadline is abandoned to the dead letters.
  const env = { DEAD_LETTER_FILE: "-", SEND_DELAY_MS: "60000", SHUTDOWN_TIMEOUT_MS: "100" };
  const server = await serveToStdout(dir.path, env);
  equal(await server.post("grace@example.com", "late"), 202);
  const { code, stdout, stderr } = await server.stop();
  equal(code, 1, stderr);
  deepEqual(
    stdout.map((line) => JSON.parse(line)).map(({ reason, task, args }) => [reason, task, args]),
    [["shutdown", "send-notification", ["grace@example.com", "late"]]],
  );
});
