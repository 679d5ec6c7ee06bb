/**
 * The request handler: route, run the handler, hand its tasks to the runner.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { context } from "@opentelemetry/api";
import type { StructuredLogger } from "./logging.ts";
import { IntervalGate } from "./_interval_gate.ts";
import { readable } from "./_thrown.ts";
import { AdmissionError } from "./admission_error.ts";
import { type Clock, systemClock } from "./clock.ts";
import { DuplicateGroupError } from "./duplicate_group_error.ts";
import { HttpError } from "./http_error.ts";
import { idempotentGroupId } from "./idempotency_key.ts";
import { Replays } from "./_replays.ts";
import { matchRoute, type Route, type RouteMatch } from "./router.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskStore } from "./task_store.ts";
import { TaskGroup } from "./task_group.ts";

const JOURNAL_FAILED = [
  "journal_unavailable",
  "Cannot accept tasks: the task journal failed",
] as const;

/**
 * Options for {@linkcode createHandler}.
 *
 * @example Refusing new work while shutting down
 * ```ts
 * import { createHandler, route, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * const handler = createHandler({
 *   runner,
 *   routes: [route("POST", "/work", (_request, { group }) => {
 *     group.add(() => {});
 *     return new Response(null, { status: 202 });
 *   })],
 *   accepting: () => false,
 *   retryAfter: 5,
 * });
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/work`, { method: "POST" });
 * deepEqual(
 *   [response.status, response.headers.get("retry-after"), (await response.json()).error],
 *   [503, "5", "shutting_down"],
 * );
 * ```
 */
export interface HandlerOptions {
  /** The route table; routes added to it later are served too. */
  routes: readonly Route[];
  /** Runs each request's tasks after its response is delivered. */
  runner: TaskRunner;
  /** Where handler bugs are logged. @default {getLogger(["posthaste", "http"])} */
  logger?: StructuredLogger;
  /**
   * Seconds a client should wait after a 503: the `Retry-After` of the
   * handler's own 503s and of a route's that sets none. @default {1}
   */
  retryAfter?: number;
  /**
   * Called once per answered request with the matched route's pattern (or
   * `unmatched`) and the status, e.g. for metrics.
   * @default {nothing}
   */
  onResponse?: (route: string, status: number) => void;
  /**
   * Whether new work is accepted. A request that arrives while this is false
   * and adds tasks is answered 503 `shutting_down`; requests that arrived
   * before still have their tasks accepted.
   * @default {always true}
   */
  accepting?: () => boolean;
  /**
   * A durable journal: the response is sent only once the group is committed
   * to it; if the commit fails the answer is 503 `journal_unavailable` and
   * none of the tasks runs. Such refusals are logged at most once a second,
   * with how many went unlogged since: a journal that is away refuses every
   * request, and a line each would flood the log (onto the full disk, maybe).
   * @default {none (memory only)}
   */
  journal?: Pick<TaskStore, "enqueue"> | undefined;
  /** Times the once-a-second log of journal refusals. @default {systemClock} */
  clock?: Pick<Clock, "now">;
  /**
   * Whether a group id is known as accepted (unfinished, or finished and
   * still kept): a request with an `Idempotency-Key` whose group
   * ({@linkcode idempotentGroupId}) this finds, or the journal holds, gets
   * the route's response again, marked `Idempotent-Replayed: true`, and its
   * tasks are not added again. A repeat that arrives while the first is
   * being journaled waits for that commit.
   * @default {no id is known: only the journal and commits on their way tell}
   */
  accepted?: (id: string) => boolean;
  /** Called for each replayed answer, e.g. for metrics. @default {nothing} */
  onReplay?: () => void;
}

/**
 * Makes the `Deno.serve` handler. Each request gets a fresh
 * {@linkcode TaskGroup}; once the route handler returned its response, the
 * group is offered to the runner (all of it or nothing: a full backlog turns
 * the answer into 503 with `Retry-After`) and starts when
 * `info.completed` settles, so no task delays the response. Handler
 * exceptions answer 500 `internal_error` with no stack to the client, and the
 * group of a failed request is dropped.
 *
 * @param options Routes, runner and logger.
 * @returns A handler for `Deno.serve`.
 *
 * @example Answering with a real server
 * ```ts
 * import { createHandler, route, TaskRunner } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * await using runner = new TaskRunner();
 * let ran = false;
 * const handler = createHandler({
 *   runner,
 *   routes: [route("POST", "/work", (_request, { group }) => {
 *     group.add(() => { ran = true; });
 *     return new Response(null, { status: 202 });
 *   })],
 * });
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/work`, { method: "POST" });
 * equal(response.status, 202);
 * await runner.idle();
 * equal(ran, true);
 * ```
 */
