/**
 * Routes as data: method, URLPattern and handler.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";
import type { TaskGroup } from "./task_group.ts";

/** What a route handler receives besides the request. */
export interface RouteContext {
  /** The pattern's named groups, still percent-encoded. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Tasks added here run after the response is delivered. */
  readonly group: TaskGroup;
}

/** Answers one request. */
export type RouteHandler = (
  request: Request,
  context: RouteContext,
) => Response | Promise<Response>;

/** One entry of the route table. */
export interface Route {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** What the URL must match. */
  readonly pattern: URLPattern;
  /** Answers matching requests. */
  readonly handler: RouteHandler;
}

/** What {@linkcode matchRoute} found. */
export type RouteMatch = {
  readonly route: Route;
  readonly params: Readonly<Record<string, string | undefined>>;
};

/**
 * Makes a route for a pathname pattern such as `/send-notification/:email`.
 *
 * @param method The HTTP method.
 * @param pathname A URLPattern pathname.
 * @param handler Answers matching requests.
 * @returns The route.
 *
 * @example
 * ```ts
 * import { route } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const hello = route("GET", "/hello/:name", () => new Response("hi"));
 * equal(hello.pattern.test("http://localhost/hello/ada"), true);
 * ```
 */
export function route(method: string, pathname: string, handler: RouteHandler): Route {
  return { method: method.toUpperCase(), pattern: new URLPattern({ pathname }), handler };
}

/**
 * Finds the first route whose pattern and method match the request.
 *
 * @param routes The route table, in priority order.
 * @param request The request.
 * @returns The route and its parameters.
 * @throws {HttpError} 404 `not_found` if no pattern matches; 405
 * `method_not_allowed` with an `Allow` header if only the method differs.
 *
 * @example
 * ```ts
 * import { HttpError, matchRoute, route } from "./mod.ts";
 * import { equal, throws } from "node:assert/strict";
 *
 * const routes = [route("POST", "/items/:id", () => new Response())];
 * equal(matchRoute(routes, new Request("http://x/items/7", { method: "POST" })).params.id, "7");
 * throws(() => matchRoute(routes, new Request("http://x/items/7")), HttpError);
 * ```
 */
export function matchRoute(routes: readonly Route[], request: Request): RouteMatch {
  const { method, url } = request;
  let allow: string[] | undefined;
  for (const candidate of routes) {
    const match = candidate.pattern.exec(url);
    if (match === null) continue;
    if (candidate.method === method || (method === "HEAD" && candidate.method === "GET")) {
      return { route: candidate, params: match.pathname.groups };
    }
    (allow ??= []).push(candidate.method);
  }
  if (allow === undefined) {
    throw new HttpError(404, "not_found", `No route for ${new URL(url).pathname}`);
  }
  throw new HttpError(
    405,
    "method_not_allowed",
    `Method ${method} is not allowed here; use ${allow.join(", ")}`,
    { allow: allow.join(", ") },
  );
}
