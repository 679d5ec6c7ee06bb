// runServer in this process, with signals sent by the test (main_test.ts
// sends real ones to main.ts).
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import {
  defineTask,
  route,
  runServer,
  type RunServerOptions,
  type ServiceParts,
  type SignalSource,
  VERSION,
} from "../lib/mod.ts";
import { tempDir } from "./_helpers.ts";

function fakeSignals() {
  const listeners = new Map<Deno.Signal, Set<() => void>>();
  const source: SignalSource = {
    addSignalListener(signal, handler) {
      listeners.set(signal, (listeners.get(signal) ?? new Set()).add(handler));
    },
    removeSignalListener(signal, handler) {
      listeners.get(signal)?.delete(handler);
    },
  };
  return {
    source,
    send: (signal: Deno.Signal) => listeners.get(signal)?.forEach((handler) => handler()),
    listening: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0),
  };
}

function start(env: Record<string, string>, options: RunServerOptions = {}) {
  const signals = fakeSignals();
  const logged: Record<string, unknown>[] = [];
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const running = runServer({
    env: (name) => env[name],
    signals: signals.source,
    logTo: (line) => void logged.push(JSON.parse(line)),
    onListen: listening.resolve,
    ...options,
  });
  // A start that fails never listens (and a test of one does not wait for it).
  running.then(() => listening.reject(new Error("it stopped")), listening.reject);
  listening.promise.catch(() => {});
  return { signals, logged, listening: listening.promise, running };
}

const files = (dir: string) => ({
  PORT: "0",
  LOG_FILE: `${dir}/log.txt`,
  DEAD_LETTER_FILE: `${dir}/dl.jsonl`,
  WORKERS: "0",
});

const messages = (logged: Record<string, unknown>[]) => logged.map(({ message }) => message);

