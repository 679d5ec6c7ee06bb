// Process tests: `main.ts` as a child process, real requests, real signals.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  childEnv,
  lines,
  serverPermissions,
  type ServerProcess,
  spawnMain,
  spawnServer,
  tempDir,
} from "./_helpers.ts";

async function post(url: string, count: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const response = await fetch(`${url}/send-notification/user${i}@example.com`, {
      method: "POST",
    });
    await response.body?.cancel();
    return response.status;
  }));
}

function expected(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `notification for user${i}@example.com: some notification`,
  )
    .sort();
}

Deno.test("main.ts: SIGTERM right after 100 requests runs every task and exits 0", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { SEND_DELAY_MS: "300" });
  deepEqual(new Set(await post(server.url, 100)), new Set([202]));
  // The process guards against stray errors (none here) and says so in its metrics.
  match(await (await fetch(`${server.url}/metrics`)).text(), /^posthaste_stray_errors_total 0$/m);
  server.child.kill("SIGTERM");
  const { code } = await server.status();
  equal(code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)).sort(), expected(100));
});

Deno.test("main.ts: request.signal aborts only for a client that went away, so Deno warns of nothing (deno.json's no-legacy-abort)", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, {});
  const sent = await fetch(`${server.url}/send-notification/ada@example.com`, { method: "POST" });
  const { id } = await sent.json();
  // Without the setting, Deno's legacy abort of every answered request's signal, once it is read.
  for (const _ of [1, 2]) await (await fetch(`${server.url}/tasks/${id}`)).body?.cancel();
  server.child.kill("SIGTERM");
  const { code, stderr } = await server.status();
  equal(code, 0);
  equal(/legacy/i.test(stderr), false, stderr);
});

Deno.test("main.ts: tasks past SHUTDOWN_TIMEOUT_MS are abandoned to dead letters, exit non-zero", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, {
    SEND_DELAY_MS: "5000",
    SHUTDOWN_TIMEOUT_MS: "500",
  });
  deepEqual(new Set(await post(server.url, 20)), new Set([202]));
  const signalledAt = performance.now();
  server.child.kill("SIGTERM");
  const { code } = await server.status();
  const took = performance.now() - signalledAt;
  ok(code !== 0, `exit code ${code}`);
  // Well before the tasks' 5 s delay would have ended: the deadline, not the work, stopped it.
  ok(took < 4_500, `exited ${Math.round(took)} ms after SIGTERM`);
  const letters = lines(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`)).map((line) =>
    JSON.parse(line)
  );
  equal(letters.length, 20);
  ok(letters.every((l) => l.reason === "shutdown" && l.task === "send-notification"));
  deepEqual(
    letters.map((l) => l.args[0]).sort(),
    Array.from({ length: 20 }, (_, i) => `user${i}@example.com`).sort(),
  );
  equal(await Deno.readTextFile(`${dir.path}/log.txt`), "", "no line written, none torn");
});

Deno.test("main.ts: tasks that finish within SHUTDOWN_TIMEOUT_MS all write, exit 0", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, {
    SEND_DELAY_MS: "100",
    // Ample: the test waits for the work, not for the deadline, and a loaded machine is slow.
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  deepEqual(new Set(await post(server.url, 20)), new Set([202]));
  server.child.kill("SIGTERM");
  equal((await server.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)).sort(), expected(20));
  equal(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`), "");
});

Deno.test("main.ts: a second signal stops waiting at once, after writing dead letters", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { SEND_DELAY_MS: "60000" });
  deepEqual(await post(server.url, 5), [202, 202, 202, 202, 202]);
  server.child.kill("SIGTERM");
  server.child.kill("SIGINT");
  const { code } = await server.status();
  equal(code, 1);
  equal(lines(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`)).length, 5);
});

Deno.test("main.ts: SIGTERM while starting (a database that does not answer) stops the start, exit 0; SIGUSR2 does not", async () => {
  await using dir = await tempDir();
  // Takes the journal's connection and never answers it.
  using database = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = database.addr;
  const child = spawnMain(dir.path, {
    TASK_STORE: `postgres://posthaste@127.0.0.1:${port}/posthaste`,
  });
  using connection = await database.accept(); // the start waits on it
  // logrotate's signal: before, its default action ended the starting process.
  child.kill("SIGUSR2");
  child.kill("SIGTERM");
  const { code, stdout, stderr } = await child.output();
  equal(code, 0, new TextDecoder().decode(stderr));
  equal(new TextDecoder().decode(stdout), "", "it never listened");
  const logged = lines(new TextDecoder().decode(stderr)).map((line) => JSON.parse(line));
  deepEqual(logged.map(({ message, signal }) => [message.split(":")[0], signal]), [
    ["Start-up stopped by SIGTERM", "SIGTERM"],
  ]);
  void connection;
});

