/**
 * Operational routes: health, task status and metrics.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { GroupStatus } from "./task_status.ts";
import { abortable, type WaitOptions } from "./abortable.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Awaitable } from "./task_store.ts";
import { echoed } from "./_echoed.ts";
import { HttpError } from "./http_error.ts";
import type { StructuredLogger } from "./logging.ts";
import type { Metrics } from "./metrics.ts";
import { type Route, route } from "./router.ts";

/**
 * What {@linkcode opsRoutes} reads.
 *
 * @example Health while the journal is away
 * ```ts
 * import { matchRoute, Metrics, opsRoutes, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const routes = opsRoutes({
 *   draining: () => false,
 *   status: () => undefined,
 *   metrics: new Metrics(new TaskRunner()),
 *   journalHealth: () => Promise.resolve(false),
 * });
 * const request = new Request("http://x/healthz");
 * const { route, params } = matchRoute(routes, request);
 * const response = await route.handler(request, { params, group: new TaskGroup() });
 * deepEqual([response.status, await response.json()], [503, { status: "journal_unavailable" }]);
 * ```
 */
export interface OpsOptions {
  /** Whether shutdown has begun: health answers 503 then. */
  draining: () => boolean;
  /**
   * Finds a group's status by id (the registry, then the journal, which may
   * answer later); `signal` aborts when the client goes away, or after
   * `statusTimeoutMs`.
   */
  status: (id: string, options: WaitOptions) => Awaitable<GroupStatus | undefined>;
  /** What `/metrics` renders. */
  metrics: Metrics;
  /**
   * Whether the durable journal takes commits (see `SqliteTaskStore.health`):
   * health answers 503 `journal_unavailable` while it does not.
   * @default {no journal}
   */
  journalHealth?: (() => Promise<boolean>) | undefined;
  /**
   * Where a journal read that failed is logged (it is answered 503
   * `journal_unavailable`, as a failed commit is).
   * @default {getLogger(["posthaste", "journal"])}
   */
  logger?: StructuredLogger;
  /**
   * Milliseconds a status read may take: then `status`'s signal aborts (a
   * database that hangs, on a lock or a dead network, must not hold the
   * request) and the answer is 503 `journal_unavailable`.
   * @default {5000}
   */
  statusTimeoutMs?: number;
  /**
   * Milliseconds `journalHealth` may take before health answers 503
   * `journal_unavailable`: a probe commit takes milliseconds, and a load
   * balancer's check gives up soon (Kubernetes' after 1 s by default).
   * @default {1000}
   */
  healthTimeoutMs?: number;
  /**
   * Times `statusTimeoutMs` and `healthTimeoutMs`.
   * @default {systemClock}
   */
  clock?: Clock;
}

/**
 * `GET /healthz` (200 `ok`, 503 `draining` or `journal_unavailable`: for a
 * load balancer or a readiness probe), `GET /livez` (200 `alive` while the
 * process serves, draining or not: for a liveness probe), `GET /tasks/:id`
 * (the group's status, 404 if unknown; the id percent-decoded, a UUID in
 * either case) and `GET /metrics` (Prometheus text).
 *
 * @param options The drain flag, the status lookup and the metrics.
 * @returns The routes.
 *
 * @example Health, status and metrics routes
 * ```ts
 * import { Metrics, opsRoutes, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const runner = new TaskRunner();
 * const routes = opsRoutes({
 *   draining: () => false,
 *   status: () => undefined,
 *   metrics: new Metrics(runner),
 * });
 * equal(routes.map((r) => r.pattern.pathname).join(" "), "/healthz /tasks/:id /metrics /livez");
 * ```
 */
export function opsRoutes(options: OpsOptions): Route[] {
  const { draining, status, metrics, journalHealth } = options;
  const { logger = getLogger(["posthaste", "journal"]), statusTimeoutMs = 5_000 } = options;
  const { clock = systemClock, healthTimeoutMs = 1_000 } = options;
  const find = async (id: string, gone: AbortSignal): Promise<GroupStatus | undefined> => {
    using late = deadline(clock, statusTimeoutMs);
    try {
      return await status(id, { signal: AbortSignal.any([gone, late.signal]) });
    } catch (error) {
      if (gone.aborted) {
        // Nobody reads this answer; nginx's 499 keeps the metrics honest.
        throw new HttpError(499, "client_closed_request", "Cannot answer: the client went away");
      }
      // A database that is away, or a failing disk: not a bug (500), and worth a retry.
      logger.error("Cannot read task group {groupId} from the journal: {error}", {
        groupId: id,
        error: late.signal.aborted ? late.signal.reason.message : error,
      });
      // createHandler adds its Retry-After.
      throw new HttpError(
        503,
        "journal_unavailable",
        "Cannot read task group status: the task journal failed",
      );
    }
  };
  const health = (state: string): Response =>
    Response.json({ status: state }, { status: state === "ok" ? 200 : 503, headers: NO_STORE });
  return [
    route("GET", "/healthz", async () => {
      if (draining()) return health("draining");
      if (journalHealth === undefined) return health("ok");
      // A probe of a journal that does not answer must not hold the load balancer's check.
      using late = deadline(clock, healthTimeoutMs);
      const ok = await abortable(journalHealth(), late.signal).catch((error) => {
        if (late.signal.aborted) return false;
        throw error;
      });
      return health(ok ? "ok" : "journal_unavailable");
    }),
    route("GET", "/tasks/:id", async (request, { params }) => {
      const { id } = params; // percent-decoded: a group's own id may hold any character
      // No journal holds a NUL (PostgreSQL's text refuses it, failing the read): unknown.
      let found = id.includes("\0") ? undefined : await find(id, request.signal);
      // UUIDs are case-insensitive on input (RFC 9562), and the ids made here
      // are lower case: an id copied from a client that writes them upper case.
      const lower = id.toLowerCase();
      if (found === undefined && lower !== id && UUID.test(id)) {
        found = await find(lower, request.signal);
      }
      if (found === undefined) {
        throw new HttpError(
          404,
          "not_found",
          `No task group ${JSON.stringify(echoed(id))} is known`,
          NO_STORE, // the group may be accepted a moment later
        );
      }
      return Response.json(found, { headers: NO_STORE });
    }),
    route("GET", "/metrics", () =>
      new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", ...NO_STORE },
      })),
    // A drain or a journal outage is no reason to restart the process: a
    // liveness probe on /healthz would kill a server in the middle of its drain.
    route("GET", "/livez", () => Response.json({ status: "alive" }, { headers: NO_STORE })),
  ];
}

// Every answer here is of this moment: a cache in front (Varnish caches a 200
// or 404 without Cache-Control for 2 minutes) would show a task queued long
// after it ran, or a server healthy after its drain began.
const NO_STORE = { "cache-control": "no-store" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A signal that aborts with a TimeoutError `ms` from now on `clock`; disposing cancels it. */
function deadline(clock: Pick<Clock, "setTimeout" | "clearTimeout">, ms: number) {
  const late = new AbortController();
  const timer = clock.setTimeout(
    () => late.abort(new DOMException(`No answer within ${ms} ms`, "TimeoutError")),
    ms,
  );
  return { signal: late.signal, [Symbol.dispose]: () => clock.clearTimeout(timer) };
}
