/**
 * The server as a process: configuration, the app, the listener, signals and
 * the drain. `main.ts` runs it with the demo service; run it with yours.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { createApp } from "./app.ts";
import type { App, CreateAppOptions } from "./app_options.ts";
import { isStandardOutput } from "./_log_files.ts";
import { asProcess, type Listen, processConfig, startFailed, STOP_SIGNALS } from "./_process.ts";
import { ResilientServer } from "./resilient_server.ts";
import { serverUrl } from "./server_url.ts";
import type { Config } from "./config.ts";
import { withoutPassword } from "./_without_password.ts";
import { catchStrayErrors } from "./stray_errors.ts";
import { EventLoopLag } from "./event_loop_lag.ts";
import { VERSION } from "./version.ts";

/**
 * Where {@linkcode runServer} hears signals: `Deno` itself, or a stand-in.
 *
 * @example Signals a test sends
 * ```ts
 * import type { SignalSource } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const listeners = new Map<Deno.Signal, () => void>();
 * const signals: SignalSource = {
 *   addSignalListener: (signal, handler) => void listeners.set(signal, handler),
 *   removeSignalListener: (signal) => void listeners.delete(signal),
 * };
 * signals.addSignalListener("SIGTERM", () => {});
 * equal(listeners.size, 1);
 * ```
 */
export type SignalSource = Pick<typeof Deno, "addSignalListener" | "removeSignalListener">;

/**
 * Options for {@linkcode runServer}: what to serve, and the parts of the
 * process it uses, each Deno's own unless given.
 *
 * @example Your own service, configured from your own variables
 * ```ts
 * import { type RunServerOptions, route } from "./mod.ts";
 *
 * const service = () => ({ routes: [route("GET", "/", () => new Response("hi"))], tasks: [] });
 * const env: Record<string, string> = { PORT: "9000", LOG_LEVEL: "warning" };
 * const options: RunServerOptions = { service, env: (name) => env[name] };
 * ```
 */
export interface RunServerOptions {
  /**
   * What to serve, made from the app's parts (see {@linkcode CreateAppOptions}).
   * @default {notificationService}
   */
  service?: CreateAppOptions["service"];
  /**
   * Reads a configuration variable; asked only for {@linkcode CONFIG_VARIABLES}.
   * @default {Deno.env.get}
   */
  env?: (name: string) => string | undefined;
  /** Where signals come from. @default {Deno} */
  signals?: SignalSource;
  /**
   * Where the server's own log lines go, synchronously.
   * @default {stderr, never waited for}
   */
  logTo?: (line: string) => void;
  /**
   * Told the address once the server listens.
   * @default {prints `posthaste listening on <url>` to stdout (to stderr
   * when `LOG_FILE` or `DEAD_LETTER_FILE` is standard output, `-`)}
   */
  onListen?: (addr: Deno.NetAddr) => void;
  /**
   * Aborting it stops the server as SIGTERM does: a start in progress stops,
   * a running server drains (up to `SHUTDOWN_TIMEOUT_MS`).
   */
  signal?: AbortSignal;
}

/**
 * Runs the server until a signal stops it: reads the configuration, makes the
 * app, serves it, and drains on SIGINT, SIGTERM or SIGHUP, or once
 * `options.signal` aborts (a second signal gives up waiting for tasks; one
 * while starting stops the start). SIGUSR2 reopens the log files. Once it
 * serves, stray errors are logged, not fatal. The process is left to the
 * caller: `Deno.exit(await runServer())`.
 *
 * @param options What to serve, and the parts of the process it uses.
 * @returns The exit code, once stopped: 0 when every accepted task finished
 * (or a signal stopped the start); 1 when the start failed, the port could
 * not be had, or tasks were left unfinished.
 *
 * @example Serving until stopped
 * ```ts
 * import { runServer } from "./mod.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const env: Record<string, string> = {
 *   PORT: "0", LOG_FILE: `${dir}/log.txt`, DEAD_LETTER_FILE: `${dir}/dl.jsonl`, WORKERS: "0",
 * };
 * const stop = new AbortController(); // or SIGTERM
 * const listening = Promise.withResolvers<Deno.NetAddr>();
 * const running = runServer({
 *   env: (name) => env[name], signal: stop.signal, logTo: () => {}, onListen: listening.resolve,
 * });
 * const { port } = await listening.promise;
 * const response = await fetch(`http://127.0.0.1:${port}/send-notification/ada@example.com`, {
 *   method: "POST",
 * });
 * await response.body?.cancel();
 * equal(response.status, 202);
 * stop.abort();
 * equal(await running, 0, "drained: every task finished");
 * equal(
 *   await Deno.readTextFile(`${dir}/log.txt`),
 *   "notification for ada@example.com: some notification\n",
 * );
 * ```
 */
export function runServer(options: RunServerOptions = {}): Promise<number> {
  return asProcess(options.signals ?? Deno, (listen, ended) => run(options, listen, ended));
}