Deno.test("main.ts: out of file descriptors, the listener is served again, and accepted work is done", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, {}, { fileLimit: 128 });
  const { hostname, port } = new URL(server.url);
  // More connections than the process may hold: Deno's accept loop dies at the first EMFILE.
  const connects = Array.from(
    { length: 300 },
    () => Deno.connect({ hostname, port: Number(port) }),
  );
  const held = (await Promise.allSettled(connects)).flatMap((connect) =>
    connect.status === "fulfilled" ? [connect.value] : []
  );
  await server.stderrMatches(/Cannot accept connections/);
  // Each closed by the server once it reads our end's EOF (or reset with the
  // listener that had not accepted it): its descriptors are free again.
  await Promise.all(held.map(async (connection) => {
    await connection.closeWrite().catch(() => {});
    const end = await connection.read(new Uint8Array(1)).catch((error) => {
      if (error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    });
    equal(end, null);
    connection.close();
  }));
  await server.stderrMatches(/Accepting connections again/);
  deepEqual(await post(server.url, 1), [202]);
  match(
    await (await fetch(`${server.url}/metrics`)).text(),
    /^posthaste_accept_failures_total [1-9]/m,
  );
  server.child.kill("SIGTERM");
  equal((await server.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), expected(1));
});

// The server's URL from its stdout, which stays open; its stderr is not read.
async function listening(child: Deno.ChildProcess) {
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { done, value } = await stdout.read();
    if (done) throw new Error(`Cannot start server: it exited\n${seen}`);
    seen += value;
    const url = /listening on (http:\/\/\S+?)\/?\n/.exec(seen)?.[1];
    if (url !== undefined) return { url, stdout };
  }
}

Deno.test("main.ts: SIGHUP (its terminal closed) drains like SIGTERM, though nothing reads its output", async () => {
  await using dir = await tempDir();
  const child = spawnMain(dir.path, { SEND_DELAY_MS: "300" });
  const { url, stdout } = await listening(child);
  deepEqual(new Set(await post(url, 20)), new Set([202]));
  // A hung-up terminal: every write to stdout or stderr fails from now on.
  await stdout.cancel();
  await child.stderr.cancel();
  child.kill("SIGHUP");
  equal((await child.status).code, 0, "drained, not killed by the signal");
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)).sort(), expected(20));
});

