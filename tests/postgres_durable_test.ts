// Durable mode on PostgreSQL as a user runs it: real processes, real SIGKILL,
// restarts, and two servers sharing one queue.
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { createApp, readConfig } from "../lib/mod.ts";
import { captureLogs, counts, emails, post, spawnServer, startApp, tempDir } from "./_helpers.ts";
import { postgresTest, proxyTo, type TestSchema, until } from "./_postgres.ts";
import {
  acceptedWorkSurvivesSigkill,
  burstSurvivesSigkill,
  drainKillsCountNoCrash,
} from "./_store_scenarios.ts";

/** Resolves once `n` tasks are journaled running in `db`'s table: round trips, no sleeps. */
function journaledRunning(db: TestSchema, n: number): Promise<void> {
  return until(async () => {
    const [row] = await db.admin`
      SELECT count(*)::int AS n FROM ${db.admin(`${db.name}.posthaste_tasks`)}
      WHERE state = 'running'
    `;
    return row?.n === n;
  }, `${n} tasks journaled running`);
}

postgresTest(
  "postgres: every 202 survives SIGKILL and runs after restart (at least once)",
  async (db) => {
    await using dir = await tempDir();
    await acceptedWorkSurvivesSigkill(dir.path, db.url);
    const [left] = await db.admin`
      SELECT count(*)::int AS n FROM ${db.admin(db.name)}.posthaste_tasks
    `;
    equal(left?.n, 0, "groups that succeeded leave the table");
  },
);

postgresTest(
  "postgres: the journal survives SIGKILL in the middle of a burst of commits",
  async (db) => {
    await using dir = await tempDir();
    await burstSurvivesSigkill(dir.path, db.url);
  },
);

postgresTest(
  "postgres: killed at the end of its drain three times, a running task counts no crash",
  async (db) => {
    await using dir = await tempDir();
    const table = db.admin(`${db.name}.posthaste_tasks`);
    // Its attempt's mark and the stop's are written by two connections: either may land first.
    await drainKillsCountNoCrash(dir.path, db.url, () => journaledRunning(db, 1));
    // The last server stopped cleanly, its task done: the table is empty.
    const [left] = await db.admin`SELECT count(*)::int AS n FROM ${table}`;
    equal(left?.n, 0);
  },
);

postgresTest(
  "postgres: killed three times while its tasks ran, it dead-letters only the one on probation at the third kill",
  async (db) => {
    await using dir = await tempDir();
    const env = { TASK_STORE: db.url, SEND_DELAY_MS: "60000" };
    const sent = emails(3, "probation");
    for (let start = 1; start <= 3; start++) {
      await using server = await spawnServer(dir.path, env);
      if (start === 1) deepEqual(await post(server.url, sent), [202, 202, 202]);
      else await server.stderrMatches(/3 unfinished tasks resumed/); // adopted: running no more
      if (start === 3) {
        // Each ran at two deaths: now one at a time.
        await server.stderrMatches(/3 recovered tasks were running when the process died 2 times/);
      }
      await journaledRunning(db, start === 3 ? 1 : 3);
      server.child.kill("SIGKILL");
      equal((await server.status()).code, 137);
    }
    await using last = await spawnServer(dir.path, { ...env, SEND_DELAY_MS: "0" });
    await last.stderrMatches(/2 unfinished tasks resumed, 1 dead-lettered/);
    last.child.kill("SIGTERM");
    equal((await last.status()).code, 0);
    // The first came first on probation: the third kill was its third death.
    deepEqual([...counts(await Deno.readTextFile(`${dir.path}/log.txt`)).keys()], sent.slice(1));
    const letters = (await Deno.readTextFile(`${dir.path}/dead-letter.jsonl`)).trim().split("\n");
    deepEqual(letters.map((line) => [JSON.parse(line).reason, JSON.parse(line).args[0]]), [
      ["crash_loop", sent[0]],
    ]);
  },
);

