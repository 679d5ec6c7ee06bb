import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  type App,
  type Config,
  createApp,
  defineTask,
  delay,
  readConfig,
  route,
  type Service,
  type ServiceParts,
  type TaskContext,
} from "../lib/mod.ts";
import { captureLogs, tempDir } from "./_helpers.ts";

/** A service of its own: one journaled task, whose runs the test sees and can hold. */
function welcomeService() {
  const runs: { email: string; id: string; attempt: number }[] = [];
  let held = false;
  const welcome = defineTask("send-welcome", async function (this: TaskContext, email: string) {
    runs.push({ email, id: this.id, attempt: this.attempt });
    if (held) await delay(60_000, { signal: this.signal }); // until shutdown stops it
  });
  const unlisted = defineTask("unlisted", () => {});
  const service = (_parts: ServiceParts): Service => ({
    routes: [
      route("POST", "/users/:email", (_request, { params, group }) => {
        group.add(welcome, params.email);
        return Response.json({ id: group.id }, { status: 202 });
      }),
      route("POST", "/unlisted", (_request, { group }) => {
        group.add(unlisted);
        return Response.json({ id: group.id }, { status: 202 });
      }),
    ],
    tasks: [welcome],
  });
  return { runs, service, holdRuns: () => void (held = true) };
}

/** The configuration of a durable app whose files are in `dir`. */
function durableConfig(dir: string): Config {
  const env: Record<string, string> = {
    LOG_FILE: `${dir}/log.txt`,
    DEAD_LETTER_FILE: `${dir}/dead-letter.jsonl`,
    TASK_STORE: `sqlite:${dir}/tasks.db`,
  };
  return readConfig((name) => env[name]);
}

function serve(app: App) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

/** `service` served by an app on a real server; disposing stops both. */
async function serveService(config: Config, service: (parts: ServiceParts) => Service) {
  const app = await createApp(config, { service });
  const { server, url } = serve(app);
  return {
    app,
    url,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await app[Symbol.asyncDispose]();
    },
  };
}

Deno.test("createApp serves a service of its own, durable, beside /healthz, /tasks/:id and /metrics", async () => {
  await using dir = await tempDir();
  const { runs, service } = welcomeService();
  await using served = await serveService(durableConfig(dir.path), service);
  const { app, url } = served;

  const accepted = await fetch(`${url}/users/ada`, { method: "POST" });
  equal(accepted.status, 202);
  const { id } = await accepted.json();
  await app.runner.idle();
  deepEqual(runs, [{ email: "ada", id: `${id}/0`, attempt: 1 }]);
  const status = await (await fetch(`${url}/tasks/${id}`)).json();
  equal(status.state, "done");
  equal((await fetch(`${url}/healthz`)).status, 200);
  match(await (await fetch(`${url}/metrics`)).text(), /posthaste_tasks_succeeded_total 1/);
  const demo = await fetch(`${url}/send-notification/ada@example.com`, { method: "POST" });
  equal(demo.status, 404, "the demo's routes are not served");
  await demo.body?.cancel();
});

Deno.test("createApp: a route adding a task its service does not list is a 500, and nothing is journaled", async () => {
  await using dir = await tempDir();
  await using logs = await captureLogs();
  const { runs, service } = welcomeService();
  await using served = await serveService(durableConfig(dir.path), service);
  const { app, url } = served;

  const refused = await fetch(`${url}/unlisted`, { method: "POST" });
  equal(refused.status, 500);
  equal((await refused.json()).error, "internal_error");
  equal(app.runner.pending, 0, "nothing was accepted");
  const next = await fetch(`${url}/users/ada`, { method: "POST" });
  equal(next.status, 202, "the journal goes on");
  await next.body?.cancel();
  await app.runner.idle();
  deepEqual(runs.map(({ email }) => email), ["ada"]);
  match(
    String(logs.records.find((record) => record.level === "error")?.properties.error),
    /Cannot journal task "unlisted": it is not one of the service's tasks/,
  );
});

