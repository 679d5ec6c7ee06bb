import { deepEqual, equal, throws } from "node:assert/strict";
import { HttpError, matchRoute, route } from "../lib/mod.ts";

const ok = (): Response => new Response("ok");
const routes = [
  route("POST", "/send-notification/:email", ok),
  route("GET", "/tasks/:id", ok),
  route("DELETE", "/tasks/:id", ok),
];

Deno.test("matchRoute() returns the route and its parameters", () => {
  const request = new Request("http://x/send-notification/a%40b.c?x=1", { method: "POST" });
  const { route: found, params } = matchRoute(routes, request);
  equal(found, routes[0]);
  deepEqual({ ...params }, { email: "a%40b.c" });
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
});

Deno.test("matchRoute() throws 405 with Allow listing every method of the path", () => {
  try {
    matchRoute(routes, new Request("http://x/tasks/1", { method: "PUT" }));
    throw new Error("expected a 405");
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    equal(error.status, 405);
    equal(error.code, "method_not_allowed");
    deepEqual(error.headers, { allow: "GET, DELETE" });
  }
});