Deno.test("runServer() serves your service until SIGTERM, then drains, returns 0 and lets go of every signal", async () => {
  await using dir = await tempDir();
  const welcome = defineTask("welcome", (email: string) => void welcomed.push(email));
  const welcomed: string[] = [];
  const service = ({ config }: ServiceParts) => ({
    routes: [route("POST", "/users/:email", (_request, { params, group }) => {
      group.add(welcome, params.email);
      return Response.json({ retries: config.taskRetries }, { status: 202 });
    })],
    tasks: [welcome],
  });
  const server = start({ ...files(dir.path), TASK_RETRIES: "5" }, { service });
  const { port } = await server.listening;
  const response = await fetch(`http://127.0.0.1:${port}/users/ada`, { method: "POST" });
  deepEqual([response.status, await response.json()], [202, { retries: 5 }]);
  const demo = await fetch(`http://127.0.0.1:${port}/send-notification/a@b.co`, { method: "POST" });
  await demo.body?.cancel();
  equal(demo.status, 404, "your routes, not the demo's");
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  match(metrics, /^# TYPE posthaste_event_loop_lag_seconds histogram$/m, "sampled while serving");
  ok(server.signals.listening() > 0);
  server.signals.send("SIGTERM");
  equal(await server.running, 0);
  deepEqual(welcomed, ["ada"]);
  equal(server.signals.listening(), 0, "its listeners removed");
  equal(messages(server.logged).at(-1), "Shutdown complete: every accepted task finished");
  await rejects(fetch(`http://127.0.0.1:${port}/healthz`), TypeError, "not listening");
});

Deno.test("runServer(): a second signal gives up on the task, returns 1 and closes the listener", async () => {
  await using dir = await tempDir();
  const started = Promise.withResolvers<void>();
  const hang = defineTask("hang", async function () {
    started.resolve();
    await new Promise((resolve) => this.signal.addEventListener("abort", resolve));
  });
  const service = () => ({
    routes: [route("POST", "/hang", (_request, { group }) => {
      group.add(hang);
      return new Response(null, { status: 202 });
    })],
    tasks: [hang],
  });
  const server = start(files(dir.path), { service });
  const { port } = await server.listening;
  // Not kept alive: the fetch below must open a connection, not reuse this one.
  const hanging = { method: "POST", headers: { connection: "close" } };
  equal((await fetch(`http://127.0.0.1:${port}/hang`, hanging)).status, 202);
  await started.promise;
  server.signals.send("SIGTERM");
  server.signals.send("SIGINT");
  equal(await server.running, 1);
  match(String(messages(server.logged).at(-1)), /^Shutdown abandoned 1 tasks/);
  // Before runServer, main.ts exited the process here, and with it the listener.
  await rejects(fetch(`http://127.0.0.1:${port}/healthz`), TypeError, "not listening");
});

Deno.test("runServer(): invalid configuration returns 1 after one line saying why", async () => {
  const server = start({ PORT: "eighty", LOG_LEVEL: "WARN" });
  equal(await server.running, 1);
  equal(server.logged.length, 1);
  match(String(server.logged[0]?.error), /^Cannot read configuration: PORT \("eighty"\)/);
  equal(server.signals.listening(), 0);
});

Deno.test("runServer(): a signal while starting stops the start and returns 0", async () => {
  await using dir = await tempDir();
  // Takes the journal's connection and never answers it.
  using database = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = start({
    ...files(dir.path),
    TASK_STORE: `postgres://posthaste@127.0.0.1:${database.addr.port}/posthaste`,
  });
  using _connection = await database.accept(); // the start waits on it
  server.signals.send("SIGUSR2"); // logrotate's: the start goes on
  server.signals.send("SIGTERM");
  equal(await server.running, 0);
  deepEqual(messages(server.logged), ["Start-up stopped by SIGTERM: nothing was served"]);
});

Deno.test("runServer(): a port already taken returns 1, logged", async () => {
  await using dir = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = start({ ...files(dir.path), PORT: String(taken.addr.port) });
  equal(await server.running, 1);
  // One line, as any failed start (old: "Cannot listen…", then a drain's two lines).
  const logged = messages(server.logged).map(String);
  equal(logged.length, 1, logged.join("\n"));
  const url = `http://127\\.0\\.0\\.1:${taken.addr.port}/`;
  match(logged[0] ?? "", new RegExp(`^Start-up failed: Cannot listen on ${url}: AddrInUse`));
  equal(server.signals.listening(), 0);
});

Deno.test("runServer(): its signal stops it as SIGTERM does, serving or starting", async () => {
  await using dir = await tempDir();
  const stop = new AbortController();
  const server = start(files(dir.path), { signal: stop.signal });
  await server.listening;
  stop.abort();
  equal(await server.running, 0);
  equal(messages(server.logged).at(-1), "Shutdown complete: every accepted task finished");

  const before = start(files(dir.path), { signal: AbortSignal.abort() });
  equal(await before.running, 0);
  deepEqual(messages(before.logged), ["Start-up stopped by SIGTERM: nothing was served"]);
});

Deno.test("runServer() logs what it serves how once listening: the address, the store, the limits, the files", async () => {
  await using dir = await tempDir();
  const env = {
    ...files(dir.path),
    MAX_CONCURRENCY: "8",
    TASK_STORE: `sqlite:${dir.path}/tasks.db`,
  };
  const server = start(env);
  const { port } = await server.listening;
  server.signals.send("SIGTERM");
  equal(await server.running, 0);
  const serving = server.logged.find(({ message }) => String(message).startsWith("Serving"));
  equal(
    serving?.message,
    `Serving http://127.0.0.1:${port}/ (posthaste ${VERSION}, Deno ${Deno.version.deno}): tasks journaled in sqlite:${dir.path}/tasks.db, at most 8 running and 100000 pending; worker threads: 0; lines to ${dir.path}/log.txt, dead letters to ${dir.path}/dl.jsonl`,
  );
  deepEqual([serving?.level, serving?.maxPending], ["INFO", 100_000]);
});