postgresTest(
  "postgres: a server sharing the queue takes over the work of one that was killed",
  async (db) => {
    await using dir = await tempDir();
    await using survivor = await spawnServer(dir.path, {
      TASK_STORE: db.url,
      TAKEOVER_INTERVAL_MS: "50",
    });
    const sent = emails(50, "orphan");
    {
      await using doomed = await spawnServer(dir.path, {
        TASK_STORE: db.url,
        SEND_DELAY_MS: "60000",
        LOG_FILE: `${dir.path}/doomed.txt`,
      });
      deepEqual(new Set(await post(doomed.url, sent)), new Set([202]));
      deepEqual(await post(survivor.url, ["own@example.com"]), [202]);
      doomed.child.kill("SIGKILL");
      equal((await doomed.status()).code, 137);
    }
    await survivor.stderrMatches(/took over 50 tasks of servers that stopped/);
    survivor.child.kill("SIGTERM");
    equal((await survivor.status()).code, 0);
    const seen = counts(await Deno.readTextFile(`${dir.path}/log.txt`));
    deepEqual([...seen.keys()].sort(), [...sent, "own@example.com"].sort());
    deepEqual(new Set(seen.values()), new Set([1]), "none was running at the SIGKILL: once each");
  },
);

postgresTest(
  "postgres: a 202 after the commit; the status route and health read the database",
  async (db) => {
    await using server = await startApp({ TASK_STORE: db.url, SEND_DELAY_MS: "0" });
    const response = await fetch(`${server.url}/send-notification/ada@example.com`, {
      method: "POST",
    });
    equal(response.status, 202);
    const { id } = await response.json();
    await server.app.runner.idle();
    equal((await (await fetch(`${server.url}/tasks/${id}`)).json()).state, "done");
    deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: "ok" });
    equal(await server.logText(), "notification for ada@example.com: some notification\n");
  },
);

Deno.test("postgres: a database that cannot be reached stops start-up with its URL, never its password", async () => {
  await using dir = await tempDir();
  await rejects(
    spawnServer(dir.path, { TASK_STORE: "postgres://posthaste:secret@127.0.0.1:1/posthaste" }),
    (error: Error) => {
      match(error.message, /exited \(code 1\)/);
      match(
        error.message,
        /"error":"Cannot open task store \\"postgres:\/\/posthaste@127\.0\.0\.1:1\/posthaste\\"/,
      );
      equal(error.message.includes("secret"), false);
      return true;
    },
  );
});

postgresTest(
  "postgres: a shutdown after the database host went without a reset closes within its 5 s",
  async (db) => {
    await using logs = await captureLogs();
    await using proxy = proxyTo(db.url);
    await using server = await startApp({ TASK_STORE: proxy.url, SEND_DELAY_MS: "0" });
    const sent = await fetch(`${server.url}/send-notification/ada@example.com`, { method: "POST" });
    equal(sent.status, 202);
    await server.logText(); // run, its outcome on its way
    const rows = () => db.admin`SELECT 1 FROM ${db.admin(db.name)}.posthaste_tasks`;
    for (let look = 0; look < 1_000 && (await rows()).length > 0; look++); // round trips, no sleeps
    equal((await rows()).length, 0, "its outcome committed: nothing is left to write");
    proxy.silenceAll(); // every connection of the store's: the pool, the claim, both streams
    const code = await server.app.shutdown({ shutdown: () => Promise.resolve() });
    // Nor is what the close cut short (a prune, a look for orphaned work) logged as a failure.
    const errors = logs.records.filter((r) => r.level === "error").map((r) => r.rawMessage);
    deepEqual([code, errors], [0, []]);
  },
);

