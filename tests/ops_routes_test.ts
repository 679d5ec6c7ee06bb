// GET /tasks/{id} through a real server: queued and running while gated, then done or failed.
import { deepEqual, equal } from "node:assert/strict";
import {
  createHandler,
  GroupRegistry,
  Metrics,
  type OpsOptions,
  opsRoutes,
  route,
  systemClock,
  type TaskContext,
  TaskGroup,
  TaskRunner,
  type WaitOptions,
} from "../lib/mod.ts";
import { fakeClock, recordingLogger, TestRunner } from "./_helpers.ts";

Deno.test("GET /tasks/{id} follows a group from queued to running to done, and shows failures and when each task ended", async () => {
  const registry = new GroupRegistry();
  let now = Date.parse("2026-12-03T10:00:00.000Z"); // the wall clock, as the tasks see it
  await using runner = new TestRunner({
    clock: { ...systemClock, now: () => now },
    retries: 0,
    maxConcurrency: 1,
    onGroupAccepted: (group) => registry.track(group),
    onGroupSettled: (group) => registry.settled(group),
  });
  const gates = new Map<string, PromiseWithResolvers<void>>();
  const started = new Map<string, PromiseWithResolvers<void>>();
  const gated = async function (this: TaskContext, name: string): Promise<void> {
    started.get(name)?.resolve();
    await gates.get(name)?.promise;
  };
  const handler = createHandler({
    runner,
    routes: [
      route("POST", "/work/:name", (_request, { params, group }) => {
        const { name } = params;
        gates.set(name, Promise.withResolvers());
        started.set(name, Promise.withResolvers());
        group.add(gated, name).add(function explode() {
          if (name === "bad") throw new Error(`bad input for ${name}`);
        });
        return Response.json({ id: group.id }, { status: 202 });
      }),
      ...opsRoutes({
        draining: () => false,
        status: (id) => registry.status(id),
        metrics: new Metrics(runner),
      }),
    ],
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const post = async (name: string): Promise<string> =>
    (await (await fetch(`${url}/work/${name}`, { method: "POST" })).json()).id;
  const status = async (id: string) => await (await fetch(`${url}/tasks/${id}`)).json();

  const first = await post("good");
  await started.get("good")?.promise;
  const second = await post("bad"); // waits: concurrency is 1
  deepEqual((await status(first)).tasks.map((t: { state: string }) => t.state), [
    "running",
    "queued",
  ]);
  equal((await status(first)).state, "running");
  equal((await status(second)).state, "queued");
  type Times = { startedAt: unknown; finishedAt: unknown };
  deepEqual((await status(first)).tasks.map((t: Times) => [t.startedAt, t.finishedAt]), [
    ["2026-12-03T10:00:00.000Z", null], // running: since when
    [null, null],
  ]);

  now += 1_500;
  gates.get("good")?.resolve();
  gates.get("bad")?.resolve();
  await runner.idle();
  // Both ended when the gates opened, 1.5 s after the first began.
  const ended = (name: string, state: string, durationMs: number, error: string | null) => ({
    name,
    state,
    attempts: 1,
    startedAt: new Date(Date.parse("2026-12-03T10:00:01.500Z") - durationMs).toISOString(),
    durationMs,
    finishedAt: "2026-12-03T10:00:01.500Z",
    error,
    retryAt: null,
  });
  const [done, failed] = [await status(first), await status(second)];
  deepEqual([done.state, done.tasks[0]], ["done", ended("gated", "done", 1_500, null)]);
  deepEqual([failed.state, failed.tasks[1]], [
    "failed",
    ended("explode", "failed", 0, "bad input for bad"),
  ]);
  // Both accepted as they came, before the clock moved on.
  deepEqual([done.acceptedAt, failed.acceptedAt], Array(2).fill("2026-12-03T10:00:00.000Z"));
});

/** A server of the ops routes over a journal whose health is `journalHealth`. */
function healthServer(journalHealth: () => Promise<boolean>, options: Partial<OpsOptions> = {}) {
  const runner = new TaskRunner();
  const routes = opsRoutes({
    draining: () => false,
    status: () => undefined,
    metrics: new Metrics(runner),
    journalHealth,
    ...options,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler({ runner, routes }),
  );
  return Object.assign(server, { url: `http://127.0.0.1:${server.addr.port}/healthz` });
}

Deno.test("GET /healthz answers 503 journal_unavailable while the journal takes no commits", async () => {
  let healthy = false;
  await using server = healthServer(() => Promise.resolve(healthy));
  const { url } = server;
  const down = await fetch(url);
  equal(down.status, 503);
  deepEqual(await down.json(), { status: "journal_unavailable" });
  healthy = true;
  const up = await fetch(url);
  equal(up.status, 200);
  deepEqual(await up.json(), { status: "ok" });
});

Deno.test("GET /livez answers 200 alive while /healthz says draining or journal_unavailable", async () => {
  let draining = false;
  await using server = healthServer(() => Promise.resolve(false), { draining: () => draining });
  const live = server.url.replace("/healthz", "/livez");
  const answer = async (url: string) => {
    const response = await fetch(url);
    return [response.status, (await response.json()).status];
  };
  deepEqual(await answer(server.url), [503, "journal_unavailable"]);
  deepEqual(await answer(live), [200, "alive"]);
  draining = true;
  deepEqual(await answer(server.url), [503, "draining"]);
  // Before, /livez was 404: a liveness probe had only /healthz, which fails for the whole drain.
  deepEqual(await answer(live), [200, "alive"]);
});

Deno.test("GET /healthz answers 503 journal_unavailable when the journal's health does not answer within healthTimeoutMs (1 s)", async () => {
  const clock = fakeClock();
  const probing = Promise.withResolvers<void>();
  // A probe commit to a database that froze: no answer.
  const frozen = () => (probing.resolve(), new Promise<boolean>(() => {}));
  await using server = healthServer(frozen, { clock });
  let status = 0;
  const response = fetch(server.url).then((r) => {
    status = r.status;
    return r.json();
  });
  await probing.promise;
  await clock.tickAsync(999);
  equal(status, 0, "still waiting before the deadline");
  await clock.tickAsync(1);
  deepEqual(await response, { status: "journal_unavailable" });
  equal(status, 503);
});

Deno.test("GET /tasks/{id} awaits a journal that answers asynchronously (a network store)", async () => {
  await using runner = new TestRunner();
  const known = { id: "g", state: "failed", acceptedAt: null, tasks: [] } as const;
  const handler = createHandler({
    runner,
    routes: opsRoutes({
      draining: () => false,
      status: (id) => Promise.resolve(id === "g" ? known : undefined),
      metrics: new Metrics(runner),
    }),
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/tasks`;
  const found = await fetch(`${url}/g`);
  equal(found.status, 200);
  deepEqual(await found.json(), known);
  const missing = await fetch(`${url}/nope`);
  equal(missing.status, 404);
  deepEqual(await missing.json(), {
    error: "not_found",
    detail: 'No task group "nope" is known',
  });
  // A long id is echoed cut: before, a 3,000-character path came back whole.
  const long = await fetch(`${url}/${"x".repeat(3_000)}`);
  equal(long.status, 404);
  equal((await long.json()).detail, `No task group "${"x".repeat(100)}…" is known`);
});

Deno.test("GET /tasks/{id} answers 503 journal_unavailable, logged, when the journal cannot be read", async () => {
  await using runner = new TestRunner();
  const { logger, errors } = recordingLogger(1);
  const handler = createHandler({
    runner,
    retryAfter: 7,
    routes: opsRoutes({
      draining: () => false,
      status: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")),
      metrics: new Metrics(runner),
      logger,
    }),
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/tasks/g`);
  equal(response.status, 503);
  equal(response.headers.get("retry-after"), "7", "the handler's setting");
  equal((await response.json()).error, "journal_unavailable");
  deepEqual(errors.map((e) => [e.properties.groupId, String(e.properties.error)]), [
    ["g", "Error: connect ECONNREFUSED 127.0.0.1:5432"],
  ]);
});

/**
 * The ops routes behind a handler, over a journal whose reads hang (a lock
 * held elsewhere) until their signal aborts: when one began, why it stopped,
 * and the status answered.
 */
function hangingJournal(runner: TaskRunner, options: Partial<OpsOptions> = {}) {
  const reading = Promise.withResolvers<void>();
  const stopped = Promise.withResolvers<unknown>();
  const answered = Promise.withResolvers<number>();
  const status = (_id: string, { signal }: WaitOptions) =>
    new Promise<undefined>((_resolve, reject) => {
      signal?.addEventListener("abort", () => {
        stopped.resolve(signal.reason);
        reject(signal.reason);
      });
      reading.resolve();
    });
  const handler = createHandler({
    runner,
    routes: opsRoutes({ draining: () => false, status, metrics: new Metrics(runner), ...options }),
    onResponse: (_route, status) => answered.resolve(status),
  });
  return {
    handler,
    reading: reading.promise,
    stopped: stopped.promise,
    answered: answered.promise,
  };
}

Deno.test("GET /tasks/{id}: a client that goes away stops the journal read; 499, nothing logged", async () => {
  await using runner = new TestRunner();
  const { logger, errors } = recordingLogger(1);
  const { handler, reading, answered } = hangingJournal(runner, { logger });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const client = new AbortController();
  const request = fetch(`http://127.0.0.1:${server.addr.port}/tasks/g`, { signal: client.signal });
  await reading;
  client.abort();
  await request.catch(() => {});
  equal(await answered, 499, "counted as the client's doing");
  deepEqual(errors, [], "not a journal failure");
});

Deno.test("GET /tasks/{id}: a journal that does not answer within statusTimeoutMs is stopped; 503, logged", async () => {
  await using runner = new TestRunner();
  const { logger, errors } = recordingLogger(1);
  const clock = fakeClock();
  const { handler, reading, stopped } = hangingJournal(runner, {
    logger,
    clock,
    statusTimeoutMs: 5_000,
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const response = fetch(`http://127.0.0.1:${server.addr.port}/tasks/g`);
  await reading;
  let reason: unknown;
  stopped.then((why) => reason = why);
  await clock.tickAsync(4_999);
  equal(reason, undefined, "still reading before the deadline");
  await clock.tickAsync(1);
  equal((await stopped as DOMException).name, "TimeoutError", "the read was told to stop");
  equal((await response).status, 503);
  equal((await (await response).json()).error, "journal_unavailable");
  deepEqual(errors.map((e) => [e.properties.groupId, e.properties.error]), [
    ["g", "No answer within 5000 ms"],
  ]);
});

Deno.test("GET /tasks/{id} decodes the id, and finds a UUID written upper case", async () => {
  const registry = new GroupRegistry();
  await using runner = new TestRunner({
    onGroupAccepted: (group) => registry.track(group),
    onGroupSettled: (group) => registry.settled(group),
  });
  const asked: string[] = [];
  const handler = createHandler({
    runner,
    routes: opsRoutes({
      draining: () => false,
      // As PostgreSQL's text does: a NUL would fail the read (503), not miss.
      status: (id) => {
        if (id.includes("\0")) throw new Error("invalid byte sequence: 0x00");
        asked.push(id);
        return registry.status(id);
      },
      metrics: new Metrics(runner),
    }),
  });
  const made = new TaskGroup();
  for (
    const group of [made, new TaskGroup({ id: "order 42/é" }), new TaskGroup({ id: "50%off" })]
  ) {
    runner.submit(group.add(() => {}));
  }
  await runner.idle();
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/tasks/${path}`);
    const body = await response.json();
    return [response.status, body.id ?? body.error];
  };
  deepEqual(await get("order%2042%2F%C3%A9"), [200, "order 42/é"]);
  deepEqual(await get("50%off"), [200, "50%off"], "not percent-encoding: the id as written");
  asked.length = 0;
  deepEqual(await get(made.id.toUpperCase()), [200, made.id]);
  deepEqual(asked, [made.id.toUpperCase(), made.id], "as written first: a group's own id may be");
  deepEqual(await get("%00"), [404, "not_found"], "no id holds a NUL");
  asked.length = 0;
  deepEqual(await get("ORDER-42"), [404, "not_found"]);
  deepEqual(asked, ["ORDER-42"], "only a UUID is looked up again in lower case");
});

Deno.test("the ops routes' answers are not to be cached: each is of its moment", async () => {
  await using runner = new TestRunner();
  let draining = false;
  const handler = createHandler({
    runner,
    routes: opsRoutes({
      draining: () => draining,
      status: (id) => id === "g" ? { id, state: "done", acceptedAt: null, tasks: [] } : undefined,
      metrics: new Metrics(runner),
    }),
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const cacheControl = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}${path}`);
    await response.body?.cancel();
    return [path, response.status, response.headers.get("cache-control")];
  };
  const paths = ["/healthz", "/livez", "/metrics", "/tasks/g", "/tasks/h"];
  deepEqual(await Promise.all(paths.map(cacheControl)), [
    ["/healthz", 200, "no-store"],
    ["/livez", 200, "no-store"],
    ["/metrics", 200, "no-store"],
    ["/tasks/g", 200, "no-store"],
    ["/tasks/h", 404, "no-store"],
  ]);
  draining = true;
  deepEqual(await cacheControl("/healthz"), ["/healthz", 503, "no-store"]);
});
