/**
 * Options for {@linkcode createHandler}.
 *
 * @module
 */
import type { StructuredLogger } from "./logging.ts";
import type { Clock } from "./clock.ts";
import type { Route } from "./router.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskStore } from "./task_store.ts";

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
   * Called once per answered request with the matched route's pattern (for
   * a 405, the pattern of the path; else `unmatched`), the status, and the
   * seconds from the request reaching the handler to its response being
   * ready (its body read, and in durable mode its tasks journaled; not the
   * sending), e.g. for metrics.
   * @default {nothing}
   */
  onResponse?: (route: string, status: number, seconds: number) => void;
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
   * The first request it takes again is logged (info) with the whole count.
   * @default {none (memory only)}
   */
  journal?: Pick<TaskStore, "enqueue"> | undefined;
  /**
   * Times each request for `onResponse`, and the once-a-second log of journal
   * refusals.
   * @default {monotonicClock}
   */
  clock?: Pick<Clock, "now">;
  /**
   * The fingerprint of the accepted group (unfinished, or finished and still
   * kept) with this id, `""` if it has none, or `undefined` if no such group
   * is known (e.g. `GroupRegistry.fingerprint`). A request with an
   * `Idempotency-Key` whose group ({@linkcode idempotentGroupId}) this finds,
   * or the journal holds, gets the route's response again, marked
   * `Idempotent-Replayed: true`, and its tasks are not added again; unless
   * it carries another query or body than the first (the SHA-256 of the
   * query and of the body the route read with `readBody` is the
   * fingerprint, kept with the group): that is 422 `idempotency_key_reused`.
   * A repeat that arrives while the first is being journaled waits for that
   * commit.
   * @default {no id is known: only the journal and commits on their way tell}
   */
  fingerprintOf?: (id: string) => string | undefined;
  /** Called for each replayed answer, e.g. for metrics. @default {nothing} */
  onReplay?: () => void;
  /**
   * Called for each request whose tasks the handler refused, with the
   * answer's code: 503 `backlog_full`, `shutting_down` or
   * `journal_unavailable`, 413 `too_many_tasks`; e.g. for metrics, where a
   * status alone does not tell a full backlog from a journal that is away.
   * @default {nothing}
   */
  onRefused?: (code: RefusalCode) => void;
}

/**
 * Why the handler refused a request's tasks ({@linkcode HandlerOptions.onRefused}).
 *
 * @example Counting refusals by code
 * ```ts
 * import type { RefusalCode } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const refused = new Map<RefusalCode, number>();
 * const onRefused = (code: RefusalCode) => void refused.set(code, (refused.get(code) ?? 0) + 1);
 * onRefused("backlog_full");
 * equal(refused.get("backlog_full"), 1);
 * ```
 */
export type RefusalCode =
  | "backlog_full"
  | "shutting_down"
  | "journal_unavailable"
  | "too_many_tasks";