Deno.test("main.ts: a stderr nobody reads (a stuck log collector) stops neither serving nor the exit", async () => {
  await using dir = await tempDir();
  // Every attempt times out: a warning with its stack each, 400 of them, far
  // more than the pipe holds (64 KiB). Writing them synchronously, the server
  // answered 50 requests and then none, /healthz included.
  const env = { SEND_DELAY_MS: "1000", TASK_TIMEOUT_MS: "1", TASK_RETRIES: "0" };
  const child = spawnMain(dir.path, env);
  const { url, stdout } = await listening(child);
  deepEqual(new Set(await post(url, 400)), new Set([202]));
  const health = await fetch(`${url}/healthz`);
  deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
  child.kill("SIGTERM");
  equal((await child.status).code, 0, "the exit gave up on stderr after a second");
  equal(lines(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`)).length, 400);
  await stdout.cancel();
  await child.stderr.cancel();
});

Deno.test("main.ts: with nobody reading its stdout, it logs where it listens and serves", async () => {
  await using dir = await tempDir();
  const child = spawnMain(dir.path, {});
  await child.stdout.cancel(); // long before the line is written: it meets a broken pipe
  let stderr = "";
  let url: string | undefined;
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (url === undefined) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`Cannot start server: it exited\n${stderr}`);
    stderr += value;
    url = /Cannot write to stdout.*"url":"(http:\/\/[^"]+?)\/"/.exec(stderr)?.[1];
  }
  deepEqual(await post(url, 1), [202]);
  child.kill("SIGTERM");
  await reader.cancel();
  equal((await child.status).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), expected(1));
});

Deno.test("main.ts: invalid configuration fails at start with one clear JSON line", async () => {
  await using dir = await tempDir();
  const { code, stdout, stderr } = await spawnMain(dir.path, { MAX_CONCURRENCY: "zero" }).output();
  equal(code, 1);
  equal(stdout.length, 0, "it never listened");
  // One JSON line (log pipelines parse it), not an uncaught error's stack.
  const logged = lines(new TextDecoder().decode(stderr)).map((line) => JSON.parse(line));
  deepEqual(logged.map(({ level, message }) => [level, message.split(":")[0]]), [
    ["ERROR", "Start-up failed"],
  ]);
  match(logged[0].error, /^Cannot read configuration: MAX_CONCURRENCY \("zero"\)/);
});

Deno.test("main.ts: env access not granted to configuration variables names them all at once", async () => {
  await using dir = await tempDir();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(dir.path).slice(0, -1), "--allow-env=PORT,LOG_FILE", main],
    env: { PORT: "0", LOG_FILE: `${dir.path}/log.txt`, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  equal(code, 1);
  const [logged, ...more] = lines(new TextDecoder().decode(stderr)).map((line) => JSON.parse(line));
  equal(more.length, 0);
  // Before: "Requires env access to \"LISTEN_HOSTNAME\"", then the next variable at the next start.
  match(
    logged.error,
    /^Cannot read configuration: no env access to LISTEN_HOSTNAME, DEAD_LETTER_FILE, SEND_DELAY_MS, .*LOG_FORMAT; grant each \(--allow-env=LISTEN_HOSTNAME,DEAD_LETTER_FILE,/,
  );
  equal(logged.error.includes("PORT,"), false, "PORT is granted");
});

Deno.test("main.ts: net, read and write access not granted to the configuration's address and files are named at once", async () => {
  await using dir = await tempDir();
  const elsewhere = `${dir.path}/elsewhere`;
  await Deno.mkdir(elsewhere);
  const { code, stdout, stderr } = await spawnMain(dir.path, {
    PORT: "0",
    LISTEN_HOSTNAME: "127.0.0.2",
    LOG_FILE: `${elsewhere}/../../log.txt`,
    DEAD_LETTER_FILE: "-",
    TASK_STORE: `sqlite:/tasks.db`,
  }).output();
  equal(code, 1);
  equal(stdout.length, 0, "it never listened");
  const [logged, ...more] = lines(new TextDecoder().decode(stderr)).map((line) => JSON.parse(line));
  equal(more.length, 0);
  // Before: "Requires read access to …log.txt", then the next file, then the address, a start at a time.
  const log = `${elsewhere}/../../log.txt`;
  const journal = ["/tasks.db", "/tasks.db-wal", "/tasks.db-journal"];
  equal(
    logged.error,
    `Cannot start: no net access to 127.0.0.2:0; no read access to ${
      [log, ...journal].join(", ")
    }; ` +
      `no write access to ${[log, ...journal].join(", ")}; grant it (--allow-net=127.0.0.2:0 ` +
      `--allow-read=${[log, ...journal]} --allow-write=${[log, ...journal]}): beside -P=server, ` +
      "such a flag replaces that kind's list in the set, so give the set's other entries of the kind too",
  );
  deepEqual([...Deno.readDirSync(elsewhere)], [], "nothing was made");

  // Before: "getaddrinfo EPERM localhost" from the PostgreSQL driver.
  const database = await spawnMain(dir.path, {
    TASK_STORE: "postgres://u@localhost/x",
    PGPORT: "", // what the URL leaves out: the default, whatever CI sets
  }).output();
  equal(database.code, 1);
  match(
    JSON.parse(new TextDecoder().decode(database.stderr)).error,
    /^Cannot start: no net access to localhost:5432; grant it \(--allow-net=localhost:5432\)/,
  );
});

Deno.test("main.ts: the demo's worker modules not granted fail the start, both named, rather than every report", async () => {
  await using dir = await tempDir();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const permissions = serverPermissions(dir.path)
    .map((flag) => flag.startsWith("--allow-read=") ? `--allow-read=${dir.path}` : flag);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, main],
    env: childEnv(dir.path, { PORT: "0", WORKERS: "1" }),
    stdin: "null",
    signal: AbortSignal.timeout(60_000), // a server that starts would serve for good
  }).output();
  equal(code, 1);
  const [logged, ...more] = lines(new TextDecoder().decode(stderr)).map((line) => JSON.parse(line));
  equal(more.length, 0);
  const [host, work] = ["../lib/_worker_host.ts", "../lib/report_work.ts"]
    .map((path) => new URL(path, import.meta.url).pathname);
  // Before: it served, answered POST /reports 202, and each report failed in the runner's log.
  equal(
    logged.error,
    `Cannot define worker task "build-report": no read access to "${host}", "${work}", which its worker imports; grant it (--allow-read=${host},${work})`,
  );
});

Deno.test("main.ts: while tasks drain, /healthz answers 503 and new work 503 shutting_down", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { SEND_DELAY_MS: "1000" });
  deepEqual(await post(server.url, 1), [202]);
  server.child.kill("SIGTERM");
  await server.stderrMatches(/Shutting down/);
  const health = await fetch(`${server.url}/healthz`);
  equal(health.status, 503);
  deepEqual(await health.json(), { status: "draining" });
  const work = await fetch(`${server.url}/send-notification/late@example.com`, { method: "POST" });
  equal(work.status, 503);
  equal(work.headers.get("retry-after"), "1");
  equal((await work.json()).error, "shutting_down");
  equal((await server.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), [
    "notification for user0@example.com: some notification",
  ]);
});

Deno.test("main.ts with OTEL_DENO=true: the task's span joins the request's trace", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "console",
    OTEL_DENO_CONSOLE: "ignore",
  });
  deepEqual(await post(server.url, 1), [202]);
  server.child.kill("SIGTERM");
  const { code, stdout, stderr } = await server.status();
  equal(code, 0);
  const output = stdout + stderr;
  const spanLine = /^SPAN (.+?) \[([0-9a-f]{32})\/([0-9a-f]{16})\]/;
  const spans = output.split("SPAN ").slice(1).map((block) => {
    const [, name = "", traceId = "", spanId = ""] = spanLine.exec(`SPAN ${block}`) ?? [];
    return { name, traceId, spanId, parent: /parent: ([0-9a-f]{16})/.exec(block)?.[1], block };
  });
  const request = spans.find((s) => s.name === "POST");
  const task = spans.find((s) => s.name === "task send-notification");
  ok(request, `a request span in:\n${output.slice(0, 2_000)}`);
  ok(task, "a task span");
  equal(task.traceId, request.traceId);
  equal(task.parent, request.spanId);
  ok(task.block.includes("posthaste.task.outcome: succeeded"), task.block);
  ok(task.block.includes("posthaste.task.attempt: 1"), task.block);
});

Deno.test("main.ts: a report runs in a worker with the server's own permissions", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { WORKERS: "1", REPORT_WORK_MS: "5" });
  const response = await fetch(`${server.url}/reports`, { method: "POST" });
  equal(response.status, 202);
  const { id } = await response.json();
  server.child.kill("SIGTERM");
  const { code, stderr } = await server.status();
  equal(code, 0, stderr);
  const written = lines(await Deno.readTextFile(`${dir.path}/log.txt`));
  ok(written[0]?.startsWith(`report ${id}: `), written.join("\n") + stderr);
});

/**
 * Ten requests, the log renamed away (logrotate's default), `reopened` waited
 * for, one more request: every line once, whole, in one of the two files.
 */
async function rotateLog(dir: string, reopened: (server: ServerProcess) => Promise<void>) {
  await using server = await spawnServer(dir, {});
  deepEqual(await post(server.url, 10), Array(10).fill(202));
  // Both files, as logrotate would: a path still naming its open file is not reopened.
  await Deno.rename(`${dir}/log.txt`, `${dir}/log.txt.1`);
  await Deno.rename(`${dir}/dead-letter.jsonl`, `${dir}/dead-letter.jsonl.1`);
  await reopened(server);
  const response = await fetch(`${server.url}/send-notification/after@example.com`, {
    method: "POST",
  });
  equal(response.status, 202);
  await response.body?.cancel();
  server.child.kill("SIGTERM");
  equal((await server.status()).code, 0);
  const current = lines(await Deno.readTextFile(`${dir}/log.txt`));
  const rotated = lines(await Deno.readTextFile(`${dir}/log.txt.1`));
  ok(current.includes("notification for after@example.com: some notification"));
  deepEqual(
    [...rotated, ...current].sort(),
    [...expected(10), "notification for after@example.com: some notification"].sort(),
    "every line once, whole, in one of the two files",
  );
}

Deno.test("main.ts: SIGUSR2 reopens the log files, so logrotate's rename-and-create works", async () => {
  await using dir = await tempDir();
  await rotateLog(dir.path, async (server) => {
    // Not SIGUSR1: since Deno 2.9.2 that starts the inspector on 127.0.0.1:9229.
    server.child.kill("SIGUSR2");
    await server.stderrMatches(/Reopened[\s\S]*Reopened/); // both files
  });
});

Deno.test("main.ts: SIGUSR1, which Deno answers with a debugger on 127.0.0.1:9229, is logged as unsafe and reopens the files all the same", async () => {
  await using dir = await tempDir();
  await rotateLog(dir.path, async (server) => {
    server.child.kill("SIGUSR1");
    await server.stderrMatches(/SIGUSR1 starts Deno's inspector[\s\S]*Reopened[\s\S]*Reopened/);
  });
});

Deno.test("main.ts: a log file renamed away without a signal is reopened within a second", async () => {
  await using dir = await tempDir();
  // Both files' watches: each file is watched alone, and the dead letters' may come first.
  await rotateLog(dir.path, (server) => server.stderrMatches(/Reopened[\s\S]*Reopened/));
});

Deno.test("main.ts: a log that stalls, then moves: tasks timed out waiting are dead-lettered, and every line lands once", async () => {
  await using dir = await tempDir();
  // The log is a pipe whose reader stops: once its 64 KiB buffer is full, a write hangs.
  const log = `${dir.path}/log.txt`;
  equal((await new Deno.Command("mkfifo", { args: [log] }).output()).code, 0);
  const reader = Deno.open(log, { read: true }); // opens once the server opens its end
  await using server = await spawnServer(dir.path, { TASK_TIMEOUT_MS: "200", TASK_RETRIES: "1" });
  using file = await reader;
  const message = "x".repeat(900);
  const send = (emails: string[]) =>
    Promise.all(emails.map(async (email) => {
      const response = await fetch(`${server.url}/send-notification/${email}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message }),
      });
      await response.body?.cancel();
      return response.status;
    }));
  const metric = async (name: string) => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
  };
  const deadline = Date.now() + 30_000; // a guard, not a wait: a bug fails rather than hangs
  const ended = async () => {
    while (await metric("posthaste_tasks_pending") > 0) { // round trips, no sleeps
      ok(Date.now() < deadline, "every task ended while the log stalled");
    }
  };
  const sent = Array.from({ length: 150 }, (_, i) => `user${i}@example.com`);
  // 20 lines fit in the pipe; the other 130 fill it, and the tasks whose line waits time out, twice.
  deepEqual(new Set(await send(sent.slice(0, 20))), new Set([202]));
  await ended();
  deepEqual(new Set(await send(sent.slice(20))), new Set([202]));
  await ended();
  const [succeeded, failed] = [
    await metric("posthaste_tasks_succeeded_total"),
    await metric("posthaste_tasks_failed_total"),
  ];
  ok(succeeded >= 20 && failed > 0 && succeeded + failed === 150, `${succeeded}, ${failed}`);
  // The pipe moves again: read to its end, which the server's exit closes.
  const read = new Response(file.readable).text();
  server.child.kill("SIGTERM");
  equal((await server.status()).code, 0);
  const seen = lines(await read).map((line) => /^notification for (\S+): x+$/.exec(line)?.[1]);
  deepEqual(seen.sort(), [...sent].sort(), "each line once, whole, the timed-out ones' too");
  const dead = lines(await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`));
  equal(dead.length, failed);
});

Deno.test("main.ts: a log disk that stalls at shutdown holds the exit 5 s at most; exit 1, logged", async () => {
  await using dir = await tempDir();
  // The log is a pipe nobody reads: once its 64 KiB buffer is full, a write hangs.
  const log = `${dir.path}/log.txt`;
  equal((await new Deno.Command("mkfifo", { args: [log] }).output()).code, 0);
  const reader = Deno.open(log, { read: true }); // opens once the server opens its end
  await using server = await spawnServer(dir.path, { SHUTDOWN_TIMEOUT_MS: "500" });
  using _reader = await reader;
  const message = JSON.stringify({ message: "x".repeat(900) });
  const statuses = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const response = await fetch(`${server.url}/send-notification/user${i}@example.com`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: message,
    });
    await response.body?.cancel();
    return response.status;
  }));
  deepEqual(new Set(statuses), new Set([202]));
  server.child.kill("SIGTERM");
  const { code, stderr } = await server.status();
  equal(code, 1);
  match(stderr, /Cannot close the files within 5000 ms/);
});
