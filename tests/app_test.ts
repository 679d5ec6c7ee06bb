import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { createApp, defineTask, readConfig } from "../lib/mod.ts";
import { captureLogs, connectRaw, lines, post, readHead, startApp, tempDir } from "./_helpers.ts";

Deno.test("POST /send-notification/{email} answers 202 with an id and writes one line", async () => {
  await using server = await startApp();
  const response = await fetch(`${server.url}/send-notification/foo@example.com`, {
    method: "POST",
  });
  equal(response.status, 202);
  const body = await response.json();
  equal(body.message, "Notification sent in the background");
  match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
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
  const stopServing = Promise.withResolvers<void>();
  const exitCode = server.app.shutdown({ shutdown: () => stopServing.promise });
  const response = await fetch(`${server.url}/healthz`);
  equal(response.status, 503);
  deepEqual(await response.json(), { status: "draining" });
  stopServing.resolve();
  equal(await exitCode, 0);
});

Deno.test("shutdown never rejects: a listener that fails to close is logged, the log is flushed, exit code 1", async () => {
  await using logs = await captureLogs();
  await using server = await startApp();
  equal(
    (await fetch(`${server.url}/send-notification/ada@example.com`, { method: "POST" })).status,
    202,
  );
  const code = await server.app.shutdown({
    shutdown: () => Promise.reject(new Error("listener gone")),
  });
  equal(code, 1);
  deepEqual(lines(await Deno.readTextFile(`${server.dir}/log.txt`)), [
    "notification for ada@example.com: some notification",
  ]);
  ok(logs.records.some((r) => r.rawMessage === "Shutdown failed: {error}"));
});

Deno.test("a 202 carries Location: /tasks/{id}, which answers the group's status", async () => {
  await using server = await startApp();
  const sent = Date.now();
  const response = await fetch(`${server.url}/send-notification/foo@example.com`, {
    method: "POST",
  });
  const { id } = await response.json();
  equal(response.headers.get("location"), `/tasks/${id}`);
  await server.logText();
  const status = await (await fetch(`${server.url}${response.headers.get("location")}`)).json();
  const { startedAt, durationMs, finishedAt } = status.tasks[0];
  deepEqual(status, {
    id,
    state: "done",
    acceptedAt: status.acceptedAt,
    tasks: [{
      name: "send-notification",
      state: "done",
      attempts: 1,
      startedAt,
      durationMs,
      finishedAt,
      error: null,
      retryAt: null,
    }],
  });
  const [accepted, began, ended] = [status.acceptedAt, startedAt, finishedAt].map(Date.parse);
  ok(sent <= accepted! && accepted! <= began! && began! <= ended!, JSON.stringify(status));
  ok(ended! <= Date.now() && ended! - began! <= durationMs, JSON.stringify(status));
  const unknown = await fetch(`${server.url}/tasks/nope`);
  equal(unknown.status, 404);
  equal((await unknown.json()).error, "not_found");
});

Deno.test("a request sent again with its Idempotency-Key is replayed, logs no second line, and is counted at /metrics", async () => {
  await using server = await startApp();
  const send = () =>
    fetch(`${server.url}/send-notification/foo@example.com`, {
      method: "POST",
      headers: { "idempotency-key": "order-42" },
    }).then(async (
      response,
    ) => [response.headers.get("idempotent-replayed"), await response.json()]);
  const [first, again] = [await send(), await send()];
  deepEqual(again, ["true", first[1]]);
  equal(first[0], null);
  deepEqual(lines(await server.logText()), ["notification for foo@example.com: some notification"]);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  match(metrics, /^posthaste_idempotent_replays_total 1$/m);
});

