/**
 * Operational routes: health, task status and metrics.
 *
 * @module
 */
import type { GroupRegistry } from "./group_registry.ts";
import { HttpError } from "./http_error.ts";
import type { Metrics } from "./metrics.ts";
import { type Route, route } from "./router.ts";

/** What {@linkcode opsRoutes} reads. */
export interface OpsOptions {
  /** Whether shutdown has begun: health answers 503 then. */
  draining: () => boolean;
  /** Where task groups are found by id. */
  registry: GroupRegistry;
  /** What `/metrics` renders. */
  metrics: Metrics;
}

/**
 * `GET /healthz` (200 `ok`, 503 `draining`), `GET /tasks/:id` (the group's
 * status, 404 if unknown) and `GET /metrics` (Prometheus text).
 *
 * @param options The drain flag, the registry and the metrics.
 * @returns The routes.
 *
 * @example
 * ```ts
 * import { GroupRegistry, Metrics, opsRoutes, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const runner = new TaskRunner();
 * const routes = opsRoutes({
 *   draining: () => false,
 *   registry: new GroupRegistry(),
 *   metrics: new Metrics(runner),
 * });
 * equal(routes.map((r) => r.pattern.pathname).join(" "), "/healthz /tasks/:id /metrics");
 * ```
 */
export function opsRoutes(options: OpsOptions): Route[] {
  const { draining, registry, metrics } = options;
  return [
    route(
      "GET",
      "/healthz",
      () =>
        draining()
          ? Response.json({ status: "draining" }, { status: 503 })
          : Response.json({ status: "ok" }),
    ),
    route("GET", "/tasks/:id", (_request, { params }) => {
      const id = params.id ?? "";
      const group = registry.get(id);
      if (group === undefined) {
        throw new HttpError(404, "not_found", `No task group ${JSON.stringify(id)} is known`);
      }
      return Response.json(group);
    }),
    route("GET", "/metrics", () =>
      new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      })),
  ];
}