Deno.test("createApp: a service's journaled task runs again after a restart, with its id", async () => {
  await using dir = await tempDir();
  const config = durableConfig(dir.path);
  const first = welcomeService();
  first.holdRuns();
  let id: string;
  {
    const app = await createApp(config, { service: first.service });
    const { server, url } = serve(app);
    const accepted = await fetch(`${url}/users/grace`, { method: "POST" });
    equal(accepted.status, 202);
    id = (await accepted.json()).id;
    equal(await app.shutdown(server, { signal: AbortSignal.abort() }), 1, "stopped while it ran");
  }
  deepEqual(first.runs.map(({ email }) => email), ["grace"]);

  const second = welcomeService();
  await using app = await createApp(config, { service: second.service });
  await app.runner.idle();
  deepEqual(second.runs, [{ email: "grace", id: `${id}/0`, attempt: 2 }]);
});

Deno.test("createApp closes a service once, after its tasks, and when the start fails after making it", async () => {
  await using dir = await tempDir();
  const config = durableConfig(dir.path);
  const events: string[] = [];
  const release = Promise.withResolvers<void>();
  const slow = defineTask("slow", async (email: string) => {
    await release.promise;
    events.push(`ran ${email}`);
  });
  const service = (): Service => ({
    routes: [route("POST", "/users/:email", (_request, { params, group }) => {
      group.add(slow, params.email);
      return new Response(null, { status: 202 });
    })],
    tasks: [slow],
    [Symbol.asyncDispose]: () => Promise.resolve(void events.push("closed")),
  });
  const app = await createApp(config, { service });
  const { server, url } = serve(app);
  equal((await fetch(`${url}/users/ada`, { method: "POST" })).status, 202);
  const stopped = app.shutdown(server, {});
  release.resolve();
  equal(await stopped, 0);
  await app[Symbol.asyncDispose]();
  deepEqual(events, ["ran ada", "closed"], "closed once, after the task");

  // Two definitions of one name: the start fails once the service is made.
  const closed: string[] = [];
  const twin = defineTask("slow", (_email: string) => {});
  await rejects(
    createApp(config, {
      service: () => ({
        routes: [],
        tasks: [slow, twin],
        [Symbol.asyncDispose]: () => Promise.resolve(void closed.push("closed")),
      }),
    }),
    /two are named "slow"/,
  );
  deepEqual(closed, ["closed"]);
});

Deno.test("createApp awaits a service made asynchronously, and a failed one closes what was opened", async () => {
  await using dir = await tempDir();
  const config = durableConfig(dir.path);
  const { runs, service } = welcomeService();
  const start = new AbortController();
  let given: AbortSignal | undefined;
  {
    await using app = await createApp(config, {
      signal: start.signal,
      service: async (parts) => {
        given = parts.signal;
        await Promise.resolve(); // connects to something first
        return service(parts);
      },
    });
    const { server, url } = serve(app);
    equal((await fetch(`${url}/users/ada`, { method: "POST" })).status, 202);
    await app.runner.idle();
    await server.shutdown();
  }
  equal(given, start.signal, "the start's signal, to give up with it");
  deepEqual(runs.map(({ email }) => email), ["ada"]);

  // Before, a promise of a service failed `deno check`.
  await rejects(
    createApp(config, { service: () => Promise.reject(new Error("cannot connect")) }),
    /cannot connect/,
  );
  await using _again = await createApp(config, { service }); // the journal was closed

  // A start given up while the service was being made, though it did not look.
  const stopping = new AbortController();
  const closed: string[] = [];
  await rejects(
    createApp({ ...config, taskStore: undefined }, {
      signal: stopping.signal,
      service: async () => {
        stopping.abort(new Error("stopped while connecting"));
        await Promise.resolve();
        return {
          routes: [],
          tasks: [],
          [Symbol.asyncDispose]: () => Promise.resolve(void closed.push("closed")),
        };
      },
    }),
    /stopped while connecting/,
  );
  deepEqual(closed, ["closed"]);
});

