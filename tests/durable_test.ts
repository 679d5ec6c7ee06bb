// Durable mode as a user runs it: real processes, real SIGKILL, restarts.
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { counts, emails, lines, post, spawnMain, spawnServer, tempDir } from "./_helpers.ts";
import {
  acceptedWorkSurvivesSigkill,
  burstSurvivesSigkill,
  drainKillsCountNoCrash,
} from "./_store_scenarios.ts";

Deno.test("durable: every 202 survives SIGKILL and runs after restart (at least once)", async () => {
  await using dir = await tempDir();
  await acceptedWorkSurvivesSigkill(dir.path, `sqlite:${dir.path}/tasks.db`);
});

Deno.test("durable: the journal survives SIGKILL in the middle of a burst of commits", async () => {
  await using dir = await tempDir();
  await burstSurvivesSigkill(dir.path, `sqlite:${dir.path}/tasks.db`);
});

Deno.test("durable: a second server on the same journal refuses to start; the first goes on", async () => {
  await using dir = await tempDir();
  const env = { TASK_STORE: `sqlite:${dir.path}/tasks.db` };
  await using first = await spawnServer(dir.path, env);
  await rejects(
    spawnServer(dir.path, { ...env, LOG_FILE: `${dir.path}/second.txt` }),
    /exited \(code 1\)[^]*another process or connection has it open \(one server per journal\)/,
  );
  deepEqual(await post(first.url, ["after@example.com"]), [202]);
  deepEqual(await (await fetch(`${first.url}/healthz`)).json(), { status: "ok" });
  first.child.kill("SIGTERM");
  equal((await first.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), [
    "notification for after@example.com: some notification",
  ]);
});

Deno.test("durable: a journal file deleted under the server refuses new work from then on; accepted work still runs", async () => {
  await using dir = await tempDir();
  await using server = await spawnServer(dir.path, { TASK_STORE: `sqlite:${dir.path}/tasks.db` });
  deepEqual(await post(server.url, ["before@example.com"]), [202]);
  // Before: 202s went on into the deleted file, and a crash lost them all.
  await Deno.remove(`${dir.path}/tasks.db-wal`);
  await server.stderrMatches(/tasks\.db-wal\W* was deleted or replaced while the journal was open/);
  deepEqual(await post(server.url, ["after@example.com"]), [503]);
  const health = await fetch(`${server.url}/healthz`);
  deepEqual([health.status, await health.json()], [503, { status: "journal_unavailable" }]);
  server.child.kill("SIGTERM");
  equal((await server.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), [
    "notification for before@example.com: some notification",
  ]);
});

Deno.test("durable: a port already taken fails the start with a clear error; the journal waits for the next", async () => {
  await using dir = await tempDir();
  const env = { TASK_STORE: `sqlite:${dir.path}/tasks.db`, SEND_DELAY_MS: "5000" };
  const sent = emails(3, "taken");
  {
    await using server = await spawnServer(dir.path, env);
    deepEqual(await post(server.url, sent), [202, 202, 202]);
    server.child.kill("SIGKILL");
    await server.status();
  }
  {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const child = spawnMain(dir.path, { ...env, PORT: String(taken.addr.port) });
    const { code, stderr } = await child.output();
    const logged = new TextDecoder().decode(stderr);
    equal(code, 1, logged);
    match(
      logged,
      /"message":"Start-up failed: Cannot listen on http:\/\/127.0.0.1:\d+\/: AddrInUse/,
    );
    // Recovered tasks that began were stopped, and stay journaled.
    match(logged, /Shutdown stopped 3 tasks; they stay in/);
    ok(!logged.includes("Uncaught"), logged);
  }
  await using restarted = await spawnServer(dir.path, { ...env, SEND_DELAY_MS: "0" });
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  const seen = counts(await Deno.readTextFile(`${dir.path}/log.txt`));
  deepEqual([...seen.keys()].sort(), sent.toSorted(), "every accepted task ran");
});

Deno.test("durable: killed at the end of its drain three times (SIGTERM, then SIGKILL), a running task counts no crash, and runs once let finish", async () => {
  await using dir = await tempDir();
  await drainKillsCountNoCrash(dir.path, `sqlite:${dir.path}/tasks.db`);
});

