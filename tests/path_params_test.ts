import { deepEqual, equal } from "node:assert/strict";
import { matchRoute, type PathParams, route, TaskGroup } from "../lib/mod.ts";

/** True if A and B are the same type; checked by `deno check`, not at run time. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
type Param<P extends string, K extends string> = PathParams<P>[K];
type Maybe = string | undefined;

// Each entry fails `deno check` if PathParams types that parameter otherwise.
const typed: [
  Same<Param<"/send-notification/:email", "email">, string>,
  Same<Param<"/a/:x/b/:y", "x" | "y">, string>,
  Same<Param<"/a/:x?", "x">, Maybe>,
  Same<Param<"/a/:x*", "x">, Maybe>,
  Same<Param<"/a/:x+", "x">, string>,
  Same<Param<"/a/:x(\\d+)", "x">, string>,
  Same<Param<"/a/:x(\\d+)?", "x">, Maybe>,
  Same<Param<"/a/:$x", "$x">, string>,
  Same<Param<"/a/:x", "other">, Maybe>, // any other name: maybe missing
  // Not taken apart: every key maybe missing.
  Same<Param<"/a/:file.json", "file" | "file.json">, Maybe>,
  Same<Param<"/a/:a-:b", "a" | "b">, Maybe>,
  Same<Param<"/a{/:x}", "x">, Maybe>,
  Same<Param<"/a/\\:x", "x">, Maybe>,
  Same<Param<"/a/(\\d+:\\d+)", "\\d+)">, Maybe>, // a ":" inside an unnamed group names nothing
  Same<Param<string, "x">, Maybe>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];

Deno.test("PathParams: a route's handler gets each parameter its pattern names, typed by its modifier", async () => {
  equal(typed.length, 15);
  const seen: { dir: string; name: string | undefined }[] = [];
  const routes = [
    route("GET", "/files/:dir/:name?", (_request, { params }) => {
      seen.push({ dir: params.dir.toUpperCase(), name: params.name });
      return new Response();
    }),
  ];
  for (const url of ["http://x/files/docs/a.txt", "http://x/files/docs"]) {
    const request = new Request(url);
    const { route: found, params } = matchRoute(routes, request);
    await found.handler(request, { params, group: new TaskGroup() });
  }
  deepEqual(seen, [{ dir: "DOCS", name: "a.txt" }, { dir: "DOCS", name: undefined }]);
});
