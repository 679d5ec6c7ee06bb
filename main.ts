/**
 * Starts the posthaste notification service: reads configuration, builds the
 * app, serves, and shuts down gracefully on SIGINT, SIGTERM or SIGHUP (a
 * second signal gives up waiting for tasks; one while starting stops the
 * start, exit 0); SIGUSR2 reopens the log files. Stray errors are logged, not
 * fatal.
 *
 * @module
 */
import { drain, getLogger } from "@logtape/logtape";
import {
  abortable,
  catchStrayErrors,
  type Config,
  CONFIG_VARIABLES,
  configureLogging,
  createApp,
  readConfig,
  ResilientServer,
  serverUrl,
} from "./lib/mod.ts";

// JSON lines until the configuration is read: a start that fails says why in one.
await configureLogging();
const logger = getLogger(["posthaste", "app"]);
const config: Config = await Promise.try(() =>
  readConfig((name) => CONFIG_VARIABLES.includes(name) ? Deno.env.get(name) : undefined)
).catch(startFailed);
await configureLogging({ level: config.logLevel, format: config.logFormat });

// Listeners first, so that no signal can arrive unhandled. While starting
// (a database that does not answer, a long recovery), a signal stops the
// start: what was opened is closed, and journaled work stays for the next.
// SIGHUP too: by default it ends the process at once, and with it the accepted
// work, when the terminal goes (an ssh session that dropped).
const starting = new AbortController();
let onSignal = (signal: Deno.Signal): void => starting.abort(signal);
const stopSignals: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of stopSignals) Deno.addSignalListener(signal, () => onSignal(signal));
// logrotate renamed the files: later lines go to new files at the paths. USR2,
// not nginx's USR1: since Deno 2.9.2 a SIGUSR1 also starts the V8 inspector on
// 127.0.0.1:9229, whatever listeners the program has: a debugger that anyone
// on the machine can attach to, to run code as the server. Not HUP either: HUP
// says the terminal is gone, so the server drains. Listened for before the
// start too, whose default action would end it: asked while starting, the
// files are reopened once the app is made.
let reopenAsked = false;
let reopenFiles = (): void => void (reopenAsked = true);
if (Deno.build.os !== "windows") {
  Deno.addSignalListener("SIGUSR2", () => reopenFiles());
  Deno.addSignalListener("SIGUSR1", () => {
    logger.error(
      "SIGUSR1 starts Deno's inspector on 127.0.0.1:9229 (Deno 2.9.2 and later), a debugger anyone on this machine can attach to: restart the server to close it, and send SIGUSR2 to reopen the log files (done now all the same)",
    );
    reopenFiles();
  });
}
const app = await createApp(config, { signal: starting.signal }).catch((error) => {
  if (!starting.signal.aborted) return startFailed(error);
  logger.info("Start-up stopped by {signal}: nothing was served", {
    signal: starting.signal.reason,
  });
  return exit(0);
});

// Serving: a signal drains. Its callback runs after `server` is assigned.
const giveUp = new AbortController();
let stopping: Promise<void> | undefined;
onSignal = (): void => {
  if (stopping) return giveUp.abort();
  stopping = app.shutdown(server, { signal: giveUp.signal }).then(exit);
};
reopenFiles = () => void app.reopenFiles();
if (reopenAsked) reopenFiles();

// Deno.serve, served again if its accept loop dies (out of file descriptors).
let server: ResilientServer;
const { hostname, port } = config;
try {
  server = new ResilientServer({ hostname, port, onListen: announce }, app.handler);
} catch (error) {
  server = await cannotListen(error);
}
app.metrics.acceptFailures = server.failures;

// Serving: from now on a task's forgotten promise must not end the process,
// and with it every accepted task (until now, a failure to start must).
app.metrics.strayErrors = catchStrayErrors();
// A signal after the start's last look at it: the start is done, so it drains.
if (starting.signal.aborted) onSignal("SIGTERM");

function announce(addr: Deno.NetAddr): void {
  const url = serverUrl(addr);
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(`posthaste listening on ${url}\n`));
  } catch (error) {
    // Nobody reads stdout (`… | head -1` exited): serve all the same.
    logger.warn("Cannot write to stdout ({error}); listening on {url}", {
      url,
      error: String(error),
    });
  }
}

async function cannotListen(error: unknown): Promise<never> {
  // A port taken, say: recovered tasks that began stop and stay journaled.
  logger.error("Cannot listen on {hostname}:{port}: {error}", {
    hostname,
    port,
    error: String(error),
  });
  stopping = app.shutdown({ shutdown: async () => {} }, { signal: AbortSignal.abort() })
    .then(() => {});
  await stopping;
  return exit(1);
}

function startFailed(error: unknown): Promise<never> {
  logger.error("Start-up failed: {error}", {
    error: error instanceof Error ? error.message : String(error),
  });
  return exit(1);
}

// The server's logs go to stderr without waiting for it: what is still queued
// is written first, unless stderr takes nothing for a second (nobody reads it).
async function exit(code: number): Promise<never> {
  await abortable(drain(), AbortSignal.timeout(1_000)).catch(() => {});
  Deno.exit(code);
}
