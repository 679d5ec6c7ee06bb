/**
 * Routes as data: method, URLPattern and handler.
 *
 * @module
 */
import { echoed } from "./_echoed.ts";
import { HttpError } from "./http_error.ts";
import type { PathParams, RouteParams } from "./path_params.ts";
import type { TaskGroup } from "./task_group.ts";

/**
 * What a route handler receives besides the request.
 *
 * @example A handler that leaves a task behind
 * ```ts
 * import { matchRoute, type PathParams, route, type RouteContext, TaskGroup } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const greeted: string[] = [];
 * type Greet = RouteContext<PathParams<"/greet/:name">>;
 * const greet = (_request: Request, { params, group }: Greet) => {
 *   group.add((name: string) => void greeted.push(name), params.name); // a string
 *   return new Response(null, { status: 202 });
 * };
 * const routes = [route("POST", "/greet/:name", greet)];
 * const request = new Request("http://x/greet/ada", { method: "POST" });
 * const { route: found, params } = matchRoute(routes, request);
 * const group = new TaskGroup();
 * equal((await found.handler(request, { params, group })).status, 202);
 * equal(group.size, 1);
 * ```
 */
export interface RouteContext<Params extends RouteParams = RouteParams> {
  /**
   * The pattern's named groups, percent-decoded (`j%C3%B6rg` is `jörg`; one
   * that is not valid percent-encoding, `50%off`, as written); typed by the
   * pattern when `route()` is given it as a literal (see {@linkcode PathParams}).
   */
  readonly params: Params;
  /** Tasks added here run after the response is delivered. */
  readonly group: TaskGroup;
}

/**
 * Answers one request.
 *
 * @example An asynchronous handler
 * ```ts
 * import type { RouteHandler } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const echo: RouteHandler = async (request) => new Response(await request.text());
 * const request = new Request("http://x/echo", { method: "POST", body: "hi" });
 * const response = await echo(request, { params: {}, group: undefined as never });
 * equal(await response.text(), "hi");
 * ```
 */
export type RouteHandler<Params extends RouteParams = RouteParams> = (
  request: Request,
  context: RouteContext<Params>,
) => Response | Promise<Response>;

/**
 * One entry of the route table.
 *
 * @example A route table as data
 * ```ts
 * import { matchRoute, type Route, route } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const routes: Route[] = [
 *   route("GET", "/healthz", () => new Response("ok")),
 *   { method: "GET", pattern: new URLPattern({ pathname: "/v1/*" }), handler: () => new Response() },
 * ];
 * equal(matchRoute(routes, new Request("http://x/v1/items")).route, routes[1]);
 * ```
 */
export interface Route {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** What the URL must match. */
  readonly pattern: URLPattern;
  /** Answers matching requests. */
  readonly handler: RouteHandler;
}

/**
 * What {@linkcode matchRoute} found.
 *
 * @example A match's parameters, percent-decoded
 * ```ts
 * import { matchRoute, route, type RouteMatch } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const routes = [route("GET", "/users/:name", () => new Response())];
 * const match: RouteMatch = matchRoute(routes, new Request("http://x/users/j%C3%B6rg"));
 * equal(match.params.name, "jörg");
 * equal(matchRoute(routes, new Request("http://x/users/50%off")).params.name, "50%off");
 * ```
 */
export type RouteMatch = {
  readonly route: Route;
  readonly params: RouteParams;
};

/**
 * Makes a route for a pathname pattern such as `/send-notification/:email`.
 *
 * The handler's `params` are typed by the pattern: `params.name` is a
 * `string` for `"/hello/:name"`, `string | undefined` for `"/hello/:name?"`.
 *
 * @typeParam P The pathname, as a literal type where it is one.
 * @param method The HTTP method.
 * @param pathname A URLPattern pathname.
 * @param handler Answers matching requests.
 * @returns The route.
 * @throws {TypeError} If the pathname is not a URLPattern, or starts with a
 * literal other than `/`, which no URL's path does: it would never match.
 *
 * @example A route with a parameter
 * ```ts
 * import { route } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const hello = route("GET", "/hello/:name", (_request, { params }) => {
 *   return new Response(`hi ${params.name.toUpperCase()}`); // a string: no `?? ""`
 * });
 * equal(hello.pattern.test("http://localhost/hello/ada"), true);
 * ```
 */
export function route<P extends string>(
  method: string,
  pathname: P,
  handler: RouteHandler<PathParams<P>>,
): Route {
  // "healthz" for "/healthz" would answer 404 for good, with nothing said.
  if (/^[\w.~-]/.test(pathname)) {
    throw new TypeError(`Cannot make route ${method} ${pathname}: a pathname starts with "/"`);
  }
  // The table matches a route's pattern before its handler runs, so the
  // names the pattern requires are there.
  const general = handler as RouteHandler;
  return { method: method.toUpperCase(), pattern: new URLPattern({ pathname }), handler: general };
}

