/**
 * The notification service, assembled from configuration.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { deadLetterLine } from "./dead_letter.ts";
import { LogWriter } from "./log_writer.ts";
import { notificationRoutes } from "./notification.ts";
import { type Route, route } from "./router.ts";
import { TaskRunner } from "./runner.ts";
import { createHandler } from "./server.ts";

/** Options for {@linkcode App.shutdown}. */
export interface ShutdownOptions {
  /** Aborting it gives up waiting at once, as the deadline would (a second signal). */
  signal?: AbortSignal;
}

/** The running service's parts, and its shutdown. */
export interface App extends AsyncDisposable {
  /** The `Deno.serve` handler. */
  readonly handler: Deno.ServeHandler;
  /** The task runner. */
  readonly runner: TaskRunner;
  /** The notification log. */
  readonly log: LogWriter;
  /** The dead-letter file. */
  readonly deadLetters: LogWriter;
  /**
   * Stops the server accepting connections and lets in-flight responses
   * finish, then waits for every accepted task until `shutdownTimeoutMs` (or
   * `options.signal`) ends the wait, abandoning what is unfinished; then
   * flushes and closes the files.
   *
   * @returns The exit code: 0 if every task finished, 1 if any was abandoned.
   */
  shutdown(server: { shutdown(): Promise<void> }, options?: ShutdownOptions): Promise<number>;
}

function healthRoute(runner: TaskRunner): Route {
  return route(
    "GET",
    "/healthz",
    () =>
      runner.draining
        ? Response.json({ status: "draining" }, { status: 503 })
        : Response.json({ status: "ok" }),
  );
}

/**
 * Opens the log files and builds the runner, routes and handler.
 *
 * @param config The configuration, e.g. from {@linkcode readConfig}.
 * @returns The app; `await using` closes its files.
 *
 * @example
 * ```ts
 * import { createApp, readConfig } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = { LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl` };
 * await using app = await createApp(readConfig((name) => env[name]));
 * await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.handler);
 * const url = `http://127.0.0.1:${server.addr.port}/send-notification/ada@example.com`;
 * equal((await fetch(url, { method: "POST" })).status, 202);
 * await app.runner.idle();
 * await app.log.flush();
 * equal(await Deno.readTextFile(`${dir}/log.txt`), "notification for ada@example.com: some notification\n");
 * ```
 */
export async function createApp(config: Config): Promise<App> {
  const logger = getLogger(["posthaste", "app"]);
  const log = await LogWriter.open(config.logFile);
  const deadLetters = await LogWriter.open(config.deadLetterFile);
  const runner = new TaskRunner({
    maxConcurrency: config.maxConcurrency,
    maxPending: config.maxPending,
    timeout: config.taskTimeoutMs,
    retries: config.taskRetries,
    deadLetter: (record) => deadLetters.append(deadLetterLine(record)),
  });
  const routes = [
    ...notificationRoutes({
      log,
      sendDelayMs: config.sendDelayMs,
      bodyTimeout: config.bodyTimeoutMs,
    }),
    healthRoute(runner),
  ];
  const closeFiles = async (): Promise<void> => {
    await Promise.allSettled([log.close(), deadLetters.close()]);
  };

  return {
    handler: createHandler({ routes, runner }),
    runner,
    log,
    deadLetters,
    async shutdown(server, options = {}) {
      const signals = [AbortSignal.timeout(config.shutdownTimeoutMs)];
      if (options.signal) signals.push(options.signal);
      const deadline = AbortSignal.any(signals);
      logger.info("Shutting down: waiting up to {timeoutMs} ms for {pending} pending tasks", {
        timeoutMs: config.shutdownTimeoutMs,
        pending: runner.pending,
      });
      const gaveUp = new Promise<void>((resolve) =>
        deadline.addEventListener("abort", () => resolve(), { once: true })
      );
      const drained = runner.drain({ signal: deadline });
      await Promise.race([server.shutdown(), gaveUp]);
      const { abandoned } = await drained;
      await closeFiles();
      if (abandoned > 0) {
        logger.error("Shutdown abandoned {abandoned} tasks; see {file}", {
          abandoned,
          file: config.deadLetterFile,
        });
        return 1;
      }
      logger.info("Shutdown complete: every accepted task finished");
      return 0;
    },
    async [Symbol.asyncDispose]() {
      await runner.drain();
      await closeFiles();
    },
  };
}