export function createHandler(options: HandlerOptions): Deno.ServeHandler {
  const {
    routes,
    runner,
    logger = getLogger(["posthaste", "http"]),
    retryAfter = 1,
    onResponse = () => {},
    accepting = () => true,
    journal,
    clock = systemClock,
    accepted = () => false,
    onReplay = () => {},
  } = options;
  const refusalLog = new IntervalGate(1_000, clock);
  const replays = new Replays(accepted, onReplay);

  const fail = (thrown: unknown, request: Request, group: TaskGroup | undefined): Response => {
    // A revoked Proxy thrown would throw again at `instanceof`, past this answer.
    const error = readable(thrown);
    if (error instanceof HttpError) {
      // One setting for every 503, a route's as well as the handler's own.
      if (error.status !== 503 || new Headers(error.headers).has("retry-after")) {
        return error.toResponse();
      }
      const { code, message, headers } = error;
      return new HttpError(503, code, message, { ...headers, "retry-after": String(retryAfter) })
        .toResponse();
    }
    logger.error("Handler failed for {method} {url} (request {requestId}): {error}", {
      method: request.method,
      url: request.url,
      requestId: group?.id,
      error,
      stack: error instanceof Error ? error.stack : undefined,
    });
    return new HttpError(500, "internal_error", "The server failed to handle the request")
      .toResponse();
  };

  const refuse = (code: string, detail: string): Response =>
    new HttpError(503, code, detail, { "retry-after": String(retryAfter) }).toResponse();

  const admit = (
    response: Response,
    group: TaskGroup,
    info: Deno.ServeHandlerInfo,
    arrivedAccepting: boolean,
    keyed: boolean,
  ): Response | Promise<Response> => {
    if (group.size === 0) return response;
    // A repeat is no new work: replayed while draining or with a full backlog too.
    const repeat = keyed && replays.repeats(group.id);
    if (repeat === true) return replays.replay(response);
    if (repeat !== false) {
      // The first is being journaled: as it goes, so goes this one.
      return repeat.then((ok) => ok ? replays.replay(response) : refuse(...JOURNAL_FAILED));
    }
    if (!arrivedAccepting) {
      return refuse("shutting_down", "Cannot accept tasks: server is shutting down");
    }
    const committed = journal && Promise.withResolvers<void>();
    try {
      runner.submit(group, {
        after: info.completed,
        ...(committed && { commit: committed.promise }),
      });
    } catch (error) {
      if (!(error instanceof AdmissionError)) throw error;
      const { reason, message } = error;
      // No Retry-After: the route's group will never fit this server's backlog.
      if (reason === "too_large") return new HttpError(413, "too_many_tasks", message).toResponse();
      return refuse(reason === "draining" ? "shutting_down" : "backlog_full", message);
    }
    if (journal === undefined || committed === undefined) return response;
    // The 202 goes out only once the group is durable.
    committed.promise.catch(() => {});
    let enqueued: Promise<void>;
    try {
      enqueued = journal.enqueue(group);
    } catch (error) {
      // E.g. a plain function in durable mode: a bug, answered 500; the group is dropped.
      committed.reject(error);
      throw error;
    }
    const answered = enqueued.then(
      () => {
        committed.resolve();
        return response;
      },
      (error) => {
        committed.reject(error);
        // Journaled before (by this server before a restart, or another one).
        if (keyed && error instanceof DuplicateGroupError) return replays.replay(response);
        refusalLog.each((unlogged) =>
          logger.error(
            "Cannot journal request {requestId}: {error} ({unlogged} more refused since the last such line)",
            { requestId: group.id, error, unlogged },
          )
        );
        return refuse(...JOURNAL_FAILED);
      },
    );
    if (keyed) replays.hold(group.id, enqueued);
    return answered;
  };

  // One request, once its group (with its id) is made.
  const handle = (
    request: Request,
    info: Deno.ServeHandlerInfo,
    { route, params }: RouteMatch,
    group: TaskGroup,
    arrivedAccepting: boolean,
    keyed: boolean,
  ): Response | Promise<Response> => {
    const label = route.pattern.pathname;
    const answer = (response: Response): Response => {
      onResponse(label, response.status);
      return response;
    };
    try {
      const result = route.handler(request, { params, group });
      const settle = (response: Response): Response | Promise<Response> => {
        const admitted = admit(response, group, info, arrivedAccepting, keyed);
        return admitted instanceof Response ? answer(admitted) : admitted.then(answer);
      };
      if (result instanceof Response) return settle(result);
      const failed = (error: unknown): Response => answer(fail(error, request, group));
      // One reaction, not then().catch(): settle's own throw is caught here.
      return result.then((response) => {
        try {
          return settle(response);
        } catch (error) {
          return failed(error);
        }
      }, failed);
    } catch (error) {
      return answer(fail(error, request, group));
    }
  };

  return (request, info) => {
    const arrivedAccepting = accepting();
    let label = "unmatched";
    let match: RouteMatch;
    let id: string | undefined;
    try {
      match = matchRoute(routes, request);
      label = match.route.pattern.pathname;
      id = idempotentGroupId(request);
    } catch (error) {
      const response = fail(error, request, undefined);
      onResponse(label, response.status);
      return response;
    }
    // The request's span is the active context here; task spans join its trace.
    const group = new TaskGroup({ traceContext: context.active(), id });
    return handle(request, info, match, group, arrivedAccepting, id !== undefined);
  };
}