async function run(
  options: RunServerOptions,
  listen: Listen,
  ended: AbortSignal,
): Promise<number> {
  const logger = getLogger(["posthaste", "app"]);
  const config = await processConfig(logger, { ...options, listens: true });
  if (config === undefined) return 1;

  // Listeners first, so that no signal can arrive unhandled. While starting
  // (a database that does not answer, a long recovery), a signal stops the
  // start: what was opened is closed, and journaled work stays for the next.
  const starting = new AbortController();
  let onSignal = (signal: Deno.Signal): void => starting.abort(signal);
  for (const signal of STOP_SIGNALS) listen(signal, () => onSignal(signal));
  const stopWhen = options.signal;
  stopWhen?.addEventListener("abort", () => onSignal("SIGTERM"), { once: true, signal: ended });
  if (stopWhen?.aborted) onSignal("SIGTERM");
  // logrotate renamed the files: later lines go to new files at the paths.
  // USR2, not nginx's USR1: since Deno 2.9.2 a SIGUSR1 also starts the V8
  // inspector on 127.0.0.1:9229, whatever listeners the program has: a
  // debugger that anyone on the machine can attach to, to run code as the
  // server. Not HUP either: HUP says the terminal is gone, so the server
  // drains. Listened for before the start too, whose default action would
  // end it: asked while starting, the files are reopened once the app is made.
  let reopenAsked = false;
  let reopenFiles = (): void => void (reopenAsked = true);
  if (Deno.build.os !== "windows") {
    listen("SIGUSR2", () => reopenFiles());
    listen("SIGUSR1", () => {
      logger.error(
        "SIGUSR1 starts Deno's inspector on 127.0.0.1:9229 (Deno 2.9.2 and later), a debugger anyone on this machine can attach to: restart the server to close it, and send SIGUSR2 to reopen the log files (done now all the same)",
      );
      reopenFiles();
    });
  }
  let app: App;
  try {
    const { service } = options;
    app = await createApp(config, { signal: starting.signal, ...service && { service } });
  } catch (error) {
    if (!starting.signal.aborted) return startFailed(logger, error);
    logger.info("Start-up stopped by {signal}: nothing was served", {
      signal: starting.signal.reason,
    });
    return 0;
  }

  // Serving: a signal drains, a second gives up waiting.
  const giveUp = new AbortController();
  const stopped = Promise.withResolvers<number>();
  let server: ResilientServer | undefined;
  const stop = (listener: { shutdown(): Promise<void> }, signal: AbortSignal): void => {
    stopped.resolve(app.shutdown(listener, { signal }));
    onSignal = () => giveUp.abort();
  };
  onSignal = () => stop(server as ResilientServer, giveUp.signal);
  reopenFiles = () => void app.reopenFiles();
  if (reopenAsked) reopenFiles();

  // Deno.serve, served again if its accept loop dies (out of file descriptors).
  const { hostname, port } = config;
  // Lines on stdout (LOG_FILE=- or DEAD_LETTER_FILE=-): the announcement goes beside the logs instead.
  const linesOnStdout = [config.logFile, config.deadLetterFile].some(isStandardOutput);
  const out = linesOnStdout ? "stderr" : "stdout";
  const announced = options.onListen ?? ((addr) => announce(logger, addr, out));
  const onListen = (addr: Deno.NetAddr): void => {
    logServing(logger, addr, config);
    announced(addr);
  };
  try {
    server = new ResilientServer({ hostname, port, onListen }, app.handler);
  } catch (error) {
    // A port taken, say: a failed start, in one line as any other. Recovered
    // tasks that began stop and stay journaled, which the shutdown reports.
    const url = serverUrl({ transport: "tcp", hostname, port });
    startFailed(logger, `Cannot listen on ${url}: ${String(error)}`);
    if (app.runner.pending === 0) await app[Symbol.asyncDispose]();
    else {
      stop({ shutdown: async () => {} }, AbortSignal.abort());
      await stopped.promise;
    }
    return 1;
  }
  app.metrics.acceptFailures = server.failures;
  // Serving: from now on a task's forgotten promise must not end the process,
  // and with it every accepted task (until now, a failure to start must).
  using strays = catchStrayErrors();
  app.metrics.strayErrors = strays;
  using lag = new EventLoopLag();
  app.metrics.eventLoopLag = lag.histogram;
  // A signal after the start's last look at it: the start is done, so it drains.
  if (starting.signal.aborted) onSignal("SIGTERM");
  const code = await stopped.promise;
  // Given up on (a second signal), the drain left the listener open.
  void server.shutdown().catch(() => {});
  return code;
}

/** One record of what is served how: the settings an operator asks about first. */
function logServing(logger: Logger, addr: Deno.NetAddr, config: Config): void {
  const { taskStore: store, maxConcurrency, maxPending, workers } = config;
  logger.info(
    "Serving {url} (posthaste {version}, Deno {deno}): tasks {store}, at most {maxConcurrency} running and {maxPending} pending; worker threads: {workers}; lines to {logFile}, dead letters to {deadLetterFile}",
    {
      url: serverUrl(addr),
      version: VERSION,
      deno: Deno.version.deno,
      store: store === undefined
        ? "in memory"
        : store.kind === "sqlite"
        ? `journaled in sqlite:${store.file}`
        : `journaled in ${withoutPassword(store.url)}`,
      maxConcurrency,
      maxPending,
      workers,
      logFile: config.logFile,
      deadLetterFile: config.deadLetterFile,
    },
  );
}

function announce(
  logger: Logger,
  addr: Deno.NetAddr,
  out: "stdout" | "stderr",
): void {
  const url = serverUrl(addr);
  try {
    Deno[out].writeSync(new TextEncoder().encode(`posthaste listening on ${url}\n`));
  } catch (error) {
    // Nobody reads it (`… | head -1` exited): serve all the same.
    logger.warn("Cannot write to {out} ({error}); listening on {url}", {
      out,
      url,
      error: String(error),
    });
  }
}
