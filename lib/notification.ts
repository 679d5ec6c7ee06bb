/**
 * The demo service: `POST /send-notification/{email}`.
 *
 * @module
 */
import { delay } from "./delay.ts";
import type { AppendOptions } from "./log_writer_options.ts";
import { parseEmail, parseMessage } from "./notification_input.ts";
import { type Route, route } from "./router.ts";
import { defineTask, type TaskDefinition } from "./task.ts";

/**
 * Where notification lines go: a {@linkcode LogWriter} or anything alike.
 *
 * @example Notification lines kept in memory
 * ```ts
 * import { type LineSink, notificationTask, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const log: LineSink = { append: (line) => (lines.push(line), Promise.resolve()) };
 * await using runner = new TaskRunner();
 * runner.submit(new TaskGroup().add(notificationTask({ log }), "ada@example.com", "hi"));
 * await runner.idle();
 * deepEqual(lines, ["notification for ada@example.com: hi"]);
 * ```
 */
export interface LineSink {
  /**
   * Appends one line; resolves once it is written. `options` as
   * {@linkcode LogWriter.append} takes them: a retry joins its first
   * attempt's line, by the task's id, if a stalled disk still holds it.
   */
  append(line: string, options?: AppendOptions): Promise<void>;
}

/**
 * Options for {@linkcode notificationTask} and {@linkcode notificationRoutes}.
 *
 * @example A slow mail server, simulated
 * ```ts
 * import { notificationTask, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const log = { append: (line: string) => (lines.push(line), Promise.resolve()) };
 * await using runner = new TaskRunner();
 * runner.submit(new TaskGroup().add(notificationTask({ log, sendDelayMs: 5 }), "ada@example.com", "hi"));
 * await runner.idle();
 * deepEqual(lines, ["notification for ada@example.com: hi"]);
 * ```
 */
export interface NotificationOptions {
  /** Where notification lines are appended. */
  log: LineSink;
  /** Simulated mail-server latency inside the task, in milliseconds (abortable). @default {0} */
  sendDelayMs?: number;
  /** Milliseconds a request body may take to arrive. @default {10000} */
  bodyTimeout?: number;
}

/**
 * The `send-notification` task: waits `sendDelayMs` (aborted by the task's
 * signal), then appends `notification for {email}: {message}` to the log,
 * once: a retry after a timeout joins the line of an earlier attempt that a
 * stalled disk still holds, waiting or being written.
 *
 * @param options The log sink and the simulated delay.
 * @returns The task definition.
 *
 * @example Running the task
 * ```ts
 * import { notificationTask, TaskGroup, TaskRunner } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const task = notificationTask({ log: { append: async (line) => void lines.push(line) } });
 * await using runner = new TaskRunner();
 * runner.submit(new TaskGroup().add(task, "ada@example.com", "hi"));
 * await runner.idle();
 * deepEqual(lines, ["notification for ada@example.com: hi"]);
 * ```
 */
export function notificationTask(options: NotificationOptions): TaskDefinition<[string, string]> {
  const { log, sendDelayMs = 0 } = options;
  return defineTask("send-notification", async function (email: string, message: string) {
    if (sendDelayMs > 0) await delay(sendDelayMs, { signal: this.signal });
    // Not the signal: making it for every task costs, and a task that timed
    // out may have done its work anyway (its line lands once, at the latest
    // when the disk recovers).
    await log.append(`notification for ${email}: ${message}`, {
      key: this.id,
      retry: this.attempt > 1,
    });
  });
}

/**
 * The route table of the demo service.
 *
 * @param options The log sink, the simulated delay and the body deadline.
 * @returns The routes.
 *
 * @example The demo's route table
 * ```ts
 * import { notificationRoutes } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const routes = notificationRoutes({ log: { append: async () => {} } });
 * equal(routes[0]?.method, "POST");
 * ```
 */
export function notificationRoutes(options: NotificationOptions): Route[] {
  const task = notificationTask(options);
  const bodyOptions = { timeout: options.bodyTimeout ?? 10_000 };
  return [
    route("POST", "/send-notification/:email", (request, { params, group }) => {
      const email = parseEmail(params.email);
      const accept = (message: string): Response => {
        group.add(task, email, message);
        return Response.json(
          { message: "Notification sent in the background", id: group.id },
          { status: 202, headers: { location: `/tasks/${group.id}` } },
        );
      };
      // Most requests carry no body: answer them without a promise.
      const message = parseMessage(request, bodyOptions);
      return typeof message === "string" ? accept(message) : message.then(accept);
    }),
  ];
}
