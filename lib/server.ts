/**
 * The request handler: route, run the handler, hand its tasks to the runner.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { context } from "@opentelemetry/api";
import { fingerprints } from "./_given_ids.ts";
import { IntervalGate, journalBackLine } from "./_interval_gate.ts";
import { Replays, requestFingerprint, watchBody } from "./_replays.ts";
import { submitJournaled } from "./_submit.ts";
import { readable } from "./_thrown.ts";
import { AdmissionError } from "./admission_error.ts";
import { monotonicClock } from "./clock.ts";
import { DuplicateGroupError } from "./duplicate_group_error.ts";
import type { HandlerOptions, RefusalCode } from "./handler_options.ts";
import { HttpError } from "./http_error.ts";
import { idempotentGroupId } from "./idempotency_key.ts";
import { matchRoute, type RouteMatch } from "./router.ts";
import { nextTask, TaskGroup } from "./task_group.ts";

const JOURNAL_FAILED = [
  "journal_unavailable",
  "Cannot accept tasks: the task journal failed",
] as const;

const USED_BODY = "Cannot send the route's response: its body was already read " +
  "(a Response is sent once; make a new one for each request)";

/**
 * Makes the `Deno.serve` handler. Each request gets a fresh
 * {@linkcode TaskGroup}; once the route handler returned its response, the
 * group is offered to the runner (all of it or nothing: a full backlog turns
 * the answer into 503 with `Retry-After`) and starts a turn after
 * `info.completed` settles, once the response is written, so no task delays
 * it. Handler exceptions answer 500 `internal_error` with no stack to the
 * client, and the group of a failed request is dropped.
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
    clock = monotonicClock,
    fingerprintOf = () => undefined,
    onReplay = () => {},
    onRefused = () => {},
  } = options;
  const refusalLog = new IntervalGate(1_000, clock);
  // The refusals' last line may have held some back: the end of the outage tells them.
  const logJournalBack = journalBackLine(logger, "requests");
  const replays = new Replays(fingerprintOf, onReplay);

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

  // Every refusal of a request's tasks, told once here.
  const refuse = (code: RefusalCode, detail: string): Response => {
    onRefused(code);
    // No Retry-After for too_many_tasks: the route's group will never fit this server's backlog.
    return (code === "too_many_tasks"
      ? new HttpError(413, code, detail)
      : new HttpError(503, code, detail, { "retry-after": String(retryAfter) })).toResponse();
  };

  const admit = (
    response: Response,
    group: TaskGroup,
    info: Deno.ServeHandlerInfo,
    arrivedAccepting: boolean,
    fingerprint: string | undefined,
  ): Response | Promise<Response> => {
    if (group.size === 0) {
      // Closed: a task added after the answer (a timer's, an unawaited
      // promise's) throws rather than being silently never run.
      group[nextTask]();
      return response;
    }
    // A repeat is no new work: replayed while draining or with a full backlog too.
    const first = fingerprint === undefined ? undefined : replays.first(group.id);
    if (typeof first === "string") return replays.answer(response, first, fingerprint as string);
    if (first !== undefined) {
      // The first is being journaled: as it goes, so goes this one.
      return first.then((known) =>
        known === undefined
          ? refuse(...JOURNAL_FAILED)
          : replays.answer(response, known, fingerprint as string)
      );
    }
    if (!arrivedAccepting) {
      return refuse("shutting_down", "Cannot accept tasks: server is shutting down");
    }
    let accepted: Promise<void> | undefined;
    try {
      // A plain function in durable mode throws a TypeError: a bug, answered 500.
      accepted = submitJournaled(runner, journal, group, { response: info.completed });
    } catch (error) {
      if (!(error instanceof AdmissionError)) throw error;
      const { reason, message } = error;
      return refuse(
        reason === "too_large"
          ? "too_many_tasks"
          : reason === "draining"
          ? "shutting_down"
          : "backlog_full",
        message,
      );
    }
    // The 202 goes out only once the group is durable.
    if (accepted === undefined) return response;
    const answered = accepted.then(
      () => {
        refusalLog.ended(logJournalBack);
        return response;
      },
      (error) => {
        // Journaled before (by this server before a restart, or another one).
        if (fingerprint !== undefined && error instanceof DuplicateGroupError) {
          return replays.answer(response, error.fingerprint ?? "", fingerprint);
        }
        refusalLog.each((unlogged) =>
          logger.error(
            "Cannot journal request {requestId}: {error} ({unlogged} more refused since the last such line)",
            { requestId: group.id, error, unlogged },
          )
        );
        return refuse(...JOURNAL_FAILED);
      },
    );
    if (fingerprint !== undefined) replays.hold(group.id, fingerprint, accepted);
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
    started: number,
  ): Response | Promise<Response> => {
    const label = route.pattern.pathname;
    const answer = (response: Response): Response => {
      onResponse(label, response.status, (clock.now() - started) / 1_000);
      return response;
    };
    try {
      const result = route.handler(request, { params, group });
      const settle = (response: Response): Response | Promise<Response> => {
        // Deno would answer a bare 500 itself, after the group had been started.
        if (response.bodyUsed) throw new TypeError(USED_BODY);
        const fingerprint = keyed ? requestFingerprint(request) : undefined;
        if (fingerprint) fingerprints.set(group, fingerprint);
        const admitted = admit(response, group, info, arrivedAccepting, fingerprint);
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
    const started = clock.now();
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
      // A known path asked with another method: counted under its route, not as unmatched.
      if (response.status === 405) {
        label = routes.find(({ pattern }) => pattern.test(request.url))?.pattern.pathname ?? label;
      }
      onResponse(label, response.status, (clock.now() - started) / 1_000);
      return response;
    }
    // The request's span is the active context here; task spans join its trace.
    const group = new TaskGroup({ traceContext: context.active(), id });
    // Keyed: what the route reads of its body is kept, to tell a repeat from the key reused.
    if (id !== undefined) watchBody(request);
    return handle(request, info, match, group, arrivedAccepting, id !== undefined, started);
  };
}