Deno.test("createApp answers /healthz, /metrics and /tasks/:id before a service's own routes", async () => {
  await using dir = await tempDir();
  const page = (name: string) => new Response(`page ${name}`);
  const service = (): Service => ({
    routes: [
      route("GET", "/healthz", () => page("healthz")),
      route("POST", "/tasks/:id", (_request, { params }) => page(`task ${params.id}`)),
      route("GET", "/:page", (_request, { params }) => page(params.page)),
    ],
    tasks: [],
  });
  await using served = await serveService(durableConfig(dir.path), service);
  const { url } = served;
  const text = async (path: string, method = "GET") => {
    const response = await fetch(`${url}${path}`, { method });
    return `${response.status} ${await response.text()}`;
  };
  // Before, the service's routes came first: /healthz said "page healthz" while
  // the server drained, and a catch-all hid /metrics.
  equal(await text("/healthz"), '200 {"status":"ok"}');
  match(await text("/metrics"), /^200 # HELP/);
  equal(await text("/about"), "200 page about");
  equal(await text("/tasks/7", "POST"), "200 page task 7", "other methods still reach the service");
});

Deno.test("createApp: a service that never closes holds the shutdown closeTimeoutMs at most; the lines are written, exit 1", async () => {
  await using dir = await tempDir();
  await using logs = await captureLogs();
  const service = ({ log }: ServiceParts): Service => {
    const note = defineTask("note", (text: string) => log.append(text));
    return {
      routes: [route("POST", "/note/:text", (_request, { params, group }) => {
        group.add(note, params.text);
        return new Response(null, { status: 202 });
      })],
      tasks: [note],
      [Symbol.asyncDispose]: () => new Promise<void>(() => {}), // a client that hangs on close
    };
  };
  const app = await createApp(durableConfig(dir.path), { service, closeTimeoutMs: 50 });
  const { server, url } = serve(app);
  equal((await fetch(`${url}/note/kept`, { method: "POST" })).status, 202);
  equal(await app.shutdown(server, {}), 1);
  // Before, the files and journal waited for the service, never closed, and after 5 s the
  // log blamed the disk ("Cannot close the files … (a disk that stalls?)").
  equal(await Deno.readTextFile(`${dir.path}/log.txt`), "kept\n");
  deepEqual(
    logs.records.map((record) => record.rawMessage).filter((text) =>
      String(text).includes("close")
    ),
    ["Cannot close the service within {timeoutMs} ms; closing the files and journal without it"],
  );
});

/** A service whose one route streams until the app's shutdown begins, if `endOnStopping`. */
function streamingService(endOnStopping: boolean) {
  return ({ stopping }: ServiceParts): Service => ({
    routes: [route("GET", "/events", () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data: hello\n\n"));
          if (endOnStopping) stopping.addEventListener("abort", () => controller.close());
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    })],
    tasks: [],
  });
}

Deno.test("createApp: a stream that ends on `stopping` lets the listener close; one that does not is named at the deadline", async () => {
  await using dir = await tempDir();
  await using logs = await captureLogs();
  const config = { ...durableConfig(dir.path), taskStore: undefined };
  {
    const app = await createApp(config, { service: streamingService(true) });
    const { server, url } = serve(app);
    const events = await fetch(`${url}/events`);
    const read = events.text();
    equal(await app.shutdown(server), 0);
    equal(await read, "data: hello\n\n", "the stream ended");
  }
  equal(logs.records.some(({ level }) => level === "warning"), false);

  // A stream that never ends holds the listener until the deadline (a second signal here).
  const app = await createApp(config, { service: streamingService(false) });
  const { server, url } = serve(app);
  const events = await fetch(`${url}/events`);
  const reader = events.body!.getReader();
  await reader.read();
  const closing = Promise.withResolvers<void>();
  const gaveUp = new AbortController();
  const exit = app.shutdown({
    shutdown: () => {
      closing.resolve();
      return server.shutdown();
    },
  }, { signal: gaveUp.signal });
  await closing.promise;
  gaveUp.abort();
  equal(await exit, 0, "no task was lost");
  match(
    logs.records.map((record) => String(record.message.join(""))).join("\n"),
    /Responses still open at the shutdown deadline \(a stream that does not end/,
  );
  await reader.cancel();
  await server.finished;
});
