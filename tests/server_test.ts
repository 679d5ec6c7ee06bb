import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  createHandler,
  type HandlerOptions,
  HttpError,
  LogWriter,
  type Route,
  route,
  type TaskGroup,
  type TaskRunner,
} from "../lib/mod.ts";
import { captureLogs, lines, recordingLogger, tempDir, TestRunner } from "./_helpers.ts";

function serve(
  routes: Route[],
  runner: TaskRunner,
  options: Partial<HandlerOptions> = {},
): { server: Deno.HttpServer<Deno.NetAddr>; url: string } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler({ routes, runner, ...options }),
  );
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("server answers before a slow task finishes; the line appears after", async () => {
  await using dir = await tempDir();
  await using log = await LogWriter.open(`${dir.path}/log.txt`);
  await using runner = new TestRunner();
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const { server, url } = serve([
    route("POST", "/slow", (_request, { group }) => {
      group.add(async (line: string) => {
        started.resolve();
        await gate.promise;
        await log.append(line);
      }, "slow work done");
      return Response.json({ id: group.id }, { status: 202 });
    }),
  ], runner);
  await using _server = server;

  const response = await fetch(`${url}/slow`, { method: "POST" });
  equal(response.status, 202);
  await response.body?.cancel();
  await started.promise;
  equal(await Deno.readTextFile(`${dir.path}/log.txt`), "", "no line before the task finishes");
  gate.resolve();
  await runner.idle();
  await log.flush();
  deepEqual(lines(await Deno.readTextFile(`${dir.path}/log.txt`)), ["slow work done"]);
});

Deno.test("server answers 503 with Retry-After when the backlog is full, and runs nothing of it", async () => {
  await using runner = new TestRunner({ maxPending: 2 });
  const gate = Promise.withResolvers<void>();
  const ran: string[] = [];
  const refusals: string[] = [];
  const { server, url } = serve(
    [
      route("POST", "/work/:name", (_request, { params, group }) => {
        const { name } = params;
        group.add(async () => {
          ran.push(`${name} first`);
          await gate.promise;
        }).add(() => void ran.push(`${name} second`));
        return new Response(null, { status: 202 });
      }),
    ],
    runner,
    { onRefused: (code) => void refusals.push(code) },
  );
  await using _server = server;

  equal((await fetch(`${url}/work/a`, { method: "POST" })).status, 202);
  const refused = await fetch(`${url}/work/b`, { method: "POST" });
  equal(refused.status, 503);
  equal(refused.headers.get("retry-after"), "1");
  equal(refused.headers.get("content-type"), "application/json");
  equal((await refused.json()).error, "backlog_full");
  deepEqual(refusals, ["backlog_full"], "told, for metrics");
  gate.resolve();
  await runner.idle();
  deepEqual(ran, ["a first", "a second"]);
});

Deno.test("server answers 413 too_many_tasks, without Retry-After, for a group that can never fit the backlog", async () => {
  await using runner = new TestRunner({ maxPending: 2 });
  let ran = 0;
  const refusals: string[] = [];
  const { server, url } = serve(
    [
      route("POST", "/batch/:count", (_request, { params, group }) => {
        for (let i = 0; i < Number(params.count); i++) group.add(() => void ran++);
        return new Response(null, { status: 202 });
      }),
    ],
    runner,
    { onRefused: (code) => void refusals.push(code) },
  );
  await using _server = server;

  const refused = await fetch(`${url}/batch/3`, { method: "POST" });
  equal(refused.status, 413);
  equal(refused.headers.get("retry-after"), null, "no retry can help it");
  deepEqual(await refused.json(), {
    error: "too_many_tasks",
    detail: "Cannot accept tasks: a group of 3 tasks is larger than the backlog (2)",
  });
  equal((await fetch(`${url}/batch/2`, { method: "POST" })).status, 202, "one that fits");
  deepEqual(refusals, ["too_many_tasks"]);
  await runner.idle();
  equal(ran, 2, "nothing of the refused group ran");
});