Deno.test("a request in flight when shutdown begins still gets its 202 and its task runs", async () => {
  await using server = await startApp();
  const conn = await connectRaw(server.url);
  const encoder = new TextEncoder();
  const body = JSON.stringify({ message: "just in time" });
  try {
    const entered = server.nextRequest();
    await conn.write(encoder.encode(
      "POST /send-notification/early@example.com HTTP/1.1\r\nhost: x\r\n" +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${
          body.slice(0, 5)
        }`,
    ));
    await entered; // the handler is reading the body
    equal(server.app.inFlight, 1);
    const stopServing = Promise.withResolvers<void>();
    const exitCode = server.app.shutdown({ shutdown: () => stopServing.promise });
    await conn.write(encoder.encode(body.slice(5)));
    equal((await readHead(conn)).split("\r\n")[0], "HTTP/1.1 202 Accepted");
    stopServing.resolve();
    equal(await exitCode, 0);
  } finally {
    conn.close();
  }
  deepEqual(lines(await Deno.readTextFile(`${server.dir}/log.txt`)), [
    "notification for early@example.com: just in time",
  ]);
});

Deno.test("a drain that lasts says how it goes, until it ends", async () => {
  await using server = await startApp({ SEND_DELAY_MS: "60000" });
  await using logs = await captureLogs();
  deepEqual(await post(server.url, ["slow@example.com"]), [202]);
  const giveUp = new AbortController();
  const exitCode = server.app.shutdown({ shutdown: () => Promise.resolve() }, {
    signal: giveUp.signal,
    progressMs: 10,
  });
  const line = await logs.when((record) => String(record.rawMessage).startsWith("Draining:"));
  deepEqual([line.properties.pending, line.properties.running], [1, 1]);
  ok(Number(line.properties.leftMs) > 0);
  giveUp.abort(); // a second signal: the task is abandoned
  equal(await exitCode, 1); // and the lines stop: the test's timer sanitizer sees none left
});

Deno.test("reopenFiles: after a rename (logrotate), later lines go to new files at the paths", async () => {
  await using logs = await captureLogs();
  await using server = await startApp();
  const post = async (email: string) =>
    await (await fetch(`${server.url}/send-notification/${email}`, { method: "POST" })).body
      ?.cancel();
  await post("before@example.com");
  await server.logText();
  await Deno.rename(`${server.dir}/log.txt`, `${server.dir}/log.txt.1`);
  await Deno.rename(`${server.dir}/dead-letter.jsonl`, `${server.dir}/dead-letter.jsonl.1`);
  // Twice, as a signal and the file watch both ask after logrotate's rename:
  // the second finds the paths naming the files just opened (before, it
  // reopened both again, and said so).
  await Promise.all([server.app.reopenFiles(), server.app.reopenFiles()]);
  await server.app.reopenFiles();
  await post("after@example.com");
  deepEqual(lines(await server.logText()), [
    "notification for after@example.com: some notification",
  ]);
  deepEqual(lines(await Deno.readTextFile(`${server.dir}/log.txt.1`)), [
    "notification for before@example.com: some notification",
  ]);
  equal(await Deno.readTextFile(`${server.dir}/dead-letter.jsonl`), "", "created anew");
  equal((await Deno.stat(`${server.dir}/dead-letter.jsonl`)).mode! & 0o777, 0o600);
  equal(logs.records.filter((r) => r.message.join("").startsWith("Reopened")).length, 2);
});

Deno.test("reopenFiles: with nothing moved, it says so (before, a SIGUSR2 by hand met silence)", async () => {
  await using logs = await captureLogs();
  await using server = await startApp();
  await server.app.reopenFiles();
  deepEqual(logs.records.map((record) => record.rawMessage), [
    "Nothing to reopen: {files} still name the files open",
  ]);
  deepEqual(logs.records[0]?.properties.files, [
    `${server.dir}/log.txt`,
    `${server.dir}/dead-letter.jsonl`,
  ]);
});

Deno.test("reopenFiles: a path that cannot be opened is logged and lines go on to the old file", async () => {
  await using logs = await captureLogs();
  await using server = await startApp();
  await Deno.rename(`${server.dir}/log.txt`, `${server.dir}/log.txt.1`);
  await Deno.mkdir(`${server.dir}/log.txt`); // not a file any more
  await server.app.reopenFiles(); // resolves: the server goes on
  const response = await fetch(`${server.url}/send-notification/ada@example.com`, {
    method: "POST",
  });
  equal(response.status, 202);
  await response.body?.cancel();
  await server.app.runner.idle();
  await server.app.log.flush();
  deepEqual(lines(await Deno.readTextFile(`${server.dir}/log.txt.1`)), [
    "notification for ada@example.com: some notification",
  ]);
  const failed = logs.records.filter((r) => r.level === "error");
  equal(failed.length, 1);
  match(String(failed[0]?.properties.file), /log\.txt$/);
});

/** The files this process holds open, one path a line (Linux; Deno's sanitizer misses files). */
async function openFiles(): Promise<string> {
  if (Deno.build.os !== "linux") return "";
  // Deno grants /proc/<pid> only with -A; `ls` reads it for us.
  const ls = new Deno.Command("ls", { args: ["-l", `/proc/${Deno.pid}/fd`], stderr: "null" });
  return new TextDecoder().decode((await ls.output()).stdout);
}

Deno.test("createApp closes the files it opened when the journal cannot be opened", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/tasks.db`;
  await Deno.writeTextFile(journal, "not a database ".repeat(200));
  const env: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dead-letter.jsonl`,
    TASK_STORE: `sqlite:${journal}`,
  };
  await rejects(createApp(readConfig((name) => env[name])), /^Error: Cannot open task journal/);
  equal((await openFiles()).includes(dir.path), false, "no file in the directory is open");
});

Deno.test("createApp refuses a service whose tasks give one concurrencyKey different limits, and closes its files", async () => {
  await using dir = await tempDir();
  const env: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dead-letter.jsonl`,
  };
  const send = (to: string) => void to;
  const tasks = [
    defineTask("welcome", send, { concurrencyKey: "mail", concurrency: 4 }),
    defineTask("reset", send, { concurrencyKey: "mail", concurrency: 2 }),
  ];
  // Before: started, and held 4 or 2 at once as the tasks happened to come.
  await rejects(
    createApp(readConfig((name) => env[name]), { service: () => ({ routes: [], tasks }) }),
    /^TypeError: Cannot make the app: tasks "welcome" \(concurrency 4\) and "reset" \(concurrency 2\)/,
  );
  equal((await openFiles()).includes(dir.path), false, "no file in the directory is open");
});

Deno.test("an app shut down and then disposed (await using) closes nothing twice, in durable mode too", async () => {
  await using dir = await tempDir();
  const env: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dead-letter.jsonl`,
    TASK_STORE: `sqlite:${dir.path}/tasks.db`,
  };
  const app = await createApp(readConfig((name) => env[name]));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  equal(await app.shutdown(server, {}), 0);
  await app[Symbol.asyncDispose](); // before: BadResource, the journal closed a second time
});

Deno.test("createApp names the variable of a file it cannot open, and closes the other", async () => {
  await using dir = await tempDir();
  const env: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: dir.path, // a directory
  };
  // Before: "Is a directory (os error 21): open '…'", naming no variable.
  await rejects(
    createApp(readConfig((name) => env[name])),
    new RegExp(`^Error: Cannot open DEAD_LETTER_FILE "${dir.path}": Is a directory`),
  );
  equal((await openFiles()).includes(dir.path), false, "the log file was closed again");
  env.LOG_FILE = `${dir.path}/missing/log.txt`;
  await rejects(createApp(readConfig((name) => env[name])), /^Error: Cannot open LOG_FILE "/);
});

Deno.test("createApp gives up at its signal while the database does not answer, and closes what it opened", async () => {
  await using dir = await tempDir();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // accepts, never answers
  const env: Record<string, string> = {
    LOG_FILE: `${dir.path}/log.txt`,
    DEAD_LETTER_FILE: `${dir.path}/dead-letter.jsonl`,
    TASK_STORE: `postgres://posthaste@127.0.0.1:${listener.addr.port}/posthaste`,
  };
  const config = readConfig((name) => env[name]);
  await rejects(createApp(config, { signal: AbortSignal.abort(new Error("at once")) }), /at once/);
  const controller = new AbortController();
  const starting = createApp(config, { signal: controller.signal });
  const conn = await listener.accept();
  controller.abort(new Error("gave up"));
  await rejects(starting, /^Error: gave up$/);
  const buffer = new Uint8Array(1024);
  while (await conn.read(buffer) !== null); // the client closed its connection
  conn.close();
  equal((await openFiles()).includes(dir.path), false, "no file in the directory is open");
});

Deno.test("createApp refuses two configured files that are one: a log line in the journal was lost", async () => {
  await using dir = await tempDir();
  const start = (env: Record<string, string>) =>
    createApp(readConfig((name) => ({ DEAD_LETTER_FILE: `${dir.path}/dl.jsonl`, ...env })[name]));
  // Before: served, and each notification line appended to tasks.db was gone after a checkpoint.
  await rejects(
    start({ TASK_STORE: `sqlite:${dir.path}/tasks.db`, LOG_FILE: `${dir.path}/tasks.db` }),
    /^Error: Cannot use TASK_STORE's journal ".*\/tasks\.db": LOG_FILE ".*\/tasks\.db" is the same file; give each its own \(lines appended to a journal are lost/,
  );
  // Spelled otherwise, or the journal's WAL: the same file all the same.
  await rejects(
    start({ TASK_STORE: `sqlite:${dir.path}/x.db`, LOG_FILE: `${dir.path}/./x.db-wal` }),
    /^Error: Cannot use TASK_STORE's journal \(its wal\) ".*\/x\.db-wal": LOG_FILE/,
  );
  await rejects(
    start({ LOG_FILE: `${dir.path}/dl.jsonl` }),
    /^Error: Cannot use DEAD_LETTER_FILE ".*\/dl\.jsonl": LOG_FILE ".*\/dl\.jsonl" is the same file; give each its own$/,
  );
  // Standard output, however spelled, is one stream.
  await rejects(
    start({ LOG_FILE: "-", DEAD_LETTER_FILE: "/dev/stdout" }),
    /^Error: Cannot use DEAD_LETTER_FILE "\/dev\/stdout": LOG_FILE "-" is the same file/,
  );
  equal((await openFiles()).includes(dir.path), false, "each closed again");
  await using _distinct = await start({
    TASK_STORE: `sqlite:${dir.path}/tasks.db`,
    LOG_FILE: `${dir.path}/log.txt`,
  });
});

Deno.test("the dead-letter file is created readable by its owner only; the log file as any new file", async () => {
  await using server = await startApp();
  const modeOf = async (name: string) => (await Deno.stat(`${server.dir}/${name}`)).mode! & 0o777;
  await Deno.writeTextFile(`${server.dir}/plain.txt`, ""); // the umask's default
  equal(await modeOf("dead-letter.jsonl"), 0o600, "a letter holds its task's arguments");
  equal(await modeOf("log.txt"), await modeOf("plain.txt"));
});
