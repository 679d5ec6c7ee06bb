import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { HttpError, matchRoute, type Route, route } from "../lib/mod.ts";

const ok = (): Response => new Response("ok");
const routes = [
  route("POST", "/send-notification/:email", ok),
  route("GET", "/tasks/:id", ok),
  route("DELETE", "/tasks/:id", ok),
];

Deno.test("matchRoute() returns the route and its parameters, percent-decoded", () => {
  const request = new Request("http://x/send-notification/a%40b.c?x=1", { method: "POST" });
  const { route: found, params } = matchRoute(routes, request);
  equal(found, routes[0]);
  deepEqual({ ...params }, { email: "a@b.c" });
  // Not percent-encoding: as written. Through URLPattern too (a path it alone matches).
  const get = (path: string) => ({ ...matchRoute(routes, new Request(`http://x${path}`)).params });
  deepEqual(get("/tasks/50%off"), { id: "50%off" });
  deepEqual(get("/tasks/%E2%82%AC%20%25"), { id: "€ %" });
  deepEqual(get("/tasks/a%20b%22c"), { id: 'a b"c' });
  deepEqual(get("/tasks/a|b%20c"), { id: "a|b c" }, "a path only URLPattern's branch takes");
});

Deno.test("property: a parameter is the text its client percent-encoded, whatever it holds", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }), (text) => {
      fc.pre(text !== "." && text !== ".."); // dot segments: URL parsing removes them
      const request = new Request(`http://x/tasks/${encodeURIComponent(text)}`);
      equal(matchRoute(routes, request).params.id, text);
    }),
    { numRuns: 1_000 },
  );
});

Deno.test("matchRoute() answers HEAD with the GET route", () => {
  equal(matchRoute(routes, new Request("http://x/tasks/1", { method: "HEAD" })).route, routes[1]);
});

Deno.test("matchRoute() throws 404 for unknown paths, including dot-dot segments", () => {
  for (const path of ["/nope", "/send-notification/%2e%2e", "/send-notification/%2E%2E/", "/"]) {
    throws(() => matchRoute(routes, new Request(`http://x${path}`, { method: "POST" })), {
      status: 404,
      code: "not_found",
    });
  }
  // The path is echoed cut to 100 characters: before, a 3,000-character one came back whole.
  const long = `/${"x".repeat(3_000)}`;
  throws(() => matchRoute(routes, new Request(`http://x${long}`)), {
    message: `No route for ${long.slice(0, 100)}…`,
  });
});

Deno.test("matchRoute()'s 404 for a trailing slash names the path without it, when that has a route", () => {
  throws(() => matchRoute(routes, new Request("http://x/tasks/7/", { method: "DELETE" })), {
    status: 404,
    message: "No route for /tasks/7/; /tasks/7, without the trailing slash, has one",
  });
  for (const path of ["/nope/", "/send-notification/", "//"]) {
    throws(() => matchRoute(routes, new Request(`http://x${path}`, { method: "POST" })), {
      message: `No route for ${path}`,
    });
  }
});

Deno.test("matchRoute() throws 405 with Allow listing every method of the path once, HEAD beside GET", () => {
  try {
    matchRoute(routes, new Request("http://x/tasks/1", { method: "PUT" }));
    throw new Error("expected a 405");
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    equal(error.status, 405);
    equal(error.code, "method_not_allowed");
    deepEqual(error.headers, { allow: "GET, HEAD, DELETE" });
  }
  const twice = [route("POST", "/a/:id", ok), route("POST", "/a/:name", ok)];
  throws(() => matchRoute(twice, new Request("http://x/a/1")), { headers: { allow: "POST" } });
});

Deno.test("route() refuses a pathname that starts with a literal other than /: it would never match", () => {
  throws(() => route("GET", "healthz", ok), {
    name: "TypeError",
    message: 'Cannot make route GET healthz: a pathname starts with "/"',
  });
  for (const pathname of ["/healthz", "*", "(.*)", "{/:x}?"]) route("GET", pathname, ok);
});

Deno.test("matchRoute() serves a route added, removed or replaced after the table was first used", () => {
  const table: Route[] = [route("GET", "/a", ok)];
  const get = (path: string) => matchRoute(table, new Request(`http://x${path}`)).route;
  equal(get("/a"), table[0]); // compiled now
  table.push(route("GET", "/b", ok));
  equal(get("/b"), table[1], "added");
  const replaced = route("GET", "/c", ok);
  table[0] = replaced;
  equal(get("/c"), replaced, "replaced");
  throws(() => get("/a"), { status: 404 });
  table.pop();
  throws(() => get("/b"), { status: 404 }, "removed");
});

Deno.test("matchRoute(): patterns the fast path cannot compile are matched by URLPattern", () => {
  const table: Route[] = [
    route("GET", "/users/:id(\\d+)", ok),
    route("GET", "/files/*", ok),
    { method: "GET", pattern: new URLPattern({ hostname: "admin.*", pathname: "/" }), handler: ok },
  ];
  const get = (url: string) => matchRoute(table, new Request(url));
  deepEqual({ ...get("http://x/users/42").params }, { id: "42" });
  throws(() => get("http://x/users/ada"), { status: 404 });
  deepEqual({ ...get("http://x/files/a/b.txt").params }, { 0: "a/b.txt" });
  equal(get("http://admin.example.com/").route, table[2]);
  throws(() => get("http://www.example.com/"), { status: 404 });
});

Deno.test("property: the compiled fast path matches exactly what URLPattern matches", () => {
  const table = [
    route("POST", "/send-notification/:email", ok),
    route("GET", "/tasks/:id/attempts/:n", ok),
    route("GET", "/healthz", ok),
  ];
  const segment = fc.oneof(
    fc.constantFrom(
      "send-notification",
      "tasks",
      "attempts",
      "healthz",
      ".",
      "..",
      "%2e%2E",
      "",
      "a.b",
    ),
    fc.string({ unit: "grapheme-ascii", maxLength: 12 }).map((s) => s.replace(/[?#]/g, "")),
    fc.string({ maxLength: 6 }).map((s) => encodeURIComponent(s)),
  );
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 5 }), (segments) => {
      const url = `http://127.0.0.1:8000/${segments.join("/")}?q=1`;
      let request: Request;
      try {
        request = new Request(url, { method: "GET" });
      } catch {
        return; // not a URL at all
      }
      const viaPattern = table.find((r) => r.pattern.test(url));
      let viaRouter: Route | undefined;
      let params: Record<string, string | undefined> = {};
      try {
        const found = matchRoute(table, request);
        viaRouter = found.route;
        params = { ...found.params };
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        if (error.status === 405) viaRouter = table.find((r) => r.pattern.test(url));
      }
      equal(viaRouter, viaPattern, url);
      if (viaRouter && viaRouter.method === "GET") {
        const groups = viaRouter.pattern.exec(url)?.pathname.groups ?? {};
        deepEqual(params, Object.fromEntries(Object.entries(groups).map(decoded)), url);
      }
    }),
    { numRuns: 2_000 },
  );
});

/** A group of URLPattern's, as the router gives it: decoded, unless not percent-encoding. */
function decoded([name, value]: [string, string | undefined]): [string, string | undefined] {
  try {
    return [name, value === undefined ? value : decodeURIComponent(value)];
  } catch {
    return [name, value];
  }
}