Deno.test("durable: with MAX_PENDING lowered across a restart, the work that did not fit runs once there is room", async () => {
  await using dir = await tempDir();
  const env = { TASK_STORE: `sqlite:${dir.path}/tasks.db`, SEND_DELAY_MS: "5000" };
  const sent = emails(30, "lowered");
  {
    await using server = await spawnServer(dir.path, env);
    deepEqual(new Set(await post(server.url, sent)), new Set([202]));
    server.child.kill("SIGKILL");
    equal((await server.status()).code, 137);
  }
  await using restarted = await spawnServer(dir.path, {
    ...env,
    SEND_DELAY_MS: "0",
    MAX_PENDING: "4",
  });
  await restarted.stderrMatches(/4 unfinished tasks resumed[^\n]*26 deferred/);
  await restarted.stderrMatches(/deferred tasks resumed: 26/);
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  const seen = counts(await Deno.readTextFile(`${dir.path}/log.txt`));
  deepEqual([...seen.keys()].sort(), sent.toSorted(), "every accepted task ran");
  deepEqual(new Set(seen.values()), new Set([1]), "once each: none was running at the SIGKILL");
});

Deno.test("durable: deferred work not yet resumed at a SIGTERM stays in the journal for the next start", async () => {
  await using dir = await tempDir();
  const env = { TASK_STORE: `sqlite:${dir.path}/tasks.db`, SEND_DELAY_MS: "5000" };
  const sent = emails(30, "stopped");
  {
    await using server = await spawnServer(dir.path, env);
    deepEqual(new Set(await post(server.url, sent)), new Set([202]));
    server.child.kill("SIGKILL");
    equal((await server.status()).code, 137);
  }
  {
    // Room for 4 slow tasks: a SIGTERM comes while 26 still wait in the journal.
    await using stopped = await spawnServer(dir.path, {
      ...env,
      SEND_DELAY_MS: "2000",
      MAX_PENDING: "4",
    });
    await stopped.stderrMatches(/26 deferred/);
    stopped.child.kill("SIGTERM");
    const { code, stderr } = await stopped.status();
    equal(code, 0, "every task it accepted finished");
    ok(/not all resumed; it stays in/.test(stderr), "the log says the rest waits");
  }
  await using restarted = await spawnServer(dir.path, { ...env, SEND_DELAY_MS: "0" });
  await restarted.stderrMatches(/26 unfinished tasks resumed/);
  restarted.child.kill("SIGTERM");
  equal((await restarted.status()).code, 0);
  const seen = counts(await Deno.readTextFile(`${dir.path}/log.txt`));
  deepEqual([...seen.keys()].sort(), sent.toSorted(), "every accepted task ran");
});

Deno.test("durable: a request sent again with its Idempotency-Key after a SIGKILL and a restart gets its first answer, and runs once, also once it succeeded", async () => {
  await using dir = await tempDir();
  const env = { TASK_STORE: `sqlite:${dir.path}/tasks.db`, SEND_DELAY_MS: "5000" };
  const send = async (url: string, body: string | null = null) => {
    const response = await fetch(`${url}/send-notification/key@example.com`, {
      method: "POST",
      headers: { "idempotency-key": "order-42", "content-type": "application/json" },
      body,
    });
    const { id, error } = await response.json();
    return [response.status, id ?? error, response.headers.get("idempotent-replayed")];
  };
  // The key sent with another message: known as other work for the key.
  const reused = [422, "idempotency_key_reused", null];
  let first;
  {
    await using server = await spawnServer(dir.path, env);
    first = await send(server.url);
    server.child.kill("SIGKILL");
    await server.status();
  }
  equal(first[0], 202);
  {
    await using restarted = await spawnServer(dir.path, { ...env, SEND_DELAY_MS: "0" });
    deepEqual(await send(restarted.url), [202, first[1], "true"]);
    deepEqual(await send(restarted.url, '{"message":"other"}'), reused);
    restarted.child.kill("SIGTERM");
    equal((await restarted.status()).code, 0);
  }
  // The work succeeded before this restart: the journal keeps its key, not only its work.
  await using again = await spawnServer(dir.path, env);
  deepEqual(await send(again.url), [202, first[1], "true"]);
  deepEqual(await send(again.url, '{"message":"other"}'), reused);
  const status = await (await fetch(`${again.url}/tasks/${first[1]}`)).json();
  equal(status.state, "done");
  again.child.kill("SIGTERM");
  equal((await again.status()).code, 0);
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), [
    "notification for key@example.com: some notification",
  ]);
});