// URLPattern.exec keeps a cache keyed by its input, and under load every URL
// is new (an email per request), so each lookup misses: measured, it halves a
// server's request rate. Patterns made only of literal segments and `:name`
// parameters are compiled to a RegExp over the raw path instead; any path
// that URL parsing could change (dot segments, `%2e`, unusual characters)
// still goes through URLPattern, so results are the same either way.
interface Compiled {
  readonly route: Route;
  readonly regex: RegExp | undefined;
  readonly names: readonly string[];
}

const LITERAL = /^[A-Za-z0-9\-._~!$&',;=@]*$/;
const PARAM = /^:([A-Za-z_$][\w$]*)$/;
const SAFE_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)|%2e/i;
const compiledTables = new WeakMap<readonly Route[], readonly Compiled[]>();

function compile(route: Route): Compiled {
  const { pattern } = route;
  const others = [pattern.protocol, pattern.username, pattern.password, pattern.hostname];
  if ([...others, pattern.port, pattern.search, pattern.hash].some((part) => part !== "*")) {
    return { route, regex: undefined, names: [] };
  }
  const names: string[] = [];
  let source = "^";
  for (const segment of pattern.pathname.split("/").slice(1)) {
    const param = PARAM.exec(segment);
    if (param) {
      names.push(param[1] as string);
      source += "/([^/]+)";
    } else if (LITERAL.test(segment)) {
      source += "/" + segment.replace(/[.$]/g, "\\$&");
    } else {
      return { route, regex: undefined, names: [] };
    }
  }
  return { route, regex: new RegExp(source + "$"), names };
}

/**
 * Whether `table` still holds `routes`: a table compiled before a route was
 * pushed served 404s for it. A look per route, a few nanoseconds a request.
 */
function compiledFrom(table: readonly Compiled[], routes: readonly Route[]): boolean {
  if (table.length !== routes.length) return false;
  for (let i = 0; i < routes.length; i++) if (table[i]?.route !== routes[i]) return false;
  return true;
}

function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? url.length : query);
}

/**
 * Finds the first route whose pattern and method match the request. The
 * route table is compiled on first use, and again once it has changed (a
 * route added, removed or replaced).
 *
 * @param routes The route table, in priority order.
 * @param request The request.
 * @returns The route and its parameters.
 * @throws {HttpError} 404 `not_found` if no pattern matches; 405
 * `method_not_allowed` with an `Allow` header (each method once, HEAD beside
 * GET) if only the method differs.
 *
 * @example Matching, and a method that does not
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
  let table = compiledTables.get(routes);
  if (table === undefined || !compiledFrom(table, routes)) {
    table = routes.map(compile);
    compiledTables.set(routes, table);
  }
  const path = rawPath(url);
  const fast = SAFE_PATH.test(path) && !DOT_SEGMENT.test(path);
  let allow: Set<string> | undefined;
  for (const { route: candidate, regex, names } of table) {
    let params: Record<string, string | undefined>;
    if (fast && regex !== undefined) {
      const match = regex.exec(path);
      if (match === null) continue;
      params = {};
      for (let i = 0; i < names.length; i++) params[names[i] as string] = decoded(match[i + 1]);
    } else {
      const match = candidate.pattern.exec(url);
      if (match === null) continue;
      // A copy: the result may be URLPattern's cached one, which must stay as it is.
      params = {};
      for (const [name, value] of Object.entries(match.pathname.groups)) {
        params[name] = decoded(value);
      }
    }
    if (candidate.method === method || (method === "HEAD" && candidate.method === "GET")) {
      return { route: candidate, params };
    }
    allow ??= new Set();
    allow.add(candidate.method);
    if (candidate.method === "GET") allow.add("HEAD"); // answered as GET, above
  }
  if (allow === undefined) throw notFound(table, path, url);
  const methods = [...allow].join(", ");
  throw new HttpError(
    405,
    "method_not_allowed",
    `Method ${method} is not allowed here; use ${methods}`,
    { allow: methods },
  );
}

/**
 * A parameter percent-decoded, as a handler expects it (an email sent as
 * `ada%40example.com`, a name with a space); one that is not valid
 * percent-encoding (`50%off`) was not encoded: as written. Decoded even with
 * no `%` in it, for the copy: the match is a slice of the request's URL, and
 * a task that keeps a parameter would keep the whole URL with it (an email
 * kept 121 B of heap as a slice, 49 B as a copy: with 100,000 tasks pending,
 * 7 MB more for every scavenge to trace).
 */
function decoded(value: string | undefined): string | undefined {
  if (value === undefined) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * 404, saying so when the path without its trailing slash has a route (a
 * client that adds one gets told why, not only that nothing is there).
 */
function notFound(table: readonly Compiled[], path: string, url: string): HttpError {
  const trimmed = path.replace(/\/+$/, "");
  let hint = "";
  if (trimmed !== path && trimmed !== "") {
    const without = new URL(url);
    without.pathname = trimmed;
    if (table.some(({ route }) => route.pattern.test(without))) {
      hint = `; ${echoed(trimmed)}, without the trailing slash, has one`;
    }
  }
  return new HttpError(404, "not_found", `No route for ${echoed(path)}${hint}`);
}