Deno.test("a route's 503 gets the handler's Retry-After unless it set its own", async () => {
  await using runner = new TestRunner();
  const busy = (headers?: Record<string, string>) => () => {
    throw new HttpError(503, "busy", "Cannot serve: busy", headers);
  };
  const handler = createHandler({
    runner,
    retryAfter: 7,
    routes: [
      route("GET", "/plain", busy()),
      route("GET", "/own", busy({ "Retry-After": "30" })),
      route("GET", "/gone", () => {
        throw new HttpError(410, "gone", "Cannot serve: gone");
      }),
    ],
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const answers = await Promise.all(["plain", "own", "gone"].map(async (path) => {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/${path}`);
    return [response.status, response.headers.get("retry-after"), (await response.json()).error];
  }));
  deepEqual(answers, [[503, "7", "busy"], [503, "30", "busy"], [410, null, "gone"]]);
});

Deno.test("a journal that refuses requests is logged once a second, with the count between, and its end once", async () => {
  await using runner = new TestRunner();
  const { logger, errors } = recordingLogger(2);
  const infos: [string, Record<string, unknown>][] = [];
  logger.info = (message, properties = {}) => void infos.push([message, properties]);
  let now = 0;
  let full = true;
  let refusals = 0;
  const handler = createHandler({
    runner,
    logger,
    onRefused: (code) => void (refusals += code === "journal_unavailable" ? 1 : 100),
    clock: { now: () => now },
    journal: {
      enqueue: () =>
        full ? Promise.reject(new Error("database or disk is full")) : Promise.resolve(),
    },
    routes: [route("POST", "/work", (_request, { group }) => {
      group.add(() => {});
      return new Response(null, { status: 202 });
    })],
  });
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const post = async () => {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/work`, { method: "POST" });
    return [response.status, response.status === 202 ? null : (await response.json()).error];
  };
  for (let i = 0; i < 3; i++) deepEqual(await post(), [503, "journal_unavailable"]);
  now = 999;
  await post();
  now = 1_000;
  await post();
  now = 1_500;
  await post(); // held back: the next line is due at 2,000
  deepEqual(errors.map((e) => [String(e.properties.error), e.properties.unlogged]), [
    ["Error: database or disk is full", 0],
    ["Error: database or disk is full", 3],
  ]);
  full = false;
  now = 1_600;
  deepEqual(await post(), [202, null]);
  deepEqual(infos, [], "within the second of the last line: told at a later end");
  now = 2_000;
  deepEqual(await post(), [202, null]);
  now = 9_000;
  deepEqual(await post(), [202, null]);
  deepEqual(infos, [[
    "The journal takes requests again: {count} refused in the {ms} ms since the first ({unlogged} since the last such line)",
    { count: 6, ms: 2_000, unlogged: 1 },
  ]]);
  equal(refusals, 6, "each told as journal_unavailable, for metrics");
  await runner.idle();
});

Deno.test("server answers a handler bug with 500 internal_error and logs the stack", async () => {
  await using logs = await captureLogs();
  await using runner = new TestRunner();
  const added: TaskGroup[] = [];
  // A Response can be sent once: Deno answered this one a bare 500 after the task had started.
  const sent = new Response("secret body");
  await sent.text();
  const { server, url } = serve([
    route("POST", "/bug", (_request, { group }) => {
      added.push(group.add(() => {}));
      throw new Error("secret detail");
    }),
    route("POST", "/sent", (_request, { group }) => {
      added.push(group.add(() => {}));
      return sent;
    }),
    route("POST", "/async-bug", () => Promise.reject(new Error("async secret"))),
    // Before: `instanceof` threw on it, and Deno answered a bare text 500, neither logged nor counted.
    route("POST", "/revoked", () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      throw proxy;
    }),
  ], runner);
  await using _server = server;

  for (const path of ["/bug", "/async-bug", "/revoked", "/sent"]) {
    const response = await fetch(`${url}${path}`, { method: "POST" });
    equal(response.status, 500);
    const text = await response.text();
    deepEqual(JSON.parse(text), {
      error: "internal_error",
      detail: "The server failed to handle the request",
    });
    ok(!text.includes("secret"), "no detail of the bug reaches the client");
  }
  deepEqual(added.map((group) => group.state), ["queued", "queued"], "not run");
  equal(runner.pending, 0);
  const errors = logs.records.filter((r) => String(r.rawMessage).startsWith("Handler failed"))
    .map((r) => String(r.properties.stack));
  match(String(errors[0]), /secret detail/);
  match(String(errors[3]), /Cannot send the route's response: its body was already read/);
});

Deno.test("server still runs the tasks of a client that went away before delivery", async () => {
  await using runner = new TestRunner();
  const handlerReached = Promise.withResolvers<void>();
  const clientGone = Promise.withResolvers<void>();
  const groupSeen = Promise.withResolvers<TaskGroup>();
  const { server } = serve([
    route("POST", "/bye", async (_request, { group }) => {
      handlerReached.resolve();
      await clientGone.promise;
      group.add(() => {});
      groupSeen.resolve(group);
      return new Response("x".repeat(1 << 20), { status: 202 });
    }),
  ], runner);
  await using _server = server;

  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(new TextEncoder().encode(
    "POST /bye HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
  ));
  await handlerReached.promise;
  conn.close();
  clientGone.resolve();
  const group = await groupSeen.promise;
  await group.settled();
  equal(group.state, "done");
});

Deno.test("a task added after the route answered throws, with or without tasks before it", async () => {
  await using runner = new TestRunner();
  const late: string[] = [];
  const answered = Promise.withResolvers<void>();
  const groups: TaskGroup[] = [];
  const { server, url } = serve([
    route("POST", "/late/:before", (_request, { params, group }) => {
      if (params.before === "1") group.add(() => {});
      groups.push(group);
      // Work a route forgot to await: it adds its task once the answer is out.
      void answered.promise.then(() => {
        try {
          group.add(() => void late.push("ran"));
        } catch (error) {
          late.push(String(error));
        }
      });
      return new Response(null, { status: 202 });
    }),
  ], runner);
  await using _server = server;

  for (const before of ["0", "1"]) {
    equal((await fetch(`${url}/late/${before}`, { method: "POST" })).status, 202);
  }
  answered.resolve();
  await answered.promise;
  await runner.idle();
  // Before, the group with no task before it took the late one and never ran it.
  deepEqual(
    late,
    groups.map(({ id }) =>
      `Error: Cannot add task: group "${id}" was handed to a runner (a route adds its tasks before it answers)`
    ),
  );
  deepEqual(groups.map((group) => group.size), [0, 1]);
});

Deno.test("onResponse is told each answer's route, status and seconds on the handler's clock", async () => {
  await using runner = new TestRunner();
  let now = 1_000;
  const clock = { now: () => now };
  const gate = Promise.withResolvers<void>(), reached = Promise.withResolvers<void>();
  const answered: [string, number, number][] = [];
  const { server, url } = serve(
    [
      route("POST", "/slow", async () => {
        reached.resolve();
        await gate.promise;
        return new Response(null, { status: 204 });
      }),
      route("GET", "/fast", () => new Response("ok")),
    ],
    runner,
    { clock, onResponse: (...told) => void answered.push(told) },
  );
  await using _server = server;
  await (await fetch(`${url}/fast`)).text();
  const slow = fetch(`${url}/slow`, { method: "POST" });
  await reached.promise;
  now += 2_500;
  gate.resolve();
  equal((await slow).status, 204);
  await (await fetch(`${url}/nowhere`)).body?.cancel();
  deepEqual(answered, [["/fast", 200, 0], ["/slow", 204, 2.5], ["unmatched", 404, 0]]);
});