postgresTest(
  "postgres: a journal that cannot close by the app's deadline is named in the log, not the files",
  async (db) => {
    await using logs = await captureLogs();
    await using proxy = proxyTo(db.url);
    await using dir = await tempDir();
    const env: Record<string, string> = {
      TASK_STORE: proxy.url,
      LOG_FILE: `${dir.path}/log.txt`,
      DEAD_LETTER_FILE: `${dir.path}/dead-letter.jsonl`,
    };
    // Its connections get 1 s to end: more than the 500 ms the app waits here.
    const app = await createApp(readConfig((name) => env[name]), { closeTimeoutMs: 500 });
    proxy.silenceAll();
    equal(await app.shutdown({ shutdown: () => Promise.resolve() }), 1);
    const errors = logs.records.filter((r) => r.level === "error").map((r) => String(r.rawMessage));
    deepEqual(errors.map((message) => message.split(" within")[0]), [
      "Cannot close the journal {file}",
    ]);
    await app[Symbol.asyncDispose](); // the close, to its end
  },
);

postgresTest(
  "postgres: a server whose every connection went silent (a network cut, the database host alive) heals by itself, and what it accepted runs",
  async (db) => {
    await using logs = await captureLogs();
    await using proxy = proxyTo(db.url);
    await using server = await startApp({ TASK_STORE: proxy.url, SEND_DELAY_MS: "0" });
    // Its commit is the intake connection's first, and proves it: later ones are watched.
    deepEqual(await post(server.url, ["before@example.com"]), [202]);
    proxy.silenceAll(); // the pool, the claim, both streams: later connections pass
    // One at a time until one is accepted: the first is refused once the
    // database said its commit's session idles (seconds, real time, not the
    // 11 s deadline), and the next goes on a new connection.
    const codes: number[] = [];
    while (codes.at(-1) !== 202) {
      codes.push(...await post(server.url, [`cut${codes.length}@example.com`]));
    }
    equal(codes[0], 503, "the first after the cut");
    const refused = await logs.when((r) =>
      String(r.rawMessage).startsWith("Cannot journal request")
    );
    match(
      String((refused.properties.error as Error).message),
      /^Cannot commit to the task journal: no answer, and its session in the database idles/,
    );
    // The claim, looked at every 5 s, is given up the same way and taken again.
    const idle =
      "gave no answer, and its session in the database is idle: the question or its answer was lost";
    await logs.when((r) => r.properties.why === idle);
    await logs.when((r) => r.rawMessage === "Took the journal claim for owner {owner} again");
    const accepted = ["before@example.com", `cut${codes.length - 1}@example.com`];
    deepEqual([...counts(await server.logText()).keys()].sort(), accepted.sort(), "every 202 ran");
  },
);

postgresTest(
  "postgres: an Idempotency-Key holds across the servers of one queue: one run, replays with its id at either, its status at both",
  async (db) => {
    await using first = await startApp({ TASK_STORE: db.url, SEND_DELAY_MS: "0" });
    await using second = await startApp({ TASK_STORE: db.url, SEND_DELAY_MS: "0" });
    const send = async (server: { url: string }, message?: string) => {
      const response = await fetch(`${server.url}/send-notification/ada@example.com`, {
        method: "POST",
        headers: { "idempotency-key": "order-42", "content-type": "application/json" },
        ...message === undefined ? {} : { body: JSON.stringify({ message }) },
      });
      const { id, error } = await response.json();
      return [response.status, response.headers.get("idempotent-replayed"), id ?? error];
    };
    const [status, replayed, id] = await send(first);
    deepEqual([status, replayed], [202, null]);
    const done = "notification for ada@example.com: some notification\n";
    equal(await first.logText(), done, "ran at the first");
    const stateAt = async (server: { url: string }) =>
      (await (await fetch(`${server.url}/tasks/${id}`)).json()).state;
    await until(async () => await stateAt(second) === "done", "its success seen by the second");
    // Sent again to the other server once it succeeded, and to each once more.
    for (const server of [second, first, second]) {
      deepEqual(await send(server), [202, "true", id]);
    }
    // The key with another body, at the server that did not run it: the first's fingerprint is known.
    deepEqual(await send(second, "other"), [422, null, "idempotency_key_reused"]);
    deepEqual([await first.logText(), await second.logText()], [done, ""], "one line in all");
    equal(await stateAt(first), "done");
  },
);
